"""import_votes: ReaL's raters.npz and the generic CSV, gold answers, refused input, idempotent re-import."""

from __future__ import annotations

from io import StringIO

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import transaction

from annotator.models import Annotation, AnnotationRevision, Consensus, GoldAnswer, Image, LabelClass, Vote
from annotator.roles import ANNOTATOR
from annotator.services.votes_import import RATER_ID_MAX
from tests.builders.annotations import workbench_dataset

pytestmark = pytest.mark.django_db

CSV = """image,class,annotator,answer
pets_0000.jpg,n00009000,r1,yes
pets_0000.jpg,n00009001,r1,no
pets_0000.jpg,n00009000,r2,yes
pets_0000.jpg,n00009001,r2,maybe
pets_0000.jpg,0,r3,yes
pets_0000.jpg,1,r3,yes
pets_0000.jpg,n00009000,r4,no
pets_0000.jpg,n00009001,r4,no
pets_0001.jpg,n00009001,r1,yes
"""


@pytest.fixture
def pets():
    return workbench_dataset(images=3, classes=3, candidates_per_image=2)


def _write(tmp_path, text: str, name: str = "votes.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _nothing_written() -> bool:
    return not (Annotation.objects.exists() or Vote.objects.exists() or Consensus.objects.exists()) and not (
        get_user_model().objects.filter(username__startswith="imported-").exists()
    )


def test_a_csv_becomes_inactive_annotator_accounts_annotations_votes_and_consensus(pets, tmp_path):
    call_command("import_votes", "pets", str(_write(tmp_path, CSV)))
    users = get_user_model().objects.filter(username__startswith="imported-")
    assert sorted(users.values_list("username", flat=True)) == [f"imported-r{i}" for i in (1, 2, 3, 4)]
    assert not any(u.is_active for u in users) and all(u.groups.filter(name=ANNOTATOR).exists() for u in users)
    assert set(pets.annotators.all()) == set(users)
    c0, c1 = (LabelClass.objects.get(dataset=pets, index=i).pk for i in (0, 1))
    first = Image.objects.get(dataset=pets, position=0)
    r2 = Annotation.objects.get(image=first, annotator__username="imported-r2")
    assert (r2.shown, r2.classes, r2.revision_count) == ([c0, c1], [c0], 1)
    assert dict(r2.votes.values_list("label_class_id", "answer")) == {c0: "yes", c1: "maybe"}
    assert AnnotationRevision.objects.filter(annotation=r2, number=1).exists()
    assert Vote.objects.count() == 9 and Annotation.objects.count() == 5
    # Each annotation's one revision is its copy (made by the server from the annotation rows).
    fields = ("annotator_id", "classes", "none_fits", "unsure", "bad_image", "seconds", "client_uuid", "created_at")
    revisions = {r.annotation_id: r for r in AnnotationRevision.objects.all()}
    assert sorted(revisions) == sorted(Annotation.objects.values_list("pk", flat=True))
    for annotation in Annotation.objects.all():
        revision = revisions[annotation.pk]
        assert revision.number == 1
        assert [getattr(revision, f) for f in fields] == [getattr(annotation, f) for f in fields]
    # 4 annotations on an image that needed 3: the need is raised, the counters follow
    first.refresh_from_db()
    assert (first.annotation_count, first.annotations_needed) == (4, 4)
    consensus = Consensus.objects.get(image=first)
    # imported answers carry no workbench flags: r2's maybe is a vote, not an "unsure" annotation
    assert consensus.status == "agreed" and consensus.counts[str(c1)] == [1, 2, 1]  # share 0.375
    assert consensus.counts[str(c0)] == [3, 1, 0] and consensus.labels == [c0]
    assert Consensus.objects.get(image__position=1).status == "pending"


def test_importing_the_same_file_again_writes_nothing(pets, tmp_path):
    path = _write(tmp_path, CSV)
    call_command("import_votes", "pets", str(path))
    before = list(Consensus.objects.order_by("pk").values_list("pk", "updated_at"))
    call_command("import_votes", "pets", str(path))
    assert Annotation.objects.count() == 5 and Vote.objects.count() == 9
    assert list(Consensus.objects.order_by("pk").values_list("pk", "updated_at")) == before
    assert Image.objects.get(dataset=pets, position=0).annotation_count == 4


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("nope.jpg,n00009000,r1,yes", "image 'nope.jpg' is not in pets"),
        ("pets_0000.jpg,n99999999,r1,yes", "class 'n99999999' is not in its vocabulary"),
        ("pets_0000.jpg,7,r1,yes", "class '7' is not in its vocabulary"),
        ("pets_0000.jpg,n00009000,r1,perhaps", "answer 'perhaps' is not yes, no or maybe"),
        ("pets_0000.jpg,n00009000,r1", "expected 4 non-empty columns"),
        ("pets_0000.jpg,0,r1,no", "rater 'r1' answered it twice"),
        # numpy's strings drop a trailing NUL: "r1\x00" was r1, one account, and a duplicate vote failed the COPY
        ("pets_0000.jpg,n00009000,r1\x00,yes", "line 11: a NUL character (\\x00), which no field accepts"),
        ("pets_\x000000.jpg,n00009000,r9,yes", "line 11: a NUL character (\\x00), which no field accepts"),
    ],
)
def test_bad_input_exits_with_status_2_naming_the_row_and_writes_nothing(pets, tmp_path, row, message):
    path = _write(tmp_path, CSV + row + "\n")
    with pytest.raises(CommandError) as error:
        call_command("import_votes", "pets", str(path))
    assert error.value.returncode == 2 and message in str(error.value)
    assert ("line 11" in str(error.value)) or "twice" in message
    assert _nothing_written()


