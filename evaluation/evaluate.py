"""python -m evaluation.evaluate --labels LABELS --predictions PRED [--original ORIGINAL] [--json]

Evaluates one model's predictions against a label set offline: no database, no running service, no Django
settings. It parses with the upload's parsers and computes with `evaluation.core.metrics.compute_all`, the
function behind every server snapshot, so the numbers are the server's for the same files.

LABELS   a ReaL-format JSON list, or a release (zip or folder: its real.json, real_status.json, images.csv)
PRED     any format the upload accepts; .npy/.npz rows are in label-file order. A CSV or JSONL names images by
         key: keys come from the release's images.csv, or, for a bare ReaL JSON of 50,000 entries, from the
         ImageNet val convention ILSVRC2012_val_%08d.JPEG
ORIGINAL original single labels for top-1/top-5: an image,wnid CSV or a release's images.csv (a release given
         as LABELS brings its own)

Exit status 0 on success, 2 on input it cannot use (the message says which file and what is wrong).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from annotator.core.vocabulary import BUILTIN_IMAGENET, VocabularyError, parse_vocabulary
from evaluation.core.arrays import STORED_TOP_K
from evaluation.core.label_files import LabelFileError, LabelSource, read_labels, read_original
from evaluation.core.metrics import EXPORTED_PLAIN as PLAIN
from evaluation.core.metrics import EXPORTED_WITH_INTERVAL as WITH_INTERVAL
from evaluation.core.metrics import compute_all, label_matrix
from evaluation.core.prediction_formats import ParsedPredictions, PredictionFormatError, parse_predictions
from evaluation.core.variable_topk import DEFAULT_BINS, checked_bins

SUBGROUP_KEYS = (
    "bin", "lower", "upper", "images", "n_with_original", "top1", "top1_ci", "real1", "real1_ci",
    "vtk_strict", "vtk_strict_ci", "vtk_frac", "vtk_frac_ci",
)  # fmt: skip


class EvaluatorInputError(ValueError):
    """Input the evaluator refuses; printed as one line, exit status 2."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation.evaluate",
        description=__doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[2:]),
    )
    parser.add_argument("--labels", required=True, type=Path, help="ReaL JSON, release zip or release folder")
    parser.add_argument("--predictions", required=True, type=Path, help="CSV, JSONL, .npy or .npz")
    parser.add_argument("--original", type=Path, help="image,wnid CSV or a release's images.csv")
    vocabulary_help = "the class vocabulary (any format import_dataset reads); default: ImageNet-1k"
    parser.add_argument("--classes", type=Path, default=BUILTIN_IMAGENET, help=vocabulary_help)
    bins_help = "lower edges of the |Y| bins of the subgroups and ASMA; default 1,2,3,4, the bins 1, 2, 3, 4+"
    parser.add_argument("--bins", default=",".join(map(str, DEFAULT_BINS)), help=bins_help)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)
    try:
        result = evaluate(args.labels, args.predictions, args.original, classes=args.classes, bins=args.bins)
    except EvaluatorInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result, allow_nan=False) if args.json else table(result))
    return 0


def evaluate(
    labels_path: Path, predictions_path: Path, original_path: Path | None, *, classes: Path, bins: str
) -> dict[str, Any]:
    """The JSON-ready result for these files; EvaluatorInputError names what cannot be used."""
    try:
        edges = checked_bins([int(edge) for edge in bins.split(",")])
    except ValueError as error:
        raise EvaluatorInputError(f"--bins {bins!r}: {error}") from None
    try:
        class_keys = [c.key for c in sorted(parse_vocabulary(classes), key=lambda c: c.index)]
        source = read_labels(labels_path, num_classes=len(class_keys))
        if original_path is not None:
            original = read_original(original_path, source.keys, class_keys=class_keys)
        elif source.original is not None:
            original = source.original
        else:
            original = np.full(source.n_images, -1, dtype=np.int64)
        parsed = _predictions(predictions_path, source, len(class_keys))
    except (LabelFileError, VocabularyError, OSError) as error:
        raise EvaluatorInputError(str(error)) from None
    labels = label_matrix((source.labels.indptr, source.labels.indices), len(class_keys))
    values = compute_all(parsed.topk, original, labels, parsed.scores, bins=edges)
    result: dict[str, Any] = {"labels": source.name, "predictions": predictions_path.name}
    for key, name in WITH_INTERVAL:
        result[name], result[f"{name}_ci"] = values.get(key), values.get(f"{key}_ci")
    result |= {name: values.get(key) for key, name in PLAIN}
    result["subgroups"] = [{key: s[key] for key in SUBGROUP_KEYS} for s in values["subgroups"]]
    result["statuses"] = source.statuses
    result["has_original"] = bool((original >= 0).any())
    return result


