"""Adaptive redundancy in the product: through the real hand-out and submit (PL/pgSQL on PostgreSQL), the live
consensus and the bulk recount. A clear image stops at the minimum; a contested question keeps its image open, is
the only one shown to later annotators, and goes to the maximum; two annotators finishing at once raise the need
once."""

from __future__ import annotations

import math
import uuid

import pytest

from annotator.core.redundancy import EXHAUSTED, OPEN, SETTLED, open_reason
from annotator.models import Consensus, Dataset, Image, LabelClass
from annotator.services.agreement_figures import agreement_compute
from annotator.services.annotations import Answer, annotation_revise, annotation_submit
from annotator.services.assignment import AssignmentError, dataset_redundancy_set, lease_next
from tests.builders.annotations import workbench_dataset
from tests.builders.users import UserFactory
from tests.concurrency import run_at_once


def _team(dataset: Dataset, count: int) -> list:
    users = [UserFactory(username=f"adaptive{i}") for i in range(count)]
    dataset.annotators.add(*users)
    return users


def _adaptive_dataset(images: int = 1, **rule: object) -> tuple[Dataset, LabelClass, LabelClass]:
    """An adaptive dataset whose images each ask two candidates: their original label and one proposal."""
    dataset = workbench_dataset(slug="adaptive", images=images, classes=4, candidates_per_image=2)
    dataset_redundancy_set(dataset=dataset, redundancy="adaptive", **rule)  # type: ignore[arg-type]
    image = Image.objects.get(dataset=dataset, position=0)
    original = LabelClass.objects.get(pk=image.original_label_id)
    other = LabelClass.objects.get(dataset=dataset, index=(original.index + 1) % 4)
    return dataset, original, other


def _answer(dataset: Dataset, user, *classes: LabelClass, **flags: bool) -> list[int]:
    """Lease the next image, answer it; returns the classes it was shown."""
    lease = lease_next(dataset=dataset, annotator=user)
    assert lease is not None, f"{user} got no image"
    annotation_submit(annotator=user, image_id=lease.image_id, client_uuid=uuid.uuid4(),
                      answer=Answer(classes=[c.pk for c in classes], **flags))  # fmt: skip
    return list(lease.shown)


def _state(image: Image) -> tuple[int, int, str, str]:
    image.refresh_from_db()
    consensus = Consensus.objects.get(image=image)
    return image.annotation_count, image.annotations_needed, consensus.redundancy_state, consensus.status


@pytest.mark.django_db
def test_switching_to_adaptive_sets_every_image_to_the_minimum_and_refuses_rules_out_of_range():
    dataset = workbench_dataset(slug="switch", images=3, annotations_per_image=3)
    assert set(Image.objects.filter(dataset=dataset).values_list("annotations_needed", flat=True)) == {3}
    dataset_redundancy_set(dataset=dataset, redundancy="adaptive", minimum=2, maximum=4, confidence=0.9)
    dataset.refresh_from_db()
    assert (dataset.redundancy, dataset.redundancy_min, dataset.redundancy_max) == ("adaptive", 2, 4)
    assert set(Image.objects.filter(dataset=dataset).values_list("annotations_needed", flat=True)) == {2}
    for bad in ({"redundancy": "sometimes"}, {"redundancy": "adaptive", "minimum": 3, "maximum": 2},
                {"redundancy": "adaptive", "confidence": 1.0}):  # fmt: skip
        with pytest.raises(AssignmentError):
            dataset_redundancy_set(dataset=dataset, **bad)  # type: ignore[arg-type]
    dataset.refresh_from_db()
    assert dataset.redundancy_max == 4  # nothing written by the refusals
    dataset_redundancy_set(dataset=dataset, redundancy="fixed")
    assert set(Image.objects.filter(dataset=dataset).values_list("annotations_needed", flat=True)) == {3}


@pytest.mark.django_db
def test_a_clear_image_stops_at_the_minimum():
    dataset, original, _ = _adaptive_dataset()
    first, second, third = _team(dataset, 3)
    image = Image.objects.get(dataset=dataset)
    _answer(dataset, first, original)
    assert _state(image) == (1, 2, OPEN, "pending")
    _answer(dataset, second, original)
    assert _state(image) == (2, 2, SETTLED, "agreed")
    consensus = Consensus.objects.get(image=image)
    assert (
        sorted(consensus.settled_classes) == sorted(int(c) for c in consensus.counts) and consensus.open_classes == []
    )
    assert lease_next(dataset=dataset, annotator=third) is None


