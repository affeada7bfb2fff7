"""The CSV votes reader: Arrow's whole-file path gives exactly the row-by-row reader's table, and every file the
fast path cannot take whole is explained line by line as before."""

from __future__ import annotations

import random

import numpy as np
import pytest

from annotator.core import vote_formats
from annotator.core.aggregation import MAYBE, NO, YES
from annotator.core.vote_formats import VoteFormatError, _read_csv_votes_arrow, _read_csv_votes_rows, read_csv_votes


def _tables_equal(a, b) -> None:
    for name in ("image_keys", "class_refs", "rater_ids", "question", "rater", "answer"):
        left, right = getattr(a, name), getattr(b, name)
        assert left.tolist() == right.tolist(), name
        assert left.dtype.kind == right.dtype.kind, name
    assert list(a.where) == list(b.where)


def _random_csv(rng: random.Random) -> str:
    lines = ["image,class,annotator,answer"] if rng.random() < 0.5 else []
    if rng.random() < 0.3:
        lines = [" Image , CLASS,annotator ,Answer "]  # a header, spaced and capitalised
    images = [f"img_{i}.JPEG" for i in range(rng.randint(1, 12))] + ["ünïcode key", "with space"]
    classes = ["3", "n01440764", "17", "cat"]
    raters = [f"r{i}" for i in range(rng.randint(1, 6))]
    for _ in range(rng.randint(0, 60)):
        answer = rng.choice(["yes", "no", "maybe", "YES", " No", "Maybe "])
        image = rng.choice(images)
        image = f'"{image}"' if rng.random() < 0.2 else f" {image}" if rng.random() < 0.2 else image
        lines.append(f"{image},{rng.choice(classes)},{rng.choice(raters)},{answer}")
    return "\n".join(lines) + ("\n" if rng.random() < 0.8 else "")


def _readers_agree_on_random_files(tmp_path, rng: random.Random, cases: int) -> None:
    for case in range(cases):
        path = tmp_path / f"votes_{case}.csv"
        path.write_text(_random_csv(rng))
        fast = _read_csv_votes_arrow(path)
        assert fast is not None, path.read_text()
        _tables_equal(fast, _read_csv_votes_rows(path, max_errors=5))


def test_the_fast_reader_equals_the_row_reader_on_random_valid_files(tmp_path):
    _readers_agree_on_random_files(tmp_path, random.Random(5), 200)


@pytest.mark.parametrize(
    "text",
    [
        "a.jpg,1,r1,yes\na.jpg,1,r2\n",  # a row of 3 columns
        "a.jpg,1,r1,yes\n\na.jpg,1,r2,no\n",  # a blank line
        "a.jpg,1,r1,yes\na.jpg, ,r2,no\n",  # an empty field
        "a.jpg,1,r1,perhaps\n",  # an unknown answer
        "a.jpg,1,r1,yes,extra\n",  # five columns
    ],
)
def test_files_the_fast_reader_cannot_take_whole_go_row_by_row(tmp_path, text):
    path = tmp_path / "votes.csv"
    path.write_text(text)
    assert _read_csv_votes_arrow(path) is None
    try:
        expected = _read_csv_votes_rows(path, max_errors=5)
    except VoteFormatError as error:
        with pytest.raises(VoteFormatError) as raised:
            read_csv_votes(path)
        assert str(raised.value) == str(error) and "line " in str(error)
    else:
        _tables_equal(read_csv_votes(path), expected)


def test_a_quoted_newline_is_part_of_one_record_in_both_readers(tmp_path):
    path = tmp_path / "votes.csv"
    path.write_text('"a\njpg",1,r1,yes\nb,1,r1,no\n')
    table = read_csv_votes(path)
    assert table.image_keys.tolist() == ["a\njpg", "b"] and list(table.where) == ["line 1", "line 2"]
    _tables_equal(table, _read_csv_votes_rows(path, max_errors=5))


