"""Submitting and revising annotations: votes, history, idempotency, and refused input that writes nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from annotator.models import Annotation, AnnotationRevision, Image, LabelClass, Lease, Vote
from annotator.services.annotations import AnnotationInputError, Answer, annotation_revise, annotation_submit
from annotator.services.assignment import lease_next
from tests.builders.annotations import workbench_dataset
from tests.concurrency import run_at_once

pytestmark = pytest.mark.django_db


@pytest.fixture
def leased(annotator):
    """A dataset of 8 classes where every image shows 3 candidates, and one image leased to `annotator`."""
    dataset = workbench_dataset(classes=8, candidates_per_image=3, annotators=[annotator])
    return dataset, lease_next(dataset=dataset, annotator=annotator)


def _submit(user, image_id: int, answer: Answer, key: uuid.UUID | None = None) -> tuple[Annotation, bool]:
    return annotation_submit(annotator=user, image_id=image_id, answer=answer, client_uuid=key or uuid.uuid4())


def _revise(user, annotation_id: int, answer: Answer, key: uuid.UUID | None = None) -> tuple[Annotation, bool]:
    return annotation_revise(
        annotator=user, annotation_id=annotation_id, answer=answer, client_uuid=key or uuid.uuid4()
    )


def _votes(user) -> dict[int, str]:
    return dict(Vote.objects.filter(annotator=user).values_list("label_class", "answer"))


def _nothing_written(user) -> bool:
    nothing = not Annotation.objects.exists() and not Vote.objects.exists()
    return nothing and Lease.objects.filter(annotator=user).exists()


def test_chosen_candidates_are_yes_the_other_shown_ones_no_and_classes_found_by_search_yes(annotator, leased):
    dataset, lease = leased
    chosen, *others = lease.shown
    searched = LabelClass.objects.filter(dataset=dataset).exclude(pk__in=lease.shown).first().pk
    annotation, created = _submit(annotator, lease.image_id, Answer(classes=[chosen, searched], seconds=4.5))
    assert created and annotation.shown == lease.shown and annotation.classes == [chosen, searched]
    assert _votes(annotator) == {chosen: "yes", searched: "yes", **{other: "no" for other in others}}
    assert annotation.seconds == 4.5 and annotation.revisions.get().number == 1


def test_submitting_turns_the_lease_into_a_completed_annotation(annotator, leased):
    _, lease = leased
    _submit(annotator, lease.image_id, Answer(none_fits=True))
    image = Image.objects.get(pk=lease.image_id)
    assert (image.annotation_count, image.lease_count) == (1, 0) and not Lease.objects.exists()


def test_none_fits_says_no_to_every_shown_candidate(annotator, leased):
    _, lease = leased
    _submit(annotator, lease.image_id, Answer(none_fits=True))
    assert _votes(annotator) == {class_id: "no" for class_id in lease.shown}


def test_an_unsure_annotator_gives_maybe_instead_of_no(annotator, leased):
    _, lease = leased
    answer = Answer(classes=[lease.shown[0]], unsure=True)
    _submit(annotator, lease.image_id, answer)
    assert _votes(annotator) == {lease.shown[0]: "yes", lease.shown[1]: "maybe", lease.shown[2]: "maybe"}


def test_a_bad_image_with_nothing_chosen_writes_no_votes(annotator, leased):
    _, lease = leased
    annotation, _ = _submit(annotator, lease.image_id, Answer(bad_image=True))
    assert annotation.bad_image and not Vote.objects.exists()


def test_a_retried_submit_returns_the_first_result_and_writes_nothing(annotator, leased):
    _, lease = leased
    key = uuid.uuid4()
    first, created = _submit(annotator, lease.image_id, Answer(classes=[lease.shown[0]]), key)
    again, created_again = _submit(annotator, lease.image_id, Answer(classes=[lease.shown[1]]), key)
    assert created and not created_again and again.pk == first.pk and again.classes == [lease.shown[0]]
    assert AnnotationRevision.objects.count() == 1 and Image.objects.get(pk=lease.image_id).annotation_count == 1


def test_a_client_uuid_cannot_be_reused_for_another_image(annotator, leased):
    dataset, lease = leased
    key = uuid.uuid4()
    _submit(annotator, lease.image_id, Answer(unsure=True), key)
    other = lease_next(dataset=dataset, annotator=annotator)
    with pytest.raises(AnnotationInputError, match="already used for another image"):
        _submit(annotator, other.image_id, Answer(unsure=True), key)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("revise", [False, True], ids=["submit", "revision"])
def test_simultaneous_copies_of_one_submit_or_revision_store_it_once(annotator, revise):
    dataset = workbench_dataset(candidates_per_image=2, annotators=[annotator])
    lease = lease_next(dataset=dataset, annotator=annotator)
    answer, key = Answer(classes=lease.shown), uuid.uuid4()
    if revise:
        first, _ = _submit(annotator, lease.image_id, Answer(unsure=True))
        results = run_at_once(_revise, [(annotator, first.pk, answer, key)] * 4)
    else:
        results = run_at_once(_submit, [(annotator, lease.image_id, answer, key)] * 4)
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert {annotation.pk for annotation, _ in results} == {Annotation.objects.get().pk}
    assert Vote.objects.count() == 2 and Image.objects.get(pk=lease.image_id).annotation_count == 1
    assert AnnotationRevision.objects.count() == 1 + revise


def test_a_revision_replaces_the_votes_and_keeps_the_history(annotator, leased):
    _, lease = leased
    first, _ = _submit(annotator, lease.image_id, Answer(classes=[lease.shown[0]], seconds=3))
    revised, created = _revise(annotator, first.pk, Answer(classes=[lease.shown[1], lease.shown[2]], seconds=2))
    assert created and revised.pk == first.pk and revised.revision_count == 2 and revised.seconds == 5
    assert _votes(annotator) == {lease.shown[0]: "no", lease.shown[1]: "yes", lease.shown[2]: "yes"}
    history = list(AnnotationRevision.objects.filter(annotation=first).values_list("number", "classes"))
    assert history == [(1, [lease.shown[0]]), (2, [lease.shown[1], lease.shown[2]])]
    assert Image.objects.get(pk=lease.image_id).annotation_count == 1


def test_a_retried_revision_writes_nothing(annotator, leased):
    _, lease = leased
    first, _ = _submit(annotator, lease.image_id, Answer(unsure=True))
    key = uuid.uuid4()
    _revise(annotator, first.pk, Answer(none_fits=True), key)
    _, created = _revise(annotator, first.pk, Answer(bad_image=True), key)
    assert not created and AnnotationRevision.objects.count() == 2 and Annotation.objects.get().none_fits


def test_nobody_revises_another_annotators_annotation(annotator, second_annotator, leased):
    _, lease = leased
    mine, _ = _submit(annotator, lease.image_id, Answer(unsure=True))
    with pytest.raises(AnnotationInputError, match="not one of yours"):
        _revise(second_annotator, mine.pk, Answer(none_fits=True))


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (lambda lease, outside: Answer(classes=[outside]), "not in this dataset's vocabulary"),
        (lambda lease, outside: Answer(classes=[lease.shown[0], lease.shown[0]]), "chosen more than once"),
        (lambda lease, outside: Answer(), "choose at least one class"),
        (lambda lease, outside: Answer(classes=[lease.shown[0]], none_fits=True), "cannot be combined"),
    ],
    ids=["class-outside-vocabulary", "duplicate-class", "empty", "none-fits-with-classes"],
)
def test_bad_answers_are_refused_and_nothing_is_written(annotator, leased, answer, message):
    _, lease = leased
    outside = workbench_dataset(slug="other", images=1).classes.first().pk
    with pytest.raises(AnnotationInputError, match=message):
        _submit(annotator, lease.image_id, answer(lease, outside))
    assert _nothing_written(annotator)


def test_an_image_not_leased_to_me_is_refused(annotator, second_annotator, leased):
    dataset, lease = leased
    dataset.annotators.add(second_annotator)
    with pytest.raises(AnnotationInputError, match="not leased to you"):
        _submit(second_annotator, lease.image_id, Answer(unsure=True))
    assert _nothing_written(annotator)


def test_an_image_outside_my_datasets_is_refused(annotator, leased):
    other = workbench_dataset(slug="other", images=1)
    with pytest.raises(AnnotationInputError, match="not in a dataset you annotate"):
        annotation_submit(
            annotator=annotator, image_id=other.images.get().pk, answer=Answer(unsure=True), client_uuid=uuid.uuid4()
        )
    with pytest.raises(AnnotationInputError, match="not in a dataset you annotate"):
        _submit(annotator, 10**9, Answer(unsure=True))


def test_annotating_an_image_twice_points_to_revising_instead(annotator, leased):
    _, lease = leased
    _submit(annotator, lease.image_id, Answer(unsure=True))
    with pytest.raises(AnnotationInputError, match="revise annotation"):
        _submit(annotator, lease.image_id, Answer(unsure=True))


def test_a_late_submit_is_accepted_while_the_expired_lease_is_not_yet_reclaimed(annotator, leased):
    _, lease = leased
    Lease.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    annotation, created = _submit(annotator, lease.image_id, Answer(unsure=True))
    assert created and Image.objects.get(pk=lease.image_id).lease_count == 0


def test_a_submit_after_the_lease_was_reclaimed_is_refused(annotator, second_annotator, leased):
    dataset, lease = leased
    dataset.annotators.add(second_annotator)
    Lease.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    lease_next(dataset=dataset, annotator=second_annotator)  # reclaims expired leases first
    with pytest.raises(AnnotationInputError, match="lease expired"):
        _submit(annotator, lease.image_id, Answer(unsure=True))


def test_a_revision_is_checked_and_written_in_one_call_like_a_submit(annotator, leased, django_assert_max_num_queries):
    _, lease = leased
    first, _ = _submit(annotator, lease.image_id, Answer(unsure=True))
    # relabel_annotation_write (lock, replay, membership, ownership, vocabulary, annotation, revision, votes, the
    # image's votes for the recount); the consensus upsert; the annotation read back; the savepoint pair.
    with django_assert_max_num_queries(5):
        revised, created = _revise(annotator, first.pk, Answer(classes=[lease.shown[1]]))
    assert created and revised.classes == [lease.shown[1]] and revised.image.key == first.image.key


def test_a_revision_after_leaving_the_dataset_is_refused_and_writes_nothing(annotator, leased):
    dataset, lease = leased
    first, _ = _submit(annotator, lease.image_id, Answer(unsure=True))
    dataset.annotators.remove(annotator)
    with pytest.raises(AnnotationInputError, match=f"image {lease.image_id} is not in a dataset you annotate"):
        _revise(annotator, first.pk, Answer(none_fits=True))
    assert AnnotationRevision.objects.count() == 1 and Annotation.objects.get().unsure


def test_a_revision_with_a_class_outside_the_vocabulary_is_refused_and_writes_nothing(annotator, leased):
    _, lease = leased
    first, _ = _submit(annotator, lease.image_id, Answer(classes=[lease.shown[0]]))
    outside = workbench_dataset(slug="other", images=1).classes.first().pk
    with pytest.raises(AnnotationInputError, match=f"class {outside} is not in this dataset's vocabulary"):
        _revise(annotator, first.pk, Answer(classes=[lease.shown[1], outside]))
    assert AnnotationRevision.objects.count() == 1 and _votes(annotator)[lease.shown[0]] == "yes"


def test_a_revision_cannot_reuse_the_client_uuid_of_another_image(annotator, leased):
    dataset, lease = leased
    key = uuid.uuid4()
    _submit(annotator, lease.image_id, Answer(unsure=True), key)
    other, _ = _submit(annotator, lease_next(dataset=dataset, annotator=annotator).image_id, Answer(unsure=True))
    with pytest.raises(AnnotationInputError, match="already used for another image"):
        _revise(annotator, other.pk, Answer(none_fits=True), key)