@pytest.mark.django_db
def test_a_contested_question_is_the_only_one_asked_again_and_goes_to_the_maximum():
    dataset, original, other = _adaptive_dataset()
    team = _team(dataset, 6)
    image = Image.objects.get(dataset=dataset)
    assert sorted(_answer(dataset, team[0], original)) == sorted([original.pk, other.pk])
    _answer(dataset, team[1], original, other)  # the original: yes/yes, settled; the proposal: no/yes
    assert _state(image) == (2, 3, OPEN, "pending")
    consensus = Consensus.objects.get(image=image)
    assert (consensus.settled_classes, consensus.open_classes) == ([original.pk], [other.pk])
    assert open_reason(OPEN, 2, 1) == "undecided after 2 answers (1 open question)"
    # later annotators are shown only the undecided proposal
    assert _answer(dataset, team[2], unsure=True) == [other.pk]  # a maybe: 1 yes, 1 no, 1 maybe
    assert _state(image) == (3, 4, OPEN, "pending")
    assert _answer(dataset, team[3], other) == [other.pk]  # 2 yes, 1 no: a margin of one
    assert _state(image) == (4, 5, OPEN, "pending")
    assert _answer(dataset, team[4], none_fits=True) == [other.pk]  # 2 yes, 2 no: undecided at the maximum
    assert _state(image) == (5, 5, EXHAUSTED, "disputed")
    assert lease_next(dataset=dataset, annotator=team[5]) is None
    counts = Consensus.objects.get(image=image).counts
    assert counts == {str(original.pk): [2, 0, 0], str(other.pk): [2, 2, 1]}  # the settled one was not asked again


@pytest.mark.django_db
def test_a_revision_that_settles_an_open_image_raises_nothing_and_one_that_reopens_a_settled_image_asks_one_more():
    dataset, original, other = _adaptive_dataset()
    first, second, _ = _team(dataset, 3)
    image = Image.objects.get(dataset=dataset)
    _answer(dataset, first, original)
    _answer(dataset, second, original)
    assert _state(image) == (2, 2, SETTLED, "agreed")
    mine = first.annotations.get(image=image)
    annotation_revise(
        annotator=first, annotation_id=mine.pk, answer=Answer(classes=[other.pk]), client_uuid=uuid.uuid4()
    )
    assert _state(image) == (2, 3, OPEN, "pending")
    annotation_revise(annotator=first, annotation_id=mine.pk, answer=Answer(classes=[original.pk]),
                      client_uuid=uuid.uuid4())  # fmt: skip
    # settled again with a third slot already open: the need is never lowered under a possible lease
    assert _state(image) == (2, 3, SETTLED, "pending")


@pytest.mark.django_db
def test_switching_a_dataset_with_answers_to_adaptive_raises_its_undecided_images_in_bulk():
    dataset = workbench_dataset(slug="bulk", images=2, classes=4, candidates_per_image=2, annotations_per_image=2)
    first, second = _team(dataset, 2)
    for image in Image.objects.filter(dataset=dataset).order_by("position"):
        original = LabelClass.objects.get(pk=image.original_label_id)
        for user, classes in ((first, [original.pk]), (second, [original.pk] if image.position == 0 else [])):
            lease = lease_next(dataset=dataset, annotator=user)
            assert lease is not None and lease.image_id == image.pk
            answer = Answer(classes=classes, none_fits=not classes)
            annotation_submit(annotator=user, image_id=image.pk, answer=answer, client_uuid=uuid.uuid4())
    dataset_redundancy_set(dataset=dataset, redundancy="adaptive")
    clear, contested = Image.objects.filter(dataset=dataset).order_by("position")
    assert _state(clear) == (2, 2, SETTLED, "agreed")
    assert _state(contested) == (2, 3, OPEN, "pending")


@pytest.mark.django_db(transaction=True)
def test_two_annotators_finishing_a_contested_image_at_once_raise_its_need_once():
    dataset, original, other = _adaptive_dataset()
    team = _team(dataset, 4)
    image = Image.objects.get(dataset=dataset)
    leases = [lease_next(dataset=dataset, annotator=user) for user in team[:2]]
    assert all(lease is not None and lease.image_id == image.pk for lease in leases)
    assert lease_next(dataset=dataset, annotator=team[2]) is None  # no image past its current need

    def submit(user, classes: list[int]) -> None:
        annotation_submit(annotator=user, image_id=image.pk, answer=Answer(classes=classes), client_uuid=uuid.uuid4())

    run_at_once(submit, [(team[0], [original.pk]), (team[1], [other.pk])])
    assert _state(image) == (2, 3, OPEN, "pending")
    # now both third-annotator candidates race for the one new slot
    got = run_at_once(lambda user: lease_next(dataset=dataset, annotator=user), [(team[2],), (team[3],)])
    assert sum(lease is not None for lease in got) == 1


