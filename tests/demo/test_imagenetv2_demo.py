"""The demo's ImageNetV2 MatchedFrequency: 10,000 file-less images and the same three models as ImageNet val,
with the published top-1 / top-5; no labels made up. (Compared with ImageNet val in
tests/evaluation/test_imagenet_val_end_to_end.py, which builds that dataset once.)"""

from __future__ import annotations

import pytest

from annotator.models import Consensus, Image
from demo.services.imagenetv2 import IMAGENETV2_NAME, demo_imagenetv2_load
from evaluation.models import MetricSnapshot, PredictionSet, ReferenceLabelSet

# Published by the ImageNetV2 repository for its own runs of these models on MatchedFrequency.
KNOWN = {"resnet50": (0.6333, 0.8465), "resnet18": (0.5718, 0.8019), "vgg16": (0.5884, 0.8166)}


@pytest.mark.django_db
def test_the_imagenetv2_demo_has_its_images_models_and_published_accuracies_and_no_invented_labels():
    report = demo_imagenetv2_load()
    assert report.wrote
    images = Image.objects.filter(dataset__name=IMAGENETV2_NAME)
    assert images.count() == 10_000 and not images.exclude(original="").exists()
    for model, (top1, top5) in KNOWN.items():
        snapshot = MetricSnapshot.objects.get(prediction_set__name=model, prediction_set__dataset__name=IMAGENETV2_NAME)
        assert (snapshot.values["top1"], snapshot.values["top5"]) == (pytest.approx(top1), pytest.approx(top5))
        # Against the live consensus, which is empty: no multi-label figure exists.
        assert snapshot.label_source == "consensus" and snapshot.values["n_evaluated_multilabel"] == 0
    assert not ReferenceLabelSet.objects.filter(dataset__name=IMAGENETV2_NAME).exists()
    assert not Consensus.objects.filter(dataset__name=IMAGENETV2_NAME).exists()
    assert PredictionSet.objects.filter(dataset__name=IMAGENETV2_NAME).count() == 3
    assert not demo_imagenetv2_load().wrote
