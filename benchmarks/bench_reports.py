"""Sustained report submissions per second and latency against a running server.

Starts the real server (``python -m watchfloor.web --workers N``, the code of
``watchfloor serve``) on 127.0.0.1 with SQLite and, when reachable, PostgreSQL,
and a bare FastAPI endpoint taking the same JSON body, served by the same
uvicorn (httptools, uvloop, N workers), as the ceiling (the peer). The load
comes from ``wrk`` (C, Debian package ``wrk``; ``bench_reports.lua`` gives every
request its own Idempotency-Key and records the reference of every 201), or,
without wrk, from an asyncio client on raw sockets. After each run the bench
checks that every acknowledged reference is stored, and that no report is
stored twice (one report per idempotency key): lost and doubled are counted.
The server's CPU time per request (all its processes, from /proc) is printed
too: on a shared machine it says more than the rate, which depends on what
else runs.

    python benchmarks/bench_reports.py [--json] [--quick] [--connections 32] [--workers 2]

With --json the last line is {"cases": [...]} with ours_s and peer_s in seconds
per submission (1 / throughput) and ratio = peer_s / ours_s (the share of the
ceiling reached).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
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
LUA = Path(__file__).resolve().parent / "bench_reports.lua"

PEER_APP = textwrap.dedent(
    """
    from fastapi import FastAPI
    from pydantic import BaseModel

    class Body(BaseModel):
        kind: str
        description: str
        place_text: str = ""

    app = FastAPI()
    n = 0

    @app.post("/api/reports", status_code=201)
    async def submit(body: Body) -> dict:
        global n
        n += 1
        return {"reference": f"WF{n:010d}", "status": "received"}

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}
    """
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            msg = f"server exited with {proc.returncode}"
            raise RuntimeError(msg)
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    msg = "server did not start"
    raise RuntimeError(msg)


def _warm(url: str) -> None:
    # Every worker process loads lazily on its first requests: not part of the timing.
    with httpx.Client(base_url=url, timeout=30.0) as client:
        for i in range(40):
            key = f"warm-{secrets.token_hex(4)}-{i}"
            client.post("/api/reports", json=BODY, headers={"Idempotency-Key": key})


def _run_wrk(url: str, args: argparse.Namespace, acked_path: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "WF_BODY": json.dumps(BODY),
        "WF_ACKED": str(acked_path),
        "WF_KEY_PREFIX": "bench-" + secrets.token_hex(4),
    }
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.seconds:.0f}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        url,
    ]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    match = re.search(r"^WRK (.*)$", out, re.MULTILINE)
    if match is None:
        msg = f"wrk printed no summary: {out[-500:]}"
        raise RuntimeError(msg)
    fields = dict(item.split("=") for item in match.group(1).split())
    references = acked_path.read_text().split()
    seconds = int(fields["duration_us"]) / 1e6
    errors = sum(
        int(fields[k]) for k in ("connect_errors", "read_errors", "status_errors", "timeouts")
    )
    return {
        "references": references,
        "per_s": len(references) / seconds,
        "p50_ms": int(fields["p50_us"]) / 1000,
        "p99_ms": int(fields["p99_us"]) / 1000,
        "errors": errors,
    }


async def _asyncio_load(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Keep-alive HTTP/1.1 on raw asyncio streams: far cheaper per request than httpx."""
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps(BODY).encode()
    prefix = "bench-" + secrets.token_hex(4)
    latencies: list[float] = []
    references: list[str] = []
    errors = 0
    stop_at = time.perf_counter() + args.seconds

    async def connection(c: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        i = 0
        while time.perf_counter() < stop_at:
            i += 1
            head = (
                f"POST /api/reports HTTP/1.1\r\nHost: {host}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                f"Idempotency-Key: {prefix}-{c}-{i}\r\n\r\n"
            ).encode()
            t0 = time.perf_counter()
            writer.write(head + body)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            answer = await reader.readexactly(length)
            if status_line.split()[1] == b"201":
                latencies.append(time.perf_counter() - t0)
                references.append(json.loads(answer)["reference"])
            else:
                errors += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection(c) for c in range(args.connections)))
    seconds = time.perf_counter() - started
    lat = np.array(latencies) if latencies else np.array([np.nan])
    return {
        "references": references,
        "per_s": len(references) / seconds,
        "p50_ms": float(np.percentile(lat, 50) * 1000),
        "p99_ms": float(np.percentile(lat, 99) * 1000),
        "errors": errors,
    }


