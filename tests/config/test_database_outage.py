"""A PostgreSQL connection killed in the middle of a request (pg_terminate_backend from another connection, a
real fault) answers a clean 503 with Retry-After, writes nothing, and the retry succeeds."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import pytest
from django.contrib.auth.models import Group
from django.db import OperationalError, connection, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from annotator.models import Annotation, AnnotationRevision, Lease, Vote
from annotator.roles import ROLES
from annotator.services.assignment import lease_next
from config.middleware import connection_lost
from tests.builders.annotations import workbench_dataset

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def backend_killed_at_query(number: int) -> Iterator[list[str]]:
    """Terminate this thread's PostgreSQL backend from a second connection just before its `number`-th query."""
    executed: list[str] = []

    def wrapper(execute, sql, params, many, context):
        executed.append(sql)
        if len(executed) == number:
            pid = context["connection"].connection.info.backend_pid
            killer = psycopg2.connect(**connection.get_connection_params())
            try:
                killer.autocommit = True
                with killer.cursor() as cursor:
                    cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
                    assert cursor.fetchone()[0], "the backend was not terminated"
            finally:
                killer.close()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield executed


@pytest.fixture(autouse=True)
def _roles_exist(transactional_db) -> None:
    """Transactional tests run after others flushed the groups the migrations create."""
    for name in ROLES:
        Group.objects.get_or_create(name=name)


@pytest.fixture
def pets(annotator):
    return workbench_dataset(slug="pets", candidates_per_image=2, annotators=[annotator])


def test_a_submit_whose_connection_dies_mid_request_gets_a_503_and_the_retry_stores_it_once(pets, annotator):
    lease = lease_next(dataset=pets, annotator=annotator)
    client = APIClient()
    client.force_login(annotator)
    body = {"image": lease.image_id, "classes": [], "unsure": True, "client_uuid": str(uuid.uuid4())}
    client.get(reverse("annotations:api-progress", args=["pets"]))  # the connection is open and warm
    with backend_killed_at_query(4) as executed:
        response = client.post(reverse("annotations:api-annotations"), body, format="json")
    assert len(executed) >= 4, "the fault hit after the request had already read from the database"
    assert response.status_code == 503, response.content[:300]
    assert response["Retry-After"] == "5"
    assert "retry" in response.json()["detail"].lower() and response.json()["code"] == "database_unavailable"
    assert not Annotation.objects.exists() and not AnnotationRevision.objects.exists() and not Vote.objects.exists()
    assert Lease.objects.filter(pk=lease.pk).exists(), "the lease survives, so the retry is accepted"

    retry = client.post(reverse("annotations:api-annotations"), body, format="json")
    assert retry.status_code == 201, retry.content[:300]
    again = client.post(reverse("annotations:api-annotations"), body, format="json")
    assert again.status_code == 200 and again.json()["id"] == retry.json()["id"]
    assert Annotation.objects.count() == 1 and AnnotationRevision.objects.count() == 1


def test_a_page_whose_connection_dies_gets_a_503_page_and_a_reload_works(pets, reviewer, client):
    client.force_login(reviewer)
    url = reverse("leaderboard:leaderboard", args=["pets"])
    assert client.get(url).status_code == 200
    with backend_killed_at_query(3):
        response = client.get(url)
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert "Unavailable for a moment" in response.content.decode()
    assert client.get(url).status_code == 200


def test_other_database_errors_on_a_live_connection_stay_server_errors(pets, annotator):
    """Only a lost connection becomes a 503; a deadlock or a statement timeout is a bug to see (a 500)."""
    with pytest.raises(OperationalError) as timeout, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 1")
        cursor.execute("SELECT pg_sleep(1)")
    assert not connection_lost(timeout.value)
    with backend_killed_at_query(1), pytest.raises(OperationalError) as killed, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    connection.close()
    assert connection_lost(killed.value)


def test_a_connection_lost_after_the_view_while_saving_the_session_is_a_503_too(annotator):
    """Signing in saves the new session in SessionMiddleware, after the view: handler500 answers there."""
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tests.builders.users import PASSWORD

    credentials = {"username": annotator.username, "password": PASSWORD}
    with CaptureQueriesContext(connection) as queries:
        assert Client().post(reverse("login"), credentials).status_code == 302
    # The killer counts statements run through cursors; transaction control is logged but not executed so.
    sql = [q["sql"] for q in queries.captured_queries if q["sql"] not in ("BEGIN", "COMMIT", "ROLLBACK")]
    saving = max(i for i, text in enumerate(sql) if "django_session" in text) + 1  # 1-based, as the killer counts
    assert saving > 1 and sql[saving - 1].startswith(("INSERT", "UPDATE")), "a sign-in ends by saving the session"
    client = Client(raise_request_exception=False)
    client.get(reverse("login"))  # the connection is open and warm
    with backend_killed_at_query(saving):
        response = client.post(reverse("login"), credentials)
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert client.post(reverse("login"), credentials).status_code == 302  # the retry signs in
