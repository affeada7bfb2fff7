"""A researcher builds two releases through the form, opens one, compares them, and watches a build's
progress bar move until the build ends. Screenshots at 1366×768."""

from __future__ import annotations

import pytest

from annotator.models import Dataset
from annotator.services.dawid_skene import dawid_skene_run
from config.celery import app as celery_app
from evaluation.models import Release
from tests.browser.conftest import has_horizontal_scroll, screenshot
from tests.builders.releases import voted_dataset

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def builds_inline():
    """The build task runs in the web request (a real worker is tested in tests/celery)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def test_a_researcher_builds_opens_and_compares_releases_and_follows_a_build(
    signed_in, url, researcher, tmp_path, builds_inline
):
    dataset = voted_dataset(tmp_path)
    page = signed_in(researcher)
    page.click("nav >> text=Releases")
    page.click(f"#release-datasets >> text={dataset.name}")

    with page.expect_navigation():
        page.click("#release-form button[type=submit]")
    assert page.locator("#releases tbody tr").count() == 1
    page.fill("#id_min_annotations", "1")
    page.fill("#id_threshold", "0.9")
    with page.expect_navigation():
        page.click("#release-form button[type=submit]")
    assert page.locator("#releases tbody tr").count() == 2
    screenshot(page, "releases-list-1366")
    assert not has_horizontal_scroll(page)

    page.click("#releases >> text=v1")
    v1 = Release.objects.get(version=1)
    assert v1.files.get(kind="zip").sha256 in page.inner_text("#files")
    screenshot(page, "release-detail-1366")

    page.click("text=with v2")
    assert page.inner_text("#compare-counts").count("\n") > 0
    assert "img_00001.JPEG" in page.inner_text("#changes")
    screenshot(page, "release-compare-1366")

    building = Release.objects.create(
        dataset=dataset, version=3, aggregation="majority", threshold=0.5, min_annotations=3, progress=0.3,
        phase="per-image files",
    )  # fmt: skip
    page.goto(url(f"/datasets/{dataset.slug}/releases/"))
    assert page.locator("progress").count() == 1
    Release.objects.filter(pk=building.pk).update(progress=0.8, phase="zip")
    page.wait_for_function("document.querySelector('progress').value > 0.75")
    assert page.inner_text(".build .phase") == "zip"
    screenshot(page, "release-building-1366")
    Release.objects.filter(pk=building.pk).update(state="failed", error="OSError: disk full")
    page.wait_for_selector("text=Build of v3 failed")
    assert page.locator("#releases tbody tr").count() == 2


def test_a_dawid_skene_release_shows_its_run_and_prior_on_the_list_and_its_page(
    signed_in, url, researcher, tmp_path, builds_inline
):
    dataset = voted_dataset(tmp_path)
    Dataset.objects.filter(pk=dataset.pk).update(ds_prior="imagenet_real")
    run = dawid_skene_run(dataset=dataset)
    page = signed_in(researcher)
    page.goto(url(f"/datasets/{dataset.slug}/releases/"))
    assert page.is_checked("#id_unanswered_as_original")  # the dataset has original labels
    page.select_option("#id_aggregation", "dawid_skene")
    with page.expect_navigation():
        page.click("#release-form button[type=submit]")
    row = page.inner_text("#releases tbody tr")
    assert "Dawid–Skene" in row and "imagenet_real prior" in row and "1 / 1" in row
    assert not has_horizontal_scroll(page)
    screenshot(page, "releases-list-dawid-skene-1366")
    page.click("#releases >> text=v1")
    parameters = page.inner_text("#parameters")
    assert f"#{run.pk} of" in parameters and "imagenet_real" in parameters and "their original label" in parameters
    screenshot(page, "release-detail-dawid-skene-1366")