@pytest.mark.django_db
def test_the_review_queue_says_why_an_image_is_open_and_the_dashboard_shows_answers_per_image(reviewer, client):
    dataset, _, _ = _adaptive_dataset(images=2)
    team = _team(dataset, 3)
    clear, contested = Image.objects.filter(dataset=dataset).order_by("position")
    for user in team[:2]:  # both images, the clear one first (closest to completion goes first after that)
        for image in (clear, contested):
            lease = lease_next(dataset=dataset, annotator=user)
            assert lease is not None and lease.image_id == image.pk
            original = image.original_label_id
            chosen = [original] if image == clear or user == team[0] else [c for c in lease.shown if c != original]
            annotation_submit(
                annotator=user, image_id=image.pk, answer=Answer(classes=chosen), client_uuid=uuid.uuid4()
            )
    _answer(dataset, team[2], unsure=True)  # the contested one, its two questions split: a third answer
    assert _state(contested) == (3, 4, OPEN, "pending")

    client.force_login(reviewer)
    queue = client.get(f"/api/datasets/{dataset.slug}/review-queue/", {"status": "pending"}).json()
    assert [(r["image_id"], r["open_reason"]) for r in queue["results"]] == [
        (contested.pk, "undecided after 3 answers (2 open questions)")
    ]
    page = client.get(f"/review/{dataset.slug}/", {"status": "pending"}).content.decode()
    assert "undecided after 3 answers (2 open questions)" in page
    detail = client.get(f"/api/images/{clear.pk}/review/").json()
    assert detail["consensus"]["open_reason"] == "settled after 2 answers"

    # The answers per image come with the agreement snapshot (the periodic job), not from a scan on every view.
    assert client.get(f"/api/datasets/{dataset.slug}/agreement/").json()["answers_per_image"] is None
    assert 'id="answers-per-image"' not in client.get(f"/datasets/{dataset.slug}/agreement/").content.decode()
    agreement_compute(dataset=dataset)
    agreement = client.get(f"/api/datasets/{dataset.slug}/agreement/").json()
    assert agreement["answers_per_image"] == {
        "redundancy": "adaptive", "n_images": 2, "mean": 2.5, "histogram": {"2": 1, "3": 1}
    }  # fmt: skip
    dashboard = client.get(f"/datasets/{dataset.slug}/agreement/").content.decode()
    assert "Answers per image (mean 2.50)" in dashboard and 'id="answers-per-image"' in dashboard


@pytest.mark.django_db
def test_staff_set_the_redundancy_through_the_api_and_bad_input_gets_a_400_with_nothing_written(staff, reviewer):
    from rest_framework.test import APIClient

    from tests.error_contract import assert_error_body

    dataset = workbench_dataset(slug="api", images=2, annotations_per_image=3)
    client = APIClient()
    client.force_login(staff)
    url = f"/api/datasets/{dataset.slug}/redundancy/"
    assert client.get(url).json() == {
        "redundancy": "fixed", "minimum": 2, "maximum": 5, "confidence": 0.95, "annotations_per_image": 3
    }  # fmt: skip
    refused = [
        {"redundancy": "often"}, {"redundancy": "adaptive", "minimum": 4, "maximum": 3},
        {"redundancy": "adaptive", "confidence": 1.0}, {"redundancy": "adaptive", "minimum": "two"},
    ]  # fmt: skip
    for body in refused:
        response = client.put(url, body, format="json")
        assert response.status_code == 400, body
        assert_error_body(response)
    assert Dataset.objects.get(pk=dataset.pk).redundancy == "fixed"
    response = client.put(url, {"redundancy": "adaptive", "minimum": 2, "maximum": 4, "confidence": 0.9}, format="json")
    assert response.status_code == 200 and response.json()["maximum"] == 4
    assert set(Image.objects.filter(dataset=dataset).values_list("annotations_needed", flat=True)) == {2}
    client.force_login(reviewer)
    assert client.put(url, {"redundancy": "fixed"}, format="json").status_code == 403
    assert client.get(url).json()["redundancy"] == "adaptive"


