"""The evaluation API (Django REST Framework), one module per domain."""
