"""Every dataset-wide job in a fresh child process: its wall time and its peak RSS (VmHWM), as a worker runs it.

``python -m bench.job_rss <job> <dataset id> [argument]`` sets up Django, notes VmHWM, runs the product's own
service for the job and prints one JSON line: seconds, peak_mb, before_mb and what the job reports. A Celery
worker process runs the same call; a fresh process shows the job's own footprint rather than whatever the
benchmark process has accumulated (numpy keeps freed arenas, Python keeps its pools).

Jobs: `consensus` (full recompute, every row rewritten: the stored counts are made stale first, as after a
change of the dataset's rules), `dawid_skene` (read, fit, write), `agreement` (every figure and a snapshot),
`metrics` (every prediction set of the dataset against the consensus, snapshots written; the earlier snapshots
are removed first so every set is evaluated), `release` (bench.releases' child: every file and the zip; with
the argument `keep` the release stays, for the pages, and the dataset's earlier ones go) and
`import_votes` (the management command on a CSV, argument: its path).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

JOBS = ("consensus", "dawid_skene", "agreement", "metrics", "release", "import_votes")


def run_job(job: str, dataset_id: int, argument: str = "") -> dict[str, Any]:
    """Run `job` in a child process; its JSON report."""
    if job not in JOBS:
        raise ValueError(f"unknown job {job!r}")
    command = [sys.executable, "-m", "bench.job_rss", job, str(dataset_id), argument]
    child = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "DJANGO_LOG_LEVEL": "WARNING"}, check=False
    )
    if child.returncode != 0:
        raise RuntimeError(f"job {job} failed ({child.returncode}):\n{child.stderr[-4000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def _child(job: str, dataset_id: int, argument: str) -> dict[str, Any]:
    import django

    django.setup()

    from annotator.models import Dataset
    from bench.dataset_rows import consensus_make_stale
    from bench.releases import _child as release_child
    from bench.releases import _high_water_mb

    if job == "release":
        return release_child(dataset_id, keep=argument == "keep")
    dataset = Dataset.objects.get(pk=dataset_id)
    if job == "consensus":
        consensus_make_stale(dataset_id)
    if job == "metrics":
        from evaluation.models import MetricSnapshot

        MetricSnapshot.objects.filter(prediction_set__dataset=dataset).delete()
    before = _high_water_mb()
    started = time.perf_counter()
    extra = _run(job, dataset, argument)
    return {"seconds": time.perf_counter() - started, "peak_mb": _high_water_mb(), "before_mb": before, **extra}


def _run(job: str, dataset, argument: str) -> dict[str, Any]:  # noqa: ANN001 - an annotator.models.Dataset
    if job == "consensus":
        from annotator.services.consensus import consensus_recompute_dataset

        return {"rows_written": consensus_recompute_dataset(dataset=dataset)}
    if job == "dawid_skene":
        from annotator.services.dawid_skene import dawid_skene_run

        run = dawid_skene_run(dataset=dataset)
        if run is None:
            raise SystemExit("Dawid-Skene did not run (no votes, or another session holds the dataset's lock)")
        return {"n_votes": run.n_votes, "iterations": run.iterations, "parts": run.seconds}
    if job == "agreement":
        from annotator.services.agreement_figures import agreement_compute

        snapshot = agreement_compute(dataset=dataset)
        return {"n_votes": snapshot.figures["n_votes"], "n_questions": snapshot.figures["n_questions"]}
    if job == "metrics":
        from evaluation.services.snapshots import metric_snapshots_refresh

        return {"snapshots": len(metric_snapshots_refresh(datasets=[dataset]))}
    if job == "import_votes":
        from io import StringIO

        from django.core.management import call_command

        out = StringIO()
        call_command("import_votes", dataset.slug, argument, stdout=out)
        return {"output": out.getvalue().strip().splitlines()[-1]}
    raise ValueError(job)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    print(json.dumps(_child(sys.argv[1], int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "")))
