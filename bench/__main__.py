"""python -m bench [--images 50000] [--sections import,api,compute] — see README's Performance section."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--file-images", type=int, default=1000, help="Images with real files for the file-import figure.")
    parser.add_argument("--sections", default="import,api")
    parser.add_argument("--api-seconds", type=float, default=20.0, help="Duration of each load level.")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "reports")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("RELABEL_DATABASE_NAME", "relabel_bench")
    os.environ["DJANGO_LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.core.management import call_command

    from bench.report import Report

    call_command("migrate", verbosity=0)
    report = Report(scale=args.images)
    sections = set(args.sections.split(","))
    started = time.perf_counter()
    if "import" in sections:
        from bench.imports import bench_file_import, bench_metadata_import

        bench_metadata_import(report, args.images)
        bench_file_import(report, min(args.file_images, args.images))
    if "api" in sections:
        _api(report, args)
    json_path, md_path = report.write(args.out)
    print(f"wrote {json_path} and {md_path} in {time.perf_counter() - started:.0f} s")
    return 0


def _api(report, args: argparse.Namespace) -> None:
    from django.db import connection

    from bench.http_load import Gunicorn, bench_annotation_api
    from bench.workload import annotator_tokens, api_dataset

    dataset = api_dataset(args.images)
    tokens = annotator_tokens(dataset, 16)
    server = Gunicorn(connection.settings_dict["NAME"])
    try:
        bench_annotation_api(report, base_url=server.base_url, slug=dataset.slug, tokens=tokens, seconds=args.api_seconds)
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
