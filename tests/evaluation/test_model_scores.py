"""Each image's stored model score: the mean rank penalty of its original label over the selected prediction
sets, recomputed whenever the selection changes (the candidate recompute task), idempotent, per dataset."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from annotator.models import Image
from evaluation.services.model_scores import model_scores_recompute
from evaluation.services.prediction_sets import candidate_sources_select, prediction_set_create
from tests.builders.prediction_sets import TOP3, build_dataset, csv_bytes

OTHER_TOP3 = [[1, 0, 3], [1, 2, 5], [2, 3, 4], [3, 4, 5], [4, 5, 0], [5, 4, 3], [0, 1, 2], [1, 3, 0]]
FAR = [[5, 4, 3]] * 8
# By hand, original labels 0 1 2 3 4 5 0 1; penalty = (rank of the original, from 0; 3 when absent) / 3.
PENALTY_TOP3 = [0, 1 / 3, 0, 1 / 3, 0, 0, 1 / 3, 1 / 3]
PENALTY_OTHER = [1 / 3, 0, 0, 0, 0, 0, 0, 0]
PENALTY_FAR = [1, 1, 1, 2 / 3, 1 / 3, 0, 1, 1]


def _upload(dataset, name: str, rows: list[list[int]], **kwargs):
    return prediction_set_create(
        dataset=dataset, name=name, source=ContentFile(csv_bytes(rows), name="m.csv"), **kwargs
    )


def _scores(dataset) -> list[float | None]:
    return list(Image.objects.filter(dataset=dataset).order_by("position").values_list("model_score", flat=True))


def test_the_score_is_the_mean_penalty_over_the_selected_sets_and_follows_the_selection(
    tiny, django_capture_on_commit_callbacks
):
    other = build_dataset("other")
    with django_capture_on_commit_callbacks(execute=True):
        _upload(other, "a", TOP3, use_for_candidates=True)
    assert _scores(other) == pytest.approx(PENALTY_TOP3)
    assert _scores(tiny) == [None] * 8  # nothing selected yet
    with django_capture_on_commit_callbacks(execute=True):
        _upload(tiny, "a", TOP3, use_for_candidates=True)
        _upload(tiny, "far", FAR, use_for_candidates=True)
        b = _upload(tiny, "b", OTHER_TOP3)  # registered, not selected: not counted
    assert _scores(tiny) == pytest.approx([(x + y) / 2 for x, y in zip(PENALTY_TOP3, PENALTY_FAR, strict=True)])
    assert model_scores_recompute(dataset=tiny).changed == 0  # idempotent
    with django_capture_on_commit_callbacks(execute=True):
        assert candidate_sources_select(dataset=tiny, prediction_sets=[b])
    assert _scores(tiny) == pytest.approx(PENALTY_OTHER)
    with django_capture_on_commit_callbacks(execute=True):
        assert candidate_sources_select(dataset=tiny, prediction_sets=[])
    assert _scores(tiny) == [None] * 8
    assert _scores(other) == pytest.approx(PENALTY_TOP3)  # the other dataset is left alone
    report = model_scores_recompute(dataset=tiny)
    assert (report.images, report.scored, report.changed, report.prediction_sets) == (8, 0, 0, 0)


def test_an_image_a_selected_set_does_not_cover_gets_no_score(tiny):
    _upload(tiny, "a", TOP3, use_for_candidates=True)
    Image.objects.create(dataset=tiny, key="img_late.JPEG", position=8)  # imported after the set
    report = model_scores_recompute(dataset=tiny)
    assert (report.images, report.scored) == (9, 8)
    assert _scores(tiny) == pytest.approx([*PENALTY_TOP3, None])