def test_an_unknown_dataset_exits_with_status_2(tmp_path):
    with pytest.raises(CommandError) as error:
        call_command("import_votes", "nope", str(_write(tmp_path, CSV)))
    assert error.value.returncode == 2


def test_reals_npz_format_and_gold_answers_import(pets, tmp_path):
    # raters × questions × (no, maybe, yes), info = (file name, class index), ids = rater ids
    tensor = np.zeros((2, 2, 3), np.int8)
    tensor[0, 0, 2] = tensor[1, 0, 2] = 1  # both say yes to question 0
    tensor[0, 1, 0] = tensor[1, 1, 1] = 1  # no and maybe to question 1
    info = np.array([["pets_0002.jpg", "2"], ["pets_0002.jpg", "0"]])
    np.savez(tmp_path / "raters.npz", tensor=tensor, info=info, ids=np.array(["17", "42"]))
    experts = np.zeros((1, 2, 3), np.int8)
    experts[0, 0, 2] = experts[0, 1, 0] = 1
    np.savez(tmp_path / "golden.npz", tensor=experts, info=info, ids=np.array(["expert"]))
    call_command("import_votes", "pets", str(tmp_path / "raters.npz"), "--gold", str(tmp_path / "golden.npz"))
    c0, c2 = (LabelClass.objects.get(dataset=pets, index=i).pk for i in (0, 2))
    assert sorted(Vote.objects.values_list("annotator__username", "label_class_id", "answer")) == sorted(
        [
            ("imported-17", c2, "yes"),
            ("imported-42", c2, "yes"),
            ("imported-17", c0, "no"),
            ("imported-42", c0, "maybe"),
        ]
    )
    assert dict(GoldAnswer.objects.values_list("label_class_id", "answer")) == {c2: "yes", c0: "no"}


def test_gold_answers_from_a_csv_are_upserted(pets, tmp_path):
    call_command("import_votes", "pets", str(_write(tmp_path, CSV)), "--gold",
                 str(_write(tmp_path, "image,class,answer\npets_0000.jpg,0,yes\n", "gold.csv")))  # fmt: skip
    call_command("import_votes", "pets", str(_write(tmp_path, CSV)), "--gold",
                 str(_write(tmp_path, "pets_0000.jpg,n00009000,no\n", "gold2.csv")))  # fmt: skip
    assert list(GoldAnswer.objects.values_list("answer", flat=True)) == ["no"]


