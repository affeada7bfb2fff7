"""python manage.py import_predictions DATASET FILE --name NAME [--description TEXT] [--use-for-candidates]"""

from __future__ import annotations

from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.models import Dataset
from evaluation.services.prediction_sets import EvaluationInputError, prediction_set_create


class Command(BaseCommand):
    help = (
        "Register a prediction set (CSV image,top5 | JSONL | .npy N×k or N×C | .npz) for a dataset and "
        "evaluate it. The whole file is validated first; on any error nothing is stored (exit status 2)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dataset", help="Dataset slug.")
        parser.add_argument("file", type=Path)
        parser.add_argument("--name", required=True)
        parser.add_argument("--description", default="")
        parser.add_argument("--use-for-candidates", action="store_true")

    def handle(self, *args: object, **options: object) -> None:
        dataset = Dataset.objects.filter(slug=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"no dataset {options['dataset']!r}", returncode=2)
        path = Path(str(options["file"]))
        try:
            with path.open("rb") as handle:
                prediction_set = prediction_set_create(
                    dataset=dataset,
                    name=str(options["name"]),
                    description=str(options["description"]),
                    source=File(handle, name=path.name),
                    use_for_candidates=bool(options["use_for_candidates"]),
                )
        except (EvaluationInputError, OSError) as error:
            raise CommandError(f"nothing stored: {error}", returncode=2) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"{dataset.slug}: registered {prediction_set.name!r} (id {prediction_set.pk}, "
                f"top-{prediction_set.k}{', full scores' if prediction_set.has_scores else ''}); evaluation queued"
            )
        )
