"""python manage.py create_release DATASET [--aggregation A] [--threshold T] [--min-annotations N]
[--no-adjudications] [--unanswered-as-original | --no-unanswered-as-original] [--queue]"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.models import Dataset
from evaluation.models import Release
from evaluation.services.releases import ReleaseInputError, release_build, release_create


class Command(BaseCommand):
    help = (
        "Create a release of a dataset's consensus and build it here (--queue: leave the build to the worker). "
        "Unset parameters take the dataset's settings; images nobody answered get their original label by "
        "default when the dataset has original labels (ReaL's convention). Refused parameters: exit status 2."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dataset", help="Dataset slug.")
        parser.add_argument("--aggregation", choices=Release.Aggregation.values)
        parser.add_argument("--threshold", type=float, help="Majority: yes-share τ. Dawid–Skene: posterior cut.")
        parser.add_argument("--min-annotations", type=int, help="Images with fewer annotations are pending.")
        parser.add_argument("--no-adjudications", action="store_true", help="Ignore reviewers' final sets.")
        parser.add_argument(
            "--unanswered-as-original",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="Give images nobody answered their original label (default: on when the dataset has them).",
        )
        parser.add_argument("--queue", action="store_true", help="Enqueue the build for the worker and return.")

    def handle(self, *args: object, **options: Any) -> None:
        dataset = Dataset.objects.filter(slug=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"no dataset {options['dataset']!r}", returncode=2)
        try:
            release, _ = release_create(
                dataset=dataset,
                aggregation=options["aggregation"],
                threshold=options["threshold"],
                min_annotations=options["min_annotations"],
                apply_adjudications=not options["no_adjudications"],
                unanswered_as_original=options["unanswered_as_original"],
            )
        except ReleaseInputError as error:
            raise CommandError(f"no release made: {error}", returncode=2) from error
        if options["queue"] or release_build(release_id=release.pk) is None:
            self.stdout.write(f"{dataset.slug} v{release.version} (release {release.pk}) is being built by the worker")
            return
        release.refresh_from_db()
        self.stdout.write(self.style.SUCCESS(_summary(release)))


def _summary(release: Release) -> str:
    original = f", {release.n_original:,} with their original label" if release.unanswered_as_original else ""
    run = f", Dawid–Skene run #{release.ds_run_id} ({release.ds_prior} prior)" if release.ds_run_id else ""
    return (
        f"{release.dataset.slug} v{release.version} (release {release.pk}) ready in {release.build_seconds:.1f} s: "
        f"{release.n_images:,} images, {release.n_labelled:,} labelled, {release.n_empty:,} empty, "
        f"{release.n_pending:,} pending{original}, {release.n_excluded:,} excluded; {release.aggregation}{run}"
    )
