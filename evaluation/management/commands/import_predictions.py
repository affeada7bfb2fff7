"""python manage.py import_predictions DATASET FILE --name NAME [--description TEXT] [--use-for-candidates]"""

from __future__ import annotations

from django.core.management.base import CommandParser

from evaluation.management.file_command import DatasetFileCommand
from evaluation.services.prediction_sets import prediction_set_create


class Command(DatasetFileCommand):
    help = (
        "Register a prediction set (CSV image,top5 | JSONL | .npy N×k or N×C | .npz) for a dataset and "
        "evaluate it. The whole file is validated first; on any error nothing is stored (exit status 2)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--use-for-candidates", action="store_true")

    def handle(self, *args: object, **options: object) -> None:
        dataset, prediction_set = self.register(
            options, prediction_set_create, use_for_candidates=bool(options["use_for_candidates"])
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"{dataset.slug}: registered {prediction_set.name!r} (id {prediction_set.pk}, "
                f"top-{prediction_set.k}{', full scores' if prediction_set.has_scores else ''}); evaluation queued"
            )
        )
