"""Shared shape of the commands that register a file for a dataset: look the dataset up, open the
file, call one service, and turn refused input into exit status 2 with nothing stored."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.models import Dataset
from evaluation.services.prediction_sets import EvaluationInputError


class DatasetFileCommand(BaseCommand):
    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dataset", help="Dataset slug.")
        parser.add_argument("file", type=Path)
        parser.add_argument("--name", required=True)
        parser.add_argument("--description", default="")

    def register(self, options: dict[str, Any], create: Callable[..., Any], **extra: object) -> tuple[Dataset, Any]:
        dataset = Dataset.objects.filter(slug=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"no dataset {options['dataset']!r}", returncode=2)
        path = Path(str(options["file"]))
        try:
            with path.open("rb") as handle:
                created = create(
                    dataset=dataset, name=str(options["name"]), description=str(options["description"]),
                    source=File(handle, name=path.name), **extra,
                )  # fmt: skip
        except (EvaluationInputError, OSError) as error:
            raise CommandError(f"nothing stored: {error}", returncode=2) from error
        return dataset, created
