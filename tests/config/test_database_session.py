"""The settings every connection of the app's sends to PostgreSQL (config/settings/base.py,
DATABASE_SESSION_SETTINGS): in effect on the connection the ORM uses, on any server (the embedded one or
DATABASE_URL's; through PgBouncer they are the database's defaults instead, README)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection

pytestmark = pytest.mark.django_db


def test_every_session_setting_is_in_effect_on_the_orms_connection():
    assert settings.DATABASE_SESSION_SETTINGS == {"plan_cache_mode": "force_generic_plan", "random_page_cost": "1.1"}
    with connection.cursor() as cursor:
        for name, value in settings.DATABASE_SESSION_SETTINGS.items():
            cursor.execute(f"SHOW {name}")
            assert cursor.fetchone()[0] == value, name
