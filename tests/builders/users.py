"""Users: a factory for plain rows, and users holding roles (the personas of tests/conftest.py)."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from annotator.roles import role_groups

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password(PASSWORD)


def user_with_roles(username: str, *roles: str, is_staff: bool = False) -> AbstractBaseUser:
    user = UserFactory(username=username, is_staff=is_staff)
    user.groups.set(role_groups(*roles))
    return user
