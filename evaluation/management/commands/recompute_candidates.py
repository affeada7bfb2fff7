"""python manage.py recompute_candidates DATASET: original label ∪ top-k of the selected prediction sets, and
every image's model score from the same sets."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.models import Dataset
from evaluation.services.candidates import candidates_recompute
from evaluation.services.model_scores import model_scores_recompute


class Command(BaseCommand):
    help = (
        "Recompute every image's candidates from its original label and the selected prediction sets, and its "
        "model score from the same sets."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dataset", help="Dataset slug.")

    def handle(self, *args: object, **options: object) -> None:
        dataset = Dataset.objects.filter(slug=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"no dataset {options['dataset']!r}", returncode=2)
        report = candidates_recompute(dataset=dataset)
        self.stdout.write(
            self.style.SUCCESS(
                f"{dataset.slug}: {report.candidates} candidates for {report.images} images from "
                f"{report.prediction_sets} prediction set(s) in {report.seconds:.1f} s"
            )
        )
        scores = model_scores_recompute(dataset=dataset)
        self.stdout.write(
            self.style.SUCCESS(f"{dataset.slug}: model scores for {scores.scored} images, {scores.changed} changed")
        )