@pytest.mark.django_db
def test_with_a_run_the_stored_settled_questions_are_those_whose_posterior_leaves_the_band_around_the_label_cut():
    """Checked against the stored posteriors and counts, independently of the code that decided: settled when
    the posterior odds are at least 19 times (c = 0.95) beyond the odds of the dataset's DS threshold."""
    from annotator.services.dawid_skene import dawid_skene_run

    dataset, _, _ = _adaptive_dataset(images=6)
    team = _team(dataset, 5)
    for k, user in enumerate(team):
        while (lease := lease_next(dataset=dataset, annotator=user)) is not None:
            original = Image.objects.get(pk=lease.image_id).original_label_id
            chosen = [original] if k % 2 == 0 else list(lease.shown)
            annotation_submit(annotator=user, image_id=lease.image_id, answer=Answer(classes=chosen),
                              client_uuid=uuid.uuid4())  # fmt: skip
    run = dawid_skene_run(dataset=dataset)
    assert run is not None
    rows = Consensus.objects.filter(dataset=dataset)
    assert rows.count() == 6
    cut_odds = dataset.ds_threshold / (1 - dataset.ds_threshold)
    assert cut_odds == pytest.approx(4.0)  # the default DS threshold 0.8

    def beyond(p: float) -> bool:
        odds = p / (1 - p) if p < 1 else math.inf
        return odds >= 19 * cut_odds * (1 - 1e-6) or odds <= cut_odds / 19 * (1 + 1e-6)

    for row in rows:
        assert row.ds_run_id == run.pk
        expected = sorted(int(c) for c, p in row.ds_posterior.items() if sum(row.counts[c]) >= 2 and beyond(p))
        assert sorted(row.settled_classes) == expected
        assert sorted(row.settled_classes + row.open_classes) == sorted(int(c) for c in row.counts)
        image = Image.objects.get(pk=row.image_id)
        if row.redundancy_state == OPEN:
            assert image.annotations_needed == image.annotation_count + 1 <= 5


@pytest.mark.django_db
def test_an_admin_switches_a_dataset_to_adaptive_in_the_admin_and_a_bad_rule_is_refused(admin_client):
    dataset = workbench_dataset(slug="admin", images=2, annotations_per_image=3)
    url = f"/admin/annotator/dataset/{dataset.pk}/change/"
    form = admin_client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    bad = {**data, "redundancy": "adaptive", "redundancy_min": "4", "redundancy_max": "3"}
    assert admin_client.post(url, bad).status_code == 200  # the form again, with the error
    assert Dataset.objects.get(pk=dataset.pk).redundancy == "fixed"
    good = {**data, "redundancy": "adaptive", "redundancy_min": "2", "redundancy_max": "4"}
    assert admin_client.post(url, good).status_code == 302
    dataset.refresh_from_db()
    assert (dataset.redundancy, dataset.redundancy_min, dataset.redundancy_max) == ("adaptive", 2, 4)
    assert set(Image.objects.filter(dataset=dataset).values_list("annotations_needed", flat=True)) == {2}


@pytest.mark.django_db
def test_a_release_of_an_adaptive_dataset_counts_images_settled_at_the_minimum_and_the_home_page_says_adaptive(
    client, staff
):
    from evaluation.services.releases import release_create

    dataset, _, _ = _adaptive_dataset()
    release, _ = release_create(dataset=dataset, created_by=staff)
    assert release.min_annotations == 2  # not N = 3: a settled image may stop at the minimum
    client.force_login(staff)
    assert "2–5 (adaptive)" in client.get("/").content.decode()


@pytest.mark.django_db
def test_a_reviewers_extra_annotation_goes_past_the_maximum_of_an_exhausted_image():
    from annotator.services.assignment import image_request_more

    dataset, original, other = _adaptive_dataset(maximum=2)
    team = _team(dataset, 3)
    image = Image.objects.get(dataset=dataset)
    _answer(dataset, team[0], original)
    _answer(dataset, team[1], other)  # both questions split 1–1 at the maximum of 2
    assert _state(image) == (2, 2, EXHAUSTED, "disputed")
    image_request_more(image_id=image.pk)
    assert sorted(_answer(dataset, team[2], original)) == sorted([original.pk, other.pk])  # both still open
    # 2–1 on each, a margin of one, at the maximum plus the extra: exhausted, nothing raised; no share near ½
    assert _state(image) == (3, 3, EXHAUSTED, "agreed")
