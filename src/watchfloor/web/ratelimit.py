"""Rate limits per real client, shared by every process of the service, and ``Retry-After``.

Requests are counted per client and bucket (``reports``, ``login``, ...) in
fixed windows of a minute. The client is the address uvicorn gives the request:
behind a trusted proxy (``WATCHFLOOR_FORWARDED_ALLOW_IPS``, see
:mod:`watchfloor.web.server`) the address the proxy saw, not the proxy's.

Where the counters live (``settings.web``, :class:`~watchfloor.settings.WebOptions`):

- ``database`` (default): the ``rate_limit_hits`` table of the service's
  PostgreSQL database (UNLOGGED), or on SQLite of a file beside the database
  file, one upsert a request, so every process and host of the service shares
  one count;
- ``redis``: ``INCR`` and ``EXPIRE`` on the Redis of ``WATCHFLOOR_REDIS_URL``
  (the default store when that is set);
- ``memory``: per process (tests, or one process alone).

Addresses are never stored: the key is an HMAC of bucket and address under a
salt that changes every hour (random and in memory for ``memory``; derived from
the secret key and the hour for the shared stores, so all processes agree), and
rows of past windows are deleted within a minute. Each process decides in
memory (the last total it read plus its own hits since) and adds its hits to
the store every ``WATCHFLOOR_RATE_LIMIT_SYNC_S`` (0.2 s; 0: every request), so
the request path does no I/O and the limit is shared within that lag. When the
store cannot be reached each process counts alone (and a warning is logged): a
broken counter must neither stop the public from reporting nor lift the limit.

A limited request gets 429 with ``Retry-After`` (the seconds to the next
window) and wording that names what was limited (:data:`WORDING`); every other
429 (:class:`~watchfloor.errors.ThrottledError`, e.g. a locked log-in) gets its
own ``Retry-After`` through the handler :func:`install_rate_limits` registers.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import secrets
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import redis
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine, Table, create_engine, delete, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import Response

from watchfloor.errors import (
    ConfigurationError,
    ThrottledError,
    TooManyRequestsError,
    WatchfloorError,
)
from watchfloor.settings import Settings, WebOptions
from watchfloor.storage.db import Database
from watchfloor.storage.models import RateLimitHit

__all__ = [
    "WORDING",
    "CounterStore",
    "DatabaseCounters",
    "MemoryCounters",
    "RateDecision",
    "RateLimiter",
    "RedisCounters",
    "build_rate_limiter",
    "counter_file_for",
    "install_rate_limits",
    "rate_limit_for",
]

log = logging.getLogger(__name__)

#: What a 429 says, per bucket.
WORDING = {
    "reports": "too many reports from this connection in the last minute; wait a minute and retry",
    "login": "too many log-in attempts from this connection in the last minute; "
    "wait a minute and retry",
    "requests": "too many requests from this connection in the last minute; "
    "wait a minute and retry",
}


@dataclass(frozen=True)
class RateDecision:
    """Whether one request is within its limit, and the seconds to the next window."""

    allowed: bool
    hits: int
    retry_after_s: int


class CounterStore(Protocol):
    """Counts hits of a key in a window; shared by every process that opens the same store."""

    def incr(self, key: str, window: int, *, ttl_s: int) -> int:
        """Return the hits of ``key`` in ``window`` after counting one more."""
        ...

    def add(self, counts: dict[tuple[str, int], int], *, ttl_s: int) -> dict[tuple[str, int], int]:
        """Return the totals of every ``(key, window)`` after adding its count, in one go."""
        ...

    def current(self, window: int) -> dict[str, int]:
        """Return every key's hits in ``window`` (diagnostics and tests)."""
        ...


class MemoryCounters:
    """Counters of one process in a dict (forgets past windows as it goes)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, tuple[int, int]] = {}

    def incr(self, key: str, window: int, *, ttl_s: int) -> int:
        """Return the hits of ``key`` in ``window`` after counting one more."""
        with self._lock:
            seen_window, count = self.counts.get(key, (window, 0))
            if seen_window != window:
                count = 0
                if len(self.counts) > 100_000:
                    self.counts = {k: v for k, v in self.counts.items() if v[0] == window}
            self.counts[key] = (window, count + 1)
            return count + 1

    def add(self, counts: dict[tuple[str, int], int], *, ttl_s: int) -> dict[tuple[str, int], int]:
        """Return the totals of every ``(key, window)`` after adding its count."""
        totals = {}
        for (key, window), n in counts.items():
            for _ in range(n):
                totals[key, window] = self.incr(key, window, ttl_s=ttl_s)
        return totals

    def current(self, window: int) -> dict[str, int]:
        """Return every key's hits in ``window``."""
        with self._lock:
            return {k: n for k, (w, n) in self.counts.items() if w == window}

    def clear(self) -> None:
        """Forget every counter."""
        with self._lock:
            self.counts.clear()