def _random_votes_csv(seed: int, images: int, classes: int) -> list[str]:
    """Rows in random order: 1-5 of 7 raters per image answer 1-3 classes each, named by key or by index."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(images):
        for rater in rng.choice(7, rng.integers(1, 6), replace=False):
            for c in rng.choice(classes, rng.integers(1, 4), replace=False):
                ref = f"n{9000 + c:08d}" if rng.random() < 0.5 else str(c)
                rows.append(f"wide_{i:04d}.jpg,{ref},r{rater},{('no', 'yes', 'maybe')[rng.integers(0, 3)]}")
    return [rows[k] for k in rng.permutation(len(rows))]


def _stored_rows() -> dict[str, list]:
    """Everything an import writes, with annotation ids as their rank (the sequence moves on between imports)."""
    ids = sorted(Annotation.objects.values_list("pk", flat=True))
    rank = {pk: k for k, pk in enumerate(ids)}
    key = dict(LabelClass.objects.values_list("pk", "key"))
    consensus = Consensus.objects.values_list("image__key", "status", "labels", "counts")
    return {
        "annotations": sorted(
            (
                rank[a.pk],
                a.image.key,
                a.annotator.username,
                [key[c] for c in a.shown],
                [key[c] for c in a.classes],
                str(a.client_uuid),
                a.revision_count,
            )
            for a in Annotation.objects.select_related("image", "annotator")
        ),
        "revisions": sorted(
            (rank[r.annotation_id], r.number, r.annotator.username, [key[c] for c in r.classes], str(r.client_uuid))
            for r in AnnotationRevision.objects.select_related("annotator")
        ),
        "votes": sorted(
            (rank[v.annotation_id], v.image.key, v.label_class.key, v.annotator.username, v.answer)
            for v in Vote.objects.select_related("image", "label_class", "annotator")
        ),
        "images": sorted(Image.objects.values_list("key", "annotation_count", "annotations_needed")),
        "consensus": sorted(
            (image, status, [key[c] for c in labels], sorted((key[int(c)], n) for c, n in counts.items()))
            for image, status, labels, counts in consensus
        ),
    }


def test_the_write_by_blocks_stores_exactly_what_one_block_stores(tmp_path, monkeypatch):
    """Blocks of 1, 3 and 7 votes (annotations never split, a block may hold none to write) against one block,
    over a dataset where some (image, rater) pairs were imported before and are skipped."""
    from annotator.services import votes_blocks

    workbench_dataset(slug="wide", images=9, classes=6, annotations_per_image=2)
    rows = _random_votes_csv(5, images=9, classes=6)
    earlier = _write(tmp_path, "\n".join(row for row in rows if row.split(",")[2] in ("r1", "r4")) + "\n", "a.csv")
    everything = _write(tmp_path, "\n".join(rows) + "\n", "b.csv")
    stored = {}
    for block in (1 << 19, 1, 3, 7):
        monkeypatch.setattr(votes_blocks, "WRITE_BLOCK", block)
        with transaction.atomic():
            call_command("import_votes", "wide", str(earlier))
            out = StringIO()
            call_command("import_votes", "wide", str(everything), stdout=out)
            stored[block] = (_stored_rows(), out.getvalue().split(", 0 gold")[0])
            transaction.set_rollback(True)
    assert stored[1 << 19][0]["votes"] and "annotations already present" in stored[1 << 19][1]
    assert stored[1] == stored[1 << 19] and stored[3] == stored[1 << 19] and stored[7] == stored[1 << 19]


def test_a_bad_line_in_the_last_block_of_the_file_writes_nothing(pets, tmp_path, monkeypatch):
    """The file is read and written by blocks far smaller than it; a bad last line still refuses everything."""
    from annotator.core import vote_formats
    from annotator.services import votes_blocks

    monkeypatch.setattr(vote_formats, "CSV_BLOCK_BYTES", 64)
    monkeypatch.setattr(votes_blocks, "WRITE_BLOCK", 2)
    path = _write(tmp_path, CSV + "pets_0002.jpg,n00009000,r1,perhaps\n")
    with pytest.raises(CommandError) as error:
        call_command("import_votes", "pets", str(path))
    assert error.value.returncode == 2 and "line 11: answer 'perhaps' is not yes, no or maybe" in str(error.value)
    assert _nothing_written()
    call_command("import_votes", "pets", str(_write(tmp_path, CSV)))
    assert Vote.objects.count() == 9 and Annotation.objects.count() == 5


def test_a_rater_id_too_long_for_an_account_name_is_refused_not_cut_short(pets, tmp_path):
    """Accounts are `imported-<rater id>` in 150 characters: cut short, two raters sharing their first 141
    characters were one account and the import failed on a duplicate vote."""
    fits, longer = "x" * RATER_ID_MAX, "x" * RATER_ID_MAX + "1"
    rows = f"pets_0000.jpg,n00009000,{longer},yes\npets_0000.jpg,n00009000,{longer[:-1]}2,no\n"
    with pytest.raises(CommandError) as error:
        call_command("import_votes", "pets", str(_write(tmp_path, CSV + rows)))
    assert error.value.returncode == 2
    assert f"is {RATER_ID_MAX + 1} characters long; at most {RATER_ID_MAX} fit an account" in str(error.value)
    assert _nothing_written()
    call_command("import_votes", "pets", str(_write(tmp_path, CSV + f"pets_0000.jpg,n00009000,{fits},yes\n")))
    assert get_user_model().objects.filter(username=f"imported-{fits}").exists()
