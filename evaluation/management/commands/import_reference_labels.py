"""python manage.py import_reference_labels DATASET real.json --name NAME"""

from __future__ import annotations

from evaluation.management.file_command import DatasetFileCommand
from evaluation.services.reference_labels import reference_label_set_create


class Command(DatasetFileCommand):
    help = (
        "Import a reference label set in the ReaL format (a JSON list, in dataset order, of lists of valid "
        "class indices) to evaluate models against. Exit status 2 on invalid input (nothing stored)."
    )

    def handle(self, *args: object, **options: object) -> None:
        dataset, reference_set = self.register(options, reference_label_set_create)
        self.stdout.write(
            self.style.SUCCESS(
                f"{dataset.slug}: imported {reference_set.name!r}: {reference_set.n_labelled} of "
                f"{reference_set.n_images} images hold {reference_set.n_labels} valid labels; evaluation queued"
            )
        )
