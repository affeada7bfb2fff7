"""The dataset comparison as a researcher uses it in Chromium: from the evaluation index to the page, the
charts drawn, the pairing changed through the form, the CSV downloaded; and a side without label sets."""

from __future__ import annotations

import csv

import pytest

from evaluation.services.snapshots import metric_snapshots_refresh
from tests.browser.conftest import SCREENSHOTS, has_horizontal_scroll, screenshot
from tests.builders.dataset_compare import build_side

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two_datasets():
    a = build_side("val", seed=1, n=60, size_weights=[0.8, 0.1, 0.05, 0.05])
    b = build_side("v2", seed=2, n=50, size_weights=[0.5, 0.25, 0.15, 0.1], skill_shift=-0.05)
    metric_snapshots_refresh()
    return a, b


def test_a_researcher_compares_two_datasets_changes_a_pair_and_downloads_the_csv(signed_in, url, researcher,
                                                                                  two_datasets):  # fmt: skip
    a, b = two_datasets
    page = signed_in(researcher)
    page.goto(url("/evaluation/"))
    page.select_option("#compare-datasets select[name=a]", a.dataset.slug)
    page.select_option("#compare-datasets select[name=b]", b.dataset.slug)
    with page.expect_navigation():
        page.click("#compare-datasets button")
    assert page.url.endswith(f"/datasets/{a.dataset.slug}/compare/{b.dataset.slug}/")
    assert page.locator("#compare-table tbody tr").count() == 3
    assert page.locator("#compare-scatters svg circle").count() == 6  # three models on two charts
    assert page.locator("#compare-scatters line.fit").count() == 2
    assert page.locator("#decomposition-table > tbody > tr").count() == 3
    screenshot(page, "dataset-compare-1366")
    page.screenshot(path=str(SCREENSHOTS / "dataset-compare-full.png"), full_page=True)
    assert not has_horizontal_scroll(page)
    with page.expect_navigation():
        page.click("#edit-pairing")
    selects = page.locator("#pairing-form select")
    selects.nth(0).select_option(label="beta")  # alpha ↔ beta, while beta still pairs with beta: refused
    with page.expect_navigation():
        page.click("#pairing-form button")
    assert "paired twice" in page.inner_text("#compare-error")
    page.go_back()
    selects.nth(0).select_option(label="beta")
    selects.nth(1).select_option(label="— not paired —")
    with page.expect_navigation():
        page.click("#pairing-form button")
    first = page.locator("#compare-table tbody tr").first.inner_text()
    assert first.startswith("alpha\tbeta")
    with page.expect_download() as download:
        page.click("#compare-form a[download]")
    with open(download.value.path(), encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert (rows[0]["model_a"], rows[0]["model_b"]) == ("alpha", "beta")


def test_the_page_says_plainly_when_a_side_has_no_label_sets(signed_in, url, reviewer):
    a = build_side("val", seed=1, n=40, size_weights=[0.8, 0.1, 0.05, 0.05])
    b = build_side("v2", seed=2, n=40, size_weights=[1.0], with_reference=False)
    metric_snapshots_refresh()
    page = signed_in(reviewer)
    page.goto(url(f"/datasets/{a.dataset.slug}/compare/{b.dataset.slug}/"))
    notice = page.inner_text("#no-labels-b")
    assert "has no multi-label labels" in notice and "Candidates from these models" in notice
    assert page.is_visible("#no-labels-b")
    screenshot(page, "dataset-compare-no-labels-1366")
