"""Release pages and API: list with progress and the create form, detail with files, downloads, compare."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from django.urls import reverse

from evaluation.core.release_compare import label_changes
from evaluation.models import Release, ReleaseFile
from evaluation.services.releases import release_create
from tests.builders.releases import built_release, voted_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(tmp_path):
    return voted_dataset(tmp_path)


@pytest.fixture
def signed_in(client, researcher):
    client.force_login(researcher)
    return client


def _content(response) -> bytes:
    return b"".join(response.streaming_content)


def test_the_list_page_shows_ready_releases_a_build_in_progress_and_a_failed_one_without_files(
    signed_in, dataset, django_capture_on_commit_callbacks
):
    ready = built_release(dataset, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=False):
        failed, _ = release_create(dataset=dataset)
        building, _ = release_create(dataset=dataset)
    Release.objects.filter(pk=failed.pk).update(state="failed", error="OSError: disk full")
    Release.objects.filter(pk=building.pk).update(progress=0.4, phase="per-image files")
    html = signed_in.get(reverse("releases:releases", args=[dataset.slug])).content.decode()
    assert "Building v3" in html and 'value="0.400000"' in html
    assert reverse("releases:api-release-progress", args=[building.pk]) in html
    assert "Build of v2 failed" in html and "disk full" in html
    assert re.findall(r'href="/releases/(\d+)/"', html) == [str(ready.pk)]  # only the ready v1 has a page


def test_the_create_form_starts_a_build_and_refuses_a_dawid_skene_release_without_a_run(
    signed_in, dataset, django_capture_on_commit_callbacks
):
    url = reverse("releases:releases", args=[dataset.slug])
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(url, {"threshold": "0.9", "min_annotations": "1", "apply_adjudications": "on"})
    assert response.status_code == 302
    release = Release.objects.get()
    assert (release.state, release.threshold, release.min_annotations) == ("ready", 0.9, 1)
    refused = signed_in.post(url, {"aggregation": "dawid_skene"})
    assert refused.status_code == 400 and "Dawid–Skene run" in refused.content.decode()


def test_the_detail_page_lists_parameters_counts_and_each_file_with_size_and_sha256(
    signed_in, dataset, django_capture_on_commit_callbacks
):
    release = built_release(dataset, django_capture_on_commit_callbacks)
    html = signed_in.get(reverse("releases:release", args=[release.pk])).content.decode()
    for stored in release.files.all():
        assert stored.sha256 in html and stored.filename in html
    assert "yes-share ≥ 0.5" in html and "With a valid label" in html


def test_a_download_is_the_stored_file_with_its_hash_in_the_etag(
    signed_in, dataset, django_capture_on_commit_callbacks
):
    release = built_release(dataset, django_capture_on_commit_callbacks)
    response = signed_in.get(reverse("releases:api-release-file", args=[release.pk, "real"]))
    body = _content(response)
    assert json.loads(body)[1] == [1, 2]
    assert response["ETag"] == f'"{hashlib.sha256(body).hexdigest()}"'
    assert 'filename="tiny-v1-real.json"' in response["Content-Disposition"]
    assert signed_in.get(reverse("releases:api-release-file", args=[release.pk, "nope"])).status_code == 404


def test_a_release_still_building_is_not_found_by_the_detail_api_but_reports_progress(
    signed_in, dataset, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        building, _ = release_create(dataset=dataset)
    assert signed_in.get(reverse("releases:api-release", args=[building.pk])).status_code == 404
    assert signed_in.get(reverse("releases:api-release-file", args=[building.pk, "zip"])).status_code == 404
    progress = signed_in.get(reverse("releases:api-release-progress", args=[building.pk])).json()
    assert progress["state"] == "building" and progress["progress"] == 0.0


def test_the_api_creates_a_release_and_lists_it_with_its_files_once_ready(
    signed_in, dataset, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    url = reverse("releases:api-releases", args=[dataset.slug])
    with django_capture_on_commit_callbacks(execute=True):
        created = signed_in.post(url, {"min_annotations": 2}, content_type="application/json")
    assert created.status_code == 202 and created.json()["state"] == "building"
    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post(url, {}, content_type="application/json")
    with django_assert_max_num_queries(8):
        listed = signed_in.get(url).json()
    assert [r["version"] for r in listed] == [2, 1]
    assert listed[1]["min_annotations"] == 2 and len(listed[1]["files"]) == len(ReleaseFile.Kind.values)
    assert listed[0]["n_labelled"] == 5 and listed[0]["files"][0]["url"].startswith(f"/api/releases/{listed[0]['id']}")


def test_comparing_two_releases_lists_the_images_whose_label_set_changed_with_counts(
    signed_in, dataset, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    loose = built_release(dataset, django_capture_on_commit_callbacks, min_annotations=1)
    strict = built_release(dataset, django_capture_on_commit_callbacks, threshold=0.9)
    with django_assert_max_num_queries(10):
        data = signed_in.get(reverse("releases:api-release-compare", args=[loose.pk, strict.pk])).json()
    # v1: [[0], [1, 2], [2], [3, 4], [], [5], [0], []]; v2 (τ 0.9, N 3): [[0], [1], [2], [3], [], [], [], []]
    assert data["counts"] == {"added": 0, "removed": 2, "changed": 2} and data["total"] == 4
    assert [(r["position"], r["kind"]) for r in data["results"]] == [(1, "changed"), (3, "changed"), (5, "removed"),
                                                                      (6, "removed")]  # fmt: skip
    assert data["results"][3]["after_status"] == "pending" and data["results"][0]["key"] == "img_00001.JPEG"
    only = signed_in.get(reverse("releases:api-release-compare", args=[loose.pk, strict.pk]), {"kind": "removed"})
    assert [r["position"] for r in only.json()["results"]] == [5, 6]
    with django_assert_max_num_queries(12):
        html = signed_in.get(
            reverse("releases:release-compare", args=[dataset.slug]), {"before": loose.pk, "after": strict.pk}
        ).content.decode()
    assert "img_00003.JPEG" in html and "Label set changed" in html


def test_label_changes_classify_added_removed_and_changed_and_handle_images_added_later():
    changes = label_changes([[1], [], [2, 3]], [[1], [4], [3], [5]], ["labelled", "pending", "labelled"],
                            ["labelled"] * 4)  # fmt: skip
    assert [(c.position, c.kind) for c in changes] == [(1, "added"), (2, "changed"), (3, "added")]
    assert changes[-1].before_status == "absent"
    assert label_changes([[2, 1]], [[1, 2]], ["labelled"], ["labelled"]) == []


def test_the_index_lists_datasets_with_their_latest_release(signed_in, dataset, django_capture_on_commit_callbacks,
                                                            django_assert_max_num_queries):  # fmt: skip
    built_release(dataset, django_capture_on_commit_callbacks)
    with django_assert_max_num_queries(6):
        html = signed_in.get(reverse("releases:releases-index")).content.decode()
    assert "v1" in html and reverse("releases:releases", args=[dataset.slug]) in html


def test_the_admin_lists_releases_read_only(admin_client, dataset, django_capture_on_commit_callbacks):
    release = built_release(dataset, django_capture_on_commit_callbacks)
    assert "Ready" in admin_client.get("/admin/evaluation/release/").content.decode()
    assert admin_client.get(f"/admin/evaluation/release/{release.pk}/delete/").status_code == 403
    changed = admin_client.post(f"/admin/evaluation/release/{release.pk}/change/", {"threshold": "0.1"})
    assert changed.status_code == 403 and Release.objects.get(pk=release.pk).threshold == 0.5


def test_the_same_form_sent_twice_builds_one_release(signed_in, dataset, django_capture_on_commit_callbacks):
    url = reverse("releases:releases", args=[dataset.slug])
    form = signed_in.get(url).content.decode()
    key = re.search(r'name="client_uuid" value="([0-9a-f-]{36})"', form).group(1)
    with django_capture_on_commit_callbacks(execute=False):
        statuses = [signed_in.post(url, {"min_annotations": "1", "client_uuid": key}).status_code for _ in "ab"]
    assert statuses == [302, 302] and Release.objects.filter(dataset=dataset).count() == 1
    api = reverse("releases:api-releases", args=[dataset.slug])
    body = {"client_uuid": "3f2b1c4d-5e6f-4a1b-9c8d-7e6f5a4b3c2d"}
    with django_capture_on_commit_callbacks(execute=False):
        codes = [signed_in.post(api, body, content_type="application/json").status_code for _ in "ab"]
    assert codes == [202, 200] and Release.objects.filter(dataset=dataset).count() == 2
