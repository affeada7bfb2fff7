"""python manage.py import_votes DATASET FILE [--format real|csv] [--gold FILE]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.core.vote_formats import VoteFormatError, read_csv_gold, read_csv_votes, read_real_gold, read_real_votes
from annotator.models import Dataset
from annotator.services.votes_import import VotesImportError, votes_import


class Command(BaseCommand):
    help = (
        "Import answers collected elsewhere: ReaL's raters.npz, or a CSV image,class,annotator,answer (class: key "
        "or index; answer: yes, no or maybe). Raters become inactive annotator accounts 'imported-<id>'. Gold "
        "answers: ReaL's golden.npz or a CSV image,class,yes|no. Re-importing is a no-op. Exit status 2 on "
        "invalid input (nothing written)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dataset", help="Dataset slug.")
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--format", choices=["real", "csv"], default=None, help="Default: by extension (.npz: real)."
        )
        parser.add_argument("--gold", type=Path, default=None, help="golden.npz or a CSV image,class,answer.")

    def handle(self, *args: object, **options: Any) -> None:
        path: Path = options["file"]
        fmt = options["format"] or ("real" if path.suffix == ".npz" else "csv")
        gold_path: Path | None = options["gold"]
        dataset = Dataset.objects.filter(slug=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"no dataset {options['dataset']!r}", returncode=2)
        try:
            votes = read_real_votes(path) if fmt == "real" else read_csv_votes(path)
            gold = None
            if gold_path is not None:
                gold = read_real_gold(gold_path) if gold_path.suffix == ".npz" else read_csv_gold(gold_path)
            self.stdout.write(f"read {votes.n_votes} votes on {len(votes.image_keys)} questions from {path.name}")
            report = votes_import(dataset=dataset, votes=votes, gold=gold)
        except (VoteFormatError, VotesImportError, OSError, KeyError, ValueError) as exc:
            raise CommandError(f"{path.name}: nothing imported:\n{exc}", returncode=2) from exc
        self.stdout.write(self.style.SUCCESS(f"{dataset.slug}: {report.summary()}"))
