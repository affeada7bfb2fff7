"""The web tier through PgBouncer: a real pgbouncer process in front of the test's PostgreSQL server, gunicorn
(production settings) connected to it with DATABASE_URL, and a next + submit round trip and a page over HTTP.

README (Scaling past one machine) says the pooler must run in *session* mode, because the hot queries are
server-side prepared statements (`annotator/pg_prepared.py`, PREPARE once per connection). The last test
checks that claim: in transaction mode two clients share server connections and their PREPAREs collide.

Skipped, saying why, when the pgbouncer binary is absent (Debian package `pgbouncer`; .ci/run installs it).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg2
import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from annotator.models import Annotation, Consensus
from annotator.roles import ANNOTATOR
from bench.http_load import Gunicorn, free_port
from tests.builders.annotations import workbench_dataset
from tests.builders.users import PASSWORD, user_with_roles

PGBOUNCER = shutil.which("pgbouncer") or next(
    (path for path in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.access(path, os.X_OK)), None
)
pytestmark = [
    pytest.mark.skipif(
        PGBOUNCER is None, reason="pgbouncer is not installed (apt-get install pgbouncer): the pooler test needs it"
    ),
    pytest.mark.timeout(180),
]

# Django sends `options=-c plan_cache_mode=…` at connect time (config/settings/base.py); PgBouncer refuses an
# unknown startup parameter unless told to ignore it, so the setting is made the database's default instead.
PLAN_CACHE_MODE = "force_generic_plan"


@contextmanager
def pgbouncer(pool_mode: str, pool_size: int = 10) -> Iterator[int]:
    """A pgbouncer process on 127.0.0.1 (the port it yields) in front of the test database's server."""
    server = connection.settings_dict
    folder = Path(tempfile.mkdtemp(prefix="relabel-pgbouncer-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # pgbouncer refuses to run as root: run it as the owner of the server's socket folder
        on_socket = server["HOST"].startswith("/")
        owner = pwd.getpwuid(Path(server["HOST"]).stat().st_uid) if on_socket else pwd.getpwnam("nobody")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        run_as = ["-u", owner.pw_name]
    port = free_port()
    (folder / "userlist.txt").write_text(f'"{server["USER"]}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"[databases]\n* = host={server['HOST']} port={server['PORT'] or 5432} user={server['USER']}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder / 'userlist.txt'}\nadmin_users = {server['USER']}\n"
        f"pool_mode = {pool_mode}\ndefault_pool_size = {pool_size}\nmax_client_conn = 200\n"
        "ignore_startup_parameters = options, extra_float_digits\n"
        f"logfile = {folder / 'pgbouncer.log'}\npidfile = {folder / 'pgbouncer.pid'}\n"
    )
    for path in folder.iterdir():
        path.chmod(0o644)
    process = subprocess.Popen([PGBOUNCER, *run_as, str(folder / "pgbouncer.ini")], stderr=subprocess.PIPE)
    try:
        _wait_for_port(process, port)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=20)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for_port(process: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"pgbouncer exited with status {process.returncode}: {process.stderr.read().decode()}")
        try:
            psycopg2.connect(host="127.0.0.1", port=port, dbname="pgbouncer", user="postgres").close()
            return
        except psycopg2.OperationalError:
            time.sleep(0.1)
    pytest.fail("pgbouncer did not accept connections within 20 s")


def _through(port: int, **options: object):  # noqa: ANN202
    """A client connection to the test database through the pooler."""
    client = psycopg2.connect(
        host="127.0.0.1", port=port, dbname=connection.settings_dict["NAME"], user="postgres", **options
    )
    client.autocommit = True
    return client


def _pooler_counts(port: int) -> dict[str, int]:
    """Transactions and queries pgbouncer passed to the test database (its admin console's SHOW STATS)."""
    admin = psycopg2.connect(host="127.0.0.1", port=port, dbname="pgbouncer", user="postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute("SHOW STATS")
            names = [column.name for column in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        admin.close()
    row = next(r for r in rows if r["database"] == connection.settings_dict["NAME"])
    return {"transactions": int(row["total_xact_count"]), "queries": int(row["total_query_count"])}


@pytest.fixture
def generic_plans_by_default(transactional_db) -> Iterator[None]:
    name = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER DATABASE "{name}" SET plan_cache_mode = {PLAN_CACHE_MODE}')
    yield
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER DATABASE "{name}" RESET plan_cache_mode')


@pytest.mark.django_db(transaction=True)
def test_gunicorn_through_pgbouncer_in_session_mode_hands_out_takes_a_submit_and_renders_a_page(
    generic_plans_by_default, settings, tmp_path
):
    annotator = user_with_roles("pooled", ANNOTATOR)
    # The test settings hash with MD5, which production settings (gunicorn's) do not accept.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    annotator.set_password(PASSWORD)
    annotator.save(update_fields=["password"])
    dataset = workbench_dataset(slug="pooled", images=4, annotators=[annotator], annotations_per_image=1)
    token = Token.objects.create(user=annotator).key
    database = connection.settings_dict["NAME"]

    with pgbouncer("session") as port:
        with _through(port) as client, client.cursor() as cursor:
            cursor.execute("SHOW plan_cache_mode")  # the connect-time option is dropped; the database default holds
            assert cursor.fetchone()[0] == PLAN_CACHE_MODE
        before = _pooler_counts(port)
        web = Gunicorn(
            database, workers=2, threads=2, log=tmp_path / "gunicorn.log",
            database_url=f"postgres://postgres@127.0.0.1:{port}/{database}",
        )  # fmt: skip
        try:
            with httpx.Client(base_url=web.base_url, timeout=20) as http:
                api = {"Authorization": f"Token {token}"}
                handed = http.post(f"/api/datasets/{dataset.slug}/next/", json={"exclude": []}, headers=api)
                assert handed.status_code == 200, handed.text
                item = handed.json()
                chosen = [item["candidates"][0]["id"]]
                body = {"image": item["image"]["id"], "classes": chosen, "seconds": 2, "client_uuid": str(uuid.uuid4())}
                submitted = http.post("/api/annotations/", json=body, headers=api)
                assert submitted.status_code == 201, submitted.text
                # A second round trip runs the statements each connection prepared during the first.
                again = http.post(f"/api/datasets/{dataset.slug}/next/", json={"exclude": []}, headers=api)
                assert again.status_code == 200 and again.json()["image"]["id"] != item["image"]["id"]
                page = _signed_in_page(http, annotator.username, f"/datasets/{dataset.slug}/annotate/")
                assert page.status_code == 200 and dataset.name in page.text
        finally:
            web.stop()
        after = _pooler_counts(port)

    annotation = Annotation.objects.get(annotator=annotator)
    assert annotation.image_id == item["image"]["id"]
    assert list(annotation.votes.filter(answer="yes").values_list("label_class_id", flat=True)) == chosen
    assert Consensus.objects.get(image_id=item["image"]["id"]).annotation_count == 1
    assert after["transactions"] > before["transactions"] + 3, "the requests' transactions went through pgbouncer"


def _signed_in_page(http: httpx.Client, username: str, path: str) -> httpx.Response:
    """Sign in through the login form and GET `path`. Production settings mark the cookies Secure, so the
    requests say they came through an HTTPS proxy and carry the cookies by hand."""
    https = {"X-Forwarded-Proto": "https"}
    form = http.get("/accounts/login/", headers=https)
    csrf = form.cookies["csrftoken"]
    token = form.text.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    signed_in = http.post(
        "/accounts/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={
            **https,
            "Cookie": f"csrftoken={csrf}",
            "Referer": f"https://{http.base_url.netloc.decode()}/accounts/login/",
        },
    )
    assert signed_in.status_code == 302, signed_in.text[:500]
    session = signed_in.cookies["sessionid"]
    return http.get(path, headers={**https, "Cookie": f"sessionid={session}; csrftoken={csrf}"})


@pytest.mark.django_db(transaction=True)
def test_transaction_mode_mixes_up_per_connection_prepared_statements_and_session_mode_does_not():
    """Two clients through one pooled server connection: in transaction mode the second client's PREPARE of
    the same statement name (what `execute_prepared` sends on each new connection) fails, and a client can run
    a statement it never prepared; in session mode each client keeps its own server connection."""
    prepare = "PREPARE relabel_pooled AS SELECT 1"
    with pgbouncer("transaction", pool_size=1) as port:
        first, second = _through(port), _through(port)
        try:
            with first.cursor() as cursor:
                cursor.execute(prepare)
            with second.cursor() as cursor:
                cursor.execute("EXECUTE relabel_pooled")  # another client's statement
                assert cursor.fetchone() == (1,)
                with pytest.raises(psycopg2.errors.DuplicatePreparedStatement):
                    cursor.execute(prepare)
        finally:
            first.close()
            second.close()
    with pgbouncer("session", pool_size=2) as port:
        first, second = _through(port), _through(port)
        try:
            for client in (first, second):
                with client.cursor() as cursor:
                    cursor.execute(prepare)
                    cursor.execute("EXECUTE relabel_pooled")
                    assert cursor.fetchone() == (1,)
        finally:
            first.close()
            second.close()
