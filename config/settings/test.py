"""pytest: the same database mechanism, fast hashing, files in a throwaway folder."""

import tempfile
from pathlib import Path

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="relabel-test-media-"))
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# Pages are served from the finders (no collectstatic in tests); an empty root keeps whitenoise quiet.
STATIC_ROOT = Path(tempfile.mkdtemp(prefix="relabel-test-static-"))
WHITENOISE_USE_FINDERS = True
