"""Release section: build a release of the workload dataset in a child process; time and peak memory.

The child (`python -m bench.releases <dataset id>`) sets up Django, notes its RSS, then calls the product's
`release_create` with Celery in eager mode, so the build runs right after the row commits, as a worker
would run it. It reports the build's own wall time (`Release.build_seconds`), its peak RSS (VmHWM)
and the RSS before the build. The floor streams the rows the build reads out of PostgreSQL with
`COPY … TO STDOUT` into a sink that keeps nothing: the per-image consensus rows and the votes.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import time

from django.db import connection

from bench.report import Figure, Report

_FLOOR_QUERIES = (
    "SELECT i.key, i.position, i.original_label_id, c.annotation_count, c.counts, c.shares, c.ds_posterior, "
    "c.labels, c.dispute_reasons, c.adjudicated, c.excluded, c.agreement FROM annotator_image i "
    "LEFT JOIN annotator_consensus c ON c.image_id = i.id WHERE i.dataset_id = {id} ORDER BY i.position",
    "SELECT i.key, i.position, c.index, c.key, v.annotator_id, v.answer FROM annotator_vote v "
    "JOIN annotator_image i ON i.id = v.image_id JOIN annotator_labelclass c ON c.id = v.label_class_id "
    "WHERE i.dataset_id = {id} ORDER BY i.position, c.index, v.annotator_id",
)
TARGET_SECONDS, TARGET_MB = 5.0, 200.0


class _Sink(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # noqa: ANN001
        return len(data)


def bench_release(report: Report, dataset) -> None:  # noqa: ANN001 - an annotator.models.Dataset
    # The median of as many runs as the other computation figures (`python -m bench --repeat`).
    repeat = getattr(sys.modules.get("bench.compute"), "REPEAT", 3)
    floors, results = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        with connection.cursor() as cursor:
            for query in _FLOOR_QUERIES:
                sql = f"COPY ({query.format(id=int(dataset.pk))}) TO STDOUT WITH (FORMAT csv)"
                cursor.copy_expert(sql, _Sink())
        floors.append(time.perf_counter() - started)
        child = subprocess.run(
            [sys.executable, "-m", "bench.releases", str(dataset.pk)],
            capture_output=True,
            text=True,
            env={**os.environ, "DJANGO_LOG_LEVEL": "WARNING"},
            check=True,
        )
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
    floor = statistics.median(floors)
    result = {**results[-1], "seconds": statistics.median(r["seconds"] for r in results),
              "peak_mb": max(r["peak_mb"] for r in results)}  # fmt: skip
    n = dataset.images.count()
    at_scale = n == 50_000
    note = f"{n:,} images, {result['n_votes']:,} votes, files {result['mb_written']:.0f} MB incl. zip"
    report.add(Figure("release", "release build (all files + zip)", result["seconds"], "s", floor=floor,
                      floor_note="COPY TO STDOUT of the consensus rows and the votes", note=note,
                      target=f"≤ {TARGET_SECONDS:g} s at 50,000 images",
                      passed=result["seconds"] <= TARGET_SECONDS if at_scale else None))  # fmt: skip
    report.add(Figure("release", "release build peak RSS (highest run)", result["peak_mb"], "MB",
                      floor=result["before_mb"],
                      floor_note="the same process before the build (Django, numpy loaded)",
                      target=f"≤ {TARGET_MB:g} MB at 50,000 images",
                      passed=result["peak_mb"] <= TARGET_MB if at_scale else None))  # fmt: skip


def _child(dataset_id: int, *, keep: bool = False) -> dict:
    """Build one release and report; the release is deleted afterwards, or with `keep` kept (and the dataset's
    earlier ones deleted first) for the pages that list releases."""
    import django

    django.setup()
    from annotator.models import Dataset
    from config.celery import app
    from evaluation.models import Release
    from evaluation.services.releases import release_create, release_storage

    app.conf.task_always_eager = True
    if keep:
        for earlier in Release.objects.filter(dataset_id=dataset_id):
            _delete(earlier, release_storage())
    before = _high_water_mb()
    dataset = Dataset.objects.get(pk=dataset_id)
    release, _ = release_create(dataset=dataset)
    release = Release.objects.get(pk=release.pk)
    peak = _high_water_mb()
    if release.state != Release.State.READY:
        raise SystemExit(f"release failed: {release.error}")
    files = list(release.files.all())
    result = {
        "seconds": release.build_seconds,
        "peak_mb": peak,
        "before_mb": before,
        "n_votes": release.n_votes,
        "mb_written": sum(f.size for f in files) / 2**20,
    }
    if not keep:
        _delete(release, release_storage())
    return result


def _delete(release, storage) -> None:  # noqa: ANN001 - an evaluation.models.Release and its storage
    for stored in release.files.all():
        storage.delete(stored.storage_name)
    release.delete()


def _high_water_mb() -> float:
    """Peak RSS of this process image (VmHWM). Not `ru_maxrss`: Linux carries that over from the parent
    through fork and exec, so a child would report the bench process's own peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    print(json.dumps(_child(int(sys.argv[1]))))
