"""Scale sections of the growth run (issue 23): every dataset-wide job's time and peak RSS in its own process,
the votes import that built the workload, and the database's size per table.

`bench_jobs`: each job of `bench.job_rss` once in a fresh child process (a worker's footprint), its wall time
and its peak RSS (VmHWM) beside the RSS of the same process before the job (Django, numpy loaded); target
≤ 2 GB at any size. `bench_votes_import`: the record `bench.compute_workload` kept when it imported the
workload's votes with the `import_votes` command. `bench_database_size`: the workload's share of every table
on disk (`pg_total_relation_size`: table, TOAST and indexes; shared by rows), and the whole database.
"""

from __future__ import annotations

from django.db import connection

from annotator.models import Dataset
from bench.compute_workload import build_record
from bench.dataset_rows import dataset_row_counts
from bench.job_rss import run_job
from bench.report import Figure, Report

RSS_TARGET_MB = 2048.0
# (job, figure name) in the order they run: the consensus first (it rewrites every row), the release last.
JOBS = (
    ("consensus", "full consensus recompute, every row rewritten"),
    ("dawid_skene", "Dawid–Skene run (read, fit, write)"),
    ("agreement", "agreement figures and snapshot"),
    ("metrics", "metrics for every prediction set (snapshots written)"),
    ("release", "release build (all files + zip)"),
)


def bench_jobs(report: Report, dataset: Dataset) -> None:
    for job, name in JOBS:
        result = run_job(job, dataset.pk, "keep" if job == "release" else "")
        report.add(Figure("jobs", f"{name}, one run in its own process", result["seconds"], "s",
                          note=_job_note(job, result)))  # fmt: skip
        report.add(Figure(
            "jobs", f"{name}, peak RSS (VmHWM)", result["peak_mb"], "MB", floor=result["before_mb"],
            floor_note="the same process before the job (Django, numpy loaded)",
            target=f"≤ {RSS_TARGET_MB:,.0f} MB", passed=result["peak_mb"] <= RSS_TARGET_MB,
        ))  # fmt: skip


def _job_note(job: str, result: dict) -> str:
    if job == "consensus":
        return f"{result['rows_written']:,} rows written"
    if job == "dawid_skene":
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in result["parts"].items())
        return f"{result['n_votes']:,} votes, {result['iterations']} iterations; {parts}"
    if job == "agreement":
        return f"{result['n_votes']:,} votes on {result['n_questions']:,} questions"
    if job == "metrics":
        return f"{result['snapshots']} snapshots"
    return f"{result['n_votes']:,} votes, files {result['mb_written']:.0f} MB incl. zip"


def bench_votes_import(report: Report, dataset: Dataset) -> None:
    record = build_record(dataset)
    if record is None:  # a workload built before records were kept
        print(f"votes import: no build record for {dataset.slug}; not reported")
        return
    when = f"measured when the workload was built, {record['when']}, commit {record['commit']}"
    report.add(Figure("import", f"import_votes command, {record['n_votes']:,} votes (whole command)",
                      record["import_seconds"], "s", note=f"{record['output']}; {when}"))  # fmt: skip
    report.add(Figure(
        "import", "import_votes command, peak RSS (VmHWM)", record["import_peak_mb"], "MB",
        floor=record["import_before_mb"], floor_note="the same process before the import", note=when,
    ))  # fmt: skip


def bench_database_size(report: Report, dataset: Dataset) -> None:
    """The workload dataset's share of each table on disk (table, TOAST and indexes), the table's size times the
    dataset's share of its rows, and the whole database (every workload in it)."""
    shares = dataset_row_counts(dataset.pk)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        (total,) = cursor.fetchone()
        rows = []
        for table, n_rows in shares.items():
            cursor.execute(f"SELECT count(*), pg_total_relation_size(%s) FROM {table}", [table])
            all_rows, size = cursor.fetchone()
            rows.append((table, n_rows, all_rows, size * n_rows / max(all_rows, 1)))
    report.add(Figure("database", "whole database on disk", total / 2**20, "MB",
                      note="every workload and dataset the benchmark database holds"))  # fmt: skip
    report.add(Figure("database", "this dataset's share of its tables", sum(r[3] for r in rows) / 2**20, "MB",
                      note="the tables below added up"))  # fmt: skip
    for table, n_rows, all_rows, share in sorted(rows, key=lambda r: -r[3]):
        if share >= 2**20:
            report.add(Figure("database", f"{table} (table, TOAST, indexes)", share / 2**20, "MB",
                              note=f"{n_rows:,} rows of this dataset, of {all_rows:,} in the table"))  # fmt: skip
