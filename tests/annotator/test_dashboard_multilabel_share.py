"""The agreement dashboard's multi-label share: over settled images with a non-empty consensus, as everywhere
else, with its Wilson interval and counts beside the |Y| histogram."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotator.services.agreement_figures import agreement_compute
from tests.builders.releases import voted_dataset


@pytest.mark.django_db
def test_the_dashboard_shows_the_multilabel_share_of_non_empty_sets_with_its_interval(tmp_path, client, reviewer):
    # Settled: images 0-5; image 4 has no valid class, images 1 and 3 two: 2 of 5, not 2 of 6.
    dataset = voted_dataset(tmp_path)
    agreement_compute(dataset=dataset)
    client.force_login(reviewer)
    html = client.get(reverse("consensus:dashboard", args=[dataset.slug])).content.decode()
    tile = html[html.index('id="multilabel-share"') :]
    tile = tile[: tile.index("</div></div>") + 12]
    assert "40.0%" in tile and "[11.8, 76.9]%" in tile and "2 of 5" in tile
    assert "Classes in the consensus label set" in html  # the |Y| histogram
