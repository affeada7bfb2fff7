"""A tiny dataset with real votes (imported through `import_votes`) for the release tests."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth.models import Group
from django.core.management import call_command

from annotator.roles import ROLES
from evaluation.models import Release
from evaluation.services.releases import release_create
from tests.builders.prediction_sets import build_dataset

# image position → {class index: answers of raters r1, r2, r3}; N = 3, so image 6 stays pending, and nobody
# answers image 7, which keeps its original label (class 1) by default, ReaL's convention.
VOTES = {
    0: {0: "yyy"},
    1: {1: "yyy", 2: "yyn"},
    2: {2: "yyy", 0: "nnn"},
    3: {3: "yyy", 4: "yny"},
    4: {4: "nnn"},
    5: {5: "yyn"},
    6: {0: "y"},
}
# What the release holds (ReaL format) and why (the companion file).
EXPECTED_REAL = [[0], [1, 2], [2], [3, 4], [], [5], [], [1]]
EXPECTED_STATUS = ["labelled", "labelled", "labelled", "labelled", "empty", "labelled", "pending", "original"]


def votes_csv(path: Path, votes: dict[int, dict[int, str]] = VOTES, rater_prefix: str = "r") -> Path:
    words = {"y": "yes", "n": "no", "m": "maybe"}
    lines = ["image,class,annotator,answer"]
    for position, classes in votes.items():
        for index, answers in classes.items():
            lines += [
                f"img_{position:05d}.JPEG,{index},{rater_prefix}{r + 1},{words[a]}" for r, a in enumerate(answers)
            ]
    path.write_text("\n".join(lines) + "\n")
    return path


def voted_dataset(tmp_path: Path, slug: str = "tiny", votes: dict[int, dict[int, str]] = VOTES):
    # Transactional tests run after a flush that empties the role groups the migrations made; the import
    # puts its raters in the annotator group.
    for role in ROLES:
        Group.objects.get_or_create(name=role)
    dataset = build_dataset(slug)
    call_command("import_votes", dataset.slug, str(votes_csv(tmp_path / f"{slug}-votes.csv", votes)), verbosity=0)
    return dataset


def built_release(dataset, capture, **parameters) -> Release:
    """Create a release and run its build the way production does: the task enqueued on commit."""
    with capture(execute=True):
        release, _ = release_create(dataset=dataset, **parameters)
    release.refresh_from_db()
    return release
