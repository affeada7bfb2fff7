"""python -m bench.pilot_real [--draws 1000] [--n 500] — the pilot's intervals and the model score on ImageNet val.

ReaL's labels play the settled label sets (images with an empty ReaL set are settled as "no valid class" and
left out of the multi-label figures, as ReaL does), the original labels come from val_ground_truth.csv and the
models are the three shipped top-5 files. Pure numpy, no database. Writes bench/reports/pilot-real.json,
pilot-real.md and pilot-real.svg (the coverage chart; `--chart-only` redraws it from the JSON); README's "Pilot
sample" section quotes them.

1. Coverage: `draws` seeded pilots of n images (uniform, and stratified by original class); for each estimate,
   the share of draws whose 95 % interval holds the full-dataset value (`evaluation.core.metrics.compute_all`
   on all 50,000 images, an independent code path).
2. The model score's AUROC for "ReaL has ≥ 2 labels" and "original label not in ReaL's set", per part and sum.
3. Images to label, model-guided against positional order, to find 50 % and 80 % of ReaL's multi-label images.
4. The model-only multi-label share, calibrated on seeded pilots of n human-settled images, next to ReaL's.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from annotator.core.pilot_sample import SAMPLE_MODES, pilot_sample
from evaluation.core.metrics import compute_all, label_matrix
from evaluation.core.model_score import (
    auroc,
    calibrated_share,
    guided_order,
    images_to_find,
    model_score,
    plain_share,
    score_parts,
    score_strata,
)
from evaluation.core.pilot import asma_bootstrap_interval, pilot_estimates
from evaluation.core.prediction_formats import parse_predictions
from evaluation.core.variable_topk import DEFAULT_BINS, bin_bounds, labels_found_at_own_size

REPO = Path(__file__).resolve().parent.parent
MODELS = ("resnet18", "resnet50", "vgg16")
MODEL_FIGURES = ("top1", "real1", "vtk_strict", "vtk_frac", "asma_strict", "asma_frac")


def load() -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    classes = json.loads((REPO / "data/imagenet/class_info.json").read_text())
    index_of = {entry["wnid"]: entry["cid"] for entry in classes}
    with (REPO / "data/imagenet/val_ground_truth.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    keys = [row["image"] for row in rows]
    original = np.array([index_of[row["wnid"]] for row in rows], dtype=np.int64)
    labels = label_matrix(json.loads((REPO / "data/real/real.json").read_text()), 1000)
    rankings = {
        model: parse_predictions(
            (REPO / f"data/predictions/{model}_top5.csv").read_bytes(),
            f"{model}.csv",
            image_keys=keys,
            num_classes=1000,
        ).topk
        for model in MODELS
    }
    return labels, original, rankings


def full_values(labels: np.ndarray, original: np.ndarray, rankings: dict[str, np.ndarray]) -> dict[str, float]:
    """The whole dataset's values, through compute_all (not the pilot code)."""
    values: dict[str, float] = {}
    sizes = labels.sum(axis=1)
    nonempty = sizes > 0
    for model, topk in rankings.items():
        m = compute_all(topk, original, labels)
        values |= {
            f"{model}.top1": m["top1"], f"{model}.real1": m["real_at_1"], f"{model}.vtk_strict": m["vtk_strict"],
            f"{model}.vtk_frac": m["vtk_frac"], f"{model}.asma_strict": m["asma_strict"],
            f"{model}.asma_frac": m["asma_frac"],
        }  # fmt: skip
        values["multilabel_share"] = m["multilabel_share"]
    values["original_not_valid_share"] = float(np.mean(~labels[np.arange(labels.shape[0]), original][nonempty]))
    for size in range(1, 7):
        in_bin = sizes[nonempty] >= 6 if size == 6 else sizes[nonempty] == size
        values[f"histogram.{size}{'+' if size == 6 else ''}"] = float(np.mean(in_bin))
    return values


def flatten(estimates: dict[str, Any]) -> dict[str, dict[str, Any]]:
    flat = {
        "multilabel_share": estimates["multilabel_share"],
        "original_not_valid_share": estimates["original_not_valid_share"],
    }
    for row in estimates["label_count_histogram"]:
        flat[f"histogram.{row['size']}"] = row
    for model, figures in estimates["prediction_sets"].items():
        for name in MODEL_FIGURES:
            flat[f"{model}.{name}"] = figures[name]
    return flat


