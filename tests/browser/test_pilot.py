"""The pilot in the browser: a researcher reads the pilot page (figures, intervals, the model-only estimate
labelled as such, nothing off-screen sideways); an annotator's workbench opens on the pilot's first image and
shows nothing of the pilot."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from annotator.core.pilot_sample import pilot_order, pilot_sample
from annotator.models import Image
from annotator.services.pilots import pilot_create
from evaluation.services.prediction_sets import prediction_set_create
from tests.browser.conftest import has_horizontal_scroll, screenshot
from tests.builders.prediction_sets import TOP3, csv_bytes
from tests.builders.releases import voted_dataset

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_researcher_reads_the_pilot_estimates(signed_in, url, researcher, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    dataset = voted_dataset(tmp_path)
    prediction_set_create(dataset=dataset, name="model", source=ContentFile(csv_bytes(TOP3), name="m.csv"))
    pilot_create(dataset=dataset, n=8, seed=3)
    page = signed_in(researcher)
    page.goto(url(f"/datasets/{dataset.slug}/pilot/"))
    summary = page.inner_text("#pilot-summary")
    assert "8 images" in summary and "6 of its images are settled" in summary and "active" in summary
    row = page.inner_text("#row-multilabel")
    assert "40.00" in row and "[" in row  # 2 of 5 with its interval
    assert page.locator("table.model-estimates").count() == 1
    assert "Model-only estimate" in page.inner_text("#model-only")
    assert not has_horizontal_scroll(page)
    page.fill("input[name=width]", "0.2")
    with page.expect_navigation():
        page.click("text=Recompute")
    assert "width=0.2" in page.url
    screenshot(page, "pilot-page")


def test_the_workbench_opens_on_the_pilots_first_image_and_says_nothing_of_it(signed_in, url, annotator, photo_dataset):
    position_of = dict(Image.objects.filter(dataset=photo_dataset).values_list("id", "position"))

    def first_position(seed: int) -> int:  # the position of the pilot's first image in its seeded order
        sample = pilot_sample(list(position_of), n=3, seed=seed)
        return position_of[int(sample[int(pilot_order(3, seed).argmin())])]

    seed = next(s for s in range(100) if first_position(s) != 0)  # else the usual order would show it first too
    pilot_create(dataset=photo_dataset, n=3, seed=seed)
    first = Image.objects.get(dataset=photo_dataset, pilot_rank=0)
    assert first.position == first_position(seed) != 0
    page = signed_in(annotator)
    page.goto(url("/datasets/photos/annotate/"))
    page.wait_for_selector("#workbench[data-ready=true]")
    assert page.inner_text("#wb-filename") == first.key
    assert "pilot" not in page.content().lower()
    screenshot(page, "pilot-workbench")
