"""Creating and retiring a dataset's pilot sample (see `annotator.models.Pilot`)."""

from __future__ import annotations

import secrets

from django.contrib.auth.models import User
from django.db import connection, transaction

from annotator.core.pilot_sample import SAMPLE_MODES, pilot_order, pilot_sample
from annotator.models import Dataset, Image, Pilot, PilotImage
from annotator.models.pilots import MAX_PILOT_IMAGES

MAX_SEED = 2**62


class PilotInputError(ValueError):
    """Bad pilot settings, with a message for the user and the field it concerns."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@transaction.atomic
def pilot_create(
    *, dataset: Dataset, n: int, mode: str = "uniform", seed: int | None = None, created_by: User | None = None
) -> Pilot:
    """Draw a pilot of n images and make it the dataset's active one (the previous active pilot is retired).

    The dataset row is locked, so two concurrent creations for one dataset run one after the other and the
    partial unique constraint never fires. The pilot's images get a `pilot_rank` (`pilot_order`; the previous
    pilot's lose theirs), which the hand-out (`relabel_lease_next`) reads to give them first, in that order; the
    image rows are updated without the counters changing, so hand-outs that meet a locked row skip it as always.
    No seed: a random one is drawn and stored, so the sample can be reproduced. Bad settings raise
    PilotInputError before anything is written.
    """
    if mode not in SAMPLE_MODES:
        raise PilotInputError("mode", f"mode must be one of: {', '.join(SAMPLE_MODES)}")
    if seed is None:
        seed = secrets.randbelow(MAX_SEED)
    elif not 0 <= seed < MAX_SEED:
        raise PilotInputError("seed", f"seed must lie in 0..{MAX_SEED - 1}")
    Dataset.objects.select_for_update().only("pk").get(pk=dataset.pk)
    rows = list(Image.objects.filter(dataset=dataset).values_list("id", "original_label__index"))
    largest = min(len(rows), MAX_PILOT_IMAGES)
    if not 1 <= n <= largest:
        raise PilotInputError(
            "n", f"the pilot size must lie in 1..{largest} (the dataset's images, at most {MAX_PILOT_IMAGES:,})"
        )
    ids = [image_id for image_id, _ in rows]
    original = [-1 if label is None else label for _, label in rows]
    chosen = pilot_sample(ids, original, n=n, mode=mode, seed=seed)
    Pilot.objects.filter(dataset=dataset, active=True).update(active=False)
    pilot = Pilot.objects.create(dataset=dataset, n=n, mode=mode, seed=seed, created_by=created_by)
    PilotImage.objects.bulk_create(PilotImage(pilot=pilot, image_id=int(i)) for i in chosen)
    Image.objects.filter(dataset=dataset, pilot_rank__isnull=False).update(pilot_rank=None)
    ranks = pilot_order(n, seed)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Image._meta.db_table} i SET pilot_rank = r.rank "
            "FROM unnest(%s::bigint[], %s::int[]) AS r(id, rank) WHERE i.id = r.id",
            [chosen.tolist(), ranks.tolist()],
        )
    return pilot


@transaction.atomic
def pilot_deactivate(*, pilot: Pilot) -> None:
    """The queue stops handing out this pilot's images first; its estimates stay readable. Locks the dataset
    row, as pilot_create does, so a retirement and a creation never interleave."""
    Dataset.objects.select_for_update().only("pk").get(pk=pilot.dataset_id)
    if Pilot.objects.filter(pk=pilot.pk, active=True).update(active=False):
        Image.objects.filter(dataset_id=pilot.dataset_id, pilot_rank__isnull=False).update(pilot_rank=None)
    pilot.active = False
