"""Pilots end to end: the service draws the sample it says it draws; the API and the page show the estimates of
the settled pilot images (the tiny world's votes, worked out by hand below), refuse bad input with 4xx and write
nothing then; annotators never reach them (tests/test_access_matrix.py has the full role × endpoint matrix)."""

from __future__ import annotations

import threading

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from annotator.core.pilot_sample import pilot_order, pilot_sample
from annotator.models import Image, Pilot, PilotImage
from annotator.services.pilots import PilotInputError, pilot_create, pilot_deactivate
from evaluation.services.prediction_sets import prediction_set_create
from tests.builders.prediction_sets import TOP3, csv_bytes
from tests.builders.releases import voted_dataset


@pytest.fixture
def voted(db, tmp_path):
    dataset = voted_dataset(tmp_path)
    prediction_set_create(dataset=dataset, name="model", source=ContentFile(csv_bytes(TOP3), name="m.csv"))
    return dataset


def test_a_pilot_holds_exactly_the_images_the_seeded_sampler_draws(voted) -> None:
    pilot = pilot_create(dataset=voted, n=5, mode="stratified", seed=42)
    rows = list(Image.objects.filter(dataset=voted).values_list("id", "original_label__index"))
    expected = pilot_sample([r[0] for r in rows], [r[1] for r in rows], n=5, mode="stratified", seed=42)
    assert sorted(PilotImage.objects.filter(pilot=pilot).values_list("image_id", flat=True)) == expected.tolist()


def test_a_new_pilot_retires_the_active_one_and_a_missing_seed_is_drawn_and_stored(voted) -> None:
    first = pilot_create(dataset=voted, n=3, seed=1)
    second = pilot_create(dataset=voted, n=4)
    first.refresh_from_db()
    assert not first.active and second.active and second.seed >= 0
    again = pilot_sample(list(Image.objects.filter(dataset=voted).values_list("id", flat=True)), n=4, seed=second.seed)
    assert sorted(second.images.values_list("image_id", flat=True)) == again.tolist()
    # the hand-out reads `pilot_rank`: exactly the active pilot's images carry it, as the seeded permutation of
    # the sample, and none once the pilot is retired
    ranked = dict(Image.objects.filter(dataset=voted, pilot_rank__isnull=False).values_list("id", "pilot_rank"))
    assert ranked == dict(zip(again.tolist(), pilot_order(4, second.seed).tolist(), strict=True))
    assert sorted(ranked.values()) == [0, 1, 2, 3]
    pilot_deactivate(pilot=second)
    assert (
        not Image.objects.filter(pilot_rank__isnull=False).exists() and not Pilot.objects.filter(active=True).exists()
    )


@pytest.mark.parametrize(("choice", "field"), [({"n": 9}, "n"), ({"n": 0}, "n"), ({"n": 2, "mode": "x"}, "mode")])
def test_bad_settings_are_refused_and_nothing_is_written(voted, choice, field) -> None:
    with pytest.raises(PilotInputError) as refused:
        pilot_create(dataset=voted, seed=1, **choice)
    assert refused.value.field == field
    assert not Pilot.objects.exists() and not PilotImage.objects.exists()


def test_the_api_shows_the_estimates_of_the_settled_pilot_images(voted, researcher) -> None:
    client = APIClient()
    client.force_login(researcher)
    created = client.post(reverse("pilots:api-pilot", args=[voted.slug]), {"n": 8, "seed": 3}, format="json")
    assert created.status_code == 201
    body = client.get(reverse("pilots:api-pilot", args=[voted.slug]), {"width": "0.2"}).json()
    e = body["estimates"]
    # Settled: positions 0-5 with Y = [0], [1, 2], [2], [3, 4], [], [5]; 6 is pending, 7 has no votes.
    assert (body["n_images"], e["n_settled"], e["n_empty"]) == (8, 6, 1)
    assert e["multilabel_share"]["value"] == pytest.approx(2 / 5)
    assert e["original_not_valid_share"]["value"] == 0
    assert [row["value"] for row in e["label_count_histogram"][:2]] == pytest.approx([3 / 5, 2 / 5])
    model = e["prediction_sets"]["model"]
    assert model["top1"]["value"] == pytest.approx(4 / 6)  # top-1 0, 2, 2, 4, 4, 5 against 0, 1, 2, 3, 4, 5
    assert model["real1"]["value"] == pytest.approx(5 / 5)
    # [1, 2] ⊆ top-2 {2, 1}; [3, 4] ⊆ {4, 3}; the singles [0], [2], [5] are each top-1: 5 of 5
    assert model["vtk_strict"]["value"] == pytest.approx(5 / 5)
    assert e["width"] == 0.2 and e["multilabel_share"]["more_for_width"] > 0
    only = body["model_only_multilabel_share"]
    assert only["models"] == ["model"] and 0 <= only["value"] <= 1


