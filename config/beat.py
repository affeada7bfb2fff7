"""Celery beat's scheduler (CELERY_BEAT_SCHEDULER), made to outlive a broker outage.

Celery's own scheduler keeps one producer for its whole life. When a tick's publish fails because the broker
is unreachable (with the default SQLAlchemy broker: the database is down), that producer's channel is closed
for good, and every later tick fails with "channel disconnected" while the process stays alive. Here a
failed publish drops the connection and the producer, so the next attempt opens new ones; the entry that
could not be sent is kept and sent as soon as the broker answers again (not one whole interval later), and
while the broker stays away beat waits for it, trying every few seconds.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.beat import PersistentScheduler, ScheduleEntry
from kombu.exceptions import OperationalError as KombuOperationalError

logger = logging.getLogger(__name__)

# While the broker is away: seconds between connection attempts (kombu's default grows to 30 s).
RECONNECT_INTERVAL_MAX = 5.0


class Scheduler(PersistentScheduler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._missed: dict[str | None, ScheduleEntry] = {}
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if self._missed:
            self._send_missed()
        return super().tick(*args, **kwargs)

    def apply_entry(self, entry: ScheduleEntry, producer: Any = None) -> None:
        logger.info("Scheduler: Sending due task %s (%s)", entry.name, entry.task)
        try:
            self.apply_async(entry, producer=producer, advance=False)
        except Exception as error:  # noqa: BLE001 - beat must keep ticking whatever one entry does
            if not self._broker_unreachable(error):
                logger.exception("Message Error: %s", error)
                return
            logger.warning("beat: the broker is unreachable (%s); %s will be sent when it answers", error, entry.name)
            self._missed[entry.name] = entry
            self._forget_connection()

    def _send_missed(self) -> None:
        """Send the entries an outage kept back; waits for the broker (see _ensure_connected)."""
        for name, entry in list(self._missed.items()):
            try:
                self.apply_async(entry, producer=self.producer, advance=False)
            except Exception as error:  # noqa: BLE001
                if self._broker_unreachable(error):
                    self._forget_connection()
                    return
                logger.exception("Message Error: %s", error)
            else:
                logger.info("beat: sent %s, held back while the broker was unreachable", name)
            del self._missed[name]

    def _broker_unreachable(self, error: BaseException) -> bool:
        cause = error.__cause__ or error.__context__ or error
        connection = self.__dict__.get("connection") or self.app.connection_for_write()
        errors = (
            *connection.connection_errors,
            *connection.channel_errors,
            *connection.recoverable_connection_errors,
            KombuOperationalError,
            ConnectionError,
        )
        return isinstance(cause, errors) or isinstance(error, errors)

    def _forget_connection(self) -> None:
        """Drop the producer and its connection: the next publish opens new ones."""
        self.__dict__.pop("producer", None)
        connection = self.__dict__.pop("connection", None)
        if connection is not None:
            try:
                connection.release()
            except Exception:  # noqa: BLE001 - it is broken already; nothing to release cleanly
                logger.debug("beat: releasing the broken broker connection failed", exc_info=True)

    def _ensure_connected(self) -> Any:
        def _error_handler(error: Exception, interval: float) -> None:
            logger.warning("beat: the broker is unreachable (%s); trying again in %.0f s", error, interval)

        # kombu retries forever with max_retries=None and sleeps fractions of seconds; its stub wants ints.
        return self.connection.ensure_connection(
            _error_handler,
            max_retries=None,  # type: ignore[arg-type]
            interval_start=1,
            interval_step=1,
            interval_max=RECONNECT_INTERVAL_MAX,  # type: ignore[arg-type]
        )
