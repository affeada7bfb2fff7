"""Candidate proposals: original label ∪ top-k of the selected prediction sets, recomputed on selection change."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from annotator.models import Candidate
from evaluation.services.candidates import candidates_recompute
from evaluation.services.prediction_sets import EvaluationInputError, candidate_sources_select, prediction_set_create
from tests.builders.prediction_sets import TOP3, build_dataset, csv_bytes

OTHER_TOP3 = [[1, 0, 3], [1, 2, 5], [2, 3, 4], [3, 4, 5], [4, 5, 0], [5, 4, 3], [0, 1, 2], [1, 3, 0]]


def _upload(dataset, name: str, rows: list[list[int]], **kwargs):
    source = ContentFile(csv_bytes(rows), name="m.csv")
    return prediction_set_create(dataset=dataset, name=name, source=source, **kwargs)


def _candidates(dataset, position: int) -> list[tuple[int, str, float | None]]:
    rows = Candidate.objects.filter(image__dataset=dataset, image__position=position)
    return sorted(rows.values_list("label_class__index", "source", "score"))


def test_without_selected_sets_each_image_is_asked_about_its_original_label_only(tiny):
    report = candidates_recompute(dataset=tiny)
    assert (report.images, report.candidates, report.prediction_sets) == (8, 8, 0)
    assert _candidates(tiny, 3) == [(3, "original", None)]


def test_selected_sets_add_their_top_k_deduplicated_with_the_best_rank_as_score(tiny):
    tiny.candidate_count = 2
    tiny.save(update_fields=["candidate_count"])
    _upload(tiny, "a", TOP3, use_for_candidates=True)
    _upload(tiny, "b", OTHER_TOP3, use_for_candidates=True)
    _upload(tiny, "not selected", [[5, 4, 3]] * 8)
    candidates_recompute(dataset=tiny)
    # image 1: original 1; a proposes 2, 1; b proposes 1, 2 → 1 stays original, 2 ranked first by a.
    assert _candidates(tiny, 1) == [(1, "original", None), (2, "model", 1.0)]
    # image 0: original 0; a: 0, 1; b: 1, 0 → 1 ranked first by b.
    assert _candidates(tiny, 0) == [(0, "original", None), (1, "model", 1.0)]
    assert _candidates(tiny, 7) == [(1, "original", None), (3, "model", 1.0)]


def test_changing_the_selection_recomputes_and_keeps_rows_that_stay(tiny, django_capture_on_commit_callbacks):
    a = _upload(tiny, "a", TOP3)
    b = _upload(tiny, "b", OTHER_TOP3)
    with django_capture_on_commit_callbacks(execute=True):
        assert candidate_sources_select(dataset=tiny, prediction_sets=[a])
    kept = Candidate.objects.get(image__position=0, label_class__index=0)
    with django_capture_on_commit_callbacks(execute=True):
        assert candidate_sources_select(dataset=tiny, prediction_sets=[b])
    assert Candidate.objects.get(image__position=0, label_class__index=0).pk == kept.pk
    assert [c for c, _, _ in _candidates(tiny, 2)] == [2, 3, 4]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert not candidate_sources_select(dataset=tiny, prediction_sets=[b])
    assert callbacks == []


def test_selecting_a_set_of_another_dataset_is_refused(tiny):
    other = build_dataset("other")
    foreign = _upload(other, "foreign", TOP3)
    with pytest.raises(EvaluationInputError, match="do not belong"):
        candidate_sources_select(dataset=tiny, prediction_sets=[foreign])


def test_candidates_of_one_dataset_leave_other_datasets_alone(tiny):
    other = build_dataset("other")
    candidates_recompute(dataset=other)
    _upload(tiny, "a", TOP3, use_for_candidates=True)
    candidates_recompute(dataset=tiny)
    assert Candidate.objects.filter(image__dataset=other).count() == 8
