"""Live consensus per image: status rules, revisions, the bulk recompute, adjudicated rows, the label pool."""

from __future__ import annotations

import uuid

import pytest

from annotator.models import Consensus, Image, LabelClass
from annotator.services.annotations import Answer, annotation_revise, annotation_submit
from annotator.services.assignment import lease_next
from annotator.services.consensus import consensus_recompute_dataset, consensus_refresh_image
from evaluation.selectors import consensus_label_pool
from tests.workbench_data import workbench_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_image(team):
    """One image, N = 3, three candidates: its original label (class 0) and classes 1 and 2."""
    dataset = workbench_dataset(images=1, classes=4, candidates_per_image=3, annotators=team)
    return dataset, Image.objects.get(dataset=dataset)


def _class(dataset, index: int) -> int:
    return LabelClass.objects.get(dataset=dataset, index=index).pk


def _answer(user, dataset, answer: Answer):
    lease = lease_next(dataset=dataset, annotator=user)
    annotation, _ = annotation_submit(annotator=user, image_id=lease.image_id, answer=answer, client_uuid=uuid.uuid4())
    return annotation


def _consensus(image) -> Consensus:
    return Consensus.objects.get(image=image)


def test_an_image_stays_pending_until_it_has_n_annotations_and_then_agrees_when_everyone_does(team, one_image):
    dataset, image = one_image
    c0 = _class(dataset, 0)
    for number, user in enumerate(team, start=1):
        _answer(user, dataset, Answer(classes=[c0]))
        consensus = _consensus(image)
        assert consensus.annotation_count == number
        assert consensus.status == ("agreed" if number == 3 else "pending")
    assert consensus.labels == consensus.majority_labels == [c0]
    assert consensus.counts[str(c0)] == [3, 0, 0] and consensus.shares[str(c0)] == 1.0
    assert consensus.counts[str(_class(dataset, 1))] == [0, 3, 0]
    assert consensus.dispute_reasons == [] and consensus.agreement == 1.0


def test_a_two_to_one_split_is_decided_but_a_yes_no_maybe_tie_is_disputed(team, one_image):
    dataset, image = one_image
    c0, c1 = _class(dataset, 0), _class(dataset, 1)
    _answer(team[0], dataset, Answer(classes=[c0, c1]))
    _answer(team[1], dataset, Answer(classes=[c0]))
    _answer(team[2], dataset, Answer(classes=[c0, c1]))
    consensus = _consensus(image)
    assert consensus.status == "agreed" and sorted(consensus.labels) == sorted([c0, c1])
    assert consensus.shares[str(c1)] == pytest.approx(2 / 3)


def test_a_share_inside_the_band_around_tau_makes_the_image_disputed(team, one_image):
    dataset, image = one_image
    dataset.annotations_per_image = 2
    dataset.save(update_fields=["annotations_per_image"])
    Image.objects.filter(pk=image.pk).update(annotations_needed=2)
    c0, c1 = _class(dataset, 0), _class(dataset, 1)
    _answer(team[0], dataset, Answer(classes=[c0, c1]))
    _answer(team[1], dataset, Answer(classes=[c0]))
    consensus = _consensus(image)
    # class 1: one yes, one no: share ½ = τ, so valid, and disputed (inside ±0.1)
    assert consensus.status == "disputed" and consensus.dispute_reasons == ["near_threshold"]
    assert c1 in consensus.labels


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (Answer(unsure=True), "unsure"),
        (Answer(bad_image=True), "bad_image"),
        (Answer(none_fits=True), "none_fits_conflict"),
    ],
)
def test_an_unsure_a_bad_image_or_a_conflicting_none_fits_answer_makes_the_image_disputed(
    team, one_image, answer, reason
):
    dataset, image = one_image
    c0 = _class(dataset, 0)
    _answer(team[0], dataset, Answer(classes=[c0]))
    _answer(team[1], dataset, Answer(classes=[c0]))
    _answer(team[2], dataset, answer)
    consensus = _consensus(image)
    assert consensus.status == "disputed" and reason in consensus.dispute_reasons
    assert consensus.labels == [c0]


def test_everyone_saying_none_fits_is_an_agreed_empty_label_set(team, one_image):
    dataset, image = one_image
    for user in team:
        _answer(user, dataset, Answer(none_fits=True))
    consensus = _consensus(image)
    assert consensus.status == "agreed" and consensus.labels == [] and consensus.none_fits_count == 3


