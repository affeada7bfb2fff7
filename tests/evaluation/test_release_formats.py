"""The pure parts of releases: which classes an image gets, and the streaming writers' exact output."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile

import pytest

from evaluation.core.release_formats import (
    FLUSH_EVERY,
    HashingWriter,
    ImageFileWriters,
    ImageRecord,
    JsonlWriter,
    RealJsonWriter,
    image_record_dict,
    write_zip,
)
from evaluation.core.release_rules import ConsensusFacts, ReleaseParameters, image_outcome

MAJORITY = ReleaseParameters(aggregation="majority", threshold=0.5, min_annotations=3)
DS = ReleaseParameters(aggregation="dawid_skene", threshold=0.8, min_annotations=3)


def _facts(**fields) -> ConsensusFacts:
    return ConsensusFacts(has_row=True, annotation_count=3, **fields)


def test_majority_takes_classes_at_or_above_the_threshold_answered_by_enough_annotators():
    facts = _facts(
        counts={"10": [3, 0, 0], "11": [1, 1, 1], "12": [1, 0, 0], "13": [1, 2, 0]},
        shares={"10": 1.0, "11": 0.5, "12": 1.0, "13": 0.333333},
    )
    outcome = image_outcome(facts, MAJORITY)
    # 12 was found through search by one annotator: a share of 1.0, but one answer is not enough.
    assert outcome.classes == [10, 11] and outcome.status == "agreed" and outcome.support == {10: 1.0, 11: 0.5}
    assert image_outcome(facts, ReleaseParameters("majority", 0.6, 3)).classes == [10]


@pytest.mark.parametrize("params", [MAJORITY, DS], ids=["majority", "dawid_skene"])
def test_annotators_who_cast_no_vote_on_a_class_still_count_towards_the_answers_it_needs(params):
    # A third annotator reported a bad image (no vote): two yes answers of three annotations are not enough.
    bad_image = _facts(counts={"10": [2, 0, 0]}, shares={"10": 1.0}, posterior={"10": 0.99}, disputed=True)
    assert image_outcome(bad_image, params).classes == []
    # hubble_deep_field.jpg: three None fits / Bad image, one annotator found "planetarium" through search.
    hubble = ConsensusFacts(True, 4, {"10": [1, 0, 0]}, {"10": 1.0}, {"10": 0.99}, disputed=True)
    assert image_outcome(hubble, params).classes == [] and image_outcome(hubble, params).companion == "empty"


def test_dawid_skene_takes_classes_whose_posterior_exceeds_the_threshold():
    counts = {"10": [3, 0, 0], "11": [2, 1, 0], "12": [0, 3, 0]}
    facts = _facts(counts=counts, posterior={"10": 0.95, "11": 0.8, "12": 0.1}, disputed=True)
    outcome = image_outcome(facts, DS)
    assert outcome.classes == [10] and outcome.status == "disputed" and outcome.support == {10: 0.95}


def test_too_few_annotations_or_no_consensus_row_is_pending_with_an_empty_set():
    assert image_outcome(ConsensusFacts(has_row=False), MAJORITY).companion == "pending"
    few = ConsensusFacts(has_row=True, annotation_count=2, counts={"10": [2, 0, 0]}, shares={"10": 1.0})
    assert image_outcome(few, MAJORITY).classes == [] and image_outcome(few, MAJORITY).status == "pending"


def test_only_an_image_nobody_answered_keeps_its_original_label_and_only_when_asked_to():
    real = ReleaseParameters("majority", 0.5, 3, unanswered_as_original=True)
    unanswered = ConsensusFacts(has_row=False, original=10)
    outcome = image_outcome(unanswered, real)
    assert (outcome.status, outcome.classes, outcome.support, outcome.companion) == (
        "original",
        [10],
        {10: None},
        "original",
    )
    assert image_outcome(unanswered, MAJORITY).companion == "pending"  # the option off
    assert image_outcome(ConsensusFacts(has_row=False), real).companion == "pending"  # no original label
    few = ConsensusFacts(True, 1, {"11": [1, 0, 0]}, {"11": 1.0}, original=10)
    assert image_outcome(few, real).companion == "pending"  # answered, not yet enough
    settled = ConsensusFacts(False, 0, labels=(12,), adjudicated=True, original=10)
    assert image_outcome(settled, real).classes == [12]  # a reviewer's set wins


def test_a_reviewers_set_and_exclusion_apply_only_when_adjudications_do():
    adjudicated = _facts(counts={"10": [3, 0, 0]}, shares={"10": 1.0}, labels=(11,), adjudicated=True)
    assert image_outcome(adjudicated, MAJORITY).classes == [11]
    assert image_outcome(adjudicated, MAJORITY).status == "adjudicated"
    crowd = ReleaseParameters("majority", 0.5, 3, apply_adjudications=False)
    assert image_outcome(adjudicated, crowd).classes == [10]
    excluded = _facts(counts={"10": [3, 0, 0]}, shares={"10": 1.0}, adjudicated=True, excluded=True)
    assert image_outcome(excluded, MAJORITY).companion == "excluded" and image_outcome(excluded, MAJORITY).classes == []
    assert image_outcome(excluded, crowd).companion == "labelled"


@pytest.mark.parametrize("lists", [[], [[]], [[490], [361, 171], [], [1, 2, 3]]])
def test_the_real_writer_writes_exactly_what_json_dumps_would(lists):
    out = io.BytesIO()
    writer = RealJsonWriter(out)
    for labels in lists:
        writer.add(labels)
    writer.close()
    assert out.getvalue() == json.dumps(lists).encode()


def _record(position: int, classes: list[int], companion: str = "labelled") -> ImageRecord:
    return ImageRecord(
        key=f"k,{position}.jpg",
        position=position,
        original=(classes[0], f"n{classes[0]:08d}", "crane, bird") if classes else None,
        classes=[(c, f"n{c:08d}", f"class {c}") for c in classes],
        support=[round(0.5 + c / 100, 2) for c in classes],
        annotators=3,
        agreement=0.75,
        status="agreed" if companion != "pending" else "pending",
        adjudicated=False,
        companion=companion,
    )


def test_the_per_image_writers_stream_many_batches_and_count_as_they_go():
    outs = [HashingWriter(io.BytesIO()) for _ in range(4)]
    writers = ImageFileWriters.to(*outs)
    n = FLUSH_EVERY * 2 + 7
    writers.add_all(
        _record(p, [p % 5, 7] if p % 3 == 0 else [] if p % 3 == 1 else [p % 5], "empty" if p % 3 == 1 else "labelled")
        for p in range(n)
    )
    writers.close()
    real = json.loads(outs[0].out.getvalue())
    assert len(real) == n and real[0] == [0, 7] and real[1] == []
    assert json.loads(outs[1].out.getvalue())[:3] == ["labelled", "empty", "labelled"]
    lines = outs[2].out.getvalue().decode().splitlines()
    assert len(lines) == n and json.loads(lines[0])["classes"][1] == {"index": 7, "wnid": "n00000007",
                                                                        "name": "class 7", "support": 0.57}  # fmt: skip
    records = [_record(p, [p % 5, 7] if p % 3 == 0 else []) for p in range(3)]
    assert [json.loads(line) for line in lines[:3]][0] == image_record_dict(records[0])
    rows = list(csv.DictReader(io.StringIO(outs[3].out.getvalue().decode())))
    assert len(rows) == n and rows[0]["key"] == "k,0.jpg" and rows[0]["original_name"] == "crane, bird"
    counts = writers.counts
    assert (counts.n_images, counts.n_empty) == (n, (n + 1) // 3)
    assert counts.multi_label_share == pytest.approx(len(range(0, n, 3)) / (n - counts.n_empty))
    for out in outs:
        assert out.sha256 == hashlib.sha256(out.out.getvalue()).hexdigest() and out.size == len(out.out.getvalue())


class _Unseekable:
    def __init__(self) -> None:
        self.buffer = io.BytesIO()

    def write(self, data: bytes) -> int:
        return self.buffer.write(data)

    def flush(self) -> None:
        pass


def test_the_zip_is_written_to_an_unseekable_stream_from_openers():
    out = _Unseekable()
    write_zip(out, [("a.json", lambda: io.BytesIO(b"[[1]]")), ("b.csv", lambda: io.BytesIO(b"x\n" * 100_000))])
    archive = zipfile.ZipFile(io.BytesIO(out.buffer.getvalue()))
    assert archive.read("a.json") == b"[[1]]" and archive.read("b.csv") == b"x\n" * 100_000


def test_jsonl_lines_are_exactly_the_record_dicts_including_escapes_and_missing_values():
    out = io.BytesIO()
    writer = JsonlWriter(out)
    record = ImageRecord(
        key='odd "name"\\ ünï.jpg', position=3, original=None, classes=[(4, "n4", 'a "quoted", name')],
        support=[None], annotators=0, agreement=None, status="adjudicated", adjudicated=True, companion="labelled",
    )  # fmt: skip
    writer.add(record)
    writer.flush()
    assert json.loads(out.getvalue()) == image_record_dict(record)