_COUNTER_TABLE_SQL = (
    "CREATE TABLE IF NOT EXISTS rate_limit_hits "
    "(key VARCHAR(32) NOT NULL, window BIGINT NOT NULL, hits INTEGER NOT NULL, "
    "PRIMARY KEY (key, window))"
)


def _sqlite_counter_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        # Counters need no durability: no fsync for them.
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA busy_timeout=2000")
        # A cache file beside the database, not schema: made here, not by a migration.
        cursor.execute(_COUNTER_TABLE_SQL)
    finally:
        cursor.close()


def counter_file_for(database: Database) -> Path | None:
    """Return the SQLite file of the rate-limit counters beside ``database`` (None: in memory)."""
    name = database.engine.url.database
    if database.backend != "sqlite" or not name or name == ":memory:" or name.startswith("file:"):
        return None
    path = Path(name)
    return path.with_name(path.name + "-ratelimit")


class DatabaseCounters:
    """Counters in the ``rate_limit_hits`` table, one upsert a hit.

    Parameters
    ----------
    database : Database
        The service's database. On PostgreSQL its pool is used (the app disposes
        it; the table is UNLOGGED, so a commit waits for no WAL flush). On SQLite
        the counters live in a file beside the database (:func:`counter_file_for`,
        mode 0600, ``synchronous=OFF``), so a count never waits for the report
        writer's lock or for an fsync; SQLite serves one host, whose processes
        all open that file.
    """

    def __init__(self, database: Database) -> None:
        if database.backend == "sqlite":
            path = counter_file_for(database)
            if path is None:
                msg = "an in-memory SQLite database has no counter file; use the memory store"
                raise ConfigurationError(msg)
            path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            self.engine = _sqlite_counter_engine(f"sqlite:///{path}")
            weakref.finalize(self, self.engine.dispose)
        else:
            self.engine = database.engine
        self._pruned_window = -1
        self._table: Table = RateLimitHit.__table__  # type: ignore[assignment]

    def incr(self, key: str, window: int, *, ttl_s: int) -> int:
        """Return the hits of ``key`` in ``window`` after counting one more."""
        return self.add({(key, window): 1}, ttl_s=ttl_s)[key, window]

    def add(self, counts: dict[tuple[str, int], int], *, ttl_s: int) -> dict[tuple[str, int], int]:
        """Return the totals of every ``(key, window)`` after adding its count (one transaction)."""
        dialect = sqlite if self.engine.dialect.name == "sqlite" else postgresql
        table = self._table
        totals = {}
        with self.engine.begin() as conn:
            # In key order, so that two processes never wait on each other's rows in a cycle.
            for (key, window), n in sorted(counts.items()):
                stmt = (
                    dialect.insert(table)
                    .values(key=key, window=window, hits=n)
                    .on_conflict_do_update(
                        index_elements=["key", "window"], set_={"hits": table.c.hits + n}
                    )
                    .returning(table.c.hits)
                )
                totals[key, window] = int(conn.execute(stmt).scalar_one())
            newest = max(window for _, window in counts)
            if newest != self._pruned_window:
                self._pruned_window = newest
                conn.execute(delete(table).where(table.c.window < newest - 1))
        return totals

    def current(self, window: int) -> dict[str, int]:
        """Return every key's hits in ``window``."""
        table = self._table
        with self.engine.connect() as conn:
            rows = conn.execute(table.select().where(table.c.window == window)).all()
        return {str(r.key): int(r.hits) for r in rows}


def _sqlite_counter_engine(url: str) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 2},
        pool_size=4,
        max_overflow=4,
        hide_parameters=True,
    )
    event.listen(engine, "connect", _sqlite_counter_pragmas)
    return engine


