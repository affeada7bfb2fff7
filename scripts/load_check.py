"""Load and restart check: 32 annotators for 60 s against gunicorn and PostgreSQL.

    python scripts/load_check.py [--annotators 32] [--seconds 60] [--images 5000]

Every simulated annotator loops next → submit back-to-back. A submit that gets no answer (connection
dropped) is retried with the same client UUID until it is acknowledged, as the workbench does. During
the run the web server is reloaded gracefully (SIGHUP) at one third and killed outright (SIGKILL of
master and workers) and started again at two thirds of the time.

Pass means: zero 5xx; the annotations in the database are exactly the ones acknowledged to clients
(none lost, none duplicated); no image holds more annotations than it needs; the consensus counts every
annotation; no deadlock in the server logs. Exit status 0 on pass, 1 on failure. Uses its own database
(`relabel_load_check`) on the same server as everything else (embedded PostgreSQL unless DATABASE_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


@dataclass
class Tally:
    acknowledged: set[int] = field(default_factory=set)
    statuses: dict[int, int] = field(default_factory=dict)
    transport_errors: int = 0
    retries: int = 0
    replayed: int = 0

    def count(self, status: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


async def _send(client: httpx.AsyncClient, tally: Tally, method: str, url: str, **kwargs) -> httpx.Response | None:
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.TransportError:
        tally.transport_errors += 1
        await asyncio.sleep(0.2)
        return None
    tally.count(response.status_code)
    return response


async def _annotator(client: httpx.AsyncClient, slug: str, token: str, stop_at: float, tally: Tally) -> None:
    headers = {"Authorization": f"Token {token}"}
    while time.monotonic() < stop_at:
        response = await _send(
            client, tally, "POST", f"/api/datasets/{slug}/next/", json={"exclude": []}, headers=headers
        )
        if response is None or response.status_code != 200:
            if response is not None and response.status_code == 204:
                return
            continue
        item = response.json()
        body = {
            "image": item["image"]["id"],
            "classes": [c["id"] for c in item["candidates"][:2]],
            "seconds": 1.0,
            "client_uuid": str(uuid.uuid4()),
        }
        # Retry the same answer until the server acknowledges it, even past the end of the run.
        while True:
            response = await _send(client, tally, "POST", "/api/annotations/", json=body, headers=headers)
            if response is not None and response.status_code in (200, 201):
                tally.acknowledged.add(response.json()["id"])
                tally.replayed += response.status_code == 200  # the lost answer had been stored: no duplicate
                break
            if response is not None and response.status_code < 500 and response.status_code != 503:
                break  # refused for a reason a retry cannot change (e.g. the lease expired): not acknowledged
            tally.retries += 1


async def _run(base_url: str, slug: str, tokens: list[str], seconds: float, tally: Tally, disrupt) -> None:
    limits = httpx.Limits(max_connections=len(tokens) + 2, max_keepalive_connections=len(tokens) + 2)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:
        stop_at = time.monotonic() + seconds
        await asyncio.gather(*(_annotator(client, slug, t, stop_at, tally) for t in tokens), disrupt(seconds))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--annotators", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--overlap", type=int, default=5)
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("RELABEL_DATABASE_NAME", "relabel_load_check")
    os.environ["DJANGO_LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bench.http_load import Gunicorn
    from bench.workload import annotator_tokens, api_dataset

    call_command("migrate", verbosity=0)
    dataset = api_dataset(args.images, slug="load-check", overlap=args.overlap)
    tokens = annotator_tokens(dataset, args.annotators)
    database = connection.settings_dict["NAME"]
    logs = [REPO / "var" / f"load-check-gunicorn-{n}.log" for n in (1, 2)]
    servers = [Gunicorn(database, log=logs[0])]
    events: list[str] = []

    async def disrupt(seconds: float) -> None:
        await asyncio.sleep(seconds / 3)
        servers[0].reload()
        events.append(f"{seconds / 3:.0f} s: graceful reload (SIGHUP)")
        await asyncio.sleep(seconds / 3)
        port = servers[0].port
        servers[0].kill()
        events.append(f"{2 * seconds / 3:.0f} s: gunicorn killed (SIGKILL), restarting on port {port}")
        servers.append(await asyncio.to_thread(Gunicorn, database, log=logs[1], port=port))
        events.append("restarted")

    tally = Tally()
    started = time.monotonic()
    try:
        asyncio.run(_run(servers[0].base_url, dataset.slug, tokens, args.seconds, tally, disrupt))
    finally:
        servers[-1].stop()
    elapsed = time.monotonic() - started
    return _verdict(dataset, tally, events, logs, elapsed)


def _verdict(dataset, tally: Tally, events: list[str], logs: list[Path], elapsed: float) -> int:
    from django.db.models import Count, F

    from annotator.models import Annotation, Consensus, Image

    stored = set(Annotation.objects.filter(dataset=dataset).values_list("id", flat=True))
    over = Image.objects.filter(dataset=dataset, annotation_count__gt=F("annotations_needed")).count()
    counted = Image.objects.filter(dataset=dataset).annotate(n=Count("annotations")).exclude(n=F("annotation_count"))
    consensus_total = sum(Consensus.objects.filter(dataset=dataset).values_list("annotation_count", flat=True))
    server_errors = sum(n for status, n in tally.statuses.items() if status >= 500)
    deadlocks = sum(path.read_text(errors="replace").lower().count("deadlock") for path in logs if path.exists())
    checks = {
        "zero 5xx responses": server_errors == 0,
        "every acknowledged annotation is stored": not (tally.acknowledged - stored),
        "no stored annotation was left unacknowledged": not (stored - tally.acknowledged),
        "no image above its overlap": over == 0,
        "image counters match the annotations": not counted.exists(),
        "consensus counts every annotation": consensus_total == len(stored),
        "no deadlock in the server logs": deadlocks == 0,
    }
    print("\n".join(events))
    rate = len(tally.acknowledged) / elapsed
    print(f"{len(tally.acknowledged)} annotations acknowledged in {elapsed:.0f} s ({rate:.1f}/s), {len(stored)} stored")
    print(
        f"responses {dict(sorted(tally.statuses.items()))}; {tally.transport_errors} dropped connections, "
        f"{tally.retries} submit retries, {tally.replayed} answered as already stored"
    )
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
