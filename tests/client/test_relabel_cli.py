"""The `relabel` command-line client against the real app: pytest-django's live server (the project's own URLs,
views and database) and, where the server hands work to Celery, a real worker process. Nothing is mocked.

The client runs in-process through `relabel_client.cli.main` (the console script's entry point); its output
is compared with figures worked out here from the fixtures, and downloads with the stored files' bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import stat
import subprocess
import sys

import httpx
import pytest
from rest_framework.authtoken.models import Token

from config.celery import app as celery_app
from evaluation.models import Release
from evaluation.services.releases import release_create, release_storage
from tests.builders import REPO
from tests.builders.prediction_sets import ORIGINAL, TOP3, csv_bytes
from tests.builders.releases import EXPECTED_REAL, voted_dataset
from tests.builders.users import user_with_roles
from tests.celery.conftest import celery_worker_process, wait_for  # noqa: F401 - the worker fixture
from tests.client.conftest import login, run

pytestmark = [pytest.mark.celery, pytest.mark.timeout(300), pytest.mark.django_db(transaction=True)]


def test_login_keeps_the_token_readable_by_its_owner_only_and_a_wrong_password_shows_the_servers_words(
    live_server, home, capsys, monkeypatch
):
    user_with_roles("rita", "researcher")
    code, _, err = run(capsys, "login", "--url", live_server.url, "--username", "rita", "--password-stdin",
                       stdin="wrong\n", monkeypatch=monkeypatch)  # fmt: skip
    assert code == 1 and "Unable to log in with provided credentials." in err
    assert not (home / "credentials.json").exists()
    login(capsys, monkeypatch, live_server, "rita")
    path = home / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = json.loads(path.read_text())
    assert saved == {"url": live_server.url, "token": Token.objects.get(user__username="rita").key, "username": "rita"}


def test_commands_refused_by_the_server_print_its_message_and_exit_1(live_server, home, capsys, monkeypatch):
    code, _, err = run(capsys, "datasets")
    assert code == 1 and "not logged in" in err
    user_with_roles("anna", "annotator")
    voted_dataset(home.parent)
    login(capsys, monkeypatch, live_server, "anna")
    code, _, err = run(capsys, "releases", "list", "tiny")
    assert code == 1 and err.strip() == "relabel: You do not have permission to perform this action."
    code, out, _ = run(capsys, "datasets")  # every signed-in user sees the list
    assert code == 0 and out.splitlines()[1].split()[:2] == ["tiny", "Tiny"]
    user_with_roles("rita", "researcher")
    login(capsys, monkeypatch, live_server, "rita")
    code, _, err = run(capsys, "releases", "list", "nope")
    assert code == 1 and "No Dataset matches the given query." in err
    code, _, err = run(capsys, "releases", "download", "tiny", "--version", "9")
    assert code == 1 and "tiny has no ready release" in err


def test_a_researcher_uploads_predictions_reads_the_leaderboard_builds_and_downloads_a_release(
    live_server,
    home,
    capsys,
    monkeypatch,
    tmp_path,
    celery_worker_process,  # noqa: F811
):
    user_with_roles("rita", "researcher")
    dataset = voted_dataset(tmp_path)
    login(capsys, monkeypatch, live_server, "rita")

    code, out, _ = run(capsys, "datasets")
    assert code == 0 and out.split("\n")[1].split() == ["tiny", "Tiny", "8", "6", "3"]

    predictions = tmp_path / "model.csv"
    predictions.write_bytes(csv_bytes(TOP3))
    code, out, err = run(capsys, "predictions", "upload", "tiny", str(predictions), "--name", "model", "--wait")
    assert code == 0, err
    top1 = sum(row[0] == label for row, label in zip(TOP3, ORIGINAL, strict=True)) / len(ORIGINAL)
    lines = {label.strip(): value for label, value in (line.rsplit("  ", 1) for line in out.splitlines()[3:])}
    assert float(lines["top-1 (original label)"]) == pytest.approx(top1, abs=5e-5) and top1 == 0.5

    code, out, _ = run(capsys, "leaderboard", "tiny", "--source", "consensus", "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [r["name"] for r in rows] == ["model"] and float(rows[0]["top1"]) == top1
    code, _, err = run(capsys, "leaderboard", "tiny", "--source", "reference-999")
    assert code == 1 and "no label source 'reference-999'" in err

    code, out, err = run(capsys, "releases", "create", "tiny", "--threshold", "0.5", "--wait")
    assert code == 0 and "version 1 is ready" in out, err
    release = Release.objects.get(dataset=dataset, version=1)
    code, out, _ = run(capsys, "releases", "list", "tiny")
    assert code == 0 and out.splitlines()[1].split()[:2] == ["1", str(release.pk)]

    folder = tmp_path / "downloads"
    stored = release.files.get(kind="real")
    with release_storage().open(stored.storage_name, "rb") as handle:
        expected = handle.read()
    code, out, _ = run(capsys, "releases", "download", "tiny", "--file", "real", "--output", str(folder))
    target = folder / "tiny-v1-real.json"
    assert code == 0 and target.read_bytes() == expected and json.loads(expected) == EXPECTED_REAL
    assert f"SHA-256 {hashlib.sha256(expected).hexdigest()} verified" in out

    # Again: nothing fetched. Interrupted halfway: the rest is fetched with a range request. A corrupt partial
    # file fails the check, is removed, and the next run succeeds.
    code, out, _ = run(capsys, "releases", "download", "tiny", "--file", "real", "--output", str(folder))
    assert code == 0 and "already here" in out
    target.unlink()
    part = folder / "tiny-v1-real.json.part"
    part.write_bytes(expected[: len(expected) // 2])
    code, out, _ = run(capsys, "releases", "download", "tiny", "--file", "real", "--output", str(folder))
    assert code == 0 and "downloaded" in out and target.read_bytes() == expected and not part.exists()
    target.unlink()
    part.write_bytes(b"X" * (len(expected) // 2))
    code, _, err = run(capsys, "releases", "download", "tiny", "--file", "real", "--output", str(folder))
    assert code == 1 and "is not the server's" in err and not part.exists() and not target.exists()
    code, _, _ = run(capsys, "releases", "download", "tiny", "--version", "1", "--file", "real",
                     "--output", str(folder))  # fmt: skip
    assert code == 0 and target.read_bytes() == expected

    code, _, _ = run(capsys, "releases", "download", "tiny", "--output", str(folder))  # the zip, by default
    assert code == 0 and (folder / "relabel-tiny-v1.zip").stat().st_size == release.files.get(kind="zip").size


def test_a_range_request_gets_206_with_that_part_and_a_stale_if_range_the_whole_file(live_server, tmp_path):
    researcher = user_with_roles("rita", "researcher")
    release = _built(voted_dataset(tmp_path))
    stored = release.files.get(kind="jsonl")
    with release_storage().open(stored.storage_name, "rb") as handle:
        data = handle.read()
    url = f"{live_server.url}/api/releases/{release.pk}/files/jsonl/"
    headers = {"Authorization": f"Token {Token.objects.create(user=researcher).key}"}
    whole = httpx.get(url, headers=headers)
    assert whole.status_code == 200 and whole.content == data and whole.headers["Accept-Ranges"] == "bytes"
    part = httpx.get(url, headers={**headers, "Range": "bytes=10-", "If-Range": f'"{stored.sha256}"'})
    assert part.status_code == 206 and part.content == data[10:]
    assert part.headers["Content-Range"] == f"bytes 10-{len(data) - 1}/{len(data)}"
    middle = httpx.get(url, headers={**headers, "Range": "bytes=5-9"})
    assert middle.status_code == 206 and middle.content == data[5:10] and middle.headers["Content-Length"] == "5"
    stale = httpx.get(url, headers={**headers, "Range": "bytes=10-", "If-Range": '"0000"'})
    assert stale.status_code == 200 and stale.content == data
    for ignored in ("bytes=999999-", "bytes=-5", "bytes=1-2,4-5", "pages=1-"):
        answer = httpx.get(url, headers={**headers, "Range": ignored})
        assert answer.status_code == 200 and answer.content == data


def _built(dataset) -> Release:  # noqa: ANN001
    """A release built in this process (Celery eager): no worker is needed to read one back."""
    previous, celery_app.conf.task_always_eager = celery_app.conf.task_always_eager, True
    try:
        release, _ = release_create(dataset=dataset)  # on commit (the test's database is transactional): built
    finally:
        celery_app.conf.task_always_eager = previous
    release.refresh_from_db()
    assert release.state == Release.State.READY
    return release


def test_the_help_names_every_command_and_the_console_script_entry_point_runs():
    env = {**os.environ, "PYTHONPATH": str(REPO / "client")}
    result = subprocess.run([sys.executable, "-m", "relabel_client.cli", "--help"], capture_output=True, text=True,
                            env=env, check=True)  # fmt: skip
    for command in ("login", "datasets", "predictions", "leaderboard", "compare", "releases"):
        assert command in result.stdout
    for argv, option, words in (
        (["releases", "download", "--help"], "--version", "verify its SHA-256"),
        (["predictions", "upload", "--help"], "--wait", "wait for its metrics"),
        (["compare", "--help"], "--decompose", "label-mix part and a within-bin part"),
    ):
        help_text = subprocess.run([sys.executable, "-m", "relabel_client.cli", *argv], capture_output=True,
                                   text=True, env=env, check=True).stdout  # fmt: skip
        assert option in help_text and words in help_text
