"""Live consensus per image: status rules, revisions, the bulk recompute, adjudicated rows, the label pool."""

from __future__ import annotations

import uuid

import pytest

from annotator.models import Consensus, Dataset, Image, LabelClass
from annotator.services.annotations import Answer, annotation_revise, annotation_submit
from annotator.services.assignment import lease_next
from annotator.services.consensus import consensus_recompute_dataset, consensus_refresh_image
from annotator.services.dawid_skene import dawid_skene_run
from evaluation.selectors.label_pools import consensus_label_pool
from tests.builders.annotations import hubble_submit, photographs_dataset, workbench_dataset

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
    ("answer", "reasons", "keeps_the_class"),
    [
        (Answer(unsure=True), ["unsure"], True),
        (Answer(none_fits=True), ["none_fits_conflict"], True),
        # A bad image with nothing chosen casts no vote but is an answer: class 0 has 2 of the 3 answers it
        # needs, so the reviewer decides.
        (Answer(bad_image=True), ["few_answers", "bad_image"], False),
    ],
)
def test_an_unsure_a_bad_image_or_a_conflicting_none_fits_answer_makes_the_image_disputed(
    team, one_image, answer, reasons, keeps_the_class
):
    dataset, image = one_image
    c0 = _class(dataset, 0)
    _answer(team[0], dataset, Answer(classes=[c0]))
    _answer(team[1], dataset, Answer(classes=[c0]))
    _answer(team[2], dataset, answer)
    consensus = _consensus(image)
    assert consensus.status == "disputed" and consensus.dispute_reasons == reasons
    assert consensus.labels == ([c0] if keeps_the_class else [])


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


@pytest.fixture
def photographs(team):
    return photographs_dataset(team)


def test_none_fits_or_bad_image_on_an_image_without_candidates_is_accepted_once_a_dawid_skene_run_exists(
    team, photographs
):
    dataset, hubble = photographs
    assert dawid_skene_run(dataset=dataset) is not None
    assert hubble_submit(team[0], dataset, hubble, none_fits=True).status_code == 201
    assert hubble_submit(team[1], dataset, hubble, bad_image=True).status_code == 201
    consensus = _consensus(hubble)
    assert consensus.annotation_count == 2 and consensus.ds_run_id == dataset.ds_run_id
    assert consensus.counts == {} and consensus.ds_posterior == {} and consensus.labels == []


@pytest.mark.parametrize("aggregation", ["majority", "dawid_skene"])
def test_a_class_one_annotator_found_through_search_is_not_valid_alone_beside_none_fits_and_bad_image(
    team, photographs, aggregation
):
    dataset, hubble = photographs
    # A low cut, so the one yes vote would carry the Dawid–Skene posterior over it on its own.
    Dataset.objects.filter(pk=dataset.pk).update(aggregation=aggregation, ds_threshold=0.05)
    dawid_skene_run(dataset=dataset)
    planetarium = _class(dataset, 5)  # never proposed for any image: found through the vocabulary search
    assert hubble_submit(team[0], dataset, hubble, none_fits=True).status_code == 201
    assert hubble_submit(team[1], dataset, hubble, bad_image=True).status_code == 201
    assert hubble_submit(team[2], dataset, hubble, classes=[planetarium]).status_code == 201
    consensus = _consensus(hubble)
    assert consensus.counts == {str(planetarium): [1, 0, 0]} and consensus.ds_posterior[str(planetarium)] > 0.05
    assert consensus.labels == consensus.majority_labels == consensus.ds_labels == []
    assert consensus.status == "disputed" and "few_answers" in consensus.dispute_reasons
    assert consensus_recompute_dataset(dataset=dataset) == 0  # the bulk recompute agrees
