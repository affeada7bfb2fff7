"""Roles are Django groups; staff users are admins. One user may hold several roles."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

ANNOTATOR = "annotator"
REVIEWER = "reviewer"
RESEARCHER = "researcher"
ROLES = (ANNOTATOR, REVIEWER, RESEARCHER)


def prime_roles(user: AbstractBaseUser, names: list[str]) -> None:
    """Cache the user's group names for this request (annotator.authentication loads them with the user)."""
    user._relabel_roles = set(names)


def has_role(user: AbstractBaseUser | AnonymousUser, role: str) -> bool:
    """Staff hold every role. Group names are cached on the user object for the request."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_staff:
        return True
    cached = getattr(user, "_relabel_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._relabel_roles = cached
    return role in cached
