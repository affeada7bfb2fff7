"""python manage.py refresh_metrics [DATASET …]: what the periodic task does, run now in this process."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from annotator.models import Dataset
from evaluation.services.snapshots import metric_snapshots_refresh


class Command(BaseCommand):
    help = "Evaluate every prediction set whose label pool changed since its last snapshot (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("datasets", nargs="*", help="Dataset slugs (default: all).")

    def handle(self, *args: object, **options: Any) -> None:
        slugs = options["datasets"]
        datasets = Dataset.objects.filter(slug__in=slugs) if slugs else None
        created = metric_snapshots_refresh(datasets=datasets)
        for snapshot in created:
            self.stdout.write(f"{snapshot.prediction_set.name} @ {snapshot.watermark}: {snapshot.seconds:.2f} s")
        self.stdout.write(self.style.SUCCESS(f"{len(created)} snapshot(s) appended"))
