"""Login throttling (django-axes) with real POSTs to the login view and the token endpoint."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.builders.users import PASSWORD

pytestmark = pytest.mark.django_db


def _log_in(client: Client, username: str, password: str):
    return client.post(reverse("login"), {"username": username, "password": password})


def _fail_until_locked(client: Client, username: str) -> None:
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        response = _log_in(client, username, "wrong password")
        if attempt < settings.AXES_FAILURE_LIMIT - 1:
            assert response.status_code == 200
            assert "didn't match" in response.content.decode()


def test_five_failed_logins_lock_the_username_out_with_a_clear_message(annotator):
    client = Client()
    _fail_until_locked(client, annotator.username)
    response = _log_in(client, annotator.username, PASSWORD)
    assert response.status_code == 429
    html = response.content.decode()
    assert "Too many failed logins" in html
    assert f"failed to log in\n    {settings.AXES_FAILURE_LIMIT} times" in html and "15 minutes" in html
    assert "_auth_user_id" not in client.session


def _ask_for_token(username: str, password: str, as_json: bool = False):
    body = {"username": username, "password": password}
    if as_json:
        return Client().post(reverse("accounts:api-token"), body, content_type="application/json")
    return Client().post(reverse("accounts:api-token"), body)


@pytest.mark.parametrize("as_json", [False, True], ids=["form", "json"])
def test_a_locked_out_user_asking_for_a_token_gets_429_with_the_lockout_message(annotator, as_json):
    _fail_until_locked(Client(), annotator.username)
    response = _ask_for_token(annotator.username, PASSWORD, as_json)
    assert response.status_code == 429
    body = response.json()
    assert "token" not in body
    assert "Too many failed logins" in body["detail"] and "locked for 15 minutes" in body["detail"]
    assert response["Retry-After"] == str(15 * 60)


def test_failed_token_requests_lock_the_login_page_too(annotator):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _ask_for_token(annotator.username, "wrong password").status_code == 400
    assert _ask_for_token(annotator.username, "wrong password").status_code == 429  # the failure that locks
    assert _ask_for_token(annotator.username, PASSWORD).status_code == 429
    assert _log_in(Client(), annotator.username, PASSWORD).status_code == 429


def test_a_token_request_before_the_lock_gets_the_usual_answers(annotator):
    response = _ask_for_token(annotator.username, "wrong password")
    assert response.status_code == 400 and "Unable to log in" in response.content.decode()
    assert "token" in _ask_for_token(annotator.username, PASSWORD, as_json=True).json()


def test_the_lock_is_per_username_and_address(annotator, second_annotator):
    _fail_until_locked(Client(), annotator.username)
    assert _log_in(Client(), second_annotator.username, PASSWORD).status_code == 302
    elsewhere = Client(REMOTE_ADDR="203.0.113.7")
    assert _log_in(elsewhere, annotator.username, PASSWORD).status_code == 302


def test_the_lock_lifts_after_the_cool_off(annotator):
    client = Client()
    _fail_until_locked(client, annotator.username)
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16))
    response = _log_in(client, annotator.username, PASSWORD)
    assert response.status_code == 302 and response["Location"] == reverse("datasets:home")


def test_a_success_before_the_limit_resets_the_count(annotator):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _log_in(client, annotator.username, "wrong password")
    assert _log_in(client, annotator.username, PASSWORD).status_code == 302
    client.post(reverse("logout"))
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _log_in(client, annotator.username, "wrong password")
    assert _log_in(client, annotator.username, PASSWORD).status_code == 302


def test_behind_a_trusted_proxy_the_lock_follows_the_forwarded_client_address(annotator, settings):
    settings.RELABEL_TRUSTED_PROXIES = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}  # every request arrives from the proxy
    _fail_until_locked(Client(**proxy, HTTP_X_FORWARDED_FOR="198.51.100.1"), annotator.username)
    assert (
        _log_in(Client(**proxy, HTTP_X_FORWARDED_FOR="198.51.100.1"), annotator.username, PASSWORD).status_code == 429
    )
    # Another client behind the same proxy is not locked out; a spoofed left-hand entry changes nothing.
    assert (
        _log_in(Client(**proxy, HTTP_X_FORWARDED_FOR="198.51.100.2"), annotator.username, PASSWORD).status_code == 302
    )
    spoofed = Client(**proxy, HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.1")
    assert _log_in(spoofed, annotator.username, PASSWORD).status_code == 429
