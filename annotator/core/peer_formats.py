"""Reading multi-label answers exported by the peers: Label Studio's JSON export and CVAT for images 1.1 XML.

Pure (json, defusedxml, numpy; no Django). Both give a `VoteTable` of **yes votes only**: a peer's export says
which classes an annotator chose, not which ones they looked at and rejected (Label Studio's choice list and
CVAT's tag list may hold hundreds of classes nobody was asked about one by one), so the classes shown are the
chosen ones and no "no" vote is invented. A task or image an annotator left without any choice adds nothing:
it cannot be told from one they never opened.

Class references are the peer's choice values or label names, matched to a class key or a class name by the
import (`VoteTable.class_by_name`). Images are matched by file name: the last segment of Label Studio's
`data.image` URL (its `?d=` path for local files); a name Label Studio's upload prefixed with 8 hex digits and
a dash also matches without that prefix (`VoteTable.image_fallback`).
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, iterparse

from annotator.core.aggregation import YES
from annotator.core.vote_formats import NUL, NUL_REFUSED, VoteFormatError, VoteTable

MAX_ERRORS = 5
LABEL_STUDIO_RATER = "label-studio-{}"
# Tags CVAT made without a person deciding: a model's ("auto") and a consensus job's merged result.
CVAT_MACHINE_SOURCES = frozenset({"auto", "consensus"})
_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-(.+)$")


@dataclass
class _YesVotes:
    """Collects (image, class, rater) yes votes with where each question was first read."""

    questions: dict[tuple[str, str], int] = field(default_factory=dict)
    where: list[str] = field(default_factory=list)
    raters: dict[str, int] = field(default_factory=dict)
    seen: set[tuple[int, int]] = field(default_factory=set)
    question: list[int] = field(default_factory=list)
    rater: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, image: str, class_ref: str, rater: str, where: str) -> None:
        if any(NUL in value for value in (image, class_ref, rater)):
            self.error(f"{where}: {NUL_REFUSED}")
            return
        q = self.questions.setdefault((image, class_ref), len(self.questions))
        if q == len(self.where):
            self.where.append(where)
        r = self.raters.setdefault(rater, len(self.raters))
        if (q, r) not in self.seen:  # the same choice twice in one answer is one vote
            self.seen.add((q, r))
            self.question.append(q)
            self.rater.append(r)

    def error(self, message: str) -> None:
        self.errors.append(message)
        if len(self.errors) >= MAX_ERRORS:
            raise VoteFormatError("\n".join(self.errors))

    def table(self, fallback: dict[str, str] | None = None) -> VoteTable:
        if self.errors:
            raise VoteFormatError("\n".join(self.errors))
        if not self.question:
            raise VoteFormatError("no answer in the file: no annotator chose any class")
        keys = list(self.questions)
        fallbacks = None
        if fallback:
            fallbacks = np.array([fallback.get(k[0], "") for k in keys], dtype=str)
        return VoteTable(
            image_keys=np.array([k[0] for k in keys], dtype=str),
            class_refs=np.array([k[1] for k in keys], dtype=str),
            where=self.where,
            rater_ids=np.array(list(self.raters), dtype=str),
            question=np.array(self.question, np.int64),
            rater=np.array(self.rater, np.int64),
            answer=np.full(len(self.question), YES, np.int8),
            class_by_name=True,
            image_fallback=fallbacks,
        )


# --- Label Studio ------------------------------------------------------------------------------------------------


def image_file_name(url: str) -> str:
    """The file name in Label Studio's `data.image`: an upload path, a cloud URL or a local-files `?d=` path."""
    parts = urlsplit(url)
    path = parse_qs(parts.query).get("d", [parts.path])[0]
    return unquote(path).replace("\\", "/").rsplit("/", 1)[-1]


def read_label_studio_votes(path: str | PathLike[str]) -> VoteTable:
    """Label Studio's JSON export (a list of tasks) of a `<Choices choice="multiple">` project.

    Per task, `data.image` names the image; per annotation that was not cancelled (skipped), `completed_by` (a
    user id, or an object with an `id`) is the rater `label-studio-<id>` and every `choices` result's
    `value.choices` are the chosen classes. Errors name the line on which the offending task starts.
    """
    text = Path(path).read_text(encoding="utf-8-sig")
    votes, fallback = _YesVotes(), {}
    for number, line, task in _json_list_items(text):
        where = f"line {line} (task {number})"
        if not isinstance(task, dict):
            votes.error(f"{where}: a task must be an object, got {type(task).__name__}")
            continue
        image = task.get("data", {}).get("image") if isinstance(task.get("data"), dict) else None
        if not isinstance(image, str) or not image_file_name(image):
            votes.error(f"{where}: no data.image naming the image")
            continue
        name = image_file_name(image)
        if match := _UPLOAD_PREFIX.match(name):
            fallback[name] = match.group(1)
        annotations = task.get("annotations", [])
        if not isinstance(annotations, list):
            votes.error(f"{where}: annotations must be a list")
            continue
        for a, annotation in enumerate(annotations, start=1):
            _label_studio_annotation(votes, name, annotation, f"{where}, annotation {a}")
    return votes.table(fallback)


