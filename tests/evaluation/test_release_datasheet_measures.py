"""Every release's DATASHEET.md gives the multi-label share with its Wilson interval, the |Y| histogram, and
the definitions of variable top-k, ASMA and the share."""

from __future__ import annotations

import pytest

from evaluation.services.releases import release_storage
from tests.builders.releases import built_release, voted_dataset


@pytest.mark.django_db
def test_the_datasheet_gives_the_multilabel_share_with_its_interval_and_the_label_count_histogram(
    tmp_path, django_capture_on_commit_callbacks
):
    release = built_release(voted_dataset(tmp_path), django_capture_on_commit_callbacks)
    with release_storage().open(release.files.get(kind="datasheet").storage_name, "rb") as handle:
        sheet = handle.read().decode()
    # Labelled: images 0, 1, 2, 3, 5; two classes on images 1 and 3. Settled and empty: image 4.
    assert "0.400 (40.0%, 95% Wilson interval 11.8%–76.9%; 2 of 5)" in sheet
    histogram = sheet[sheet.index("### Label-set sizes") :]
    assert "| 0 (no valid class) | 1 | 16.7% | ██████████ |" in histogram
    assert "| 1 | 3 | 50.0% | ██████████████████████████████ |" in histogram
    assert "| 2 | 2 | 33.3% | ████████████████████ |" in histogram
    for name in ("variable top-k, strict", "variable top-k, fractional", "| ASMA |", "| multi-label share |"):
        assert name in sheet
    assert "ReLabel's reading of the paper" in sheet
