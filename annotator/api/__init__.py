"""The annotation API (Django REST Framework): next image, submit, revise, my annotations, vocabulary."""