class RedisCounters:
    """Counters in Redis (``INCRBY`` and ``EXPIRE``, pipelined) through redis-py.

    Parameters
    ----------
    url : str
        ``redis://[:PASSWORD@]HOST[:PORT][/DB]``.
    timeout_s : float
        Connect and read timeout.
    """

    def __init__(self, url: str, *, timeout_s: float = 0.5) -> None:
        parts = urlsplit(url)
        if parts.scheme != "redis" or not parts.hostname:
            msg = "WATCHFLOOR_REDIS_URL must look like redis://HOST:6379/0"
            raise ValueError(msg)
        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )

    def close(self) -> None:
        """Close every connection (they are opened again on the next count)."""
        self._client.close()

    def incr(self, key: str, window: int, *, ttl_s: int) -> int:
        """Return the hits of ``key`` in ``window`` after counting one more."""
        return self.add({(key, window): 1}, ttl_s=ttl_s)[key, window]

    def add(self, counts: dict[tuple[str, int], int], *, ttl_s: int) -> dict[tuple[str, int], int]:
        """Return the totals of every ``(key, window)`` after adding its count (one pipeline).

        Raises
        ------
        OSError
            When Redis cannot be reached or refuses (the caller counts alone meanwhile).
        """
        items = list(counts.items())
        pipe = self._client.pipeline(transaction=False)
        for (key, window), n in items:
            name = f"watchfloor:rl:{window}:{key}"
            pipe.incrby(name, n)
            pipe.expire(name, ttl_s)
        try:
            replies = pipe.execute()
        except redis.RedisError as exc:
            raise ConnectionError(f"redis: {type(exc).__name__}") from exc
        return {pair: int(replies[2 * i]) for i, (pair, _) in enumerate(items)}

    def current(self, window: int) -> dict[str, int]:
        """Return every key's hits in ``window`` (``SCAN``; diagnostics only)."""
        prefix = f"watchfloor:rl:{window}:"
        found: dict[str, int] = {}
        for name in self._client.scan_iter(match=prefix + "*", count=1000):
            value = self._client.get(name)
            if value is not None:
                found[name.decode().removeprefix(prefix)] = int(value)
        return found


