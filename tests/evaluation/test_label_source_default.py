"""Which label source the leaderboard and model pages open on when the URL names none."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest
from django.core.files.base import ContentFile
from django.db.models import F
from django.db.models.functions import Greatest

from annotator.models import Dataset, Image
from annotator.services.annotations import Answer, annotation_submit
from annotator.services.assignment import lease_next
from annotator.services.consensus import consensus_recompute_dataset
from evaluation.selectors.label_pools import label_source_choices, label_source_pick
from evaluation.services.prediction_sets import prediction_set_create
from evaluation.services.reference_labels import reference_label_set_create
from evaluation.services.snapshots import metric_snapshots_refresh
from tests.builders.prediction_sets import REFERENCE, TOP3, csv_bytes
from tests.builders.releases import voted_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def voted(tmp_path):
    """Eight images; the annotators' consensus has settled six of them."""
    dataset = voted_dataset(tmp_path)
    prediction_set_create(dataset=dataset, name="m", source=ContentFile(csv_bytes(TOP3), name="m.csv"))
    return dataset


def _reference(dataset, name: str, labels: list[list[int]]):
    source = ContentFile(json.dumps(labels).encode(), name=f"{name}.json")
    return reference_label_set_create(dataset=dataset, name=name, source=source)


def _default(dataset) -> str:
    return label_source_pick(dataset, label_source_choices(dataset), None).name


def test_the_pages_open_on_a_reference_that_covers_more_images_than_the_consensus(voted):
    _reference(voted, "hand labels", REFERENCE)  # seven labelled images
    metric_snapshots_refresh()
    assert _default(voted) == "hand labels"


def test_the_pages_open_on_the_consensus_once_it_covers_as_many(voted, annotator):
    voted.annotators.add(annotator)
    _reference(voted, "hand labels", REFERENCE)
    # The answers given so far settle every image: the pending ones join the consensus, which covers all eight.
    Dataset.objects.filter(pk=voted.pk).update(annotations_per_image=1)
    Image.objects.filter(dataset=voted).update(annotations_needed=Greatest(F("annotation_count"), 1))
    consensus_recompute_dataset(dataset=Dataset.objects.get(pk=voted.pk))
    # ... and one person answers the image nobody had answered ("none fits": settled with no valid label).
    lease = lease_next(dataset=voted, annotator=annotator)
    assert lease is not None and lease_next(dataset=voted, annotator=annotator, exclude=[lease.image_id]) is None
    annotation_submit(annotator=annotator, image_id=lease.image_id, answer=Answer(none_fits=True), client_uuid=uuid4())
    metric_snapshots_refresh()
    assert _default(voted) == "Live consensus"


def test_a_source_named_in_the_url_wins(voted):
    reference = _reference(voted, "partial", [[0], [], [], [], [], [], [], []])
    metric_snapshots_refresh()
    choices = label_source_choices(voted)
    assert label_source_pick(voted, choices, f"reference-{reference.pk}").name == "partial"
