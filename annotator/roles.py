"""Roles are Django groups; staff users are admins. One user may hold several roles."""

from __future__ import annotations

from typing import TypeGuard

from django.contrib.auth.models import AnonymousUser, Group, User

ANNOTATOR = "annotator"
REVIEWER = "reviewer"
RESEARCHER = "researcher"
ROLES = (ANNOTATOR, REVIEWER, RESEARCHER)


def role_groups(*names: str) -> list[Group]:
    """The groups of these roles. Migration 0002 creates them; a database flushed since (as transactional
    tests do) gets them back here instead of failing or silently granting nothing."""
    unknown = set(names) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown role(s): {', '.join(sorted(unknown))}")
    return [Group.objects.get_or_create(name=name)[0] for name in names]


def prime_roles(user: User, names: list[str]) -> None:
    """Cache the user's group names for this request (annotator.authentication loads them with the user)."""
    setattr(user, "_relabel_roles", set(names))  # noqa: B010 (a per-request cache, not a field of the model)


def has_role(user: User | AnonymousUser, role: str) -> TypeGuard[User]:
    """Staff hold every role. Group names are cached on the user object for the request. Only a signed-in
    user holds a role, so a caller that checked one may treat `user` as signed in."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_staff:
        return True
    cached = getattr(user, "_relabel_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        setattr(user, "_relabel_roles", cached)  # noqa: B010 (as in prime_roles)
    return role in cached
