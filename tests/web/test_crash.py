"""Crash test: bursts of submissions with retries, the server SIGKILLed mid-burst, twenty times.

The server processes are forked from one parent that imported the code once
(see ``ForkingServer``), so the twenty restarts are quick.

Every acknowledged report must be stored, and no report twice: each submission
carries its own Idempotency-Key and is retried until acknowledged, across the
kill and restart.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.web._server import ForkingServer

ROUNDS = 20
PER_ROUND = 40
KILL_AFTER_ACKS = 15


async def _submit_until_acked(
    client: httpx.AsyncClient, key: str, body: dict, acked: dict[str, str], stop: asyncio.Event
) -> None:
    while not stop.is_set():
        try:
            response = await client.post(
                "/api/reports", json=body, headers={"Idempotency-Key": key}, timeout=10.0
            )
        except httpx.HTTPError:
            await asyncio.sleep(0.05)
            continue
        if response.status_code == 201:
            acked[key] = response.json()["reference"]
            return
        assert response.status_code < 500 or response.status_code == 503, response.text
        await asyncio.sleep(0.05)


async def _burst(
    url: str, pending: dict[str, dict], acked: dict[str, str], kill_at: int | None, kill
) -> None:
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(base_url=url, limits=limits) as client:
        tasks = [
            asyncio.create_task(_submit_until_acked(client, key, body, acked, stop))
            for key, body in pending.items()
        ]
        if kill_at is not None:
            start = len(acked)
            while len(acked) - start < kill_at and not all(t.done() for t in tasks):
                await asyncio.sleep(0.005)
            await asyncio.to_thread(kill)
            stop.set()
        await asyncio.gather(*tasks)


@pytest.mark.slow
def test_no_acknowledged_report_is_lost_or_doubled_across_sigkills(tmp_path: Path) -> None:
    rng = random.Random(7)
    server = ForkingServer(tmp_path / "home")
    acked: dict[str, str] = {}
    submitted: dict[str, dict] = {}
    n_kills = 0
    for round_ in range(ROUNDS):
        server.start()
        # Keys left unacknowledged by the previous kill are retried first, with the same key.
        pending = {k: b for k, b in submitted.items() if k not in acked}
        for i in range(PER_ROUND):
            key = f"crash-{round_:02d}-{i:03d}-{rng.getrandbits(32):08x}"
            submitted[key] = pending[key] = {
                "kind": "suspicious_item",
                "description": f"item {key} left by the gate",
                "place_text": f"gate {i}",
            }
        asyncio.run(_burst(server.url, pending, acked, KILL_AFTER_ACKS, server.kill))
        n_kills += 1
    # Final round: no kill, retry everything still unacknowledged.
    server.start()
    pending = {k: b for k, b in submitted.items() if k not in acked}
    asyncio.run(_burst(server.url, pending, acked, None, server.kill))
    server.stop()
    assert n_kills == ROUNDS
    assert set(acked) == set(submitted)
    db = sqlite3.connect(server.home / "watchfloor.db")
    rows = db.execute("SELECT reference, description FROM reports").fetchall()
    db.close()
    references = [r[0] for r in rows]
    # Every acknowledged reference is stored exactly once, and nothing else is.
    assert sorted(references) == sorted(acked.values())
    assert len({r[1] for r in rows}) == len(rows) == ROUNDS * PER_ROUND
