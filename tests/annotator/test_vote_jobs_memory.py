"""The dataset-wide vote jobs in bounded memory (issue 23) give exactly the results of the code they replace.

Consensus is computed by blocks of images (`vote_data_blocks`), the votes are read into compact arrays a chunk at
a time, Dawid–Skene skips its per-vote index and unit-weight arrays, agreement looks questions up by packed keys
and sums its set-α pairs by blocks. Each test holds the replaced computation (the whole at once, int64 arrays,
Python dicts, all pairs together) as its reference and asserts equality, not closeness, on random data: fixed and
adaptive redundancy, every Dawid–Skene prior, votes in any order, images without votes, tiny blocks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from annotator.core.aggregation import MAYBE, NO, YES, VoteArrays, dawid_skene, unique_first_inverse
from annotator.core.agreement import binary_alpha, krippendorff_alpha_nominal
from annotator.core.consensus_rules import (
    ConsensusSettings,
    DsParams,
    VoteData,
    consensus_compute,
    questions_of,
    vote_data_blocks,
)
from annotator.core.set_agreement import (
    LabelSets,
    _intersections,
    _observed_terms,
    _row_entries,
    _set_distance,
    _set_ids,
    pairs_within,
    set_alpha,
)

N_CLASSES = 12


def random_vote_data(seed: int, n_images: int = 40, *, grouped: bool = False) -> VoteData:
    """Images with gaps in their ids, a fifth without any answer; 1–5 annotators of 9 answer 3 candidates each
    (a tenth of the votes maybe), some also a class found through search; flags and seconds at random. Votes and
    annotations shuffled unless `grouped`. int64 arrays, as the live path builds them."""
    rng = np.random.default_rng(seed)
    image_id = np.cumsum(rng.integers(1, 4, n_images)) + 1000
    original = rng.integers(0, N_CLASSES, n_images)
    votes, annotations = [], []
    for i in range(n_images):
        if rng.random() < 0.2:
            continue
        candidates = [(original[i] + k) % N_CLASSES for k in range(3)]
        for annotator in rng.choice(9, rng.integers(1, 6), replace=False):
            annotations.append((i, 500 + annotator, *(rng.random(4) < (0.1, 0.1, 0.1, 0.7)), rng.integers(1, 9000)))
            if rng.random() < 0.05:  # answered with a flag only: no vote
                continue
            for c in candidates:
                answer = MAYBE if rng.random() < 0.1 else int(rng.random() < (0.8 if c == original[i] else 0.3))
                votes.append((i, 7000 + c, c, 500 + annotator, answer, 1))
            if rng.random() < 0.1:
                c = (original[i] + 5) % N_CLASSES
                votes.append((i, 7000 + c, c, 500 + annotator, YES, 0))
    v = np.array(votes, np.int64).reshape(-1, 6)
    a = np.array(annotations, np.int64).reshape(-1, 7)
    if not grouped:
        v, a = v[rng.permutation(len(v))], a[rng.permutation(len(a))]
    return VoteData(
        image_id=image_id, image_needed=rng.integers(2, 5, n_images), image_original=7000 + original,
        vote_image=v[:, 0], vote_class=v[:, 1], vote_class_index=v[:, 2], vote_annotator=v[:, 3],
        vote_answer=v[:, 4].astype(np.int8), ann_image=a[:, 0], ann_annotator=a[:, 1],
        ann_none_fits=a[:, 2].astype(bool), ann_unsure=a[:, 3].astype(bool), ann_bad_image=a[:, 4].astype(bool),
        ann_has_classes=a[:, 5].astype(bool), ann_seconds=a[:, 6] / 1000.0, vote_candidate=v[:, 5].astype(bool),
        image_extra=rng.integers(0, 2, n_images),
    )  # fmt: skip


def compact(data: VoteData) -> VoteData:
    """The narrow dtypes `dataset_vote_data` reads into."""
    return dataclasses.replace(
        data, vote_image=data.vote_image.astype(np.int32), vote_class=data.vote_class.astype(np.int32),
        vote_class_index=data.vote_class_index.astype(np.int16), vote_annotator=data.vote_annotator.astype(np.int32),
        ann_image=data.ann_image.astype(np.int32), ann_annotator=data.ann_annotator.astype(np.int32),
    )  # fmt: skip


def ds_params(prior_mode: str, seed: int = 3) -> DsParams:
    rng = np.random.default_rng(seed)
    llr = {500 + a: tuple(rng.normal(0, 2, 3)) for a in range(7)}  # two annotators the run did not see
    return DsParams(1, prior_mode, llr, (-1.5, 2.0, 0.3), rng.normal(0, 1, 3))  # type: ignore[arg-type]


SETTINGS = {
    "fixed majority": (ConsensusSettings(min_answers=3), None),
    "fixed, Dawid-Skene original": (ConsensusSettings(min_answers=3, aggregation="dawid_skene"), "original"),
    "fixed, Dawid-Skene single": (ConsensusSettings(min_answers=2, aggregation="dawid_skene"), "single"),
    "fixed, Dawid-Skene ReaL strata": (ConsensusSettings(aggregation="dawid_skene"), "imagenet_real"),
    "adaptive majority": (ConsensusSettings(min_answers=2, redundancy="adaptive"), None),
    "adaptive, Dawid-Skene": (
        ConsensusSettings(min_answers=2, redundancy="adaptive", aggregation="dawid_skene", ds_prior="original"),
        "original",
    ),
}


@pytest.mark.parametrize("name", SETTINGS)
@pytest.mark.parametrize("grouped", [False, True])
def test_consensus_by_blocks_of_images_is_the_consensus_of_the_whole_row_for_row(name, grouped):
    settings, prior = SETTINGS[name]
    ds = ds_params(prior) if prior else None
    for seed in range(3):
        data = random_vote_data(seed, grouped=grouped)
        whole = consensus_compute(data, settings, ds)
        assert 0 < len(whole) < data.n_images  # images without answers give no row, so some blocks are empty
        for size in (1, 2, 3, 7, data.n_images - 1, data.n_images, data.n_images + 5):
            blocks = [consensus_compute(block, settings, ds) for block in vote_data_blocks(data, size)]
            assert len(blocks) == -(-data.n_images // size)
            assert [row for rows in blocks for row in rows] == whole
        assert consensus_compute(compact(data), settings, ds) == whole


def test_blocks_need_an_image_and_a_dataset_without_votes_gives_empty_blocks():
    data = random_vote_data(0, 6)
    per_answer = [f.name for f in dataclasses.fields(data) if f.name.startswith(("vote", "ann"))]
    empty = dataclasses.replace(data, **{name: getattr(data, name)[:0] for name in per_answer})
    assert [consensus_compute(b, ConsensusSettings()) for b in vote_data_blocks(empty, 4)] == [[], []]
    with pytest.raises(ValueError):
        next(vote_data_blocks(data, 0))


def test_questions_of_compact_votes_are_those_of_int64_votes_and_int64_themselves():
    data = random_vote_data(5)
    wide, narrow = questions_of(data), questions_of(compact(data))
    for field in ("image", "class_id", "class_index", "is_original", "annotator_ids"):
        assert np.array_equal(getattr(narrow, field), getattr(wide, field))
        assert getattr(narrow, field).dtype == getattr(wide, field).dtype
    for field in ("item", "annotator", "answer", "image_of_item"):
        assert np.array_equal(getattr(narrow.votes, field), getattr(wide.votes, field))


def test_unique_by_hand_is_numpys_unique_with_first_occurrences_and_inverse():
    rng = np.random.default_rng(1)
    for n in (0, 1, 2, 50, 5000):
        for key in (rng.integers(0, max(n // 3, 1), n), rng.integers(0, 2**64 - 1, n, np.uint64, endpoint=True)):
            if n == 5000 and key.dtype == np.uint64:
                key[::3] = key[1::3][: len(key[::3])]  # repeated 64-bit hashes, some above 2**63
            expected = np.unique(key, return_index=True, return_inverse=True)
            got = unique_first_inverse(key.copy())
            assert got[2].dtype == np.int64 and got[0].dtype == key.dtype
            for part, want in zip(got, expected, strict=True):
                assert np.array_equal(part, want.ravel())
    with pytest.raises(TypeError):
        unique_first_inverse(np.zeros(3, np.int32))


@pytest.mark.parametrize("groups", [None, "strata"])
def test_a_fit_without_per_vote_weights_is_the_fit_with_unit_weights_to_the_bit(groups):
    """ "half" without any maybe vote weighs every vote 1 through the weighted path; "no" takes the path
    without weights. The two must agree exactly."""
    rng = np.random.default_rng(11)
    n_items, n_annotators = 3000, 25
    item = np.repeat(np.arange(n_items), 5)
    annotator = np.concatenate([rng.choice(n_annotators, 5, replace=False) for _ in range(n_items)])
    truth = rng.random(n_items) < 0.4
    answer = np.where(rng.random(len(item)) < 0.85, truth[item], ~truth[item]).astype(np.int8)
    votes = VoteArrays.from_columns(item, annotator, answer)
    strata = rng.integers(0, 3, n_items) if groups else None
    weighted = dawid_skene(votes, maybe="half", groups=strata)
    unweighted = dawid_skene(votes, maybe="no", groups=strata)
    assert weighted.iterations == unweighted.iterations > 3
    for field in ("posterior", "confusion", "group_prior", "sensitivity", "specificity"):
        assert np.array_equal(getattr(weighted, field), getattr(unweighted, field))
    assert weighted.log_likelihood == unweighted.log_likelihood and weighted.prior == unweighted.prior
    assert np.all(votes.answer != MAYBE) and set(np.unique(answer)) == {NO, YES}


def _label_sets_as_before(votes: VoteArrays, class_of_item: np.ndarray) -> LabelSets:
    image = votes.image_of_item[votes.item]
    key = image * max(votes.n_annotators, 1) + votes.annotator
    rows, row_of_vote = np.unique(key, return_inverse=True)
    chosen = votes.answer == YES
    width = max(votes.n_annotators, 1)
    labels = np.asarray(class_of_item, np.int64)[votes.item[chosen]]
    return LabelSets.from_entries(rows // width, rows % width, row_of_vote[chosen], labels)


def _set_ids_as_before(sets: LabelSets, rows: np.ndarray) -> tuple[np.ndarray, ...]:
    size = sets.sizes[rows]
    _, lab, start, offset = _row_entries(sets, rows)
    rng = np.random.default_rng(20240601)
    codes = rng.integers(0, np.iinfo(np.uint64).max, int(lab.max(initial=0)) + 1, np.uint64, endpoint=True)
    csum = np.r_[np.uint64(0), np.cumsum(codes[lab], dtype=np.uint64)]
    _, first, sid = np.unique(csum[start + size] - csum[start], return_index=True, return_inverse=True)
    sid = sid.ravel()
    set_size = size[first]
    set_off = np.arange(int(set_size.sum())) - np.repeat(np.cumsum(set_size) - set_size, set_size)
    return sid, set_size, np.repeat(np.arange(len(first)), set_size), lab[np.repeat(start[first], set_size) + set_off]


def _observed_as_before(sets: LabelSets) -> float:
    order = np.argsort(sets.unit, kind="stable")
    unit = sets.unit[order]
    m_of_unit = np.bincount(unit)
    rows, unit = order[m_of_unit[unit] >= 2], unit[m_of_unit[unit] >= 2]
    size = sets.sizes[rows]
    pi, pj = pairs_within(unit)
    inter = _intersections(sets, rows, unit, pi, pj)
    return float(np.sum(_set_distance(size[pi], size[pj], inter, "masi") / (m_of_unit[unit[pi]] - 1)))


def test_label_sets_set_alpha_by_blocks_and_alpha_over_dense_items_equal_the_computations_they_replace():
    for seed in range(4):
        q = questions_of(random_vote_data(seed, 120))
        sets = LabelSets.from_votes(q.votes, q.class_index)
        before = _label_sets_as_before(q.votes, q.class_index)
        for field in ("unit", "coder", "indptr", "indices"):
            assert np.array_equal(getattr(sets, field), getattr(before, field))
        order = np.argsort(sets.unit, kind="stable")
        unit = sets.unit[order]
        m_of_unit = np.bincount(unit)
        rows, unit = order[m_of_unit[unit] >= 2], unit[m_of_unit[unit] >= 2]
        for block in (1, 2, 3, 17, 10**6):
            assert float(np.sum(_observed_terms(sets, rows, unit, m_of_unit, "masi", block))) == (
                _observed_as_before(sets)
            )
        for got, want in zip(_set_ids(sets, rows), _set_ids_as_before(sets, rows), strict=True):
            assert np.array_equal(got, want)
        assert not np.isnan(set_alpha(sets))
        item, code = q.votes.item[q.votes.answer != MAYBE], q.votes.answer[q.votes.answer != MAYBE]
        assert binary_alpha(q.votes) == krippendorff_alpha_nominal(item, code, 2)  # relabelled, as before
        assert not np.isnan(binary_alpha(q.votes))


# --- against the database: the read, the blocks written, the agreement lookups --------------------------------


def _vote_data_as_before(dataset) -> VoteData:  # noqa: ANN001
    """`dataset_vote_data` as it was: three int64 matrices, a column_stack, and `_vote_data`."""
    from annotator.models import Annotation, Image, LabelClass, Vote
    from annotator.pg_copy import read_int_columns
    from annotator.selectors.consensus import _ANSWER_SQL, _vote_data

    images = read_int_columns(
        f"SELECT id::bigint, annotations_needed::bigint, coalesce(original_label_id, -1)::bigint, "
        f"extra_annotations::bigint FROM {Image._meta.db_table} WHERE dataset_id = %s ORDER BY id", [dataset.pk], 4
    )  # fmt: skip
    candidate = (
        "(EXISTS (SELECT 1 FROM annotator_candidate k WHERE k.image_id = i.id AND k.label_class_id = v.label_class_id)"
        " OR (v.label_class_id IS NOT DISTINCT FROM i.original_label_id"
        " AND NOT EXISTS (SELECT 1 FROM annotator_candidate k WHERE k.image_id = i.id)))::int::bigint"
        if dataset.adaptive
        else "1::bigint"
    )
    votes = read_int_columns(
        f"SELECT v.image_id::bigint, v.label_class_id::bigint, v.annotator_id::bigint, ({_ANSWER_SQL})::bigint, "
        f"{candidate} FROM {Vote._meta.db_table} v JOIN {Image._meta.db_table} i ON i.id = v.image_id "
        f"WHERE i.dataset_id = %s", [dataset.pk], 5,
    )  # fmt: skip
    class_ids, class_index = (
        np.array(LabelClass.objects.filter(dataset=dataset).order_by("id").values_list("id", "index"), np.int64)
        .reshape(-1, 2)
        .T
    )
    index_of_vote = class_index[np.searchsorted(class_ids, votes[:, 1])] if len(votes) else np.zeros(0, np.int64)
    votes = np.column_stack([votes[:, :2], index_of_vote, votes[:, 2:]])
    annotations = read_int_columns(
        f"SELECT image_id::bigint, annotator_id::bigint, none_fits::int::bigint, unsure::int::bigint, "
        f"bad_image::int::bigint, (cardinality(classes) > 0)::int::bigint, round(seconds * 1000)::bigint "
        f"FROM {Annotation._meta.db_table} WHERE dataset_id = %s", [dataset.pk], 7,
    )  # fmt: skip
    return _vote_data(images, votes, annotations)


def _simulated(tmp_path, *, adaptive: bool, images: int = 30, answered: int = 20):  # noqa: ANN001, ANN202
    """`images` images with 3 candidates of 6 classes; the first `answered` answered through import_votes by 2–5
    of 6 raters (some with a class found through search), the rest not at all; gold answers on a few questions."""
    from django.core.management import call_command

    from annotator.services.assignment import dataset_redundancy_set
    from tests.builders.annotations import workbench_dataset

    slug = "adaptivesim" if adaptive else "fixedsim"
    dataset = workbench_dataset(slug=slug, images=images, classes=6, candidates_per_image=3, annotations_per_image=4)
    if adaptive:
        dataset_redundancy_set(dataset=dataset, redundancy="adaptive", minimum=2, maximum=5)
    rng = np.random.default_rng(17)
    lines, gold = ["image,class,annotator,answer"], ["image,class,answer"]
    for position in range(answered):
        candidates = [(position + k) % 6 for k in range(3)]
        for rater in rng.choice(6, rng.integers(2, 6), replace=False):
            for c in candidates:
                p_yes = 0.8 if c == candidates[0] else 0.3
                answer = "maybe" if rng.random() < 0.1 else ("yes" if rng.random() < p_yes else "no")
                lines.append(f"{slug}_{position:04d}.jpg,{c},rater{rater},{answer}")
            if rng.random() < 0.15:
                lines.append(f"{slug}_{position:04d}.jpg,{(position + 4) % 6},rater{rater},yes")
        if position % 3 == 0:
            gold.append(f"{slug}_{position:04d}.jpg,{candidates[position % 2]},{'yes' if position % 2 else 'no'}")
    (tmp_path / "votes.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "gold.csv").write_text("\n".join(gold) + "\n")
    call_command("import_votes", slug, str(tmp_path / "votes.csv"), "--gold", str(tmp_path / "gold.csv"))
    dataset.refresh_from_db()
    return dataset


@pytest.mark.django_db
def test_reading_the_int_columns_by_chunks_gives_the_rows_of_the_one_piece_read_and_refuses_a_wrong_width():
    from django.db import DatabaseError

    from annotator.pg_copy import read_int_column_chunks, read_int_columns

    sql = "SELECT g::bigint, (g * 3000000000)::bigint, (g %% 7 - 3)::smallint FROM generate_series(1, %s) g"
    whole = read_int_columns(sql.replace("::smallint", "::bigint"), [1000], 3)
    for per_chunk in (1, 7, 1000, 5000):
        chunks = list(read_int_column_chunks(sql, [1000], (8, 8, 2), rows_per_chunk=per_chunk))
        assert [first for first, _, _ in chunks] == list(range(0, 1000, per_chunk))
        assert {total for _, total, _ in chunks} == {1000}
        columns = [np.concatenate([chunk[c] for _, _, chunk in chunks]) for c in range(3)]
        assert [c.dtype for c in columns] == [np.int64, np.int64, np.int16]
        assert np.array_equal(np.column_stack(columns), whole)
    assert list(read_int_column_chunks(sql, [0], (8, 8, 2))) == []
    with pytest.raises(ValueError, match="widths"):
        list(read_int_column_chunks(sql, [10], (8, 8, 4)))
    with pytest.raises((ValueError, DatabaseError)):
        list(read_int_column_chunks("SELECT NULL::bigint", [], (8,)))


@pytest.mark.django_db
@pytest.mark.parametrize("adaptive", [False, True])
def test_the_compact_read_holds_the_values_of_the_int64_read_in_the_same_order(tmp_path, adaptive):
    from annotator.selectors.consensus import dataset_vote_data

    dataset = _simulated(tmp_path, adaptive=adaptive)
    new, old = dataset_vote_data(dataset), _vote_data_as_before(dataset)
    for field in dataclasses.fields(VoteData):
        got, want = getattr(new, field.name), getattr(old, field.name)
        assert np.array_equal(got, want), field.name
        assert np.dtype(got.dtype).itemsize <= np.dtype(want.dtype).itemsize
    assert new.vote_image.dtype == np.int32 and new.vote_class_index.dtype == np.int16
    assert adaptive == (not new.vote_candidate.all())  # the searched classes are no candidates
    rules = ConsensusSettings(min_answers=2, redundancy="adaptive" if adaptive else "fixed")
    assert consensus_compute(new, rules) == consensus_compute(old, rules)


def _consensus_rows(dataset) -> list[tuple]:  # noqa: ANN001
    from annotator.models import Consensus
    from annotator.services.consensus import COLUMNS

    fields = [c for c in COLUMNS if c != "updated_at"] + ["excluded"]
    return list(Consensus.objects.filter(dataset=dataset).order_by("image_id").values_list(*fields))


def _transactions_that_wrote(dataset) -> int:  # noqa: ANN001
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(DISTINCT xmin::text) FROM annotator_consensus WHERE dataset_id = %s", [dataset.pk])
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("adaptive", [False, True])
def test_recomputed_by_blocks_with_a_run_and_adjudications_the_rows_are_those_of_one_block(
    tmp_path, adaptive, reviewer
):
    from annotator.models import Consensus, Image
    from annotator.services.consensus import consensus_recompute_dataset
    from annotator.services.dawid_skene import dawid_skene_run
    from annotator.services.review import adjudication_exclude, adjudication_set

    dataset = _simulated(tmp_path, adaptive=adaptive)
    dataset.aggregation = "dawid_skene"
    dataset.save(update_fields=["aggregation"])
    assert dawid_skene_run(dataset=dataset, chunk=10**6) is not None
    first, second = Image.objects.filter(dataset=dataset).order_by("id")[:2]
    adjudication_set(image_id=first.pk, reviewer=reviewer, labels=[first.original_label_id])
    adjudication_exclude(image_id=second.pk, reviewer=reviewer, reason="ambiguous")
    dataset.refresh_from_db()

    def stale() -> None:
        Consensus.objects.filter(dataset=dataset).update(counts={}, shares={}, ds_posterior=None)

    stale()
    assert consensus_recompute_dataset(dataset=dataset, chunk=10**6) == 20
    # the upsert compares the kept status and labels of an adjudicated row with the computed ones: a rerun
    # rewrites those two rows, in one block or many alike
    rerun = consensus_recompute_dataset(dataset=dataset, chunk=10**6)
    one_block = _consensus_rows(dataset)
    assert len(one_block) == 20 and {r[-2] for r in one_block} == {True, False}  # adjudicated ones and others
    assert any(r[COLUMN_DS_RUN] for r in one_block) and (adaptive == any(r[-3] for r in one_block))
    for size in (1, 3, 7, 19, 29, 30):
        stale()
        assert consensus_recompute_dataset(dataset=dataset, chunk=size) == 20
        assert _consensus_rows(dataset) == one_block
        # images 20–29 have no answer: their blocks write nothing, in no transaction of their own
        assert _transactions_that_wrote(dataset) == -(-20 // size)
        assert consensus_recompute_dataset(dataset=dataset, chunk=size) == rerun


COLUMN_DS_RUN = 14  # ds_run_id in _consensus_rows


@pytest.mark.django_db
def test_agreement_lookups_by_packed_keys_equal_the_python_dicts_they_replace(tmp_path, reviewer):
    from annotator.models import Consensus, GoldAnswer, Image, LabelClass
    from annotator.selectors.consensus import dataset_vote_data
    from annotator.services.agreement_figures import gold_of_questions, settled_questions
    from annotator.services.review import adjudication_exclude, adjudication_set

    dataset = _simulated(tmp_path, adaptive=False)
    images = list(Image.objects.filter(dataset=dataset).order_by("id"))
    index = LabelClass.objects.get(pk=images[0].original_label_id).index
    other = LabelClass.objects.get(dataset=dataset, index=(index + 3) % 6).pk  # never asked about that image
    adjudication_set(image_id=images[0].pk, reviewer=reviewer, labels=[images[0].original_label_id, other])
    adjudication_set(image_id=images[1].pk, reviewer=reviewer, labels=[])
    adjudication_exclude(image_id=images[2].pk, reviewer=reviewer, reason="bad")
    data = dataset_vote_data(dataset)
    q = questions_of(data)
    settled = dict(
        Consensus.objects.filter(dataset=dataset).exclude(status="pending").values_list("image_id", "labels")
    )
    assert 0 < len(settled) < 20
    image_ids = data.image_id[q.image]
    valid_keys = {(image, c) for image, labels in settled.items() for c in labels}
    pairs = list(zip(image_ids.tolist(), q.class_id.tolist(), strict=True))
    valid_before = np.array([pair in valid_keys for pair in pairs], bool)
    settled_before = np.isin(image_ids, np.fromiter(settled, np.int64, len(settled)))
    settled_q, valid = settled_questions(dataset, data.image_id, q)
    assert np.array_equal(settled_q, settled_before) and np.array_equal(valid, valid_before)
    assert valid.any() and (settled_q & ~valid).any() and not settled_q.all()

    rows = GoldAnswer.objects.filter(image__dataset=dataset).values_list("image_id", "label_class_id", "answer")
    lookup = {(i, c): int(a == "yes") for i, c, a in rows}
    gold_before = np.array([lookup.get(pair, -1) for pair in pairs], np.int8)
    gold = gold_of_questions(dataset, data.image_id, q)
    assert np.array_equal(gold, gold_before) and {0, 1, -1} <= set(gold.tolist())
