"""python -m bench [--images 50000] [--sections …] [--growth 10000,50000,200000] — see README's Performance section."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Sections measured on the computation workload (bench.compute_workload), in this order; --growth runs them
# at each size. Each is `function(report, dataset)`; see `_workload_sections`.
# "jobs" runs each dataset-wide job once in a child process for its peak RSS (bench.scale), "database" sizes the
# tables on disk.
WORKLOAD_SECTIONS = ("consensus", "dawid_skene", "metrics", "release", "jobs", "pages", "database")
# "compare" builds its own two datasets (70 models each, bench.compare), so it runs outside the workload.
ALL_SECTIONS = ("import", "api", "compare", *WORKLOAD_SECTIONS)
# What `--growth` measures at each size unless --sections says otherwise (issue 23's growth run).
GROWTH_SECTIONS = ("import", "api", "jobs", "pages", "database")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument(
        "--file-images", type=int, default=1000, help="Images with real files for the file-import figure."
    )
    parser.add_argument(
        "--sections",
        default="",
        help=f"Comma-separated, of: {', '.join(ALL_SECTIONS)}. Default: all; with --growth: "
        f"{', '.join(GROWTH_SECTIONS)}.",
    )
    parser.add_argument("--api-seconds", type=float, default=20.0, help="Duration of each load level.")
    parser.add_argument("--growth", default="", help="Sizes, e.g. 10000,50000,200000: the workload sections at each.")
    parser.add_argument("--repeat", type=int, default=3, help="Runs per computation figure (the median is reported).")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "reports")
    args = parser.parse_args(argv)
    default = GROWTH_SECTIONS if args.growth else ALL_SECTIONS
    sections = [s for s in args.sections.split(",") if s] or list(default)
    unknown = set(sections) - set(ALL_SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("RELABEL_DATABASE_NAME", "relabel_bench")
    # The workload's full score matrix is 763 MiB at 200k images × 1,000 classes (float32).
    os.environ.setdefault("RELABEL_MAX_UPLOAD_BYTES", str(4 * 2**30))
    os.environ["DJANGO_LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.core.management import call_command

    from bench.report import Report

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    if args.growth:
        from bench.growth import write_growth

        reports = []
        for n in map(int, args.growth.split(",")):
            report = Report(scale=n)
            if "import" in sections:
                from bench.imports import bench_metadata_import

                bench_metadata_import(report, n)
            if "api" in sections:
                _api(report, args, n, paced_only=True)
            _run_workload_sections(report, n, sections, args.repeat, full_scores=False)
            report.write(args.out)  # each size as soon as it is measured: the largest takes long
            reports.append(report)
        paths = write_growth(reports, args.out)
    else:
        report = Report(scale=args.images)
        if "import" in sections:
            from bench.imports import bench_file_import, bench_metadata_import

            bench_metadata_import(report, args.images)
            bench_file_import(report, min(args.file_images, args.images))
        if "api" in sections:
            _api(report, args, args.images)
        if "compare" in sections:
            from bench.compare import bench_compare

            bench_compare(report)
        _run_workload_sections(report, args.images, sections, args.repeat)
        paths = report.write(args.out)
        reports = [report]
    misses = [f"{r.scale:,} images: [{f.section}] {f.name}: {f.value:.4g} {f.unit}, target {f.target}"
              for r in reports for f in r.figures if f.passed is False]  # fmt: skip
    for miss in misses:
        print(f"TARGET MISSED — {miss}")
    elapsed = time.perf_counter() - started
    print(f"wrote {' and '.join(map(str, paths))} in {elapsed:.0f} s; {len(misses)} target(s) missed")
    return 0


def _workload_sections() -> dict[str, Callable]:
    from bench.compute import bench_consensus, bench_dawid_skene, bench_metrics
    from bench.pages import bench_pages
    from bench.releases import bench_release
    from bench.scale import bench_database_size, bench_jobs

    return {
        "consensus": bench_consensus,
        "dawid_skene": bench_dawid_skene,
        "metrics": bench_metrics,
        "release": bench_release,
        "pages": bench_pages,
        "jobs": bench_jobs,
        "database": bench_database_size,
    }


def _run_workload_sections(report, n_images: int, sections: list[str], repeat: int, *, full_scores: bool = True):
    chosen = [s for s in WORKLOAD_SECTIONS if s in sections]
    if not chosen:
        return report
    import bench.compute
    from bench.compute_workload import compute_dataset
    from bench.scale import bench_votes_import

    bench.compute.REPEAT = repeat
    registry = _workload_sections()
    dataset = compute_dataset(n_images, full_scores=full_scores)
    if "import" in sections:
        bench_votes_import(report, dataset)
    for name in chosen:
        registry[name](report, dataset)
    return report


def _api(report, args: argparse.Namespace, n_images: int, *, paced_only: bool = False) -> None:
    from django.db import connection

    from bench.http_load import LOAD_LEVELS, Gunicorn, bench_annotation_api
    from bench.workload import annotator_tokens, api_dataset

    dataset = api_dataset(n_images)
    tokens = annotator_tokens(dataset, 16)
    server = Gunicorn(connection.settings_dict["NAME"])
    levels = [level for level in LOAD_LEVELS if level.targeted or not paced_only]
    try:
        bench_annotation_api(
            report,
            base_url=server.base_url,
            slug=dataset.slug,
            tokens=tokens,
            seconds=args.api_seconds,
            levels=levels,
        )
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
