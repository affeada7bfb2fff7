"""The datasheet of a release: Markdown with counts, agreement, parameters and definitions. No Django."""

from __future__ import annotations

from dataclasses import dataclass

from evaluation.intervals import interval
from evaluation.release_formats import ReleaseCounts
from evaluation.release_rules import DAWID_SKENE, ReleaseParameters


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
    agreement: dict | None  # the latest AgreementSnapshot's figures, with "created_at"
    files: list[tuple[str, int, str]]  # name, size, sha256 of the files written before the datasheet


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
        f"| valid class | {rule} |",
        f"| minimum annotations | {p.min_annotations} (images with fewer are pending) |",
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
        f"| excluded by a reviewer (bad or ambiguous) | {_pct(c.n_excluded, c.n_images)} |",
        f"| adjudicated | {_pct(c.n_adjudicated, c.n_images)} |",
        "",
        f"Valid (image, class) pairs: {c.n_labels:,}. Multi-label share (labelled images with two or more",
        f"classes): {_num(c.multi_label_share)}{_share_detail(c)}. Label-set sizes of settled images: {sizes}.",
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
        "  are images with no valid class; `real_status.json` says which: one of `labelled`, `empty`,",
        "  `pending`, `excluded` per image.",
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
        "  `adjudicated` when a reviewer settled it; `excluded` when a reviewer marked it bad or ambiguous.",
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


# The paper's measures (Anzaku et al., arXiv 2412.18409), as evaluation.variable_topk computes them.
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