class RateLimiter:
    """Fixed-window request counters per client and bucket, keyed by a salted HMAC.

    Parameters
    ----------
    limit : int
        Requests allowed per client, bucket and window.
    window_s : float
        Length of a window in seconds.
    salt_lifetime_s : float
        How long one salt is used before it is replaced (and every counter
        forgotten).
    store : CounterStore or None
        Where the counters live; ``None``: in this process's memory, under a
        random salt nobody can recover.
    secret : bytes or None
        With a shared ``store``: the secret every process derives the hour's
        salt from (the app's secret key), so all processes count alike.
    sync_s : float
        With a shared ``store``: how often this process adds its hits to the
        store and reads the totals back. In between, a request is decided in
        memory (the last total read plus this process's hits since), so the
        request path does no I/O; other processes' hits are seen at most
        ``sync_s`` late. 0 syncs on every request (exact; tests).
    """

    def __init__(
        self,
        *,
        limit: int,
        window_s: float = 60.0,
        salt_lifetime_s: float = 3600.0,
        store: CounterStore | None = None,
        secret: bytes | None = None,
        sync_s: float = 0.2,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.salt_lifetime_s = salt_lifetime_s
        self.memory = store is None
        self._store: CounterStore = store if store is not None else MemoryCounters()
        self._secret = secret or secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._salt_period = -1
        self._salt = b""
        self.sync_s = sync_s
        self._pending: dict[tuple[str, int], int] = {}
        self._seen: dict[tuple[str, int], int] = {}
        self._synced_at = -math.inf
        self._sync_lock = threading.Lock()

    def _current_salt(self, now: float) -> bytes:
        with self._lock:
            if self.memory:
                # Random, in memory only, replaced every salt_lifetime_s (counters forgotten).
                if not self._salt or now - self._salt_period > self.salt_lifetime_s:
                    self._salt = secrets.token_bytes(32)
                    self._salt_period = int(now)
                    if isinstance(self._store, MemoryCounters):
                        self._store.clear()
                return self._salt
            period = int(now // self.salt_lifetime_s)
            if period != self._salt_period:
                label = b"rate-limit-salt:%d" % period
                self._salt = hmac.new(self._secret, label, hashlib.sha256).digest()
                self._salt_period = period
            return self._salt

    def client_key(self, address: str, *, bucket: str = "reports") -> bytes:
        """Return the opaque 16-byte key of ``address`` in ``bucket`` under the current salt."""
        salt = self._current_salt(time.time() if not self.memory else time.monotonic())
        return hmac.new(salt, f"{bucket}\0{address}".encode(), hashlib.sha256).digest()[:16]

    def _window(self) -> tuple[int, int]:
        now = time.time()
        window = int(now // self.window_s)
        retry_after_s = max(1, int((window + 1) * self.window_s - now + 0.999))
        return window, retry_after_s

    def check(self, address: str, *, bucket: str = "reports") -> RateDecision:
        """Count one request of ``address`` in ``bucket``; return whether it is within the limit.

        While a shared store cannot be reached, this process counts alone (logged).
        """
        window, retry_after_s = self._window()
        key = self.client_key(address, bucket=bucket).hex()
        if self.memory:
            hits = self._store.incr(key, window, ttl_s=int(2 * self.window_s) + 1)
        else:
            with self._lock:
                self._pending[key, window] = self._pending.get((key, window), 0) + 1
            self._sync(window)
            with self._lock:
                hits = self._seen.get((key, window), 0) + self._pending.get((key, window), 0)
        return RateDecision(allowed=hits <= self.limit, hits=hits, retry_after_s=retry_after_s)

    def _sync(self, window: int) -> None:
        """Add this process's pending hits to the store and read the totals, when it is time."""
        now = time.monotonic()
        if now - self._synced_at < self.sync_s or not self._sync_lock.acquire(blocking=False):
            return
        try:
            with self._lock:
                pending, self._pending = self._pending, {}
                self._seen = {k: n for k, n in self._seen.items() if k[1] >= window}
            pending = {k: n for k, n in pending.items() if k[1] >= window}
            if not pending:
                return
            try:
                totals = self._store.add(pending, ttl_s=int(2 * self.window_s) + 1)
            except (SQLAlchemyError, OSError) as exc:
                # Counted here alone until the store answers again; retried after sync_s.
                with self._lock:
                    for k, n in pending.items():
                        self._pending[k] = self._pending.get(k, 0) + n
                self._synced_at = now
                name = type(exc).__name__
                log.warning("rate limit store unreachable (%s); counting in this process", name)
                return
            with self._lock:
                self._seen.update(totals)
            self._synced_at = now
        finally:
            self._sync_lock.release()

    def hit(self, address: str) -> bool:
        """Count one request of ``address`` (bucket ``reports``); return whether it is allowed."""
        return self.check(address).allowed

    def seconds_to_next_window(self) -> int:
        """Return the whole seconds until the current window ends (at least 1)."""
        return self._window()[1]

    @property
    def _counts(self) -> dict[bytes, int]:
        # The current window's counters by key (what the tests of the key format read).
        window, _ = self._window()
        return {bytes.fromhex(k): n for k, n in self._store.current(window).items()}


def build_rate_limiter(database: Database, options: WebOptions, *, secret: bytes) -> RateLimiter:
    """Return the rate limiter of ``options`` on the counter store they name.

    Raises
    ------
    ConfigurationError
        When ``redis`` is asked for without ``WATCHFLOOR_REDIS_URL``.
    """
    store_name = options.rate_limit_store or ("redis" if options.redis_url else "database")
    limit = options.rate_limit_per_minute
    if store_name == "memory":
        return RateLimiter(limit=limit)
    if store_name == "redis":
        if not options.redis_url:
            msg = "WATCHFLOOR_RATE_LIMIT_STORE=redis needs WATCHFLOOR_REDIS_URL=redis://HOST:6379/0"
            raise ConfigurationError(msg)
        redis = RedisCounters(options.redis_url)
        return RateLimiter(
            limit=limit, store=redis, secret=secret, sync_s=options.rate_limit_sync_s
        )
    if database.backend == "sqlite" and counter_file_for(database) is None:
        return RateLimiter(limit=limit)
    store = DatabaseCounters(database)
    return RateLimiter(limit=limit, store=store, secret=secret, sync_s=options.rate_limit_sync_s)


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def rate_limit_for(bucket: str) -> Callable[[Request], Awaitable[None]]:
    """Return a dependency that counts the request in ``bucket`` and refuses it over the limit.

    Raises
    ------
    KeyError
        At import of the router, for a bucket without wording in :data:`WORDING`.
    """
    message = WORDING[bucket]

    async def _limit(request: Request) -> None:
        limiter: RateLimiter = request.app.state.rate_limiter
        if limiter.memory:
            decision = limiter.check(_address(request), bucket=bucket)
        else:
            decision = await run_in_threadpool(limiter.check, _address(request), bucket=bucket)
        if not decision.allowed:
            raise ThrottledError(message, retry_after_s=decision.retry_after_s)

    _limit.__name__ = f"rate_limit_{bucket}"
    return _limit


def install_rate_limits(
    app: FastAPI,
    settings: Settings,
    options: WebOptions,
) -> None:
    """Give ``app`` its rate limiter and send ``Retry-After`` with every 429.

    ``settings`` is the app's (its database is ``app.state.db``); ``options``
    (``settings.web`` unless a test overrides them) name the counter store.

    The 429 body is the app's usual problem (or HTML page): the handler of
    :class:`~watchfloor.errors.WatchfloorError` makes it, this one adds the header.
    """
    secret: bytes = app.state.secret
    database: Database = app.state.db
    limiter = build_rate_limiter(database, options, secret=secret)
    app.state.rate_limiter = limiter

    async def on_too_many(request: Request, exc: Exception) -> Response:
        handler = app.exception_handlers[WatchfloorError]
        response = handler(request, exc)
        if not isinstance(response, Response):
            response = await response
        if isinstance(exc, ThrottledError):
            retry_after_s = exc.retry_after_s
        else:
            retry_after_s = limiter.seconds_to_next_window()
        response.headers["Retry-After"] = str(retry_after_s)
        return response

    app.add_exception_handler(TooManyRequestsError, on_too_many)