@pytest.mark.parametrize(
    ("body", "field"),
    [({"n": 99}, "n"), ({"n": "many"}, "n"), ({"n": 2, "mode": "x"}, "mode"), ({"n": 2, "seed": -1}, "seed")],
)
def test_the_api_refuses_bad_input_with_400_naming_the_field(voted, researcher, body, field) -> None:
    client = APIClient()
    client.force_login(researcher)
    response = client.post(reverse("pilots:api-pilot", args=[voted.slug]), body, format="json")
    assert response.status_code == 400 and field in response.json()["fields"]
    assert not Pilot.objects.exists()


def test_the_api_answers_404_without_a_pilot_and_400_for_a_bad_width(voted, reviewer) -> None:
    client = APIClient()
    client.force_login(reviewer)
    url = reverse("pilots:api-pilot", args=[voted.slug])
    assert client.get(url).status_code == 404
    pilot_create(dataset=voted, n=2, seed=1)
    assert client.get(url, {"width": "2"}).status_code == 400
    assert client.get(url, {"width": "nan"}).status_code == 400


def test_the_page_shows_the_estimates_and_labels_the_model_only_figure(voted, reviewer, client) -> None:
    client.force_login(reviewer)
    url = reverse("pilots:pilot", args=[voted.slug])
    assert "no pilot yet" in client.get(url).content.decode()
    pilot_create(dataset=voted, n=8, seed=3)
    html = client.get(url, {"width": "bad"}).content.decode()
    assert "40.00" in html  # the multi-label share, 2 of 5
    assert "Model-only estimate" in html and "not from people" in html
    assert "<strong>6</strong> of its images are settled" in html
    assert 'id="pilot-partial"' in html and "Only 6 of the pilot's 8 images are settled" in html


def test_the_page_warns_about_a_partly_settled_pilot_only_while_it_is_one(voted, reviewer, client) -> None:
    client.force_login(reviewer)
    url = reverse("pilots:pilot", args=[voted.slug])
    pilot = pilot_create(dataset=voted, n=8, seed=3)
    # Positions 6 (pending) and 7 (no votes) are the unsettled ones: without them the pilot is all settled.
    PilotImage.objects.filter(pilot=pilot, image__position__in=[6, 7]).delete()
    html = client.get(url).content.decode()
    assert "<strong>6</strong> of its images are settled" in html and 'id="pilot-partial"' not in html


@pytest.mark.django_db(transaction=True)
def test_concurrent_creations_leave_exactly_one_active_pilot(tmp_path) -> None:
    dataset = voted_dataset(tmp_path)
    errors: list[BaseException] = []

    def create(seed: int) -> None:
        try:
            pilot_create(dataset=dataset, n=3, seed=seed)
        except BaseException as error:  # noqa: BLE001 (reported below)
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(seed,)) for seed in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Pilot.objects.filter(dataset=dataset).count() == 6
    assert Pilot.objects.filter(dataset=dataset, active=True).count() == 1


def test_staff_create_and_retire_a_pilot_in_the_admin(voted, admin_client) -> None:
    add = "/admin/annotator/pilot/add/"
    refused = admin_client.post(add, {"dataset": voted.pk, "n": 9, "mode": "uniform", "seed": ""})
    assert refused.status_code == 200 and not Pilot.objects.exists()  # the form again, with the reason
    assert "more images than the dataset" in refused.content.decode()
    assert admin_client.post(add, {"dataset": voted.pk, "n": 4, "mode": "stratified", "seed": "7"}).status_code == 302
    pilot = Pilot.objects.get()
    assert (pilot.n, pilot.mode, pilot.seed, pilot.active, pilot.images.count()) == (4, "stratified", 7, True, 4)
    changelist = "/admin/annotator/pilot/"
    response = admin_client.post(changelist, {"action": "retire", "_selected_action": [pilot.pk]})
    assert response.status_code == 302
    pilot.refresh_from_db()
    assert not pilot.active


def test_the_api_reads_a_fixed_number_of_queries_plus_one_per_prediction_set(
    voted, reviewer, django_assert_max_num_queries
) -> None:
    pilot_create(dataset=voted, n=8, seed=3)
    client = APIClient()
    client.force_login(reviewer)
    url = reverse("pilots:api-pilot", args=[voted.slug])
    client.get(url)  # warm the session and role caches
    with django_assert_max_num_queries(13) as first:
        assert client.get(url).status_code == 200
    prediction_set_create(dataset=voted, name="second", source=ContentFile(csv_bytes(TOP3), name="s.csv"))
    with django_assert_max_num_queries(len(first.captured_queries) + 1):
        assert client.get(url).status_code == 200
