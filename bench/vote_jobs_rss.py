"""Peak RSS of the dataset-wide vote jobs: consensus recompute, Dawid–Skene and agreement (issue 23).

``python -m bench.vote_jobs_rss [50000,200000] [--code DIR]`` builds (or reuses) the computation workload
`bench-compute-<n>` (`bench.compute_workload.compute_dataset`, without its prediction sets: 5 annotations and
~15 votes per image) in the benchmark database, then runs each job in a fresh child process
(`python -m bench.vote_jobs_rss child <job> <n>`), which reports its peak RSS before the job (Django set up,
dataset loaded) and after it (VmHWM, as `bench.releases` does) and the job's wall time. Consensus is
recomputed with every row changed (every stored row made stale first, outside the measurement). With
`--code DIR` every job also runs with the code in DIR (a checkout of other code sharing this database, e.g.
the base commit with `var` linked to this checkout's), alternating with this checkout's, and each row says
which (`code`: "this" or DIR's name). Results go to stdout as one JSON line per run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
JOBS = ("consensus", "dawid_skene", "agreement")


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("RELABEL_DATABASE_NAME", "relabel_bench")
    os.environ["DJANGO_LOG_LEVEL"] = "WARNING"
    import django

    django.setup()


def _high_water_mb() -> float:
    """VmHWM of this process (as bench.releases._high_water_mb; not imported, so a child loads no bench code
    that another checkout may lack)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _child(job: str, n_images: int) -> dict:
    _setup()
    from django.db import connection

    from annotator.models import Dataset

    dataset = Dataset.objects.get(slug=f"bench-compute-{n_images}")
    if job == "consensus":
        with connection.cursor() as cursor:  # every stored row differs from what the votes give
            cursor.execute("UPDATE annotator_consensus SET counts = '{}' WHERE dataset_id = %s", [dataset.pk])
    before = _high_water_mb()
    started = time.monotonic()
    if job == "consensus":
        from annotator.services.consensus import consensus_recompute_dataset

        result: object = consensus_recompute_dataset(dataset=dataset)
    elif job == "dawid_skene":
        from annotator.services.dawid_skene import dawid_skene_run

        run = dawid_skene_run(dataset=dataset)
        result = None if run is None else {"n_votes": run.n_votes, "iterations": run.iterations}
    elif job == "agreement":
        from annotator.services.agreement_figures import agreement_compute

        result = agreement_compute(dataset=dataset).n_votes
    else:
        raise SystemExit(f"unknown job {job!r}")
    seconds = time.monotonic() - started
    return {
        "job": job, "n_images": n_images, "seconds": round(seconds, 2), "peak_rss_mb": round(_high_water_mb(), 1),
        "peak_rss_before_mb": round(before, 1), "result": result, "load": os.getloadavg()[0],
    }  # fmt: skip


def _run_child(code: Path, job: str, n_images: int) -> dict:
    command = [str(REPO / ".venv" / "bin" / "python"), "-m", "bench.vote_jobs_rss", "child", job, str(n_images)]
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=code)
    row = json.loads(done.stdout.strip().splitlines()[-1])
    row["code"] = "this" if code == REPO else code.name
    return row


def main(sizes: list[int], other: Path | None) -> list[dict]:
    _setup()
    from django.core.management import call_command

    from bench.compute_workload import compute_dataset

    call_command("migrate", verbosity=0)
    rows = []
    for n_images in sizes:
        compute_dataset(n_images, predictions=False, log=lambda line: print(line, file=sys.stderr, flush=True))
        for job in JOBS:
            for code in [REPO] if other is None else [other, REPO]:
                rows.append(_run_child(code, job, n_images))
                print(json.dumps(rows[-1]), flush=True)
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        print(json.dumps(_child(sys.argv[2], int(sys.argv[3]))))
    else:
        arguments = [a for a in sys.argv[1:] if not a.startswith("--code")]
        code = next((Path(a.split("=", 1)[1]).resolve() for a in sys.argv[1:] if a.startswith("--code=")), None)
        main([int(n) for n in (arguments[0] if arguments else "50000,200000").split(",")], code)
