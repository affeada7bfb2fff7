"""No Docker engine runs here: parse docker-compose.yml and check the topology and its configuration."""

from __future__ import annotations

import os
import subprocess
import sys

import yaml

from tests.builders import REPO

REQUIRED_SERVICES = {"postgres", "redis", "web", "worker", "beat"}


def _compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_compose_declares_postgres_redis_web_worker_and_beat_with_volumes():
    compose = _compose()
    assert set(compose["services"]) >= REQUIRED_SERVICES
    assert {"pgdata", "media"} <= set(compose["volumes"])
    assert "pgdata:/var/lib/postgresql" in compose["services"]["postgres"]["volumes"]


def test_app_services_run_gunicorn_and_celery_on_the_same_environment():
    services = _compose()["services"]
    assert services["web"]["command"][0] == "gunicorn"
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
        assert env["DATABASE_URL"].startswith("postgres://relabel:")
        assert env["CELERY_BROKER_URL"] == "redis://redis:6379/0"
        assert "media:/app/var/media" in services[name]["volumes"]


def test_compose_keeps_secrets_out_of_the_file():
    env = _compose()["services"]["web"]["environment"]
    assert env["DJANGO_SECRET_KEY"].startswith("${DJANGO_SECRET_KEY:?")
    assert "${POSTGRES_PASSWORD:?" in env["DATABASE_URL"]


def test_production_settings_pass_the_deployment_checks():
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "x" * 60 + "-a-long-random-production-secret",
        "DJANGO_ALLOWED_HOSTS": "relabel.example.org",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_an_s3_bucket_in_the_environment_switches_media_storage_to_s3():
    env = {**os.environ, "RELABEL_S3_BUCKET": "relabel-media", "RELABEL_S3_ENDPOINT_URL": "http://127.0.0.1:9000"}
    code = (
        'import django; django.setup(); from django.core.files.storage import storages; s = storages["default"]; '
        "print(type(s).__name__, s.bucket_name, s.endpoint_url, s.querystring_auth, s.querystring_expire)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings.local"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    # Signed, short-lived links: a copied media link stops working after 10 minutes.
    expected = ["S3Storage", "relabel-media", "http://127.0.0.1:9000", "True", "600"]
    assert result.stdout.split() == expected, result.stderr


def test_production_cookies_are_secure_and_the_session_cookie_is_http_only():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "x" * 60,
        "DJANGO_ALLOWED_HOSTS": "relabel.example.org",
    }
    code = (
        "import django; django.setup(); from django.conf import settings as s; from django.test import Client; "
        "r = Client().get('/accounts/login/', secure=True, HTTP_HOST='relabel.example.org'); "
        "print(s.SESSION_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.CSRF_COOKIE_SECURE, r.status_code, "
        "r.cookies['csrftoken']['secure'], r['Strict-Transport-Security'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.stdout.split()[:5] == ["True", "True", "True", "200", "True"], result.stdout + result.stderr
    assert "max-age=31536000" in result.stdout
