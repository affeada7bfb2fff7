import pytest
from django.db import IntegrityError, transaction

from tests.builders.datasets import DatasetFactory, ImageFactory, LabelClassFactory

pytestmark = pytest.mark.django_db


def _refused(factory, **kwargs) -> bool:
    try:
        with transaction.atomic():
            factory(**kwargs)
    except IntegrityError:
        return True
    return False


def test_a_dataset_cannot_hold_two_images_with_the_same_key_or_position():
    dataset = DatasetFactory()
    ImageFactory(dataset=dataset, key="a.jpg", position=0)
    assert _refused(ImageFactory, dataset=dataset, key="a.jpg", position=1)
    assert _refused(ImageFactory, dataset=dataset, key="b.jpg", position=0)
    ImageFactory(dataset=DatasetFactory(), key="a.jpg", position=0)  # other datasets are independent


def test_a_vocabulary_cannot_repeat_an_index_or_a_key():
    dataset = DatasetFactory()
    LabelClassFactory(dataset=dataset, index=0, key="n01440764")
    assert _refused(LabelClassFactory, dataset=dataset, index=0, key="n01443537")
    assert _refused(LabelClassFactory, dataset=dataset, index=1, key="n01440764")


def test_dataset_settings_are_checked_by_the_database():
    assert _refused(DatasetFactory, annotations_per_image=0)
    assert _refused(DatasetFactory, consensus_threshold=1.5)
    assert _refused(DatasetFactory, consensus_threshold=0)


def test_an_image_checksum_must_be_hex_sha256():
    assert _refused(ImageFactory, sha256="not-a-checksum")


def test_deleting_a_dataset_removes_its_images_and_classes_but_a_used_class_cannot_be_deleted_alone():
    from django.db.models import RestrictedError

    from annotator.models import Image, LabelClass

    dataset = DatasetFactory()
    label = LabelClassFactory(dataset=dataset)
    ImageFactory(dataset=dataset, original_label=label)
    with pytest.raises(RestrictedError), transaction.atomic():
        label.delete()
    dataset.delete()
    assert not Image.objects.exists() and not LabelClass.objects.exists()
