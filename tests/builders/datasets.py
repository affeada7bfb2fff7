"""factory_boy factories for plain dataset, class and image rows; complex state is built through the real
services (the other builders)."""

from __future__ import annotations

import factory

from annotator.models import Dataset, Image, LabelClass


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