def coverage(labels, original, rankings, truth, *, draws: int, n: int, mode: str) -> dict[str, Any]:
    ids = np.arange(labels.shape[0])
    hits: dict[str, int] = dict.fromkeys(truth, 0)
    undefined: dict[str, int] = dict.fromkeys(truth, 0)
    widths: dict[str, list[float]] = {key: [] for key in truth}
    boot_hits = {f"{m}.asma_{v}": 0 for m in MODELS for v in ("strict", "frac")}
    bounds = bin_bounds(DEFAULT_BINS)
    edges = np.array([lower for lower, _ in bounds])
    for draw in range(draws):
        chosen = pilot_sample(ids, original, n=n, mode=mode, seed=draw)  # type: ignore[arg-type]
        sample_labels, sample_original = labels[chosen], original[chosen]
        sample_rankings = {m: r[chosen] for m, r in rankings.items()}
        flat = flatten(pilot_estimates(sample_labels, sample_original, sample_rankings))
        for key, value in truth.items():
            ci = flat[key]["ci"]
            if ci is None:
                undefined[key] += 1
                continue
            hits[key] += ci[0] <= value <= ci[1]
            widths[key].append(ci[1] - ci[0])
        if draw < draws // 4:  # the bootstrap, to compare, on a quarter of the draws (it costs 1000 replicates)
            sizes = sample_labels.sum(axis=1)
            for model, topk in sample_rankings.items():
                hit_matrix = sample_labels[np.arange(n)[:, None], topk]
                found, scored = labels_found_at_own_size(hit_matrix, sizes, sizes > 0)
                bin_of = np.where(scored, np.searchsorted(edges, sizes, side="right") - 1, len(bounds))
                outcomes = {"strict": (scored & (found == sizes)).astype(float)}
                outcomes["frac"] = np.divide(found, sizes, out=np.zeros(n), where=scored)
                for variant, outcome in outcomes.items():
                    ci = asma_bootstrap_interval(bin_of, outcome, len(bounds), seed=draw)
                    key = f"{model}.asma_{variant}"
                    boot_hits[key] += ci is not None and ci[0] <= truth[key] <= ci[1]
    return {
        "draws": draws,
        "n": n,
        "mode": mode,
        "figures": {
            key: {
                "truth": truth[key],
                "coverage": hits[key] / (draws - undefined[key]) if draws > undefined[key] else None,
                "draws_without_interval": undefined[key],
                "mean_width": float(np.mean(widths[key])) if widths[key] else None,
            }
            for key in truth
        },
        "asma_bootstrap_coverage": {key: hit / (draws // 4) for key, hit in boot_hits.items()},
        "asma_bootstrap_draws": draws // 4,
    }


def model_score_value(labels, original, rankings, *, draws: int, n: int) -> dict[str, Any]:
    sizes = labels.sum(axis=1)
    nonempty = sizes > 0
    multilabel = sizes >= 2
    not_valid = nonempty & ~labels[np.arange(labels.shape[0]), original]
    disagreement, penalty = score_parts(list(rankings.values()), original)
    score = model_score(list(rankings.values()), original)
    position = np.arange(labels.shape[0])
    parts = {
        "score (original_rank_penalty)": score,
        "disagreement": disagreement,
        "disagreement + penalty": disagreement + penalty,
        "penalty + disagreement / 100 (tie-break)": penalty + disagreement / 100,
    }
    aurocs = {
        name: {
            "multilabel": auroc(values[nonempty], multilabel[nonempty]),
            "original_not_valid": auroc(values[nonempty], not_valid[nonempty]),
        }
        for name, values in parts.items()
    }
    # With fewer models: every pair, and each model alone (disagreement is 0 with one model).
    by_models: dict[str, Any] = {}
    for subset in (("resnet50",), ("resnet18", "resnet50"), ("resnet50", "vgg16"), MODELS):
        s = model_score([rankings[m] for m in subset], original)
        by_models["score with " + "+".join(subset)] = {
            "multilabel": auroc(s[nonempty], multilabel[nonempty]),
            "original_not_valid": auroc(s[nonempty], not_valid[nonempty]),
        }
    to_find = {
        "guided": images_to_find(guided_order(score, position), multilabel),
        "positional": images_to_find(position, multilabel),
        "random_expected": {
            f"{share:g}": int(np.ceil(share * labels.shape[0])) for share in (0.5, 0.8)
        },  # uniform order: the share of the images
        "multilabel_images": int(multilabel.sum()),
    }
    strata = score_strata(score)
    estimates, covered = [], 0
    real_share = float(multilabel.sum() / nonempty.sum())
    ids = np.arange(labels.shape[0])
    for draw in range(draws):
        chosen = pilot_sample(ids, n=n, seed=10_000 + draw)
        labelled = np.zeros(labels.shape[0], dtype=bool)
        labelled[chosen] = True
        estimate = calibrated_share(strata, labelled, multilabel, nonempty)
        estimates.append(estimate)
        covered += estimate["ci"][0] <= real_share <= estimate["ci"][1]
    plain = []
    for draw in range(draws):
        chosen = pilot_sample(ids, n=n, seed=10_000 + draw)
        plain.append(plain_share(multilabel[chosen], nonempty[chosen]))
    return {
        "auroc": aurocs,
        "auroc_by_models": by_models,
        "images_to_find_multilabel": to_find,
        "model_only_share": {
            "real_share": real_share,
            "calibration": f"post-stratified over {int(strata.max()) + 1} score strata, rates from {n} settled images",
            "draws": draws,
            "first_draw": estimates[0],
            "mean_value": float(np.mean([e["value"] for e in estimates])),
            "mean_width": float(np.mean([e["ci"][1] - e["ci"][0] for e in estimates])),
            "coverage": covered / draws,
            "plain_pilot_mean_width": float(np.mean([p["ci"][1] - p["ci"][0] for p in plain])),
            "uncalibrated_any_disagreement_share": float(np.mean(disagreement[nonempty] > 0)),
        },
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# Pilot sample on ImageNet val with ReaL ({report['machine']})", ""]
    for run in report["coverage"]:
        lines += [
            f"## Coverage, {run['draws']} seeded pilots of n = {run['n']}, {run['mode']}",
            "",
            "| figure | full-dataset value | coverage of the 95 % interval | mean width |",
            "|---|---|---|---|",
        ]
        for key, row in run["figures"].items():
            cov = "—" if row["coverage"] is None else f"{100 * row['coverage']:.1f} %"
            width = "—" if row["mean_width"] is None else f"{100 * row['mean_width']:.1f} pp"
            lines.append(f"| {key} | {100 * row['truth']:.2f} % | {cov} | {width} |")
        lines += ["", f"ASMA, percentile bootstrap instead ({run['asma_bootstrap_draws']} draws):", ""]
        lines += [f"- {key}: {100 * value:.1f} %" for key, value in run["asma_bootstrap_coverage"].items()]
        lines.append("")
    value = report["model_score"]
    lines += [
        "## Model score AUROC (images with a non-empty ReaL set)",
        "",
        "| score | ≥ 2 labels | original not valid |",
        "|---|---|---|",
    ]
    for name, row in {**value["auroc"], **value["auroc_by_models"]}.items():
        lines.append(f"| {name} | {row['multilabel']:.3f} | {row['original_not_valid']:.3f} |")
    find = value["images_to_find_multilabel"]
    lines += ["", f"## Images to label to find ReaL's {find['multilabel_images']} multi-label images", ""]
    lines += [f"- {order}: {find[order]}" for order in ("guided", "positional", "random_expected")]
    share = value["model_only_share"]
    lines += ["", "## Model-only multi-label share", "", json.dumps(share, indent=2), ""]
    return "\n".join(lines)


def coverage_svg(report: dict[str, Any]) -> str:
    """A dot per figure and sampling mode: the coverage of its 95 % interval, with the nominal 95 % marked."""
    runs = report["coverage"]
    keys = list(runs[0]["figures"])
    row, left, width, low, high = 18, 190, 420, 0.85, 1.0
    height = 40 + row * len(keys) + 30

    def x(value: float) -> float:
        return left + (min(max(value, low), high) - low) / (high - low) * width

    colours = {"uniform": "#1f77b4", "stratified": "#d62728"}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 30}" height="{height}" '
        'font-family="sans-serif" font-size="11">',
        f'<text x="10" y="16" font-size="13">Coverage of the 95 % intervals, {runs[0]["draws"]} pilots of '
        f"n = {runs[0]['n']}, ImageNet val with ReaL</text>",
    ]
    for tick in (0.85, 0.9, 0.95, 1.0):
        dash = "" if tick == 0.95 else ' stroke-dasharray="2,3"'
        parts.append(
            f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="28" y2="{height - 26}" stroke="#888"{dash}/>'
            f'<text x="{x(tick):.1f}" y="{height - 12}" text-anchor="middle">{100 * tick:.0f} %</text>'
        )
    for i, key in enumerate(keys):
        y = 40 + row * i
        parts.append(f'<text x="{left - 8}" y="{y + 4}" text-anchor="end">{key}</text>')
        for run in runs:
            value = run["figures"][key]["coverage"]
            if value is not None:
                colour = colours[run["mode"]]
                parts.append(f'<circle cx="{x(value):.1f}" cy="{y}" r="4" fill="{colour}" fill-opacity="0.8"/>')
    for j, (mode, colour) in enumerate(colours.items()):
        parts.append(
            f'<circle cx="{left + 10 + 110 * j}" cy="{height - 30 + 26}" r="4" fill="{colour}"/>'
            f'<text x="{left + 18 + 110 * j}" y="{height - 30 + 30}">{mode}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "reports")
    parser.add_argument("--chart-only", action="store_true", help="Redraw the chart from the stored JSON.")
    args = parser.parse_args(argv)
    if args.chart_only:
        stored = json.loads((args.out / "pilot-real.json").read_text())
        (args.out / "pilot-real.svg").write_text(coverage_svg(stored))
        return 0
    started = time.perf_counter()
    labels, original, rankings = load()
    truth = full_values(labels, original, rankings)
    report: dict[str, Any] = {"machine": f"{platform.processor() or platform.machine()}, {platform.node()}"}
    report["coverage"] = [
        coverage(labels, original, rankings, truth, draws=args.draws, n=args.n, mode=mode) for mode in SAMPLE_MODES
    ]
    report["model_score"] = model_score_value(labels, original, rankings, draws=args.draws, n=args.n)
    report["seconds"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pilot-real.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "pilot-real.md").write_text(markdown(report))
    (args.out / "pilot-real.svg").write_text(coverage_svg(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
