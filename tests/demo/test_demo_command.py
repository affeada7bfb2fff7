"""`manage.py demo` loads the demo data and serves web, worker and beat; Ctrl-C stops them all."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import psycopg2
import pytest
from django.db import connection

from annotator.models import Dataset, Image
from demo.services.photographs import demo_dataset_load, demo_users_create
from tests.builders import REPO


@pytest.mark.django_db
def test_demo_data_has_photographs_with_imagenet_labels_and_one_user_per_role():
    dataset, report = demo_dataset_load()
    assert report.created == 15 and not report.failed
    assert Image.objects.filter(dataset=dataset).exclude(display="").count() == 15
    assert Image.objects.get(dataset=dataset, key="chelsea.jpg").original_label.name == "tiger cat"
    assert Image.objects.get(dataset=dataset, key="maze.png").original_label.name == "maze"
    credentials = demo_users_create()
    assert set(credentials) == {"admin", "annotator", "annotator2", "reviewer", "researcher"}
    again, second = demo_dataset_load()
    assert again == dataset and second.created == 0 and second.skipped_existing == 15
    assert Dataset.objects.count() == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_make_demo_serves_the_login_page_and_the_admin_and_stops_on_ctrl_c():
    database = f"demo_check_{os.getpid()}"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "CELERY_BROKER_URL"}}
    env["RELABEL_DATABASE_NAME"] = database
    if "DATABASE_URL" in env:
        env["DATABASE_URL"] = re.sub(r"/[^/?]+(\?|$)", rf"/{database}\1", env["DATABASE_URL"])
        _create_database(database)
    process = subprocess.Popen(
        # The ImageNet val load (about a minute of the worker's time) is covered by
        # tests/evaluation/test_imagenet_val_end_to_end.py; here it would only slow the servers down.
        [sys.executable, "manage.py", "demo", "--addr", f"127.0.0.1:{port}", "--no-imagenet"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        login = _wait_for(f"{base}/accounts/login/", process)
        assert login.status_code == 200 and "Log in" in login.text
        with httpx.Client(base_url=base, follow_redirects=True, timeout=10) as client:
            page = client.get("/accounts/login/")
            token = client.cookies["csrftoken"]
            output_so_far = _read_available(process)
            password = re.search(r"admin\s+password: (\S+)", output_so_far).group(1)
            # Keep draining the servers' logs: a full pipe would block them (and their shutdown).
            threading.Thread(target=process.stdout.read, daemon=True).start()
            client.post(
                "/accounts/login/", data={"username": "admin", "password": password, "csrfmiddlewaretoken": token}
            )
            admin = client.get("/admin/annotator/image/")
            assert admin.status_code == 200 and "chelsea.jpg" in admin.text
            assert page.status_code == 200
            # Debug is off: the site's own 404 page, no list of URL patterns; static files from whitenoise.
            missing = client.get("/no-such-page/")
            assert missing.status_code == 404 and "Page not found" in missing.text and "URLconf" not in missing.text
            assert client.get("/static/css/relabel.css").status_code == 200
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
        _drop_database(database)
    assert process.returncode is not None


def _read_available(process: subprocess.Popen) -> str:
    # The credentials are printed before the servers start, so they are in the first lines.
    lines = []
    while True:
        line = process.stdout.readline()
        lines.append(line)
        if line.startswith("Passwords are new"):
            return "".join(lines)


def _wait_for(url: str, process: subprocess.Popen) -> httpx.Response:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"demo exited early:\n{process.stdout.read()}")
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within 90 s")


def _admin_connection():
    settings = connection.settings_dict
    return psycopg2.connect(
        host=settings["HOST"],
        port=settings["PORT"] or None,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname="postgres",
    )


def _create_database(name: str) -> None:
    conn = _admin_connection()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def _drop_database(name: str) -> None:
    conn = _admin_connection()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()