def test_both_readers_strip_the_same_characters(tmp_path):
    """Every character Python's str.strip() removes (the information separators \\x1c-\\x1f included, which are
    not Unicode White_Space) is removed by Arrow's trim too; inside a value it stays."""
    spaces = [chr(c) for c in range(0x3100) if chr(c).isspace() and chr(c) not in "\n\r"]
    assert "\x1c" in spaces and "\u2003" in spaces
    path = tmp_path / "votes.csv"
    path.write_text("".join(f"{s}img{i}{s},1,r{s}1,yes{s}\n" for i, s in enumerate(spaces)), encoding="utf-8")
    table = read_csv_votes(path)
    assert isinstance(table.where, vote_formats._FirstLines)  # the fast path took it
    assert table.image_keys.tolist() == [f"img{i}" for i in range(len(spaces))]
    assert table.rater_ids.tolist() == [f"r{s}1" for s in spaces]
    _tables_equal(table, _read_csv_votes_rows(path, max_errors=5))


def test_errors_name_their_lines_counting_the_header(tmp_path):
    path = tmp_path / "votes.csv"
    path.write_text("image,class,annotator,answer\na.jpg,1,r1,yes\na.jpg,1,r2,sure\n")
    with pytest.raises(VoteFormatError, match=r"line 3: answer 'sure' is not yes, no or maybe"):
        read_csv_votes(path)


def test_where_names_each_questions_first_line_lazily(tmp_path):
    path = tmp_path / "votes.csv"
    path.write_text("image,class,annotator,answer\na,1,r1,yes\nb,1,r1,no\na,1,r2,no\nb,2,r1,maybe\n")
    table = read_csv_votes(path)
    assert isinstance(table.where, vote_formats._FirstLines)
    assert list(table.where) == ["line 2", "line 3", "line 5"] and table.where[-1] == "line 5"
    assert table.where[1:] == ["line 3", "line 5"]
    assert table.question.tolist() == [0, 1, 0, 2] and table.rater.tolist() == [0, 0, 1, 0]
    assert table.answer.tolist() == [YES, NO, NO, MAYBE]


def test_an_empty_file_and_a_header_alone_give_no_votes(tmp_path):
    for text in ("", "image,class,annotator,answer\n"):
        path = tmp_path / "votes.csv"
        path.write_text(text)
        table = read_csv_votes(path)
        assert table.n_votes == 0 and len(table.image_keys) == 0 and len(table.where) == 0
        _tables_equal(table, _read_csv_votes_rows(path, max_errors=5))


def test_a_large_file_is_read_in_first_appearance_order(tmp_path):
    rng = np.random.default_rng(1)
    n = 30_000
    images, classes, raters = rng.integers(0, 4000, n), rng.integers(0, 7, n), rng.integers(0, 40, n)
    answers = np.array(["yes", "no", "maybe"])[rng.integers(0, 3, n)]
    path = tmp_path / "votes.csv"
    rows = zip(images, classes, raters, answers, strict=True)
    path.write_text("".join(f"k{i},{c},r{r},{a}\n" for i, c, r, a in rows))
    _tables_equal(read_csv_votes(path), _read_csv_votes_rows(path, max_errors=5))


@pytest.mark.parametrize("block_bytes", [64, 200, 1 << 24])
def test_read_by_blocks_of_the_file_the_fast_reader_still_equals_the_row_reader(tmp_path, monkeypatch, block_bytes):
    monkeypatch.setattr(vote_formats, "CSV_BLOCK_BYTES", block_bytes)
    _readers_agree_on_random_files(tmp_path, random.Random(11), 60)


@pytest.mark.parametrize("bad", ["a.jpg,1,r9,perhaps", "a.jpg, ,r9,no", "a.jpg,1,r9", "", "a.jpg,1,r9,no,extra"])
def test_a_bad_line_in_the_last_block_sends_the_file_to_the_row_reader(tmp_path, monkeypatch, bad):
    monkeypatch.setattr(vote_formats, "CSV_BLOCK_BYTES", 64)
    path = tmp_path / "votes.csv"
    rows = [f"img_{i}.JPEG,{i % 7},r{i % 3},{('yes', 'no', 'maybe')[i % 3]}" for i in range(40)]
    path.write_text("image,class,annotator,answer\n" + "\n".join(rows) + "\n" + bad + "\nimg_0.JPEG,5,r1,no\n")
    assert _read_csv_votes_arrow(path) is None
    with pytest.raises(VoteFormatError, match="line 42: "):
        read_csv_votes(path)
