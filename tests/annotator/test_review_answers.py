"""What the review screen and the history say each annotator answered: chosen classes, *maybe* answers
(imported or from the workbench's unsure), and an explicit "none of the classes" instead of a blank."""

from __future__ import annotations

import re
import uuid

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from annotator.models import Annotation, Image, LabelClass
from annotator.services.annotations import Answer, annotation_revise
from tests.builders.annotations import workbench_dataset
from tests.builders.review import answer_images

pytestmark = pytest.mark.django_db

# r1 chose class 0; r2 said maybe to both; r3 said no to both; r4 yes to 0 and maybe to 1 (imported answers
# carry no workbench flags, so the maybes live only in the votes).
CSV = """image,class,annotator,answer
pets_0000.jpg,n00009000,r1,yes
pets_0000.jpg,n00009001,r1,no
pets_0000.jpg,n00009000,r2,maybe
pets_0000.jpg,n00009001,r2,maybe
pets_0000.jpg,n00009000,r3,no
pets_0000.jpg,n00009001,r3,no
pets_0000.jpg,n00009000,r4,yes
pets_0000.jpg,n00009001,r4,maybe
"""


@pytest.fixture
def imported(tmp_path):
    dataset = workbench_dataset(images=3, classes=3, candidates_per_image=2)
    path = tmp_path / "votes.csv"
    path.write_text(CSV)
    call_command("import_votes", "pets", str(path))
    return dataset


def _cells(html: str, table_id: str) -> dict[str, str]:
    """Annotator name -> the text of the rest of their row, tags stripped (one row per annotator)."""
    table = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)
    cells = {}
    for row in rows:
        texts = [
            re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", td)).strip()
            for td in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        names = [t for t in texts if t.startswith("imported-") or t in {"anna", "bert", "carl"}]
        if names:
            cells[names[0]] = " | ".join(texts)
    return cells


def test_the_review_screen_shows_imported_maybe_answers_and_says_when_none_was_chosen(imported, reviewer, client):
    client.force_login(reviewer)
    image = Image.objects.get(dataset=imported, position=0)
    cells = _cells(client.get(f"/review/pets/images/{image.pk}/").content.decode(), "rv-answers")
    assert "maybe: pets class 0, pets class 1" in cells["imported-r2"]
    assert "pets class 0" in cells["imported-r4"] and "maybe: pets class 1" in cells["imported-r4"]
    assert "none of the 2 classes asked" in cells["imported-r3"]
    assert "maybe" not in cells["imported-r1"] and "none of" not in cells["imported-r1"]

    api = APIClient()
    api.force_login(reviewer)
    answers = {a["annotator"]: a for a in api.get(f"/api/images/{image.pk}/review/").json()["annotations"]}
    assert [c["name"] for c in answers["imported-r2"]["maybe"]] == ["pets class 0", "pets class 1"]
    assert answers["imported-r3"]["maybe"] == [] and answers["imported-r3"]["classes"] == []


def test_the_history_shows_maybe_answers_instead_of_an_empty_set(imported, reviewer, client):
    client.force_login(reviewer)
    image = Image.objects.get(dataset=imported, position=0)
    cells = _cells(client.get(f"/images/{image.pk}/history/").content.decode(), "rv-revisions")
    assert "maybe: pets class 0, pets class 1" in cells["imported-r2"] and "∅" not in cells["imported-r2"]
    assert "none of the 2 classes asked" in cells["imported-r3"]


def test_an_unsure_workbench_answer_shows_its_maybes_in_every_revision(team, reviewer, client):
    dataset = workbench_dataset(images=1, classes=3, candidates_per_image=3, annotators=team)
    c0, c1, c2 = LabelClass.objects.filter(dataset=dataset).order_by("index")
    answer_images(dataset, team[0], {0: Answer(classes=[c0.pk], unsure=True)})
    annotation = Annotation.objects.get(annotator=team[0])
    annotation_revise(
        annotator=team[0], annotation_id=annotation.pk, answer=Answer(classes=[c0.pk, c1.pk]), client_uuid=uuid.uuid4()
    )
    client.force_login(reviewer)
    image = Image.objects.get(dataset=dataset)
    history = client.get(f"/images/{image.pk}/history/").content.decode()
    revisions = history.split('id="rv-revisions"', 1)[1]
    first, second = re.findall(r"<tr><td>.*?</tr>", revisions, flags=re.S)[:2]
    assert f"maybe: {c1.name}, {c2.name}" in first or f"maybe: {c2.name}, {c1.name}" in first
    assert "maybe" not in second  # the revision said yes to 0 and 1, no to 2

    screen = _cells(client.get(f"/review/pets/images/{image.pk}/").content.decode(), "rv-answers")
    assert "maybe" not in screen["anna"] and c1.name in screen["anna"]