def _tree_cpu_s(pid: int) -> float:
    """Return the user + system CPU seconds of a process and its children (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                pids.extend(int(c) for c in children)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def _load(url: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    if args.load == "wrk":
        return _run_wrk(url, args, tmp / f"acked-{secrets.token_hex(4)}.txt")
    return asyncio.run(_asyncio_load(url, args))


def _serve(command: list[str], env: dict[str, str], health: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(health, proc)
    except RuntimeError:
        proc.kill()
        raise
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _run_ours(env: dict[str, str], args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    port = _free_port()
    command = [sys.executable, "-m", "watchfloor.web", "--port", str(port)]
    command += ["--workers", str(args.workers)]
    proc = _serve(command, env, f"http://127.0.0.1:{port}/healthz")
    try:
        _warm(f"http://127.0.0.1:{port}")
        cpu0 = _tree_cpu_s(proc.pid)
        result = _load(f"http://127.0.0.1:{port}", args, tmp)
        result["cpu_ms"] = (_tree_cpu_s(proc.pid) - cpu0) * 1000 / max(1, len(result["references"]))
        result["load_average"] = os.getloadavg()
        # The near-duplicate pass runs after the commits: time until it has caught up.
        result["dedup_backlog"] = _pending(env)
        t0 = time.perf_counter()
        while _pending(env) and time.perf_counter() - t0 < 120:
            time.sleep(0.2)
        result["dedup_catch_up_s"] = time.perf_counter() - t0
        result["dedup_left"] = _pending(env)
        return result
    finally:
        _stop(proc)


def _run_peer(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    port = _free_port()
    (tmp / "wf_bench_peer.py").write_text(PEER_APP)
    env = {**os.environ, "PYTHONPATH": str(tmp)}
    command = [sys.executable, "-m", "uvicorn", "wf_bench_peer:app", "--port", str(port)]
    command += ["--workers", str(args.workers), "--no-access-log", "--log-level", "warning"]
    proc = _serve(command, env, f"http://127.0.0.1:{port}/healthz")
    try:
        _warm(f"http://127.0.0.1:{port}")
        cpu0 = _tree_cpu_s(proc.pid)
        result = _load(f"http://127.0.0.1:{port}", args, tmp)
        result["cpu_ms"] = (_tree_cpu_s(proc.pid) - cpu0) * 1000 / max(1, len(result["references"]))
        result["load_average"] = os.getloadavg()
        return result
    finally:
        _stop(proc)


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


def _query(env: dict[str, str], sql: str) -> list[tuple[Any, ...]]:
    url = env.get("WATCHFLOOR_DATABASE_URL")
    if url is None:
        db = sqlite3.connect(Path(env["WATCHFLOOR_HOME"]) / "watchfloor.db", timeout=30)
        try:
            return list(db.execute(sql).fetchall())
        finally:
            db.close()
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        return list(conn.execute(sql).fetchall())  # type: ignore[arg-type]


def _pending(env: dict[str, str]) -> int:
    sql = "SELECT count(*) FROM reports WHERE duplicate_checked_at IS NULL"
    return int(_query(env, sql)[0][0])


def _check_stored(env: dict[str, str], references: list[str]) -> dict[str, int]:
    stored = [r[0] for r in _query(env, "SELECT reference FROM reports")]
    n_keys = int(_query(env, "SELECT count(*) FROM idempotency_keys")[0][0])
    stored_set = set(stored)
    return {
        "acked": len(references),
        "stored": len(stored),
        "lost": sum(1 for r in set(references) if r not in stored_set),
        # Every submission has its own key; a report stored twice would have no key of its own.
        "doubled": len(stored) - n_keys + (len(references) - len(set(references))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="Print the JSON summary last.")
    parser.add_argument("--quick", action="store_true", help="5 s per case instead of 20 s.")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--connections", type=int, default=32, help="Open connections.")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads.")
    parser.add_argument("--workers", type=int, default=2, help="Server worker processes.")
    parser.add_argument("--load", choices=("wrk", "asyncio"), default=None)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    if args.seconds is None:
        args.seconds = 5.0 if args.quick else 20.0
    if args.load is None:
        args.load = "wrk" if shutil.which("wrk") else "asyncio"
    shape = f"{args.connections} conns, {args.workers} workers, {args.seconds:.0f} s, {args.load}"
    print(f"load: {shape}")
    cases = []
    with tempfile.TemporaryDirectory(prefix="wf-bench-") as tmp_name:
        tmp = Path(tmp_name)
        peer = _run_peer(args, tmp)
        print(
            f"bare FastAPI: {peer['per_s']:.0f}/s p50 {peer['p50_ms']:.1f} ms "
            f"p99 {peer['p99_ms']:.1f} ms, server CPU {peer['cpu_ms']:.2f} ms/request "
            f"(load average {peer['load_average'][0]:.2f})"
        )
        backends: list[tuple[str, dict[str, str]]] = []
        wanted = args.backends.split(",")
        if "sqlite" in wanted:
            backends.append(("sqlite", _base_env(tmp / "sqlite")))
        pg_name = ""
        if "postgresql" in wanted:
            try:
                with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as admin:
                    pg_name = "wf_bench_" + secrets.token_hex(4)
                    admin.execute(f'CREATE DATABASE "{pg_name}"')  # type: ignore[arg-type]
                env = _base_env(tmp / "pg")
                env["WATCHFLOOR_DATABASE_URL"] = (
                    f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_name}"
                )
                backends.append(("postgresql", env))
            except psycopg.Error as exc:
                print(f"PostgreSQL skipped: {type(exc).__name__}")
        try:
            for name, env in backends:
                ours = _run_ours(env, args, tmp)
                check = _check_stored(env, ours["references"])
                ratio = ours["per_s"] / peer["per_s"]
                print(
                    f"watchfloor {name}: {ours['per_s']:.0f}/s p50 {ours['p50_ms']:.1f} ms "
                    f"p99 {ours['p99_ms']:.1f} ms; acked {check['acked']}, stored "
                    f"{check['stored']}, lost {check['lost']}, doubled {check['doubled']}, "
                    f"errors {ours['errors']}; {ratio:.2f} of the ceiling; near-duplicate "
                    f"backlog {ours['dedup_backlog']} caught up in "
                    f"{ours['dedup_catch_up_s']:.1f} s; server CPU "
                    f"{ours['cpu_ms']:.2f} ms/submission "
                    f"(load average {ours['load_average'][0]:.2f})"
                )
                ours_s = 1.0 / ours["per_s"] if ours["per_s"] else float("inf")
                peer_s = 1.0 / peer["per_s"]
                cases.append(
                    {
                        "name": f"submit_report_{name}",
                        "graph": shape,
                        "ours_s": ours_s,
                        "peer": "bare FastAPI endpoint",
                        "peer_s": peer_s,
                        "ratio": peer_s / ours_s,
                        "ours_per_s": ours["per_s"],
                        "ours_p50_ms": ours["p50_ms"],
                        "ours_p99_ms": ours["p99_ms"],
                        "peer_per_s": peer["per_s"],
                        "peer_p50_ms": peer["p50_ms"],
                        "peer_p99_ms": peer["p99_ms"],
                        "errors": ours["errors"],
                        "ours_cpu_ms": ours["cpu_ms"],
                        "peer_cpu_ms": peer["cpu_ms"],
                        "dedup_backlog": ours["dedup_backlog"],
                        "dedup_catch_up_s": ours["dedup_catch_up_s"],
                        "load_average_1m": ours["load_average"][0],
                        **check,
                    }
                )
        finally:
            if pg_name:
                with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')  # type: ignore[arg-type]
    if args.json:
        print(json.dumps({"cases": cases}))


if __name__ == "__main__":
    main()
