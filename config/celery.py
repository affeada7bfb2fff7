"""The Celery app; its periodic schedule is CELERY_BEAT_SCHEDULE in config/settings/base.py."""

from __future__ import annotations

import os
from typing import TypedDict

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("relabel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class TimeLimits(TypedDict):
    """A task's soft and hard time limits in seconds, passed to shared_task as keywords."""

    soft_time_limit: int
    time_limit: int