def _label_studio_annotation(votes: _YesVotes, image: str, annotation: Any, where: str) -> None:
    if not isinstance(annotation, dict):
        votes.error(f"{where}: an annotation must be an object")
        return
    if annotation.get("was_cancelled"):
        return
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        who = who.get("id")
    if isinstance(who, bool) or not isinstance(who, (int, str)) or str(who).strip() == "":
        votes.error(f"{where}: completed_by must be a user id, got {who!r}")
        return
    results = annotation.get("result", [])
    if not isinstance(results, list):
        votes.error(f"{where}: result must be a list")
        return
    for result in results:
        if not isinstance(result, dict) or result.get("type") != "choices":
            continue  # other controls of the labelling config (text areas, ratings…) carry no class
        choices = result.get("value", {}).get("choices") if isinstance(result.get("value"), dict) else None
        if not isinstance(choices, list) or not all(isinstance(c, str) and c.strip() for c in choices):
            votes.error(f"{where}: value.choices must be a list of class names, got {choices!r}")
            return
        for choice in choices:
            votes.add(image, choice.strip(), LABEL_STUDIO_RATER.format(str(who).strip()), where)


def _json_list_items(text: str) -> Iterator[tuple[int, int, Any]]:
    """(number, line, item) for each item of a top-level JSON list, with the line on which it starts."""
    decoder = json.JSONDecoder()
    try:
        at = _skip_space(text, 0)
        if text[at : at + 1] != "[":
            raise VoteFormatError("line 1: a Label Studio JSON export is a list of tasks ([…])")
        at = _skip_space(text, at + 1)
        number = 0
        while text[at : at + 1] != "]":
            if number:
                if text[at : at + 1] != ",":
                    raise json.JSONDecodeError("expected ',' or ']'", text, at)
                at = _skip_space(text, at + 1)
            number += 1
            item, end = decoder.raw_decode(text, at)
            yield number, text.count("\n", 0, at) + 1, item
            at = _skip_space(text, end)
    except json.JSONDecodeError as error:
        raise VoteFormatError(f"line {error.lineno}, column {error.colno}: not valid JSON: {error.msg}") from error
    except IndexError as error:
        raise VoteFormatError("the file ends before its list of tasks does") from error


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    if at >= len(text):
        raise IndexError(at)
    return at


# --- CVAT --------------------------------------------------------------------------------------------------------


def read_cvat_votes(path: str | PathLike[str], *, annotator: str | None = None) -> VoteTable:
    """CVAT for images 1.1 XML with tag annotations, `<image name=…><tag label=… source=…/></image>`, alone or
    as `annotations.xml` in the zip CVAT downloads.

        The rater of a tag is, in this order: the tag's own `<attribute name="annotator">`, the assignee of the
        exported job (`meta/job/assignee/username`: one job export per annotator), or `annotator`. Tags from a
        model or a consensus merge (`source="auto"` or `"consensus"`) are no person's answer and are skipped.
        Parsed with defusedxml: a DTD's entities and external references are refused. Errors name the image
        element (1-based) and its name.
    """
    if zipfile.is_zipfile(path):  # CVAT's download: a zip with annotations.xml (and images/, not read)
        with zipfile.ZipFile(path) as archive:
            if "annotations.xml" not in archive.namelist():
                raise VoteFormatError("the zip holds no annotations.xml: not a CVAT for images 1.1 export")
            with archive.open("annotations.xml") as source:
                return _read_cvat(source, annotator)
    with open(path, "rb") as source:
        return _read_cvat(source, annotator)


def _read_cvat(source: IO[bytes], annotator: str | None) -> VoteTable:
    votes = _YesVotes()
    assignee: str | None = None
    number, path_now = 0, []
    try:
        for event, element in iterparse(source, events=("start", "end"), forbid_dtd=False):
            if event == "start":
                path_now.append(element.tag)
                continue
            if path_now == ["annotations", "meta", "job", "assignee"]:
                assignee = (element.findtext("username") or "").strip() or None
            elif path_now == ["annotations", "image"]:
                number += 1
                _cvat_image(votes, element, number, assignee or annotator)
                element.clear()
            path_now.pop()
    except ParseError as error:
        line, column = error.position
        what = str(error).rsplit(": line", 1)[0]
        raise VoteFormatError(f"line {line}, column {column}: not well-formed XML ({what})") from error
    except DefusedXmlException as error:
        raise VoteFormatError(f"refused XML: {error} (entities and external references are not read)") from error
    if number == 0 and not votes.errors:
        raise VoteFormatError("no <image> element under <annotations>: not a CVAT for images 1.1 export")
    return votes.table()


def _cvat_image(votes: _YesVotes, image: Any, number: int, default_rater: str | None) -> None:
    name = image.get("name", "").replace("\\", "/").rsplit("/", 1)[-1]
    where = f"image element {number} ({name!r})" if name else f"image element {number}"
    if not name:
        votes.error(f"{where}: no name attribute")
        return
    for t, tag in enumerate(image.iter("tag"), start=1):
        if tag.get("source", "manual") in CVAT_MACHINE_SOURCES:
            continue
        label = (tag.get("label") or "").strip()
        rater = next((a.text for a in tag.iter("attribute") if a.get("name") == "annotator"), None)
        rater = (rater or "").strip() or default_rater
        if not label:
            votes.error(f"{where}, tag {t}: no label attribute")
        elif rater is None:
            votes.error(
                f"{where}, tag {t}: no annotator: export one job per annotator (its assignee is the rater), give "
                "tags an 'annotator' attribute, or name the annotator with --annotator"
            )
        else:
            votes.add(name, label, rater, where)
