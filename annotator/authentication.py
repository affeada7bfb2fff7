"""Authentication that loads a user's role names in the same query as the user.

Every API call and page checks a role (`annotator.roles.has_role`), which would otherwise cost one more
query for the user's groups on each request. Both the session backend (pages, the workbench) and token
authentication (API clients) fetch the names with the user row and prime the per-request cache.
"""

from __future__ import annotations

from typing import cast

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.db import connection
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from annotator.pg_prepared import execute_prepared
from annotator.roles import prime_roles


def _user_with_roles_sql(where: str, extra_columns: str = "") -> str:
    user_model = get_user_model()
    # A concrete field always has a column (the stubs type Field.column as optional, for every field).
    columns = ", ".join(f"u.{connection.ops.quote_name(cast(str, f.column))}" for f in user_model._meta.concrete_fields)
    membership = user_model.groups.through._meta.db_table
    return f"""
SELECT {columns},
       ARRAY(SELECT g.name FROM {Group._meta.db_table} g JOIN {membership} m ON m.group_id = g.id
             WHERE m.user_id = u.id){extra_columns}
FROM {user_model._meta.db_table} u {where}
"""


def _load(sql: str, params: list[object]) -> tuple[User, tuple] | None:
    """The user row (and any extra columns after the roles) with its role names primed; raw SQL because
    composing the ORM query cost more than running it, on every request."""
    user_model = get_user_model()
    fields = user_model._meta.concrete_fields
    with connection.cursor() as cursor:
        execute_prepared(cursor, sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    user = user_model.from_db(connection.alias, [f.attname for f in fields], row[: len(fields)])
    prime_roles(user, row[len(fields)])
    return user, row[len(fields) + 1 :]


class RoleModelBackend(ModelBackend):
    """Django's model backend; `get_user` (run on each request with a session) also loads the roles."""

    def get_user(self, user_id: object) -> User | None:
        try:
            user_pk = get_user_model()._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        loaded = _load(_user_with_roles_sql("WHERE u.id = %s"), [user_pk])
        if loaded is None or not self.user_can_authenticate(loaded[0]):
            return None
        return loaded[0]


class RoleTokenAuthentication(TokenAuthentication):
    """DRF token authentication that loads the user, with their roles, in one query."""

    def authenticate_credentials(self, key: str) -> tuple[User, Token]:
        sql = _user_with_roles_sql(
            f"JOIN {Token._meta.db_table} t ON t.user_id = u.id WHERE t.key = %s", extra_columns=", t.created"
        )
        loaded = _load(sql, [key])
        if loaded is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        user, (created,) = loaded
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        token = Token.from_db(connection.alias, ["key", "user_id", "created"], [key, user.pk, created])
        return user, token