def test_a_revision_replaces_the_votes_and_updates_the_consensus(team, one_image):
    dataset, image = one_image
    c0, c1 = _class(dataset, 0), _class(dataset, 1)
    first = _answer(team[0], dataset, Answer(classes=[c1]))
    _answer(team[1], dataset, Answer(classes=[c0]))
    _answer(team[2], dataset, Answer(classes=[c0]))
    assert _consensus(image).counts[str(c0)] == [2, 1, 0]
    annotation_revise(annotator=team[0], annotation_id=first.pk, answer=Answer(classes=[c0]), client_uuid=uuid.uuid4())
    consensus = _consensus(image)
    assert consensus.counts[str(c0)] == [3, 0, 0] and consensus.counts[str(c1)] == [0, 3, 0]
    assert consensus.labels == [c0] and consensus.status == "agreed"


def test_the_full_recompute_finds_exactly_what_the_live_updates_wrote(team):
    dataset = workbench_dataset(images=4, classes=5, candidates_per_image=3, annotators=team)
    classes = list(LabelClass.objects.filter(dataset=dataset).order_by("index").values_list("pk", flat=True))
    answers = [Answer(classes=[classes[0]]), Answer(classes=[classes[1], classes[2]]), Answer(unsure=True),
               Answer(classes=[classes[3]], unsure=True), Answer(none_fits=True), Answer(bad_image=True)]  # fmt: skip
    for round_ in range(4):
        for u, user in enumerate(team):
            _answer(user, dataset, answers[(round_ + 2 * u) % len(answers)])
    live = {c.image_id: c for c in Consensus.objects.filter(dataset=dataset)}
    assert len(live) == 4
    assert consensus_recompute_dataset(dataset=dataset) == 0  # no row differs
    Consensus.objects.filter(dataset=dataset).delete()
    assert consensus_recompute_dataset(dataset=dataset) == 4
    fields = ["status", "dispute_reasons", "annotation_count", "counts", "shares", "majority_labels", "labels",
              "unsure_count", "bad_image_count", "none_fits_count", "agreement"]  # fmt: skip
    for recomputed in Consensus.objects.filter(dataset=dataset):
        before = live[recomputed.image_id]
        assert [getattr(recomputed, f) for f in fields] == [getattr(before, f) for f in fields]


def test_the_live_update_takes_three_queries(team, one_image, django_assert_max_num_queries):
    dataset, image = one_image
    _answer(team[0], dataset, Answer(classes=[_class(dataset, 0)]))
    with django_assert_max_num_queries(3):
        consensus_refresh_image(image_id=image.pk)


def test_an_adjudicated_image_keeps_its_status_and_labels_while_counts_follow_the_votes(team, one_image):
    dataset, image = one_image
    c0, c1 = _class(dataset, 0), _class(dataset, 1)
    _answer(team[0], dataset, Answer(classes=[c0]))
    Consensus.objects.filter(image=image).update(adjudicated=True, status="adjudicated", labels=[c1])
    _answer(team[1], dataset, Answer(classes=[c0]))
    consensus = _consensus(image)
    assert (consensus.status, consensus.labels) == ("adjudicated", [c1])
    assert consensus.annotation_count == 2 and consensus.majority_labels == [c0]


def test_the_evaluation_pool_holds_settled_images_by_position_and_its_watermark_moves(team):
    dataset = workbench_dataset(images=3, classes=4, candidates_per_image=2, annotators=team)
    assert consensus_label_pool(dataset).watermark == "consensus:0"
    image = Image.objects.get(dataset=dataset, position=1)
    original = LabelClass.objects.get(pk=image.original_label_id)
    marks = []
    for user in team:
        lease = lease_next(dataset=dataset, annotator=user)
        while lease.image_id != image.pk:  # the image at position 1: skip the others
            from annotator.services.assignment import image_skip

            image_skip(image_id=lease.image_id, annotator=user)
            lease = lease_next(dataset=dataset, annotator=user)
        annotation_submit(
            annotator=user, image_id=image.pk, answer=Answer(classes=[original.pk]), client_uuid=uuid.uuid4()
        )
        marks.append(consensus_label_pool(dataset).watermark)
    pool = consensus_label_pool(dataset)
    assert len(set(marks)) == 3 and pool.size == 1
    assert pool.indptr.tolist() == [0, 0, 1, 1] and pool.indices.tolist() == [original.index]
