"""The annotator app's API (Django REST Framework), one module per domain."""
