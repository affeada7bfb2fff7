"""Who is building a release: the claim, its heartbeat, and how a dead builder's release is retaken.

A build claims its release with a conditional update that records the server process id of its database
session (`claim_backend`) and the time (`claimed_at`). While the build runs, a thread beats every HEARTBEAT
through a second connection (the phase and progress go through it too, so the page sees them while the
build's reading transaction is open). A claim is free to retake when:

- its connection is gone: the worker died (SIGKILL, OOM) and PostgreSQL ended its session at once, so the
  next delivery or the periodic sweep retakes it within seconds of seeing it;
- or its heartbeat is older than STALE_CLAIM (a worker cut off from the database whose session lingers).

A second build of the same release is harmless anyway: the first to publish wins, the other deletes its files.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from evaluation.models import Release

logger = logging.getLogger(__name__)

HEARTBEAT = timedelta(seconds=5)
# Six missed heartbeats: the builder is cut off or dead.
STALE_CLAIM = timedelta(seconds=30)
# A release whose build task has not started this long after creation lost its task message.
UNCLAIMED_GRACE = timedelta(minutes=2)

_TABLE = Release._meta.db_table
_BACKEND_ALIVE = f"EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = {_TABLE}.claim_backend)"


def _with_holder_alive():  # noqa: ANN202 - a queryset of Release
    return Release.objects.annotate(holder_alive=RawSQL(_BACKEND_ALIVE, [], output_field=BooleanField()))


def _retakeable(stale_before: datetime) -> Q:
    return Q(claimed_at__lt=stale_before) | Q(claim_backend__isnull=False, holder_alive=False)


def releases_needing_a_build(*, now: datetime | None = None) -> list[int]:
    """Releases still `building` with no live build: never claimed a while after creation (the task was
    lost), or claimed by a build that died (its connection is gone, or its heartbeat is stale). The periodic
    sweep enqueues them again, so a build survives a lost worker on any broker, even one that never
    redelivers."""
    now = now or timezone.now()
    lost = Q(claimed_at__isnull=True, created_at__lt=now - UNCLAIMED_GRACE)
    orphaned = _with_holder_alive().filter(lost | _retakeable(now - STALE_CLAIM), state=Release.State.BUILDING)
    return list(orphaned.values_list("pk", flat=True))


def release_build_held_elsewhere(*, release_id: int) -> bool:
    """Whether a live build holds this release (the caller may try again later)."""
    fresh = _with_holder_alive().filter(pk=release_id, state=Release.State.BUILDING, claimed_at__isnull=False)
    return fresh.exclude(_retakeable(timezone.now() - STALE_CLAIM)).exists()


class ReleaseClaim:
    """A build's hold on its release: `with ReleaseClaim(id) as claim: if claim.held: …`.

    Phase, progress and the heartbeat go through a connection of their own, shared by the build's thread
    (`update`) and the heartbeat thread under a lock, and never rolled back with the build's transaction.
    The build never updates its release row while it holds that lock, so neither thread waits for the other."""

    def __init__(self, release_id: int) -> None:
        self.release_id = release_id
        self.held = False
        self.connection = connections.create_connection(DEFAULT_DB_ALIAS)
        self.connection.inc_thread_sharing()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"release-{release_id}-heartbeat", daemon=True)

    def __enter__(self) -> ReleaseClaim:
        # Through the build's own connection: its session lives exactly as long as the build's worker.
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {_TABLE} SET claimed_at = now(), claim_backend = pg_backend_pid(), phase = 'starting' "
                f"WHERE id = %s AND state = 'building' AND (claimed_at IS NULL OR claimed_at < now() - %s "
                f"OR (claim_backend IS NOT NULL AND NOT {_BACKEND_ALIVE}))",
                [self.release_id, STALE_CLAIM],  # type: ignore[list-item]  # psycopg2 sends a timedelta as an interval
            )
            self.held = cursor.rowcount > 0
        if self.held:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.connection.dec_thread_sharing()
        self.connection.close()

    def update(self, phase: str, fraction: float) -> None:
        self._execute(
            f"UPDATE {_TABLE} SET phase = %s, progress = %s, claimed_at = now() WHERE id = %s AND state = 'building'",
            [phase, round(min(max(fraction, 0.0), 1.0), 4), self.release_id],
        )

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT.total_seconds()):
            try:
                # SKIP LOCKED: never wait for the build's own transaction (publishing locks the row).
                self._execute(
                    f"UPDATE {_TABLE} SET claimed_at = now() WHERE id IN (SELECT id FROM {_TABLE} "
                    f"WHERE id = %s AND state = 'building' FOR UPDATE SKIP LOCKED)",
                    [self.release_id],
                )
            except DatabaseError as error:  # an outage: beat again through a new connection next time
                logger.warning("release %s: heartbeat failed: %s", self.release_id, error)
                with self._lock:
                    self.connection.close()

    def _execute(self, sql: str, params: list[Any]) -> bool:
        with self._lock, self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount > 0
