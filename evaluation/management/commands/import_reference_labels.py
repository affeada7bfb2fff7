"""python manage.py import_reference_labels DATASET real.json --name NAME"""

from __future__ import annotations

from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.models import Dataset
from evaluation.services.prediction_sets import EvaluationInputError
from evaluation.services.reference_labels import reference_label_set_create


class Command(BaseCommand):
    help = (
        "Import a reference label set in the ReaL format (a JSON list, in dataset order, of lists of valid "
        "class indices) to evaluate models against. Exit status 2 on invalid input (nothing stored)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dataset", help="Dataset slug.")
        parser.add_argument("file", type=Path)
        parser.add_argument("--name", required=True)
        parser.add_argument("--description", default="")

    def handle(self, *args: object, **options: object) -> None:
        dataset = Dataset.objects.filter(slug=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"no dataset {options['dataset']!r}", returncode=2)
        path = Path(str(options["file"]))
        try:
            with path.open("rb") as handle:
                reference_set = reference_label_set_create(
                    dataset=dataset,
                    name=str(options["name"]),
                    description=str(options["description"]),
                    source=File(handle, name=path.name),
                )
        except (EvaluationInputError, OSError) as error:
            raise CommandError(f"nothing stored: {error}", returncode=2) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"{dataset.slug}: imported {reference_set.name!r}: {reference_set.n_labelled} of "
                f"{reference_set.n_images} images hold {reference_set.n_labels} valid labels; evaluation queued"
            )
        )
