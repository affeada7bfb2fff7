"""Run one function in many threads at once, each on its own database connection (real PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection


def run_at_once(target: Callable[..., Any], arguments: Sequence[tuple]) -> list[Any]:
    """Call `target(*args)` for each tuple in its own thread, all released together by a barrier.

    Returns the results in argument order; re-raises the first exception a thread raised.
    Use in tests marked `django_db(transaction=True)`, so the threads see each other's commits.
    """
    barrier = threading.Barrier(len(arguments))
    results: list[Any] = [None] * len(arguments)
    errors: list[BaseException] = []

    def run(index: int, args: tuple) -> None:
        try:
            barrier.wait()
            results[index] = target(*args)
        except BaseException as error:  # noqa: BLE001 - re-raised in the calling thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, args)) for i, args in enumerate(arguments)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    return results
