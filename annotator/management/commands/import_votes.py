"""python manage.py import_votes DATASET FILE [--format real|csv|label-studio|cvat] [--annotator A] [--gold FILE]"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.core.peer_formats import read_cvat_votes, read_label_studio_votes
from annotator.core.vote_formats import (
    VoteFormatError,
    VoteTable,
    read_csv_gold,
    read_csv_votes,
    read_real_gold,
    read_real_votes,
)
from annotator.models import Dataset
from annotator.services.votes_import import VotesImportError, votes_import

FORMATS: dict[str, Callable[[Path], VoteTable]] = {
    "real": read_real_votes,
    "csv": read_csv_votes,
    "label-studio": read_label_studio_votes,
    "cvat": read_cvat_votes,
}
BY_SUFFIX = {".npz": "real", ".json": "label-studio", ".xml": "cvat", ".zip": "cvat"}


class Command(BaseCommand):
    help = (
        "Import answers collected elsewhere: ReaL's raters.npz, or a CSV image,class,annotator,answer (class: key "
        "or index; answer: yes, no or maybe). Raters become inactive annotator accounts 'imported-<id>'. Gold "
        "answers: ReaL's golden.npz or a CSV image,class,yes|no. Also Label Studio's JSON export of a multiple-"
        "choice project and CVAT for images 1.1 XML with tags: their chosen classes become yes votes and nothing "
        "else (no 'no' vote is inferred). Re-importing is a no-op. Exit status 2 on invalid input (nothing "
        "written)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dataset", help="Dataset slug.")
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--format",
            choices=list(FORMATS),
            default=None,
            help="Default: by extension (.npz: real, .json: label-studio, .xml or .zip: cvat, anything else: csv).",
        )
        parser.add_argument(
            "--annotator",
            default=None,
            help="CVAT: the rater of tags that carry no 'annotator' attribute in an export without a job assignee.",
        )
        parser.add_argument("--gold", type=Path, default=None, help="golden.npz or a CSV image,class,answer.")

    def handle(self, *args: object, **options: Any) -> None:
        path: Path = options["file"]
        fmt = options["format"] or BY_SUFFIX.get(path.suffix.lower(), "csv")
        gold_path: Path | None = options["gold"]
        dataset = Dataset.objects.filter(slug=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"no dataset {options['dataset']!r}", returncode=2)
        try:
            votes = read_cvat_votes(path, annotator=options["annotator"]) if fmt == "cvat" else FORMATS[fmt](path)
            gold = None
            if gold_path is not None:
                gold = read_real_gold(gold_path) if gold_path.suffix == ".npz" else read_csv_gold(gold_path)
            self.stdout.write(f"read {votes.n_votes} votes on {len(votes.image_keys)} questions from {path.name}")
            report = votes_import(dataset=dataset, votes=votes, gold=gold)
        except (VoteFormatError, VotesImportError, OSError, KeyError, ValueError) as exc:
            raise CommandError(f"{path.name}: nothing imported:\n{exc}", returncode=2) from exc
        self.stdout.write(self.style.SUCCESS(f"{dataset.slug}: {report.summary()}"))
