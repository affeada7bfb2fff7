"""The datasheet of a release: Markdown with counts, agreement, parameters and definitions. No Django."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from annotator.core.intervals import interval
from evaluation.core.release_formats import ReleaseCounts
from evaluation.core.release_rules import DAWID_SKENE, ReleaseParameters

PRIOR_MODES = {
    "single": "one class prior for every class",
    "original": "one prior for the image's original label, one for every other class",
    "imagenet_real": "ReaL's three: animal class that is the original label / other animal class / object class",
}


@dataclass(frozen=True)
class DsRunFacts:
    """The Dawid–Skene run whose posteriors a release holds."""

    id: int
    created_at: str
    prior_mode: str
    n_votes: int
    iterations: int
    converged: bool


class DsRun(Protocol):
    """What the datasheet reads of a DawidSkeneRun (a model this module does not import)."""

    pk: int
    created_at: datetime
    prior_mode: str
    n_votes: int
    iterations: int
    converged: bool


def ds_run_facts(run: DsRun | None) -> DsRunFacts | None:
    """From a DawidSkeneRun (or None)."""
    if run is None:
        return None
    return DsRunFacts(
        id=run.pk,
        created_at=f"{run.created_at:%Y-%m-%d %H:%M:%S UTC}",
        prior_mode=run.prior_mode,
        n_votes=run.n_votes,
        iterations=run.iterations,
        converged=run.converged,
    )


@dataclass(frozen=True)
class DatasheetFacts:
    dataset_name: str
    dataset_slug: str
    version: int
    created_at: str
    created_by: str
    parameters: ReleaseParameters
    counts: ReleaseCounts
    n_votes: int
    n_annotators: int
    agreement: dict[str, Any] | None  # the latest AgreementSnapshot's figures, with "created_at"
    files: list[tuple[str, int, str]]  # name, size, sha256 of the files written before the datasheet
    ds_run: DsRunFacts | None = None  # a Dawid–Skene release's run


def _pct(part: int, whole: int) -> str:
    return f"{part:,} ({part / whole:.1%})" if whole else f"{part:,}"


def _num(value: object, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "—"


def datasheet_markdown(facts: DatasheetFacts) -> str:
    p, c = facts.parameters, facts.counts
    rule = (
        f"Dawid–Skene posterior > {p.threshold:g}"
        if p.aggregation == DAWID_SKENE
        else f"majority: yes-share ≥ τ = {p.threshold:g} (a maybe counts half a yes)"
    )
    agreement = facts.agreement or {}
    run = facts.ds_run
    if run is not None:
        state = "converged" if run.converged else "not converged"
        ds_run = (
            f"#{run.id} of {run.created_at}, fitted on {run.n_votes:,} votes ({run.iterations} iterations, {state})"
        )
        ds_prior = f"`{run.prior_mode}`: {PRIOR_MODES.get(run.prior_mode, run.prior_mode)}"
    else:
        ds_run = ds_prior = "— (not used: majority vote)"
    unanswered = (
        "their original label (ReaL's convention), status `original`"
        if p.unanswered_as_original
        else "pending (an empty list)"
    )
    sizes = ", ".join(f"{size}: {n:,}" for size, n in sorted(c.set_sizes.items())) or "—"
    lines = [
        f"# {facts.dataset_name} — release v{facts.version}",
        "",
        f"Dataset `{facts.dataset_slug}`, created {facts.created_at} by {facts.created_by}. An immutable snapshot",
        "of the consensus at that moment, made by ReLabel.",
        "",
        "## Parameters",
        "",
        "| parameter | value |",
        "|---|---|",
        f"| aggregation | {p.aggregation} |",
        f"| valid class | {rule}, answered by at least the minimum annotations |",
        f"| Dawid–Skene run | {ds_run} |",
        f"| Dawid–Skene class prior | {ds_prior} |",
        f"| minimum annotations | {p.min_annotations} (images with fewer are pending) |",
        f"| images nobody answered | {unanswered} |",
        f"| adjudications apply | {'yes' if p.apply_adjudications else 'no'} |",
        "",
        "## Counts",
        "",
        "| | images |",
        "|---|---|",
        f"| total | {c.n_images:,} |",
        f"| with at least one valid class | {_pct(c.n_labelled, c.n_images)} |",
        f"| settled, no valid class (empty) | {_pct(c.n_empty, c.n_images)} |",
        f"| pending (not enough annotations) | {_pct(c.n_pending, c.n_images)} |",
        f"| nobody answered, given their original label | {_pct(c.n_original, c.n_images)} |",
        f"| excluded by a reviewer (bad or ambiguous) | {_pct(c.n_excluded, c.n_images)} |",
        f"| adjudicated | {_pct(c.n_adjudicated, c.n_images)} |",
        "",
        f"Valid (image, class) pairs of the consensus: {c.n_labels:,}. Multi-label share (labelled images",
        f"with two or more classes): {_num(c.multi_label_share)}{_share_detail(c)}.",
        f"Label-set sizes of settled images: {sizes}.",
        f"Votes: {facts.n_votes:,} from {facts.n_annotators:,} annotators.",
        "",
        *_label_count_histogram(c),
        "## Agreement",
        "",
        "| figure | value |",
        "|---|---|",
        f"| mean per-image agreement over settled images (this release) | {_num(c.mean_agreement)} |",
        f"| binary Krippendorff α over questions | {_num(agreement.get('binary_alpha'))} |",
        f"| set-level Krippendorff α, MASI distance | {_num(agreement.get('set_alpha_masi'))} |",
        f"| mean per-image agreement, all annotated images | {_num(agreement.get('mean_image_agreement'))} |",
        "",
        f"Dataset-wide figures from the agreement snapshot of {agreement.get('created_at', '— (none computed)')}.",
        "",
        "## Files",
        "",
        "| file | bytes | SHA-256 |",
        "|---|---|---|",
        *(f"| `{name}` | {size:,} | `{sha}` |" for name, size, sha in facts.files),
        "",
        "- `real.json`: a JSON list in dataset order (ascending position, i.e. sorted file names) of lists of",
        "  class indices, a drop-in for ReaL evaluation code. Pending and excluded images are empty lists, as",
        "  are images with no valid class; images nobody answered hold their original label when the",
        "  parameters say so (ReaL's convention). `real_status.json` says which: one of `labelled`, `empty`,",
        "  `pending`, `excluded`, `original` per image.",
        "- `images.jsonl` / `images.csv`: per image its key and position, the original label, the consensus",
        "  classes (index, wnid, name) with their support (yes-share, or posterior for Dawid–Skene), the number",
        "  of annotators, the per-image agreement, the status and whether a reviewer adjudicated it.",
        "- `votes.csv`: every vote (key, position, class index, wnid, annotator, yes/no/maybe). Annotator ids are",
        "  pseudonyms valid within this release only (keyed hashes with a secret discarded after the build).",
        "",
        "## Definitions",
        "",
        "- **Per-image agreement**: the mean over the image's questions (image, class) of the probability that",
        "  two annotators picked at random gave the same answer.",
        "- **Status**: `agreed` or `disputed` by the dataset's dispute rules (a share within the dispute band of",
        "  τ, too few answers, an annotator unsure or reporting a bad image, *none fits* against a chosen class);",
        "  `adjudicated` when a reviewer settled it; `excluded` when a reviewer marked it bad or ambiguous;",
        "  `original` when nobody answered it and the release keeps its original label; `pending` otherwise.",
        "",
        "Metrics ReLabel computes against a label set (*Y* the image's set, *P* the model's ranked classes;",
        "images with an empty *Y* are left out of every multi-label metric, the ReaL convention):",
        "",
        "| metric | definition |",
        "|---|---|",
        "| top-1 / top-5 | share of images whose original single label is among the first 1 / 5 predictions |",
        '| ReaL@k | mean over images of 1[P[:k] ∩ Y ≠ ∅]; ReaL@1 is "ReaL accuracy" |',
        "| precision@k | mean of \\|P[:k] ∩ Y\\| / k |",
        "| recall@k | mean of \\|P[:k] ∩ Y\\| / \\|Y\\| |",
        "| mAP | mean over classes with at least one positive of the average precision of the class's scores |",
        "| LRAP | label-ranking average precision |",
        *VARIABLE_TOPK_ROWS,
        "",
    ]
    return "\n".join(lines)


# The paper's measures (Anzaku et al., arXiv 2412.18409), as evaluation.core.variable_topk computes them.
VARIABLE_TOPK_ROWS = (
    "| variable top-k, strict | mean of 1[Y ⊆ P[:\\|Y\\|]]: each image gets \\|Y\\| guesses; images with more valid "
    "labels than the model ranks are left out and counted |",
    "| variable top-k, fractional | mean of \\|P[:\\|Y\\|] ∩ Y\\| / \\|Y\\| |",
    "| ASMA | unweighted mean over the \\|Y\\| bins {1}, {2}, {3}, {4+} that hold images of the bin's variable "
    "top-k (strict or fractional); ReLabel's reading of the paper's Aggregate Subgroup Model Accuracy |",
    "| multi-label share | share of the images with a non-empty Y that have \\|Y\\| ≥ 2, with a 95% Wilson interval |",
)
HISTOGRAM_BAR = 30  # characters of the longest bar


def _share_detail(c: ReleaseCounts) -> str:
    """' (15.9 %, 95% Wilson interval 15.6–16.2 %; 7,443 of 46,837)' — or nothing without labelled images."""
    bounds = interval(c.n_multi_label, c.n_labelled, 0.95)
    if bounds is None or c.multi_label_share is None:
        return ""
    low, high = bounds
    share = f"{c.multi_label_share:.1%}"
    return f" ({share}, 95% Wilson interval {low:.1%}–{high:.1%}; {c.n_multi_label:,} of {c.n_labelled:,})"


def _label_count_histogram(c: ReleaseCounts) -> list[str]:
    """The |Y| histogram of the settled images as a Markdown table with text bars."""
    if not c.set_sizes:
        return []
    settled = sum(c.set_sizes.values())
    peak = max(c.set_sizes.values())
    rows = [
        f"| {size}{' (no valid class)' if size == 0 else ''} | {n:,} | {n / settled:.1%} | "
        f"{'█' * max(1 if n else 0, round(HISTOGRAM_BAR * n / peak))} |"
        for size, n in sorted(c.set_sizes.items())
    ]
    return ["### Label-set sizes (\\|Y\\|) of settled images", "", "| \\|Y\\| | images | share | |",
            "|---|---|---|---|", *rows, ""]  # fmt: skip
