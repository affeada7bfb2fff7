"""factory_boy factories for plain rows; complex state is built through the real services."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from annotator.models import Dataset, Image, LabelClass


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("correct horse battery staple")


class DatasetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dataset

    slug = factory.Sequence(lambda n: f"dataset-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())


class LabelClassFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LabelClass

    dataset = factory.SubFactory(DatasetFactory)
    index = factory.Sequence(lambda n: n)
    key = factory.LazyAttribute(lambda o: f"n{o.index:08d}")
    name = factory.LazyAttribute(lambda o: f"class {o.index}")


class ImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Image

    dataset = factory.SubFactory(DatasetFactory)
    position = factory.Sequence(lambda n: n)
    key = factory.LazyAttribute(lambda o: f"img_{o.position:08d}.JPEG")
    annotations_needed = factory.LazyAttribute(lambda o: o.dataset.annotations_per_image)
