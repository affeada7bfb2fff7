"""ReaL reproduced through the product: the 50,000-image val dataset (no files), raters.npz imported with
`import_votes`, Dawid–Skene run by the service, the stored consensus compared with real.json and scores.npz.

Floors sit ~0.3 pp below what was achieved when written (see README, "Consensus and agreement").
The whole module takes well under two minutes; its data is built in one transaction rolled back at the end.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection, transaction

from annotator.core.import_sources import discover
from annotator.core.real_raters import read_real_raters
from annotator.core.vocabulary import BUILTIN_IMAGENET, parse_vocabulary
from annotator.models import Consensus, Dataset, GoldAnswer, Image, LabelClass, Vote
from annotator.services.agreement_figures import agreement_compute
from annotator.services.datasets import dataset_create, vocabulary_import
from annotator.services.dawid_skene import dawid_skene_run
from annotator.services.image_import import images_import
from tests.builders import IMAGENET_DATA, REAL_DATA

REAL = REAL_DATA


@pytest.fixture(scope="module")
def real_val(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            dataset = dataset_create(slug="real-val", name="ImageNet val (ReaL raters)", ds_prior="imagenet_real")
            vocabulary_import(dataset=dataset, classes=parse_vocabulary(BUILTIN_IMAGENET))
            specs = discover("flat", labels_csv=IMAGENET_DATA / "val_ground_truth.csv")
            images_import(dataset=dataset, specs=specs, with_files=False, batch_size=5000)
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {Image._meta.db_table}")
            started = time.monotonic()
            call_command(
                "import_votes", "real-val", str(REAL / "raters.npz"), "--gold", str(REAL / "golden.npz"), verbosity=0
            )
            imported = time.monotonic()
            run = dawid_skene_run(dataset=dataset)
            yield {"dataset": dataset, "run": run, "import_seconds": imported - started,
                   "ds_seconds": time.monotonic() - imported}  # fmt: skip
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _ours(dataset: Dataset, field: str) -> dict[int, list[int]]:
    """Position → sorted class indices of `field` for every rated image."""
    index_of = dict(LabelClass.objects.filter(dataset=dataset).values_list("id", "index"))
    rows = Consensus.objects.filter(dataset=dataset).values_list("image__position", field)
    return {position: sorted(index_of[c] for c in labels) for position, labels in rows}


@pytest.mark.django_db
def test_every_answer_of_reals_raters_is_imported_as_a_vote_of_an_inactive_account(real_val):
    assert Vote.objects.filter(image__dataset=real_val["dataset"]).count() == 924_810
    assert real_val["dataset"].annotators.filter(is_active=False).count() == 85
    assert Consensus.objects.filter(dataset=real_val["dataset"]).count() == 24_889
    assert GoldAnswer.objects.filter(image__dataset=real_val["dataset"]).count() == 1_135


@pytest.mark.django_db
def test_dawid_skene_with_reals_strata_reproduces_their_label_sets_and_their_08_cut(real_val):
    with open(REAL / "real.json") as f:
        real = json.load(f)
    ours = _ours(real_val["dataset"], "ds_labels")
    assert len(ours) == 24_889 and real_val["run"].converged
    same = sum(ours[position] == sorted(real[position]) for position in ours)
    assert same / len(ours) >= 0.9172  # achieved 0.9202 (11 ms per 1,000 images to compare)
    # per question: our posterior > 0.8 against their score > 0.8
    ratings = read_real_raters(REAL / "raters.npz")
    scores = np.load(REAL / "scores.npz")["tensor"]
    positions = np.char.replace(np.char.replace(ratings.file_names, "ILSVRC2012_val_", ""), ".JPEG", "").astype(int) - 1
    ours_valid = np.array(
        [c in set(ours[p]) for p, c in zip(positions.tolist(), ratings.class_index.tolist(), strict=True)]
    )
    assert np.mean(ours_valid == (scores > 0.8)) >= 0.9855  # achieved 0.9885


@pytest.mark.django_db
def test_the_majority_consensus_of_the_same_votes_reproduces_fewer_of_them(real_val):
    with open(REAL / "real.json") as f:
        real = json.load(f)
    ours = _ours(real_val["dataset"], "majority_labels")
    same = sum(ours[position] == sorted(real[position]) for position in ours) / len(ours)
    assert 0.79 <= same < 0.9172  # yes-share ≥ ½ with maybe as half a yes: 0.8245 (see README)


@pytest.mark.django_db
def test_agreement_figures_cover_all_85_raters_and_their_gold_questions(real_val):
    figures = agreement_compute(dataset=real_val["dataset"]).figures
    assert figures["n_votes"] == 924_810 and len(figures["annotators"]) == 85
    assert sum(a["n_gold"] for a in figures["annotators"]) > 1_135
    assert 0.15 < figures["multi_label_share"] < 0.3
    assert 0.5 < figures["binary_alpha"] < 0.7
