"""python -m bench.guided_handout — what the model-guided order costs the hand-out (`relabel_lease_next`) and
what storing the scores costs.

A file-less dataset of 20,000 images (N = 3) in the database `relabel_bench`; 200 annotators each ask for one
image (the lease is then dropped again): with the previous function version (v2, before), in position order
without scores, in position order with scores
stored, in model-guided order, and in model-guided order with 2,000 images begun (one annotation each, so the
begun head is full). Scores are seeded random (0 … 1, a tenth of the images without one). Prints the median and
p95 per call, the time of a first fill and of an unchanged rewrite of the scores, the load average, and the plans
of the guided fresh-image read and begun head (ordered reads of their partial indexes, no scan or sort).
"""

from __future__ import annotations

import os
import time

import numpy as np

from bench.handout import handout_world, setup_django, timed_handouts

GUIDED_FRESH = (
    "SELECT i.id FROM annotator_image i WHERE i.dataset_id = %s AND i.annotation_count = 0 AND i.lease_count = 0 "
    "AND i.more_requested_at IS NULL ORDER BY i.model_score DESC NULLS LAST, i.position LIMIT 1 "
    "FOR UPDATE OF i SKIP LOCKED"
)
GUIDED_HEAD = (
    "SELECT h.id FROM annotator_image h WHERE h.dataset_id = %s "
    "AND h.annotations_needed > h.annotation_count + h.lease_count "
    "AND (h.annotation_count > 0 OR h.lease_count > 0 OR h.more_requested_at IS NOT NULL) "
    "ORDER BY h.more_requested_at ASC NULLS LAST, h.annotations_needed - h.annotation_count - h.lease_count, "
    "h.position LIMIT 64"
)


def main() -> None:
    setup_django()
    from django.db import connection

    from annotator.db.functions import current_sql, versioned_sql
    from annotator.models import Dataset, Image
    from annotator.services.assignment import dataset_queue_order_set
    from annotator.services.candidates import model_scores_replace

    print(f"load average before: {os.getloadavg()}")
    dataset, users = handout_world("guided-handout")
    with connection.cursor() as cursor:  # before: the hand-out as it was (version 2, no model-guided branch)
        cursor.execute(versioned_sql(relabel_lease_next=2))
    timed_handouts(dataset, users, "before (relabel_lease_next v2): position order")
    with connection.cursor() as cursor:
        cursor.execute(current_sql("relabel_lease_next"))
    timed_handouts(dataset, users, "position order, no scores")
    ids = np.array(list(Image.objects.filter(dataset=dataset).order_by("position").values_list("pk", flat=True)))
    rng = np.random.default_rng(22)
    scores = rng.random(ids.size)
    scores[rng.random(ids.size) < 0.1] = np.nan
    for label in ("first fill", "unchanged rewrite"):
        started = time.perf_counter()
        changed = model_scores_replace(dataset=dataset, image_ids=ids, scores=scores)
        print(f"scores, {label}: {changed} rows changed in {time.perf_counter() - started:.2f} s")
    timed_handouts(dataset, users, "position order, scores stored")
    dataset_queue_order_set(dataset=dataset, queue_order="model_guided")
    timed_handouts(dataset, users, "model-guided order")
    begun = ids[rng.choice(ids.size, 2000, replace=False)]
    Image.objects.filter(pk__in=begun.tolist()).update(annotation_count=1)
    timed_handouts(dataset, users, "model-guided order, 2,000 images begun")
    for name, query in (("fresh-image read", GUIDED_FRESH), ("begun head", GUIDED_HEAD)):
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + query, [dataset.pk])
            print(f"plan of the guided {name}:\n  " + "\n  ".join(row[0] for row in cursor.fetchall()))
    print(f"load average after: {os.getloadavg()}")
    Dataset.objects.filter(slug="guided-handout").delete()


if __name__ == "__main__":
    main()
