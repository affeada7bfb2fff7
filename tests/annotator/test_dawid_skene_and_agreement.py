"""Dawid–Skene service and tasks, agreement figures, and who may see them (API and dashboard)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import numpy as np
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from annotator.core.aggregation import dawid_skene
from annotator.core.consensus_rules import prior_groups, questions_of
from annotator.models import (
    AgreementSnapshot,
    Consensus,
    Dataset,
    DawidSkeneRun,
    Image,
)
from annotator.selectors.consensus import dataset_vote_data
from annotator.services.annotations import Answer, annotation_submit
from annotator.services.assignment import lease_next
from annotator.services.dawid_skene import dawid_skene_refresh_due, dawid_skene_request, dawid_skene_run
from annotator.tasks import (
    REQUEST_GRACE,
    dawid_skene_refresh_task,
    dawid_skene_requests_resume_task,
    dawid_skene_run_task,
)
from config.celery import app as celery_app
from tests.builders.annotations import workbench_dataset

pytestmark = pytest.mark.django_db

N_IMAGES, N_RATERS = 40, 6


@contextmanager
def eager_tasks() -> Iterator[None]:
    """Tasks enqueued inside run at once, in this process."""
    previous, celery_app.conf.task_always_eager = celery_app.conf.task_always_eager, True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = previous


@pytest.fixture
def rated(tmp_path):
    """40 images × 3 candidates answered by 5 of 6 simulated raters of differing reliability (via import_votes)."""
    dataset = workbench_dataset(slug="sim", images=N_IMAGES, classes=6, candidates_per_image=3, annotations_per_image=5)
    rng = np.random.default_rng(7)
    sensitivity, specificity = np.linspace(0.95, 0.6, N_RATERS), np.linspace(0.97, 0.7, N_RATERS)
    lines = ["image,class,annotator,answer"]
    for position in range(N_IMAGES):
        candidates = [(position + k) % 6 for k in range(3)]
        truth = {candidates[0]} | ({candidates[1]} if position % 4 == 0 else set())
        for rater in rng.choice(N_RATERS, 5, replace=False):
            for c in candidates:
                p_yes = sensitivity[rater] if c in truth else 1 - specificity[rater]
                answer = "yes" if rng.random() < p_yes else ("maybe" if rng.random() < 0.1 else "no")
                lines.append(f"sim_{position:04d}.jpg,{c},rater{rater},{answer}")
    path = tmp_path / "sim.csv"
    path.write_text("\n".join(lines) + "\n")
    call_command("import_votes", "sim", str(path))
    return dataset


def test_dawid_skene_stores_a_run_and_every_posterior_as_the_em_computed_it(rated):
    run = dawid_skene_run(dataset=rated)
    assert run.converged and run.n_votes == N_IMAGES * 5 * 3 and run.n_annotators == N_RATERS
    assert len(run.group_prior) == 2 and set(run.seconds) == {"load", "fit", "write"}
    ids = dict(get_user_model().objects.filter(username__startswith="imported-").values_list("username", "id"))
    best, worst = (run.annotators[str(ids[f"imported-rater{r}"])] for r in (0, N_RATERS - 1))
    assert best["sensitivity"] > worst["sensitivity"] and best["specificity"] > worst["specificity"]
    questions = questions_of(dataset_vote_data(rated))
    expected = dawid_skene(questions.votes, groups=prior_groups("original", questions)).posterior
    stored = {}
    for c in Consensus.objects.filter(dataset=rated):
        stored.update({(c.image_id, int(k)): p for k, p in c.ds_posterior.items()})
        assert c.ds_run_id == run.pk and c.ds_labels == [int(k) for k, p in c.ds_posterior.items() if p > 0.8]
    image_ids = dataset_vote_data(rated).image_id[questions.image]
    ours = np.array([stored[(i, c)] for i, c in zip(image_ids.tolist(), questions.class_id.tolist(), strict=True)])
    assert np.allclose(ours, expected, atol=1e-6)


def test_the_dataset_setting_chooses_which_aggregation_is_the_consensus(rated):
    dawid_skene_run(dataset=rated)
    assert all(c.labels == c.majority_labels for c in Consensus.objects.filter(dataset=rated))
    Dataset.objects.filter(pk=rated.pk).update(aggregation="dawid_skene")
    rated.refresh_from_db()
    dawid_skene_run(dataset=rated)
    consensus = list(Consensus.objects.filter(dataset=rated))
    assert all(c.labels == c.ds_labels for c in consensus)
    assert any(c.ds_labels != c.majority_labels for c in consensus)  # the noisy raters make them differ


def test_a_new_vote_between_runs_is_scored_with_the_runs_annotator_parameters(rated, annotator):
    Dataset.objects.filter(pk=rated.pk).update(aggregation="dawid_skene")
    rated.refresh_from_db()
    run = dawid_skene_run(dataset=rated)
    rated.annotators.add(annotator)
    Image.objects.filter(dataset=rated).update(annotations_needed=6)
    lease = lease_next(dataset=rated, annotator=annotator)
    before = Consensus.objects.get(image_id=lease.image_id).ds_posterior
    chosen = lease.shown[0]
    annotation_submit(
        annotator=annotator, image_id=lease.image_id, answer=Answer(classes=[chosen]), client_uuid=uuid.uuid4()
    )
    after = Consensus.objects.get(image_id=lease.image_id)
    assert after.ds_run_id == run.pk and after.ds_posterior[str(chosen)] > before[str(chosen)]
    assert after.labels == after.ds_labels


def test_the_periodic_run_refits_only_datasets_whose_votes_changed(rated, annotator):
    assert len(dawid_skene_refresh_due()) == 1
    assert dawid_skene_refresh_due() == []
    rated.annotators.add(annotator)
    Image.objects.filter(dataset=rated).update(annotations_needed=6)
    lease = lease_next(dataset=rated, annotator=annotator)
    annotation_submit(
        annotator=annotator, image_id=lease.image_id, answer=Answer(none_fits=True), client_uuid=uuid.uuid4()
    )
    assert dawid_skene_refresh_task() == 1 and DawidSkeneRun.objects.count() == 2
    assert AgreementSnapshot.objects.filter(dataset=rated).count() == 1


def test_the_periodic_run_is_declared_in_the_beat_schedule():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "annotator.dawid_skene_refresh" in tasks


def test_the_on_demand_task_fits_and_computes_the_agreement_figures_once_per_request(rated):
    assert dawid_skene_run_task(rated.pk) is None, "nobody asked"
    dawid_skene_request(dataset=rated)
    assert dawid_skene_run_task(rated.pk) == DawidSkeneRun.objects.get().pk
    assert AgreementSnapshot.objects.filter(dataset=rated).count() == 1
    assert dawid_skene_run_task(rated.pk) is None, "a second delivery finds the request answered"
    assert dawid_skene_run_task(10**9) is None


def test_a_refit_request_whose_task_is_lost_is_kept_and_the_sweep_enqueues_it_again(
    rated, researcher, django_capture_on_commit_callbacks
):
    """The task message is lost (or its worker killed): the request stays in the database until a run
    answers it, and the periodic sweep enqueues it again once REQUEST_GRACE has passed."""
    api = APIClient()
    api.force_authenticate(researcher)
    with django_capture_on_commit_callbacks(execute=False):
        assert api.post("/api/datasets/sim/agreement/").status_code == 202
    rated.refresh_from_db()
    assert rated.ds_requested_at is not None
    assert dawid_skene_requests_resume_task() == 0, "its own task may still arrive"
    Dataset.objects.filter(pk=rated.pk).update(ds_requested_at=timezone.now() - REQUEST_GRACE - timedelta(seconds=1))
    with eager_tasks():
        assert dawid_skene_requests_resume_task() == 1  # enqueued, and here run at once
    assert DawidSkeneRun.objects.filter(dataset=rated).count() == 1
    assert AgreementSnapshot.objects.filter(dataset=rated).count() == 1
    rated.refresh_from_db()
    assert rated.ds_requested_at is None and dawid_skene_requests_resume_task() == 0


def test_a_request_made_after_a_run_began_reading_the_votes_waits_for_the_next_run(rated):
    later = timezone.now() + timedelta(minutes=1)  # stamped after the run below starts reading the votes
    Dataset.objects.filter(pk=rated.pk).update(ds_requested_at=later)
    assert dawid_skene_run(dataset=rated) is not None
    rated.refresh_from_db()
    assert rated.ds_requested_at == later, "answered by a run that read the votes before it was made"


# --- who may see them ----------------------------------------------------------------------------------------

ROLES = [("anonymous", 403, 302), ("annotator", 403, 403), ("outsider", 403, 403), ("reviewer", 200, 200),
         ("researcher", 200, 200), ("staff", 200, 200)]  # fmt: skip


@pytest.mark.parametrize(("persona", "api_status", "page_status"), ROLES)
def test_only_reviewers_researchers_and_staff_see_consensus_figures(request, rated, persona, api_status, page_status):
    api, client = APIClient(), request.getfixturevalue("client")
    if persona != "anonymous":
        user = request.getfixturevalue(persona)
        api.force_authenticate(user)
        client.force_login(user)
    if persona == "annotator":
        rated.annotators.add(user)  # even one who annotates this very dataset
    assert api.get("/api/datasets/sim/agreement/").status_code in (
        {api_status} | ({401} if api_status == 403 else set())
    )
    assert client.get("/datasets/sim/agreement/").status_code == page_status


def test_a_researcher_asks_for_a_refit_which_is_queued_after_commit(
    rated, researcher, django_capture_on_commit_callbacks
):
    api = APIClient()
    api.force_authenticate(researcher)
    with django_capture_on_commit_callbacks() as callbacks:
        response = api.post("/api/datasets/sim/agreement/")
    assert response.status_code == 202 and len(callbacks) == 1


def test_the_api_and_dashboard_read_the_latest_snapshot_in_a_fixed_number_of_queries(
    rated, reviewer, client, django_assert_max_num_queries
):
    dawid_skene_request(dataset=rated)
    dawid_skene_run_task(rated.pk)
    api = APIClient()
    api.force_authenticate(reviewer)
    client.force_login(reviewer)
    with django_assert_max_num_queries(6):  # groups, dataset, snapshot, DS run, image count, statuses
        body = api.get("/api/datasets/sim/agreement/").json()
    assert body["figures"]["n_votes"] == N_IMAGES * 15 and body["dawid_skene"]["converged"]
    with django_assert_max_num_queries(9):  # + session, user
        page = client.get("/datasets/sim/agreement/?sort=fleiss_kappa&order=asc")
    text = page.content.decode()
    assert page.status_code == 200 and "<svg" in text and "Multi-label share" in text and "rater0" in text
