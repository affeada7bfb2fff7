"""The demo's Celery task: thin, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from config.celery import TimeLimits
from demo.services.imagenet_val import demo_imagenet_val_load
from demo.services.imagenetv2 import demo_imagenetv2_load

# The demo's ImageNet val load takes about a minute on 2 cores; generous for a busy machine.
DEMO_LIMITS: TimeLimits = {"soft_time_limit": 25 * 60, "time_limit": 30 * 60}


@shared_task(name="demo.imagenet_val_load", acks_late=True, ignore_result=True, **DEMO_LIMITS)
def demo_imagenet_val_load_task() -> bool:
    """`manage.py demo` enqueues it; safe to run twice: every step checks whether its result is there. Loads
    ImageNet val, then ImageNetV2 MatchedFrequency (10,000 file-less images, the same three models) to compare."""
    wrote = demo_imagenet_val_load().wrote
    return demo_imagenetv2_load().wrote or wrote
