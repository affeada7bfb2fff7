"""Reader for the raw answers published with ReaL ("Are we done with ImageNet?").

Files (google-research/reassessed-imagenet): ``raters.npz``, ``golden.npz``
and ``raters_golden.npz`` hold ``tensor`` (raters × questions × 3, one-hot
no/maybe/yes, all-zero where a rater did not answer), ``info`` (questions × 2:
file name, class index as strings) and ``ids`` (rater ids, shared across the
files). This module turns them into the flat `VoteArrays` the aggregation and
agreement code works on. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike

import numpy as np

from annotator.core.aggregation import MAYBE, NO, YES, VoteArrays

# ReaL's answer axis is no/maybe/yes; ours is NO/YES/MAYBE
_REAL_TO_ANSWER = np.array([NO, MAYBE, YES], dtype=np.int8)

# ImageNet-1k classes 0..397 (tench … puffer) are the animals; ReaL's
# published scores use a different class prior for them (see real_prior_groups)
IMAGENET_N_ANIMAL_CLASSES = 398


@dataclass(frozen=True)
class RealRatings:
    """ReaL answers as flat votes plus the question table."""

    votes: VoteArrays  # image_of_item indexes `image_files`
    file_names: np.ndarray  # (Q,) str, file name of each question's image
    class_index: np.ndarray  # (Q,) int, class asked about
    image_files: np.ndarray  # (I,) sorted unique file names
    rater_ids: np.ndarray  # (A,) rater id of each annotator index

    def question_index(self, file_names: np.ndarray, class_index: np.ndarray) -> np.ndarray:
        """Index of each given (file name, class) question here; -1 if absent."""
        return _lookup(self.file_names, self.class_index, file_names, class_index)


def read_real_raters(path: str | PathLike[str], *, rater_ids: np.ndarray | None = None) -> RealRatings:
    """Read a ReaL ``raters.npz``-style file; drop unanswered (all-zero) cells.

    `rater_ids` fixes the annotator numbering (e.g. the ids of ``raters.npz``
    when reading ``raters_golden.npz``) so indices agree across files; it must
    contain every id in the file. Votes come out ordered by question.
    """
    with np.load(path) as data:
        tensor, info, ids = data["tensor"], data["info"], data["ids"]
    if tensor.ndim != 3 or tensor.shape[2] != 3 or tensor.shape[:2] != (len(ids), len(info)):
        raise ValueError(f"unexpected shapes {tensor.shape}, {info.shape}, {ids.shape}")
    rater, question, response = np.nonzero(tensor)
    if np.any(tensor[rater, question, response] != 1):
        raise ValueError("answers must be one-hot 0/1")
    # question-major order: votes of one question are contiguous
    order = np.argsort(question, kind="stable")
    rater, question, response = rater[order], question[order], response[order]
    if rater_ids is None:
        rater_ids = np.asarray(ids)
        annotator = rater
    else:
        rater_ids = np.asarray(rater_ids)
        order = np.argsort(rater_ids)
        pos = np.searchsorted(rater_ids, ids, sorter=order)
        pos = np.minimum(pos, len(rater_ids) - 1)
        mapped = order[pos]
        if np.any(rater_ids[mapped] != ids):
            raise ValueError("rater_ids does not contain every rater id of the file")
        annotator = mapped[rater]
    file_names = info[:, 0].astype(str)
    class_index = info[:, 1].astype(np.int64)
    image_files, image_of_item = np.unique(file_names, return_inverse=True)
    votes = VoteArrays.from_columns(
        question,
        annotator,
        _REAL_TO_ANSWER[response],
        n_items=len(info),
        n_annotators=len(rater_ids),
        image_of_item=image_of_item,
        n_images=len(image_files),
    )
    return RealRatings(votes, file_names, class_index, image_files, rater_ids)


def imagenet_val_position(file_names: np.ndarray) -> np.ndarray:
    """0-based dataset position of ``ILSVRC2012_val_XXXXXXXX.JPEG`` names (XXXXXXXX − 1)."""
    names = np.ascontiguousarray(np.asarray(file_names, dtype="U"))  # native byte order, viewable
    if names.size == 0:
        return np.zeros(0, dtype=np.int64)
    if not np.all(np.char.startswith(names, "ILSVRC2012_val_")):
        raise ValueError("not ImageNet validation file names")
    # the 8 digits after the prefix, read from the fixed-width code points
    width = names.dtype.itemsize // 4
    codes = names.view(np.uint32).reshape(len(names), width)[:, 15:23].astype(np.int64) - 48
    if np.any((codes < 0) | (codes > 9)):
        raise ValueError("malformed ImageNet validation file name")
    return codes @ (10 ** np.arange(7, -1, -1, dtype=np.int64)) - 1


def gold_answers(golden: RealRatings, target: RealRatings, *, threshold: float = 0.5) -> np.ndarray:
    """(Q,) gold answer per question of `target`: 1 yes, 0 no, −1 not a gold question.

    Gold = the experts' majority (yes-share ≥ threshold; ReaL's experts never
    answered maybe) on the questions of ``golden.npz``.
    """
    counts = golden.votes.answer_counts()
    n = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = (counts[:, YES] + 0.5 * counts[:, MAYBE]) / n
    gold = np.where(n > 0, (share >= threshold).astype(np.int8), -1).astype(np.int8)
    where = target.question_index(golden.file_names, golden.class_index)
    out = np.full(target.votes.n_items, -1, dtype=np.int8)
    found = where >= 0
    out[where[found]] = gold[found]
    return out


def real_prior_groups(class_index: np.ndarray, is_original: np.ndarray) -> np.ndarray:
    """ReaL's three class-prior strata: 0 animal & original label, 1 animal & other, 2 object.

    ReaL's published scores are exactly (to 1e-8 in log-odds) a sum of
    per-rater answer weights plus one of three intercepts: the original label
    gets its own prior only when it is an animal class. Passing these groups to
    `dawid_skene` is what brings our posteriors closest to theirs.
    """
    animal = np.asarray(class_index) < IMAGENET_N_ANIMAL_CLASSES
    original = np.asarray(is_original, dtype=bool)
    return np.where(animal & original, 0, np.where(animal, 1, 2)).astype(np.int64)


def _lookup(names: np.ndarray, classes: np.ndarray, want_names: np.ndarray, want_classes: np.ndarray) -> np.ndarray:
    """Positions of (name, class) pairs in the table, −1 where missing."""
    table = np.char.add(np.char.add(np.asarray(names, dtype="U"), "/"), np.asarray(classes).astype("U"))
    want = np.char.add(np.char.add(np.asarray(want_names, dtype="U"), "/"), np.asarray(want_classes).astype("U"))
    if len(table) == 0:
        return np.full(len(want), -1, dtype=np.int64)
    order = np.argsort(table)
    pos = np.minimum(np.searchsorted(table, want, sorter=order), len(table) - 1)
    hit = order[pos]
    return np.where(table[hit] == want, hit, -1).astype(np.int64)
