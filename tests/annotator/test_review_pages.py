"""Review queue, review screen, history and their API: order, filters, counts, wiring and query counts."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from annotator.models import Consensus
from annotator.selectors.review_queue import QueueFilter, queue_rows
from annotator.services.dawid_skene import dawid_skene_run
from annotator.services.review import adjudication_exclude, adjudication_set, review_request_more
from tests.builders.review import class_at, image_at, review_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def pets(team):
    return review_dataset(team)


@pytest.fixture
def api(reviewer) -> APIClient:
    client = APIClient()
    client.force_login(reviewer)
    return client


def _queue(api, query: str = "") -> dict:
    response = api.get(f"/api/datasets/pets/review-queue/{query}")
    assert response.status_code == 200, response.content[:300]
    return response.json()


def test_the_queue_holds_disputed_images_most_contested_first(pets, api):
    body = _queue(api)
    rows = Consensus.objects.filter(dataset=pets, status="disputed")
    expected = sorted(rows, key=lambda c: (c.agreement or 0, -(c.unsure_count + c.bad_image_count), c.image.position))
    assert [r["image_id"] for r in body["results"]] == [c.image_id for c in expected]
    assert {r["image_id"] for r in body["results"]} == {image_at(pets, p).pk for p in (0, 1, 3)}
    assert body["counts"] == {"open": 3, "pending": 0, "adjudicated": 0, "excluded": 0, "all": 3}
    first = body["results"][0]
    assert first["agreement"] <= body["results"][-1]["agreement"]
    assert {"file_name", "dispute_reasons", "flags", "labels", "original_label"} <= set(first)


def test_an_agreed_image_that_everyone_called_none_fits_is_in_the_queue_as_flagged(team, api):
    from annotator.services.annotations import Answer

    def plan(c):
        return {0: [Answer(none_fits=True)] * 3}

    pets = review_dataset(team, plan=plan)
    consensus = Consensus.objects.get(image=image_at(pets, 0))
    assert consensus.status == "agreed" and consensus.none_fits_count == 3
    assert [r["image_id"] for r in _queue(api)["results"]] == [image_at(pets, 0).pk]


def test_decisions_move_images_between_the_status_tabs(pets, api, reviewer):
    adjudication_set(image_id=image_at(pets, 0).pk, reviewer=reviewer, labels=[class_at(pets, 1).pk])
    adjudication_exclude(image_id=image_at(pets, 1).pk, reviewer=reviewer, reason="bad")
    review_request_more(image_id=image_at(pets, 3).pk, reviewer=reviewer)
    body = _queue(api)
    assert body["counts"] == {"open": 0, "pending": 1, "adjudicated": 1, "excluded": 1, "all": 3}
    assert [r["image_id"] for r in _queue(api, "?status=excluded")["results"]] == [image_at(pets, 1).pk]
    assert [r["image_id"] for r in _queue(api, "?status=pending")["results"]] == [image_at(pets, 3).pk]
    adjudicated = _queue(api, "?status=adjudicated")["results"]
    assert [c["name"] for c in adjudicated[0]["labels"]] == [class_at(pets, 1).name]


def test_the_queue_filters_by_class_and_annotator(pets, team, api):
    # Class 0 is asked about on image 0 (its original label) and image 3 (a proposal), not on image 1.
    by_class = _queue(api, f"?class={class_at(pets, 0).pk}")
    assert {r["image_id"] for r in by_class["results"]} == {image_at(pets, 0).pk, image_at(pets, 3).pk}
    assert by_class["counts"]["open"] == 2
    assert _queue(api, f"?annotator={team[0].pk}")["counts"]["open"] == 3
    nobody = _queue(api, f"?annotator={team[0].pk + 1000}")
    assert nobody["results"] == [] and nobody["counts"]["all"] == 0


def test_the_queue_page_and_api_take_a_fixed_number_of_queries(
    pets, team, reviewer, client, django_assert_max_num_queries
):
    for slug in ("birds", "fish"):
        review_dataset(team, slug=slug)
    client.force_login(reviewer)
    with django_assert_max_num_queries(9):  # session, user, groups, dataset, counts, rows, names, classes, annotators
        page = client.get("/review/pets/?status=all")
    assert page.status_code == 200 and page.content.decode().count('<tr data-image="') == 3
    api = APIClient()
    api.force_login(reviewer)
    with django_assert_max_num_queries(7):
        assert len(api.get("/api/datasets/pets/review-queue/").json()["results"]) == 3


def test_the_review_screen_shows_names_counts_posteriors_original_and_proposals(
    pets, reviewer, client, django_assert_max_num_queries
):
    client.force_login(reviewer)
    image = image_at(pets, 0)
    with django_assert_max_num_queries(10):  # + session, user, groups, dataset, image, neighbours
        page = client.get(f"/review/pets/images/{image.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    for text in ("anna", "bert", "carl", "Original label", "original", "#", "unsure", 'data-class="'):
        assert text in html, text
    detail = APIClient()
    detail.force_login(reviewer)
    body = detail.get(f"/api/images/{image.pk}/review/").json()
    by_name = {c["name"]: c for c in body["classes"]}
    c0, c1 = class_at(pets, 0), class_at(pets, 1)
    assert by_name[c0.name]["original"] and by_name[c0.name]["answers"] == {"yes": 2, "no": 1, "maybe": 0}
    assert by_name[c1.name]["model_rank"] == 2 and by_name[class_at(pets, 2).name]["model_rank"] == 3
    assert sorted(a["annotator"] for a in body["annotations"]) == ["anna", "bert", "carl"]
    assert body["consensus"]["status"] == "disputed" and body["original_label"]["id"] == c0.pk
    assert by_name[c0.name]["ds_posterior"] is None  # no Dawid–Skene run yet

    dawid_skene_run(dataset=pets)
    body = detail.get(f"/api/images/{image.pk}/review/").json()
    posterior = Consensus.objects.get(image=image).ds_posterior
    assert {c["id"]: c["ds_posterior"] for c in body["classes"] if str(c["id"]) in posterior} == {
        int(k): v for k, v in posterior.items()
    }
    assert len(posterior) == 3


def test_j_and_k_neighbours_follow_the_queue_order(pets, reviewer, client):
    client.force_login(reviewer)
    order = list(queue_rows(pets, QueueFilter()).values_list("image_id", flat=True))
    html = client.get(f"/review/pets/images/{order[1]}/?status=open").content.decode()
    assert f"/review/pets/images/{order[0]}/?status=open" in html and f"/review/pets/images/{order[2]}/" in html


def test_the_api_records_a_decision_and_refuses_bad_input(pets, api):
    image = image_at(pets, 0)
    c2 = class_at(pets, 2).pk
    response = api.post(
        f"/api/images/{image.pk}/adjudications/", {"action": "set", "labels": [c2], "note": "n"}, format="json"
    )
    assert response.status_code == 201 and response.json()["labels_after"] == [c2]
    assert response.json()["reviewer"] == "rita"
    assert api.post(f"/api/images/{image.pk}/adjudications/", {"action": "burn"}, format="json").status_code == 400
    refused = api.post(f"/api/images/{image.pk}/adjudications/", {"action": "set", "labels": [c2, c2]}, format="json")
    assert refused.status_code == 400 and "twice" in refused.json()["detail"]
    assert api.post(f"/api/images/{image.pk}/adjudications/", {"action": "revert"}, format="json").status_code == 201
    history = api.get(f"/api/images/{image.pk}/adjudications/").json()
    assert [h["action"] for h in history] == ["set", "revert"]
    more = api.post(f"/api/images/{image.pk}/more-annotations/", {"extra": 2}, format="json")
    assert more.status_code == 201 and more.json()["status_after"] == "pending"
    assert api.post("/api/images/999999/more-annotations/", {}, format="json").status_code == 404


def test_the_history_page_lists_every_revision_and_adjudication(pets, reviewer, client):
    image = image_at(pets, 1)
    adjudication_exclude(image_id=image.pk, reviewer=reviewer, reason="ambiguous", note="two readings")
    client.force_login(reviewer)
    html = client.get(f"/images/{image.pk}/history/").content.decode()
    assert "Excluded: ambiguous" in html and "two readings" in html and html.count("<td>anna</td>") == 1


def test_the_review_link_shows_only_for_reviewers_and_staff(request, client, pets):
    for persona, shown in (("annotator", False), ("researcher", False), ("reviewer", True), ("staff", True)):
        client.force_login(request.getfixturevalue(persona))
        assert ('href="/review/"' in client.get("/").content.decode()) == shown, persona


def test_the_review_api_is_in_the_openapi_schema(reviewer):
    client = APIClient()
    client.force_login(reviewer)
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]
    assert set(paths["/api/images/{image_id}/adjudications/"]) == {"get", "post"}
    for path in ("/api/datasets/{slug}/review-queue/", "/api/images/{image_id}/review/",
                 "/api/images/{image_id}/more-annotations/"):  # fmt: skip
        assert path in paths, path


def test_the_api_answers_a_retried_decision_with_the_first_one(pets, api):
    image, c2 = image_at(pets, 0), class_at(pets, 2).pk
    body = {"action": "set", "labels": [c2], "client_uuid": "7b0c3f5e-4a57-4c1e-9d5c-2f3b8f6a1e10"}
    first = api.post(f"/api/images/{image.pk}/adjudications/", body, format="json")
    retry = api.post(f"/api/images/{image.pk}/adjudications/", body, format="json")
    assert (first.status_code, retry.status_code) == (201, 200) and retry.json()["id"] == first.json()["id"]
    more = {"extra": 1, "client_uuid": "0d9a3c1e-5f7b-4e2a-8c6d-1a2b3c4d5e6f"}
    statuses = [api.post(f"/api/images/{image.pk}/more-annotations/", more, format="json").status_code for _ in "ab"]
    assert statuses == [201, 200]
    image.refresh_from_db()
    assert image.extra_annotations == 1
