"""What a release records beyond the label sets: ReaL's convention for images nobody answered (their original
label, status `original`), and the Dawid–Skene run and prior mode behind a Dawid–Skene release."""

from __future__ import annotations

import json
import re

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from annotator.models import Dataset, Image
from annotator.services.dawid_skene import dawid_skene_run
from evaluation.models import Release
from evaluation.services.releases import release_storage
from tests.builders.releases import EXPECTED_REAL, EXPECTED_STATUS, built_release, voted_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(tmp_path):
    return voted_dataset(tmp_path)


def _read(release: Release, kind: str) -> bytes:
    with release_storage().open(release.files.get(kind=kind).storage_name, "rb") as handle:
        return handle.read()


def test_images_nobody_answered_keep_their_original_label_by_default_and_only_those(
    dataset, django_capture_on_commit_callbacks
):
    release = built_release(dataset, django_capture_on_commit_callbacks)
    # Image 6 has one answer of the three it needs: pending. Image 7 has none: its original label, class 1.
    assert json.loads(_read(release, "real"))[6:] == [[], [1]]
    assert json.loads(_read(release, "status"))[6:] == ["pending", "original"]
    assert (release.unanswered_as_original, release.n_original, release.n_pending) == (True, 1, 1)


def test_without_original_labels_the_default_is_off_and_an_unlabelled_image_stays_pending(
    dataset, django_capture_on_commit_callbacks
):
    Image.objects.filter(dataset=dataset, position=7).update(original_label=None)
    mixed = built_release(dataset, django_capture_on_commit_callbacks)
    assert mixed.unanswered_as_original and json.loads(_read(mixed, "status"))[7] == "pending"
    Image.objects.filter(dataset=dataset).update(original_label=None)
    none = built_release(dataset, django_capture_on_commit_callbacks)
    assert not none.unanswered_as_original and none.n_original == 0
    assert json.loads(_read(none, "real")) == [*EXPECTED_REAL[:7], []]
    assert json.loads(_read(none, "status")) == [*EXPECTED_STATUS[:7], "pending"]


def test_the_api_takes_the_option_and_reports_it_with_the_dawid_skene_run(
    dataset, researcher, django_capture_on_commit_callbacks
):
    client = APIClient()
    client.force_login(researcher)
    url = f"/api/datasets/{dataset.slug}/releases/"
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"unanswered_as_original": False}, format="json").status_code == 202
        assert client.post(url, {}, format="json").status_code == 202
    second, first = client.get(url).json()
    assert (first["unanswered_as_original"], first["n_original"], first["n_pending"]) == (False, 0, 2)
    assert (second["unanswered_as_original"], second["n_original"], second["n_pending"]) == (True, 1, 1)
    assert first["ds_run"] is None and first["ds_prior"] == ""
    bad = client.post(url, {"unanswered_as_original": "perhaps"}, format="json")
    assert bad.status_code == 400 and "unanswered_as_original" in bad.json()["fields"]


def test_the_form_offers_the_option_checked_for_a_dataset_with_original_labels(
    client, researcher, dataset, django_capture_on_commit_callbacks
):
    client.force_login(researcher)
    url = reverse("releases:releases", args=[dataset.slug])
    assert re.search(
        r'<input type="checkbox" name="unanswered_as_original"[^>]*checked>', client.get(url).content.decode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"apply_adjudications": "on"}).status_code == 302  # unticked
        assert client.post(url, {"apply_adjudications": "on", "unanswered_as_original": "on"}).status_code == 302
    off, on = Release.objects.order_by("version")
    assert (off.unanswered_as_original, off.n_original, on.unanswered_as_original, on.n_original) == (False, 0, True, 1)
    detail = client.get(reverse("releases:release", args=[on.pk])).content.decode()
    assert "their original label (ReaL&#x27;s convention)" in detail and "Original label" in detail
    Image.objects.filter(dataset=dataset).update(original_label=None)
    unticked = re.search(
        r'<input type="checkbox" name="unanswered_as_original"[^>]*>', client.get(url).content.decode()
    )
    assert unticked and "checked" not in unticked.group()


def test_the_command_builds_a_release_with_the_option_and_refuses_bad_parameters(dataset, capsys):
    call_command("create_release", dataset.slug)
    call_command("create_release", dataset.slug, "--no-unanswered-as-original", "--threshold", "0.6")
    on, off = Release.objects.order_by("version")
    assert (on.state, on.unanswered_as_original, on.n_original) == ("ready", True, 1)
    assert (off.state, off.unanswered_as_original, off.threshold) == ("ready", False, 0.6)
    out = capsys.readouterr().out
    assert "tiny v1" in out and "1 with their original label" in out and "tiny v2" in out
    with pytest.raises(CommandError, match="Dawid–Skene run") as refused:
        call_command("create_release", dataset.slug, "--aggregation", "dawid_skene")
    assert refused.value.returncode == 2
    with pytest.raises(CommandError, match="no dataset"):
        call_command("create_release", "nope")
    assert Release.objects.count() == 2


def test_two_dawid_skene_releases_with_different_priors_record_their_run_and_prior(
    dataset, researcher, django_capture_on_commit_callbacks
):
    releases = []
    for prior in ("original", "single"):
        Dataset.objects.filter(pk=dataset.pk).update(ds_prior=prior)
        dataset.refresh_from_db()
        run = dawid_skene_run(dataset=dataset)
        dataset.refresh_from_db()
        release = built_release(dataset, django_capture_on_commit_callbacks, aggregation="dawid_skene")
        assert (release.ds_run_id, release.ds_prior) == (run.pk, prior)
        sheet = _read(release, "datasheet").decode()
        assert f"| Dawid–Skene run | #{run.pk} of {run.created_at:%Y-%m-%d %H:%M:%S} UTC, fitted on 28 votes (" in sheet
        assert f"| Dawid–Skene class prior | `{prior}`: " in sheet
        releases.append(release)
    first, second = releases
    assert first.ds_run_id != second.ds_run_id
    client = APIClient()
    client.force_login(researcher)
    listed = {r["version"]: r for r in client.get(f"/api/datasets/{dataset.slug}/releases/").json()}
    assert (listed[1]["ds_run"], listed[1]["ds_prior"]) == (first.ds_run_id, "original")
    assert (listed[2]["ds_run"], listed[2]["ds_prior"]) == (second.ds_run_id, "single")
    # Majority releases record no run, even when one exists.
    majority = built_release(dataset, django_capture_on_commit_callbacks, aggregation="majority")
    assert (majority.ds_run_id, majority.ds_prior) == (None, "")
