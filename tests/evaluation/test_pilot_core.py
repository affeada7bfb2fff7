"""The pilot's pure core: the seeded sampler, the estimates and their intervals (against plain loops and a
coverage check on ImageNet val with ReaL), and the model score with its AUROC (against sklearn)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from annotator.core.intervals import wilson_interval
from annotator.core.pilot_sample import pilot_sample
from evaluation.core.model_score import (
    auroc,
    calibrated_share,
    guided_order,
    images_to_find,
    model_score,
    score_parts,
)
from evaluation.core.pilot import (
    asma_delta_interval,
    images_for_width,
    more_needed,
    pilot_estimates,
)
from tests.evaluation.test_real_reference_values import PREDICTIONS, reference

IDS = np.arange(1000, 3000, 2)  # 1,000 ids, not positions
LABELS = np.repeat(np.arange(7), [400, 300, 150, 100, 40, 9, 1])


@pytest.mark.parametrize("mode", ["uniform", "stratified"])
def test_the_same_seed_gives_the_same_sample_and_no_image_twice(mode: str) -> None:
    first = pilot_sample(IDS, LABELS, n=137, mode=mode, seed=7)
    assert first.tolist() == pilot_sample(IDS, LABELS, n=137, mode=mode, seed=7).tolist()
    assert np.unique(first).size == first.size == 137
    assert set(first.tolist()) <= set(IDS.tolist())
    assert first.tolist() != pilot_sample(IDS, LABELS, n=137, mode=mode, seed=8).tolist()


@pytest.mark.parametrize("mode", ["uniform", "stratified"])
def test_the_sample_does_not_depend_on_the_order_the_ids_come_in(mode: str) -> None:
    shuffled = np.random.default_rng(1).permutation(IDS.size)
    assert (
        pilot_sample(IDS[shuffled], LABELS[shuffled], n=200, mode=mode, seed=3).tolist()
        == pilot_sample(IDS, LABELS, n=200, mode=mode, seed=3).tolist()
    )


def test_a_stratified_sample_takes_each_class_in_proportion_rounded_to_a_neighbour() -> None:
    chosen = pilot_sample(IDS, LABELS, n=137, mode="stratified", seed=5)
    label_of = dict(zip(IDS.tolist(), LABELS.tolist(), strict=True))
    taken = Counter(label_of[i] for i in chosen.tolist())
    for cls, size in Counter(LABELS.tolist()).items():
        quota = size * 137 / IDS.size
        assert int(np.floor(quota)) <= taken.get(cls, 0) <= int(np.ceil(quota))


def test_a_uniform_sample_is_uniform_over_many_seeds() -> None:
    counts = np.zeros(IDS.size)
    for seed in range(400):
        counts[np.searchsorted(IDS, pilot_sample(IDS, n=100, seed=seed))] += 1
    # every image is expected 40 times; a binomial(400, 0.1) stays within 40 ± 25 with room to spare
    assert counts.min() > 15 and counts.max() < 65
    assert counts.sum() == 400 * 100


@pytest.mark.parametrize(
    ("ids", "labels", "n", "mode", "message"),
    [
        (IDS, None, 0, "uniform", "pilot size"),
        (IDS, None, IDS.size + 1, "uniform", "pilot size"),
        (np.array([1, 1, 2]), None, 1, "uniform", "distinct"),
        (IDS, None, 10, "stratified", "original labels"),
        (IDS, None, 10, "weighted", "mode"),
    ],
)
def test_bad_sampler_input_is_refused_with_a_reason(ids, labels, n, mode, message) -> None:
    with pytest.raises(ValueError, match=message):
        pilot_sample(ids, labels, n=n, mode=mode, seed=1)


@pytest.mark.parametrize(("p", "width"), [(0.16, 0.05), (0.5, 0.02), (0.01, 0.01), (0.9, 0.1)])
def test_images_for_width_is_the_first_size_whose_wilson_interval_is_that_narrow(p: float, width: float) -> None:
    n = images_for_width(p, width)

    def wide(total: int) -> float:
        low, high = wilson_interval(p * total, total)
        return high - low

    assert wide(n) <= width < wide(n - 1)
    # the textbook normal approximation 4 z² p(1-p) / w² lands close by
    assert n == pytest.approx(4 * 1.959964**2 * p * (1 - p) / width**2, rel=0.15, abs=40)


def test_more_needed_scales_by_the_denominators_share_of_the_settled_images() -> None:
    assert more_needed(400, 100, 125) == 375  # 400 non-empty ones need 500 settled
    assert more_needed(50, 100, 125) == 0
    assert more_needed(10, 0, 5) is None


def test_asma_delta_interval_by_hand() -> None:
    sums, counts = np.array([8.0, 3.0, 0.0, 0.0]), np.array([10, 3, 0, 0])
    value, (low, high) = asma_delta_interval(sums, counts)
    assert value == pytest.approx((0.8 + 1.0) / 2)
    z = 1.959964
    adjusted = [(8 + z * z / 2) / (10 + z * z), (3 + z * z / 2) / (3 + z * z)]
    var = (adjusted[0] * (1 - adjusted[0]) / (10 + z * z) + adjusted[1] * (1 - adjusted[1]) / (3 + z * z)) / 4
    assert high == pytest.approx(min(1.0, value + z * var**0.5), abs=1e-6)
    assert low == pytest.approx(value - z * var**0.5, abs=1e-6)
    assert asma_delta_interval(np.zeros(2), np.zeros(2, dtype=int)) is None


def test_pilot_estimates_agree_with_a_plain_loop() -> None:
    keys, original, real = reference()
    rng = np.random.default_rng(11)
    chosen = np.sort(rng.choice(len(real), 300, replace=False))
    sets = [real[i] for i in chosen]
    matrix = np.zeros((chosen.size, 1000), dtype=bool)
    for row, labels in enumerate(sets):
        matrix[row, labels] = True
    ranking = np.loadtxt(PREDICTIONS / "resnet50_top5.csv", delimiter=",", skiprows=1, dtype=str)
    topk = np.array([[int(c) for c in ranking[i, 1].split()] for i in chosen])
    result = pilot_estimates(matrix, original[chosen], {"resnet50": topk})
    nonempty = [s for s in sets if s]
    multi = sum(len(s) >= 2 for s in nonempty)
    assert result["n_settled"] == 300 and result["n_empty"] == 300 - len(nonempty)
    assert result["multilabel_share"]["value"] == multi / len(nonempty)
    assert result["multilabel_share"]["ci"] == pytest.approx(wilson_interval(multi, len(nonempty)))
    not_valid = sum(int(original[i]) not in real[i] for i in chosen if real[i])
    assert result["original_not_valid_share"]["value"] == not_valid / len(nonempty)
    assert [row["n"] for row in result["label_count_histogram"]] == [len(nonempty)] * 6
    assert sum(row["value"] for row in result["label_count_histogram"]) == pytest.approx(1.0)
    model = result["prediction_sets"]["resnet50"]
    assert model["top1"]["value"] == np.mean(topk[:, 0] == original[chosen])
    assert model["real1"]["value"] == np.mean([topk[r, 0] in s for r, s in enumerate(sets) if s])
    strict = [set(s) <= set(topk[r, : len(s)]) for r, s in enumerate(sets) if s and len(s) <= 5]
    assert model["vtk_strict"]["value"] == pytest.approx(np.mean(strict))
    bins = {1: [], 2: [], 3: [], 4: []}
    for r, s in enumerate(sets):
        if s and len(s) <= 5:
            bins[min(len(s), 4)].append(set(s) <= set(topk[r, : len(s)]))
    assert model["asma_strict"]["value"] == pytest.approx(np.mean([np.mean(v) for v in bins.values() if v]))
    # a narrower interval than the current one needs more settled images, a wider one none
    assert result["multilabel_share"]["more_for_width"] > 0
    wide = pilot_estimates(matrix, original[chosen], width=0.5)
    assert wide["multilabel_share"]["more_for_width"] == 0


def test_pilot_estimates_refuse_mismatched_input() -> None:
    with pytest.raises(ValueError):
        pilot_estimates(np.zeros((3, 5), dtype=bool), np.zeros(4, dtype=np.int64))


def test_the_95_percent_intervals_cover_the_full_dataset_value_in_about_95_percent_of_pilots() -> None:
    """200 seeded pilots of n = 500 from ImageNet val with ReaL's labels as the settled set (the benchmark runs
    1,000 per sampling mode; README has its table)."""
    _, original, real = reference()
    matrix = np.zeros((len(real), 1000), dtype=bool)
    for row, labels in enumerate(real):
        matrix[row, labels] = True
    sizes = matrix.sum(axis=1)
    nonempty = sizes > 0
    truth = {
        "multilabel_share": np.mean(sizes[nonempty] >= 2),  # 15.89 %
        "original_not_valid_share": np.mean(~matrix[np.arange(len(real)), original][nonempty]),
    }
    assert truth["multilabel_share"] == pytest.approx(0.1589, abs=5e-5)
    covered = Counter()
    ids = np.arange(len(real))
    for seed in range(200):
        chosen = pilot_sample(ids, original, n=500, mode="uniform", seed=seed)
        estimate = pilot_estimates(matrix[chosen], original[chosen])
        for key, value in truth.items():
            low, high = estimate[key]["ci"]
            covered[key] += low <= value <= high
    for key in truth:
        assert 0.90 <= covered[key] / 200 <= 0.99, (key, covered[key])


def test_model_score_by_hand() -> None:
    original = np.array([3, 3, 3, 3])
    first = np.array([[3, 1, 2, 4, 5], [1, 3, 2, 4, 5], [1, 2, 4, 5, 6], [3, 1, 2, 4, 5]])
    second = np.array([[3, 1, 2, 4, 5], [2, 1, 3, 4, 5], [1, 2, 4, 5, 6], [1, 3, 2, 4, 5]])
    disagreement, penalty = score_parts([first, second], original)
    assert disagreement.tolist() == [0.0, 0.5, 0.0, 0.5]
    assert penalty.tolist() == pytest.approx([0.0, (1 / 5 + 2 / 5) / 2, 1.0, (0 + 1 / 5) / 2])
    assert model_score([first, second], original).tolist() == penalty.tolist()
    assert guided_order(penalty, np.array([4, 3, 2, 1])).tolist() == [2, 1, 3, 0]


def test_auroc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(2)
    score = rng.integers(0, 7, 3000) / 6  # many ties
    positive = rng.random(3000) < 0.2 + 0.5 * score
    assert auroc(score, positive) == pytest.approx(roc_auc_score(positive, score), abs=1e-12)
    assert auroc(score, np.zeros(3000, dtype=bool)) is None


def test_images_to_find_agrees_with_a_plain_loop() -> None:
    rng = np.random.default_rng(3)
    positive = rng.random(500) < 0.15
    order = rng.permutation(500)
    found, counts = 0, {}
    for labelled, index in enumerate(order, start=1):
        found += positive[index]
        for share in (0.5, 0.8):
            if f"{share:g}" not in counts and found >= np.ceil(share * positive.sum()):
                counts[f"{share:g}"] = labelled
    assert images_to_find(order, positive) == counts


def test_calibrated_share_with_one_stratum_is_the_plain_ratio_and_with_everything_labelled_the_truth() -> None:
    rng = np.random.default_rng(4)
    nonempty = rng.random(2000) < 0.9
    multilabel = nonempty & (rng.random(2000) < 0.2)
    labelled = np.zeros(2000, dtype=bool)
    labelled[rng.choice(2000, 300, replace=False)] = True
    single = calibrated_share(np.zeros(2000, dtype=int), labelled, multilabel, nonempty)
    assert single["value"] == pytest.approx(multilabel[labelled].sum() / nonempty[labelled].sum())
    everything = calibrated_share(rng.integers(0, 5, 2000), np.ones(2000, dtype=bool), multilabel, nonempty)
    assert everything["value"] == pytest.approx(multilabel.sum() / nonempty.sum())
    assert (
        calibrated_share(np.zeros(2000, dtype=int), np.zeros(2000, dtype=bool), multilabel, nonempty)["value"] is None
    )


def test_a_pilot_with_no_settled_image_yet_has_no_estimates_rather_than_an_error() -> None:
    result = pilot_estimates(np.zeros((0, 6), dtype=bool), np.zeros(0, dtype=np.int64), {"m": np.zeros((0, 3), int)})
    assert result["n_settled"] == 0
    assert result["multilabel_share"] == {"value": None, "ci": None, "n": 0, "more_for_width": None}
    assert result["prediction_sets"]["m"]["asma_strict"]["value"] is None
    assert result["prediction_sets"]["m"]["top1"]["ci"] is None
