"""The model-guided order in the browser: under the setting, an annotator's workbench opens on the fresh image
with the highest model score, and nothing of the score shows."""

from __future__ import annotations

import numpy as np
import pytest

from annotator.models import Image
from annotator.services.assignment import dataset_queue_order_set
from annotator.services.candidates import model_scores_replace
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_workbench_opens_on_the_highest_score_fresh_image(signed_in, url, annotator, photo_dataset):
    images = list(Image.objects.filter(dataset=photo_dataset).order_by("position"))
    scores = np.array([(5 * p) % len(images) / 100 for p in range(len(images))])  # distinct, not by position
    model_scores_replace(dataset=photo_dataset, image_ids=np.array([i.pk for i in images]), scores=scores)
    best = images[int(np.argmax(scores))]
    assert best.position != 0  # else the position order would show it first too
    dataset_queue_order_set(dataset=photo_dataset, queue_order="model_guided")
    page = signed_in(annotator)
    page.goto(url("/datasets/photos/annotate/"))
    page.wait_for_selector("#workbench[data-ready=true]")
    assert page.inner_text("#wb-filename") == best.key
    content = page.content().lower()
    assert "score" not in content and "guided" not in content and f"{scores.max():g}" not in content
    screenshot(page, "guided-workbench")
