"""Sustained report submissions per second and latency against a running server.

Starts the real server (``python -m watchfloor.web``, the code of ``watchfloor
serve``) on 127.0.0.1 with SQLite and, when reachable, PostgreSQL, and a bare
FastAPI endpoint taking the same JSON body as the ceiling (the peer). A load
generator in ``--clients`` processes, each with ``--concurrency`` async httpx
connections, submits reports for ``--seconds``; every submission has its own
Idempotency-Key. After the run the stored reports are counted: lost =
acknowledged - stored.

    python benchmarks/bench_reports.py [--json] [--quick]

With --json the last line is {"cases": [...]} with ours_s and peer_s in seconds
per submission (1 / throughput) and ratio = peer_s / ours_s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
BODY = {
    "kind": "suspicious_behaviour",
    "description": "Two people filming the entrance of the station and the CCTV cameras",
    "place_text": "Oakham station forecourt",
}

PEER_APP = textwrap.dedent(
    """
    from fastapi import FastAPI
    from pydantic import BaseModel
    import uvicorn, sys

    class Body(BaseModel):
        kind: str
        description: str
        place_text: str = ""

    app = FastAPI()

    @app.post("/api/reports", status_code=201)
    def submit(body: Body) -> dict:
        return {"reference": "WF0000000000", "status": "received"}

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=False, log_level="warning")
    """
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


async def _client_loop(url: str, seconds: float, concurrency: int, tag: str) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    started = time.time()
    stop_at = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30.0) as client:

        async def worker(w: int) -> None:
            nonlocal errors
            i = 0
            while time.perf_counter() < stop_at:
                key = f"bench-{tag}-{w}-{i}"
                i += 1
                t0 = time.perf_counter()
                try:
                    response = await client.post(
                        "/api/reports", json=BODY, headers={"Idempotency-Key": key}
                    )
                except httpx.HTTPError:
                    errors += 1
                    continue
                if response.status_code == 201:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors += 1

        await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return {"latencies": latencies, "errors": errors, "start": started, "stop": time.time()}


def _client_process(url: str, seconds: float, concurrency: int, tag: str, out: mp.Queue) -> None:
    out.put(asyncio.run(_client_loop(url, seconds, concurrency, tag)))


def _load(url: str, *, seconds: float, clients: int, concurrency: int) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    tag = secrets.token_hex(3)
    procs = [
        ctx.Process(target=_client_process, args=(url, seconds, concurrency, f"{tag}{c}", queue))
        for c in range(clients)
    ]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    # Throughput over the window in which all clients were sending.
    elapsed = max(r["stop"] for r in results) - min(r["start"] for r in results)
    lat = np.array([x for r in results for x in r["latencies"]])
    errors = sum(r["errors"] for r in results)
    return {
        "acked": len(lat),
        "errors": errors,
        "per_s": len(lat) / elapsed,
        "p50_ms": float(np.percentile(lat, 50) * 1000) if len(lat) else float("nan"),
        "p99_ms": float(np.percentile(lat, 99) * 1000) if len(lat) else float("nan"),
    }


def _run_ours(env: dict[str, str], args: argparse.Namespace) -> dict[str, float]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "watchfloor.web",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(f"http://127.0.0.1:{port}/healthz", proc)
        return _load(
            f"http://127.0.0.1:{port}",
            seconds=args.seconds,
            clients=args.clients,
            concurrency=args.concurrency,
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _run_peer(args: argparse.Namespace) -> dict[str, float]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", PEER_APP, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(f"http://127.0.0.1:{port}/docs", proc)
        return _load(
            f"http://127.0.0.1:{port}",
            seconds=args.seconds,
            clients=args.clients,
            concurrency=args.concurrency,
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _base_env(home: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "WATCHFLOOR_HOME": str(home),
        "WATCHFLOOR_SECRET_KEY": secrets.token_urlsafe(32),
        "WATCHFLOOR_RATE_LIMIT_PER_MINUTE": "100000000",
    }
    env.pop("WATCHFLOOR_DATABASE_URL", None)
    env.pop("WATCHFLOOR_FORWARD_URL", None)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="Print the JSON summary last.")
    parser.add_argument("--quick", action="store_true", help="5 s per case instead of 15 s.")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--clients", type=int, default=2, help="Load-generator processes.")
    parser.add_argument("--concurrency", type=int, default=16, help="Connections per client.")
    parser.add_argument("--workers", type=int, default=1, help="Server worker processes.")
    args = parser.parse_args()
    if args.seconds is None:
        args.seconds = 5.0 if args.quick else 15.0

    peer = _run_peer(args)
    print(
        f"bare FastAPI: {peer['per_s']:.0f}/s p50 {peer['p50_ms']:.1f} ms "
        f"p99 {peer['p99_ms']:.1f} ms"
    )
    cases = []
    with tempfile.TemporaryDirectory(prefix="wf-bench-") as tmp:
        backends: list[tuple[str, dict[str, str]]] = [("sqlite", _base_env(Path(tmp) / "sqlite"))]
        pg_name = "wf_bench_" + secrets.token_hex(4)
        try:
            with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as admin:
                admin.execute(f'CREATE DATABASE "{pg_name}"')
            env = _base_env(Path(tmp) / "pg")
            env["WATCHFLOOR_DATABASE_URL"] = (
                f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_name}"
            )
            backends.append(("postgresql", env))
        except Exception as exc:
            print(f"PostgreSQL skipped: {type(exc).__name__}")
            pg_name = ""
        try:
            for name, env in backends:
                ours = _run_ours(env, args)
                stored = _count_stored(name, env)
                lost = ours["acked"] - stored
                print(
                    f"watchfloor {name}: {ours['per_s']:.0f}/s p50 {ours['p50_ms']:.1f} ms "
                    f"p99 {ours['p99_ms']:.1f} ms, acked {ours['acked']}, stored {stored}, "
                    f"lost {lost}, errors {ours['errors']}; ceiling ratio "
                    f"{ours['per_s'] / peer['per_s']:.2f}"
                )
                ours_s = 1.0 / ours["per_s"] if ours["per_s"] else float("inf")
                peer_s = 1.0 / peer["per_s"]
                cases.append(
                    {
                        "name": f"submit_report_{name}",
                        "graph": f"{args.clients}x{args.concurrency} conns, {args.seconds:.0f} s",
                        "ours_s": ours_s,
                        "peer": "bare FastAPI endpoint",
                        "peer_s": peer_s,
                        "ratio": peer_s / ours_s,
                        "ours_per_s": ours["per_s"],
                        "ours_p50_ms": ours["p50_ms"],
                        "ours_p99_ms": ours["p99_ms"],
                        "peer_per_s": peer["per_s"],
                        "peer_p99_ms": peer["p99_ms"],
                        "acked": ours["acked"],
                        "lost": lost,
                    }
                )
        finally:
            if pg_name:
                with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
    if args.json:
        print(json.dumps({"cases": cases}))


def _count_stored(name: str, env: dict[str, str]) -> int:
    if name == "sqlite":
        db = sqlite3.connect(Path(env["WATCHFLOOR_HOME"]) / "watchfloor.db")
        try:
            return int(db.execute("SELECT count(*) FROM reports").fetchone()[0])
        finally:
            db.close()
    url = env["WATCHFLOOR_DATABASE_URL"].replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM reports").fetchone()
        return int(row[0]) if row else 0


if __name__ == "__main__":
    main()
