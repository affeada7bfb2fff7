"""The benchmark's release section on a tiny dataset, so `make test` catches it rotting."""

from __future__ import annotations

import pytest
from django.db import connection

from bench.releases import bench_release
from bench.report import Report
from evaluation.models import Release
from tests.builders.releases import voted_dataset


# Transactional: the build runs in a child process, which must see the dataset committed.
@pytest.mark.django_db(transaction=True)
def test_the_release_section_times_a_build_in_a_child_and_keeps_no_release(tmp_path, monkeypatch):
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "config.settings.local")
    monkeypatch.setenv("RELABEL_DATABASE_NAME", connection.settings_dict["NAME"])
    monkeypatch.setenv("DJANGO_MEDIA_ROOT", str(tmp_path / "media"))
    dataset = voted_dataset(tmp_path, slug="bench-release")
    report = Report(scale=8)
    bench_release(report, dataset)
    seconds, peak = report.figures
    assert seconds.unit == "s" and 0 < seconds.value < 30 and seconds.floor > 0
    assert peak.unit == "MB" and peak.value >= peak.floor > 0
    assert seconds.passed is None and peak.passed is None  # targets are judged at 50,000 images only
    assert not Release.objects.exists() and not [p for p in (tmp_path / "media").rglob("*") if p.is_file()]
