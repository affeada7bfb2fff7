"""Authentication that loads a user's role names in the same query as the user.

Every API call and page checks a role (`annotator.roles.has_role`), which would otherwise cost one more
query for the user's groups on each request. Both the session backend (pages, the workbench) and token
authentication (API clients) fetch the names with the user row and prime the per-request cache.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AbstractBaseUser, Group
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from annotator.roles import prime_roles


def _role_names(user_ref: str) -> ArraySubquery:
    return ArraySubquery(Group.objects.filter(user=OuterRef(user_ref)).order_by().values("name"))


class RoleModelBackend(ModelBackend):
    """Django's model backend; `get_user` (run on each request with a session) also loads the roles."""

    def get_user(self, user_id: object) -> AbstractBaseUser | None:
        user_model = get_user_model()
        user = user_model._default_manager.annotate(role_names=_role_names("pk")).filter(pk=user_id).first()
        if user is None or not self.user_can_authenticate(user):
            return None
        prime_roles(user, user.role_names)
        return user


class RoleTokenAuthentication(TokenAuthentication):
    """DRF token authentication that loads the user, with their roles, in one query."""

    def authenticate_credentials(self, key: str) -> tuple[AbstractBaseUser, Token]:
        token = Token.objects.select_related("user").annotate(role_names=_role_names("user_id")).filter(key=key).first()
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        prime_roles(token.user, token.role_names)
        return token.user, token
