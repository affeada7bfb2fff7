"""python manage.py replay_answers DATASET [--real real.json] [--json OUT] [--svg OUT] [--seed N] [--confidence C …]"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.core.redundancy import RedundancyRule
from annotator.core.replay_chart import replay_svg
from annotator.models import Dataset
from annotator.selectors.replay import DEFAULT_CONFIDENCES, ReplayInput, dataset_replay, default_policies

COLUMNS = (
    ("policy", "policy", "{}"), ("answers_used_share", "answers", "{:.2%}"),
    ("questions_equal_share", "questions =", "{:.2%}"), ("images_equal_share", "images =", "{:.2%}"),
    ("questions_equal_majority_share", "q = (majority)", "{:.2%}"), ("images_equal_real_share", "images = real.json",
                                                                     "{:.2%}"),
)  # fmt: skip


class Command(BaseCommand):
    help = (
        "Replay a dataset's answers as if they arrived live under redundancy policies (fixed-5, the simple "
        "first-two rule, adaptive at several confidence targets) and report, per policy, the share of answers "
        "used and the shares of questions and images whose label set equals the full-answer result. Read-only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dataset", help="Dataset slug.")
        parser.add_argument("--real", type=Path, default=None, help="A published label set (real.json) to compare.")
        parser.add_argument("--json", type=Path, default=None, help="Write the rows here (a JSON list).")
        parser.add_argument("--svg", type=Path, default=None, help="Write the chart here.")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the answers' arrival order.")
        parser.add_argument(
            "--warmup", type=float, default=0.1, help="Share of images answered before the first Dawid–Skene run."
        )
        parser.add_argument(
            "--prior", choices=["single", "original", "imagenet_real"], default=None,
            help="Dawid–Skene prior strata for every fit (default: the dataset's).",
        )  # fmt: skip
        parser.add_argument("--confidence", type=float, nargs="+", default=list(DEFAULT_CONFIDENCES))
        parser.add_argument("--min", type=int, default=2, dest="min_annotations")
        parser.add_argument("--max", type=int, default=5, dest="max_annotations")

    def handle(self, *args: object, **options: Any) -> None:
        dataset = Dataset.objects.filter(slug=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"no dataset {options['dataset']!r}", returncode=2)
        if not 0 <= options["warmup"] <= 1:
            raise CommandError("--warmup must lie in [0, 1]", returncode=2)
        try:
            # the product's rule: the band around the dataset's DS threshold (the cut that decides a label)
            rule = RedundancyRule(
                options["min_annotations"], options["max_annotations"], label_threshold=dataset.ds_threshold
            )
            policies = default_policies(options["confidence"], rule=rule)
            real = json.loads(options["real"].read_text()) if options["real"] else None
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc), returncode=2) from exc
        started = time.perf_counter()
        try:
            rows = dataset_replay(
                ReplayInput(
                    dataset=dataset,
                    seed=options["seed"],
                    warmup_share=options["warmup"],
                    real=real,
                    prior_mode=options["prior"],
                ),
                policies,
            )
        except ValueError as exc:
            raise CommandError(f"{dataset.slug}: {exc}", returncode=2) from exc
        seconds = time.perf_counter() - started
        widths = [max(len(title), 22 if key == "policy" else 0) for key, title, _ in COLUMNS]
        self.stdout.write("  ".join(title.ljust(w) for (_, title, _), w in zip(COLUMNS, widths, strict=True)))
        for row in rows:
            cells = ["-" if row[key] is None else fmt.format(row[key]) for key, _, fmt in COLUMNS]
            self.stdout.write("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))
        if options["json"]:
            options["json"].write_text(json.dumps(rows, indent=1) + "\n")
        if options["svg"]:
            title = f"Replay of {dataset.name}: answers used against agreement with all answers"
            options["svg"].write_text(replay_svg(rows, title))
        self.stdout.write(self.style.SUCCESS(f"{dataset.slug}: {len(rows)} policies replayed in {seconds:.1f} s"))
