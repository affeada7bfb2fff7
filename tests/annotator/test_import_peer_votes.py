"""import_votes from the peers: Label Studio's JSON export and CVAT for images 1.1 XML (fixtures in
tests/data/peers/, made to the peers' documented export schemas). Expected votes are worked out by hand from
the fixtures; only chosen classes become votes (yes), nothing else."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from annotator.core.peer_formats import image_file_name, read_cvat_votes, read_label_studio_votes
from annotator.core.vote_formats import VoteFormatError
from annotator.models import Annotation, Consensus, LabelClass, Vote
from tests.builders.prediction_sets import build_dataset

pytestmark = pytest.mark.django_db

PEERS = Path(__file__).resolve().parent.parent / "data" / "peers"
LABEL_STUDIO = PEERS / "label_studio_export.json"
CVAT_JOB = PEERS / "cvat_job_alice.xml"
CVAT_TASK = PEERS / "cvat_task_no_assignee.xml"

# (image position, class index, rater) of every choice in label_studio_export.json, read off the file by hand:
# task 101's third annotation was cancelled, task 103's first chose nothing, predictions are no one's answer.
LABEL_STUDIO_VOTES = {
    (0, 0, "label-studio-11"), (0, 1, "label-studio-11"), (0, 0, "label-studio-12"),
    (1, 2, "label-studio-11"), (1, 2, "label-studio-12"), (1, 3, "label-studio-12"), (1, 2, "label-studio-13"),
    (2, 4, "label-studio-12"),
}  # fmt: skip
# cvat_job_alice.xml: the job's assignee alice, one tag carrying annotator=bob, a model's tag (auto) skipped.
CVAT_VOTES = {(0, 0, "alice"), (0, 1, "alice"), (1, 2, "alice"), (1, 0, "bob")}


@pytest.fixture
def tiny():
    return build_dataset("tiny")


def _imported_votes() -> set[tuple[int, int, str]]:
    rows = Vote.objects.values_list("image__position", "label_class__index", "annotator__username", "answer")
    assert {answer for *_, answer in rows} <= {"yes"}
    return {(p, c, user.removeprefix("imported-")) for p, c, user, _ in rows}


def _nothing_written() -> bool:
    imported = get_user_model().objects.filter(username__startswith="imported-").exists()
    return not (Annotation.objects.exists() or Vote.objects.exists() or Consensus.objects.exists() or imported)


def _refused(tmp_path: Path, name: str, text: str, *options: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(CommandError) as error:
        call_command("import_votes", "tiny", str(path), *options)
    assert error.value.returncode == 2
    assert _nothing_written()
    return str(error.value)


def test_a_label_studio_export_becomes_yes_votes_on_the_chosen_classes_only(tiny):
    call_command("import_votes", "tiny", str(LABEL_STUDIO))
    assert _imported_votes() == LABEL_STUDIO_VOTES
    users = get_user_model().objects.filter(username__startswith="imported-")
    assert sorted(users.values_list("username", flat=True)) == [f"imported-label-studio-{i}" for i in (11, 12, 13)]
    # Shown = chosen: the choice list's other classes are unknown for each annotator, not "no".
    annotations = list(Annotation.objects.all())
    assert len(annotations) == 6 and all(a.shown == a.classes for a in annotations)
    c2 = LabelClass.objects.get(dataset=tiny, index=2).pk
    # Image 1: three annotators chose class 2 (valid, N = 3); class 3 has one answer of three (few answers).
    consensus = Consensus.objects.get(image__position=1)
    assert consensus.labels == [c2] and consensus.status == "disputed"
    assert Consensus.objects.get(image__position=0).status == "pending"  # two annotations of three


def test_the_votes_match_an_independent_reading_of_the_label_studio_json():
    tasks = json.loads(LABEL_STUDIO.read_text())
    expected = set()
    for task in tasks:
        name = task["data"]["image"].replace("%2F", "/").rsplit("/", 1)[-1].removeprefix("5c2e1f9a-")
        for annotation in task["annotations"]:
            rater = annotation["completed_by"]
            rater = rater["id"] if isinstance(rater, dict) else rater
            for result in annotation["result"]:
                if result["type"] == "choices" and not annotation["was_cancelled"]:
                    expected |= {(name, choice, f"label-studio-{rater}") for choice in result["value"]["choices"]}
    table = read_label_studio_votes(LABEL_STUDIO)
    image = [str(table.image_fallback[q]) or str(table.image_keys[q]) for q in table.question]
    read = {(image[v], str(table.class_refs[q]), str(table.rater_ids[r]))
            for v, (q, r) in enumerate(zip(table.question, table.rater, strict=True))}  # fmt: skip
    assert read == expected and len(expected) == len(LABEL_STUDIO_VOTES)


def test_importing_a_peer_file_again_writes_nothing(tiny):
    call_command("import_votes", "tiny", str(LABEL_STUDIO))
    before = list(Consensus.objects.order_by("pk").values_list("pk", "updated_at"))
    call_command("import_votes", "tiny", str(LABEL_STUDIO))
    assert Vote.objects.count() == len(LABEL_STUDIO_VOTES) and Annotation.objects.count() == 6
    assert list(Consensus.objects.order_by("pk").values_list("pk", "updated_at")) == before


def test_a_cvat_job_export_takes_its_assignee_or_a_tags_annotator_attribute_and_skips_model_tags(tiny):
    call_command("import_votes", "tiny", str(CVAT_JOB))
    assert _imported_votes() == CVAT_VOTES
    assert Annotation.objects.count() == 3 and all(a.shown == a.classes for a in Annotation.objects.all())


def test_cvats_zip_download_is_read_from_its_annotations_xml(tiny, tmp_path):
    with zipfile.ZipFile(tmp_path / "job_41.zip", "w") as archive:
        archive.write(CVAT_JOB, "annotations.xml")
        archive.writestr("images/img_00000.JPEG", b"not read")
    call_command("import_votes", "tiny", str(tmp_path / "job_41.zip"))
    assert _imported_votes() == CVAT_VOTES
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("labels.xml", "<annotations/>")
    with pytest.raises(CommandError, match="the zip holds no annotations.xml"):
        call_command("import_votes", "tiny", str(tmp_path / "other.zip"))


def test_a_cvat_export_without_an_annotator_is_refused_unless_one_is_named(tiny, tmp_path):
    message = _refused(tmp_path, "task.xml", CVAT_TASK.read_text())
    assert "image element 1 ('img_00003.JPEG'), tag 1: no annotator" in message
    call_command("import_votes", "tiny", str(tmp_path / "task.xml"), "--annotator", "carol")
    assert _imported_votes() == {(3, 3, "carol"), (4, 3, "carol")}


def test_the_format_can_be_named_whatever_the_extension(tiny, tmp_path):
    shutil.copy(LABEL_STUDIO, tmp_path / "export.txt")
    call_command("import_votes", "tiny", str(tmp_path / "export.txt"), "--format", "label-studio")
    assert len(_imported_votes()) == len(LABEL_STUDIO_VOTES)


def _task(line_image: str = '"/data/upload/1/img_00004.JPEG"', completed_by: str = "5", choices: str = '["class 1"]'):
    return (
        '  {\n    "id": 9,\n    "data": {"image": ' + line_image + "},\n"
        '    "annotations": [{"completed_by": ' + completed_by + ', "was_cancelled": false,\n'
        '      "result": [{"type": "choices", "value": {"choices": ' + choices + "}}]}]\n  }"
    )


GOOD = _task()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[\n" + GOOD + ",\n" + GOOD.replace('"id": 9,', '"id": 9') + "\n]", "line 10, column 5: not valid JSON"),
        ("[\n" + GOOD + ",\n" + _task(line_image="null") + "\n]", "line 8 (task 2): no data.image"),
        ("[\n" + GOOD + ",\n" + _task(completed_by="null") + "\n]", "line 8 (task 2), annotation 1: completed_by"),
        ("[\n" + GOOD + ",\n" + _task(choices='"class 1"') + "\n]", "line 8 (task 2), annotation 1: value.choices"),
        ("[\n" + _task(choices='["zebra"]') + "\n]", "line 2 (task 1), annotation 1: class 'zebra' is not in"),
        ("[\n" + _task('"/x/nope.jpg"') + "\n]", "line 2 (task 1), annotation 1: image 'nope.jpg' is not in tiny"),
        ('{"tasks": []}', "line 1: a Label Studio JSON export is a list of tasks"),
        ("[\n" + GOOD, "ends before its list of tasks does"),
        ("[]", "no answer in the file"),
        ("[\n" + _task(choices='["class 1\\u0000"]') + "\n]", "annotation 1: a NUL character (\\x00), which no field"),
    ],
    ids=[
        "syntax",
        "no-image",
        "no-annotator",
        "choices-not-a-list",
        "unknown-class",
        "unknown-image",
        "not-a-list",
        "truncated",
        "empty",
        "nul",
    ],  # fmt: skip
)
def test_a_bad_label_studio_export_is_refused_naming_the_line_and_writes_nothing(tiny, tmp_path, text, message):
    assert message in _refused(tmp_path, "export.json", text)


def test_a_class_name_two_classes_share_must_be_given_by_key(tiny, tmp_path):
    LabelClass.objects.filter(dataset=tiny, index=5).update(name="class 1")
    message = _refused(tmp_path, "export.json", "[\n" + GOOD + "\n]")
    assert "line 2 (task 1), annotation 1: class 'class 1' names several classes; use its key" in message


CVAT_HEAD = '<?xml version="1.0" encoding="utf-8"?>\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (CVAT_HEAD + '<annotations>\n<image id="0" name="img_00000.JPEG">\n<tag label="class 0">\n</image>',
         "line 5, column 2: not well-formed XML (mismatched tag)"),
        (CVAT_HEAD + '<annotations><image id="0" name="img_00000.JPEG"><tag source="manual"/></image></annotations>',
         "image element 1 ('img_00000.JPEG'), tag 1: no label attribute"),
        (CVAT_HEAD + '<annotations><image id="0" name="x.jpg"><tag label="class 0"><attribute name="annotator">a'
         "</attribute></tag></image></annotations>", "image element 1 ('x.jpg'): image 'x.jpg' is not in tiny"),
        (CVAT_HEAD + "<annotations><version>1.1</version></annotations>", "no <image> element"),
    ],
    ids=["malformed", "no-label", "unknown-image", "no-image"],
)  # fmt: skip
def test_a_bad_cvat_export_is_refused_naming_the_element_and_writes_nothing(tiny, tmp_path, text, message):
    assert message in _refused(tmp_path, "export.xml", text, "--annotator", "a")


BILLION_LAUGHS = (
    CVAT_HEAD + '<!DOCTYPE annotations [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
    + ']>\n<annotations><image id="0" name="img_00000.JPEG"><tag label="&j;"/></image></annotations>'
)  # fmt: skip
EXTERNAL = (
    CVAT_HEAD + '<!DOCTYPE annotations [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n'
    '<annotations><image id="0" name="img_00000.JPEG"><tag label="&secret;"/></image></annotations>'
)


@pytest.mark.parametrize("text", [BILLION_LAUGHS, EXTERNAL], ids=["entity-expansion", "external-entity"])
def test_hostile_xml_is_refused_before_any_entity_is_expanded(tiny, tmp_path, text):
    assert "refused XML" in _refused(tmp_path, "hostile.xml", text, "--annotator", "a")


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/data/upload/3/5c2e1f9a-img_00000.JPEG", "5c2e1f9a-img_00000.JPEG"),
        ("/data/local-files/?d=imagenet%2Fval%2Fimg_00001.JPEG", "img_00001.JPEG"),
        ("s3://bucket/val/img%2000002.JPEG", "img 00002.JPEG"),
        ("https://example.org/a/b.jpg?X-Amz-Signature=abc", "b.jpg"),
        ("C:\\data\\c.png", "c.png"),
    ],
)
def test_label_studio_image_urls_give_the_file_name(url, name):
    assert image_file_name(url) == name


def test_the_readers_refuse_a_file_of_the_other_format():
    with pytest.raises(VoteFormatError):
        read_label_studio_votes(CVAT_JOB)
    with pytest.raises(VoteFormatError):
        read_cvat_votes(LABEL_STUDIO)