def _predictions(path: Path, source: LabelSource, num_classes: int) -> ParsedPredictions:
    data = path.read_bytes()
    text_format = not data.startswith((b"\x93NUMPY", b"PK\x03\x04", b"PK\x05\x06"))
    if text_format and source.keys is None:
        raise LabelFileError(
            f"{path.name} names images by key, but {source.name} gives no keys: use a release (its images.csv "
            f"lists them), a ReaL JSON of the 50,000 ImageNet val images, or a .npy/.npz in label-file order"
        )
    keys = source.keys or [f"#{i}" for i in range(source.n_images)]  # .npy/.npz rows are in label-file order
    try:
        return parse_predictions(data, path.name, image_keys=keys, num_classes=num_classes, k=STORED_TOP_K)
    except PredictionFormatError as error:
        raise LabelFileError(f"{path.name}: {error.message}") from None


def table(result: dict[str, Any]) -> str:
    """The result as a plain-text report."""

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{value * 100:.2f}%"

    def ci(interval: list[float] | None) -> str:
        return "" if not interval else f"[{interval[0] * 100:.2f}, {interval[1] * 100:.2f}]"

    r = result
    left_out = ""
    if r["vtk_left_out"]:
        left_out = f"; {r['vtk_left_out']:,} left out: more valid labels than the {r['vtk_ranking_limit']} ranked"
    lines = [
        f"labels {r['labels']}: {r['n_images']:,} images, {r['n_evaluated']:,} with a label set"
        + (f" ({', '.join(f'{w} {n:,}' for w, n in sorted(r['statuses'].items()))})" if r["statuses"] else ""),
        f"predictions {r['predictions']}: top-{r['k']} per image",
        "",
        f"{'measure':<34}{'value':>9}  95% CI",
    ]
    notes = {
        "top1": "" if r["has_original"] else "  (no original labels: --original)",
        "vtk_strict": f"  ({r['vtk_scored']:,} images scored{left_out})",
        "multilabel_share": f"  ({r['n_multilabel']:,} of {r['n_evaluated']:,} with a label set)",
    }
    titles = {
        "top1": "top-1 (original label)", "top5": "top-5 (original label)", "real1": "ReaL@1", "real5": "ReaL@5",
        "vtk_strict": "variable top-k, strict", "vtk_frac": "variable top-k, fractional",
        "multilabel_share": "multi-label share (|Y| >= 2)",
    }  # fmt: skip
    for _, name in WITH_INTERVAL:
        lines.append(f"{titles[name]:<34}{pct(r[name]):>9}  {ci(r[f'{name}_ci'])}{notes.get(name, '')}")
    bins = ", ".join(s["bin"] for s in r["subgroups"])
    for variant, title in (("strict", "ASMA, strict"), ("frac", "ASMA, fractional")):
        lines.append(f"{title:<34}{pct(r[f'asma_{variant}']):>9}  (bins {bins}; our reading of the paper)")
    for key, title in (("mean_average_precision", "mAP"), ("lrap", "LRAP")):
        if r[key] is not None:
            lines.append(f"{title:<34}{pct(r[key]):>9}")
    histogram = " · ".join(f"{size}: {count:,}" for size, count in enumerate(r["label_count_histogram"]))
    lines += ["", f"|Y| histogram (images): {histogram}", "", "per |Y| bin (images scored by variable top-k)"]
    lines.append(f"{'|Y|':<6}{'images':>9}{'top-1':>10}{'ReaL@1':>10}{'VTK strict':>12}{'VTK frac':>10}")
    for s in r["subgroups"]:
        figures = "".join(f"{pct(s[key]):>{width}}" for key, width in
                          (("top1", 10), ("real1", 10), ("vtk_strict", 12), ("vtk_frac", 10)))  # fmt: skip
        lines.append(f"{s['bin']:<6}{s['images']:>9,}{figures}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
