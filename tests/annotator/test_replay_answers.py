"""`manage.py replay_answers`: a small dataset answered through the real services, replayed under every policy;
its figures checked against the votes counted in SQL and the product's own Dawid–Skene run."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from annotator.models import Consensus, Image, LabelClass, Vote
from annotator.services.annotations import Answer, annotation_submit
from annotator.services.assignment import lease_next
from annotator.services.dawid_skene import dawid_skene_run
from tests.builders.annotations import workbench_dataset
from tests.builders.users import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered():
    """12 images with 3 candidates each, answered by 5 annotators of different reliability (seeded)."""
    dataset = workbench_dataset(slug="replayed", images=12, classes=6, candidates_per_image=3, annotations_per_image=5)
    users = [UserFactory(username=f"rater{i}") for i in range(5)]
    dataset.annotators.add(*users)
    rng = np.random.default_rng(7)
    truth = {image.pk: {image.original_label_id} for image in Image.objects.filter(dataset=dataset)}
    for k, user in enumerate(users):
        while (lease := lease_next(dataset=dataset, annotator=user)) is not None:
            chosen = [c for c in lease.shown if (c in truth[lease.image_id]) != (rng.random() < 0.1 * k)]
            answer = Answer(classes=chosen, none_fits=not chosen)
            annotation_submit(annotator=user, image_id=lease.image_id, answer=answer, client_uuid=uuid.uuid4())
    return dataset


def test_the_replay_reports_every_policy_with_figures_checked_against_sql_and_the_products_run(answered, tmp_path):
    run = dawid_skene_run(dataset=answered)
    assert run is not None
    index_of = dict(LabelClass.objects.filter(dataset=answered).values_list("id", "index"))
    real = [[] for _ in range(12)]
    for position, labels in Consensus.objects.filter(dataset=answered).values_list("image__position", "ds_labels"):
        real[position] = [index_of[c] for c in labels]
    (tmp_path / "real.json").write_text(json.dumps(real))
    out = tmp_path / "replay.json"
    call_command("replay_answers", answered.slug, "--real", str(tmp_path / "real.json"), "--json", str(out),
                 "--svg", str(tmp_path / "replay.svg"), "--confidence", "0.9", "0.95", verbosity=0)  # fmt: skip
    rows = {row["policy"]: row for row in json.loads(out.read_text())}
    product = "adaptive-0.95-around-0.8"  # the product's rule: the band around the dataset's DS threshold
    assert answered.ds_threshold == 0.8
    assert {"fixed-5", "fixed-3", "fixed-2", "first-two", "margin-2", "adaptive-0.9-around-0.8", product,
            "adaptive-0.9", "adaptive-0.95", f"{product}-known-run", f"{product}-known-stop"} <= set(rows)  # fmt: skip
    assert rows[product]["label_threshold"] == 0.8 and rows["adaptive-0.95"]["label_threshold"] == 0.5
    # stopped alike (the full run's parameters), labelled differently (the full run / a refit on the answers used)
    known_run, known_stop = rows[f"{product}-known-run"], rows[f"{product}-known-stop"]
    assert known_stop["answers_used"] == known_run["answers_used"]
    assert (known_run["refit_labels"], known_stop["refit_labels"]) == (False, True)
    for row in rows.values():
        for key in ("answers_used_share", "questions_equal_share", "images_equal_share", "images_equal_real_share"):
            assert 0 <= row[key] <= 1, (row["policy"], key)
    n_votes = Vote.objects.filter(image__dataset=answered).count()
    assert n_votes == 12 * 3 * 5
    assert rows["fixed-5"]["answers_used"] == n_votes and rows["fixed-5"]["images_equal_share"] == 1.0
    assert rows["fixed-2"]["answers_used"] == 12 * 3 * 2
    # the replay's full-answer fit is the product's own run: same label sets on every image
    assert rows["fixed-5"]["images_equal_real_share"] == 1.0
    assert rows[product]["confidence"] == 0.95 and rows["fixed-5"]["confidence"] is None
    assert 2 / 5 <= rows[product]["answers_used_share"] <= 1
    assert (tmp_path / "replay.svg").read_text().startswith("<svg")


def test_bad_input_is_refused_with_exit_status_2(answered, tmp_path):
    for args in (["no-such-dataset"], [answered.slug, "--warmup", "2"], [answered.slug, "--min", "3", "--max", "2"],
                 [answered.slug, "--real", str(tmp_path / "missing.json")]):  # fmt: skip
        with pytest.raises(CommandError) as refused:
            call_command("replay_answers", *args, verbosity=0)
        assert refused.value.returncode == 2
