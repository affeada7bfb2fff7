"""Counts of a thousand and more read with thousands separators ("1,500", not "1500") on every page that
shows them: home, leaderboard, model page, releases, agreement dashboard and review queue."""

from __future__ import annotations

import json
import re

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command

from annotator.roles import ROLES, role_groups
from annotator.services.agreement_figures import agreement_compute
from evaluation.models import PredictionSet, Release
from evaluation.services.prediction_sets import prediction_set_create
from evaluation.services.reference_labels import reference_label_set_create
from tests.builders.prediction_sets import build_dataset, csv_bytes
from tests.builders.releases import built_release, votes_csv

pytestmark = pytest.mark.django_db

N_IMAGES, N_CLASSES = 1500, 1000
# Three raters per image: yes to its original class, a yes / no / maybe split on the next one (disputed).
VOTES = {p: {p % N_CLASSES: "yyy", (p + 1) % N_CLASSES: "ynm"} for p in range(N_IMAGES)}
# What the pages count: images, classes, votes, annotations, questions, votes of one rater.
RAW = ("1500", "1000", "9000", "4500", "3000")


@pytest.fixture
def big(tmp_path, django_capture_on_commit_callbacks):
    dataset = build_dataset("big", original=[p % N_CLASSES for p in range(N_IMAGES)], n_classes=N_CLASSES)
    call_command("import_votes", "big", str(votes_csv(tmp_path / "votes.csv", VOTES)), verbosity=0)
    agreement_compute(dataset=dataset)
    labels = [[p % N_CLASSES] for p in range(N_IMAGES)]
    reference_label_set_create(
        dataset=dataset, name="ReaL", source=ContentFile(json.dumps(labels).encode(), name="r.json")
    )
    top5 = [[(p + k) % N_CLASSES for k in range(5)] for p in range(N_IMAGES)]
    with django_capture_on_commit_callbacks(execute=True):
        prediction_set_create(dataset=dataset, name="model", source=ContentFile(csv_bytes(top5), name="m.csv"))
    built_release(dataset, django_capture_on_commit_callbacks)
    return dataset


def _text(html: str) -> str:
    """The page's visible text: tags, scripts and attribute values left out."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_every_page_groups_the_thousands_of_its_counts(big, client, staff):
    staff.groups.set(role_groups(*ROLES))
    client.force_login(staff)
    model, release = PredictionSet.objects.get(), Release.objects.get()
    pages = {
        "/": ["1,500", "1,000"],
        "/datasets/big/evaluation/": ["1,500"],
        f"/prediction-sets/{model.pk}/": ["1,500"],
        "/datasets/big/releases/": ["1,500"],
        f"/releases/{release.pk}/": ["1,500", "9,000"],
        "/datasets/big/agreement/": ["9,000", "3,000", "1,500"],
        "/review/": ["1,500"],
        "/review/big/": ["1,500"],
    }
    for path, expected in pages.items():
        response = client.get(path)
        assert response.status_code == 200, path
        text = _text(response.content.decode())
        for number in expected:
            assert re.search(rf"(?<![\d,.]){re.escape(number)}(?![\d,])", text), (path, number)
        raw = [n for n in RAW if re.search(rf"(?<![\w.,:-]){n}(?![\w,.%:])", text)]  # ids such as watermarks aside
        assert raw == [], (
            path,
            raw,
            [text[max(0, m.start() - 60) : m.end() + 30] for n in raw for m in re.finditer(n, text)][:3],
        )
