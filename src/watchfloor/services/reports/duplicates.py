"""Near-duplicate linking, after the commit: each stored report to the first of its group.

A report is stored with ``duplicate_checked_at`` NULL and waits for
:func:`link_pending_duplicates`, which the report writer runs when it has
nothing to store (and at least every second). The wait is itself durable: a
pass that fails or a server that dies leaves the report pending, and the next
pass (of any process) does it. Signatures and similarity come from
:mod:`.triage`.

Imports the triage policy, storage and the settings.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, cast

import numpy as np
from sqlalchemy import Connection, Table, bindparam, func, select, text, update

from watchfloor.services.reports.triage import minhash_signature, similarity
from watchfloor.settings import ReportingOptions
from watchfloor.storage.db import Database, begin_write
from watchfloor.storage.models import Report, utc_now

__all__ = ["link_pending_duplicates"]

log = logging.getLogger(__name__)

_REPORTS = cast(Table, Report.__table__)
# Most reports one pass checks.
_DEDUP_BATCH = 100
# PostgreSQL advisory lock that serialises near-duplicate passes of all processes.
_DEDUP_LOCK_KEY = 0x5746_4450  # "WFDP"


def _duplicate_queries() -> dict[str, Any]:
    c = _REPORTS.c
    # Compared with the first report of each group only (ix_reports_dedup_roots):
    # a surge of copies links to one root.
    base = select(c.id, c.minhash).where(
        c.kind == bindparam("kind"),
        c.received_at >= bindparam("since"),
        c.received_at <= bindparam("until"),
        c.duplicate_of_id.is_(None),
        c.duplicate_checked_at.is_not(None),
        c.anonymised_at.is_(None),
        c.id != bindparam("id"),
    )
    near = {
        "point": (
            c.lat.between(bindparam("lat_lo"), bindparam("lat_hi")),
            c.lon.between(bindparam("lon_lo"), bindparam("lon_hi")),
        ),
        "site": (c.site_id == bindparam("site_id"),),
        "link": (c.link == bindparam("link"),),
        "place": (func.lower(c.place_text) == bindparam("place"),),
    }
    return {
        name: base.where(*terms).order_by(c.id.desc()).limit(200) for name, terms in near.items()
    }


_DUPLICATE_QUERIES = _duplicate_queries()
_MARK_CHECKED = (
    update(_REPORTS)
    .where(_REPORTS.c.id == bindparam("b_id"))
    .values(
        duplicate_checked_at=bindparam("b_at"),
        minhash=bindparam("b_minhash"),
        duplicate_of_id=bindparam("b_duplicate_of"),
    )
)


def _duplicate_of(
    conn: Connection, row: Any, signature: bytes, options: ReportingOptions
) -> int | None:
    window = timedelta(hours=options.duplicate_window_h)
    params: dict[str, Any] = {
        "kind": row.kind,
        "since": row.received_at - window,
        "until": row.received_at + window,
        "id": row.id,
    }
    if row.lon is not None and row.lat is not None:
        dlat = options.duplicate_radius_m / 111_000
        dlon = dlat / max(0.1, float(np.cos(np.radians(row.lat))))
        name = "point"
        params.update(
            lat_lo=row.lat - dlat,
            lat_hi=row.lat + dlat,
            lon_lo=row.lon - dlon,
            lon_hi=row.lon + dlon,
        )
    elif row.site_id:
        name = "site"
        params["site_id"] = row.site_id
    elif row.link:
        name = "link"
        params["link"] = row.link
    elif row.place_text:
        name = "place"
        params["place"] = row.place_text.lower()
    else:
        return None
    best: tuple[float, int] | None = None
    for report_id, other in conn.execute(_DUPLICATE_QUERIES[name], params):
        if other is None:
            continue
        score = similarity(signature, other)
        if score >= options.duplicate_similarity and (best is None or score > best[0]):
            best = (score, report_id)
    return best[1] if best else None


def link_pending_duplicates(
    database: Database, *, options: ReportingOptions, limit: int = _DEDUP_BATCH
) -> int:
    """Return how many stored reports the near-duplicate pass checked (committed).

    Takes up to ``limit`` reports still waiting for the check, oldest first,
    and links each to the first report of its group (same kind, within
    ``duplicate_radius_m`` or the same site, link or place text, within
    ``duplicate_window_h``, MinHash similarity at least
    ``duplicate_similarity``). Passes of different processes run one at a time:
    on SQLite under the write lock, on PostgreSQL under an advisory lock (a
    pass that finds it taken returns 0 at once: the other pass takes every
    pending report).
    """
    pending_query = select(_REPORTS.c.id).where(_REPORTS.c.duplicate_checked_at.is_(None)).limit(1)
    with database.engine.connect() as conn:
        if conn.execute(pending_query).first() is None:
            return 0
    with database.write_guard(), database.engine.connect() as conn:
        begin_write(conn)
        if conn.dialect.name == "postgresql":
            # Another process's pass is running: it takes the pending reports of all.
            lock = text("SELECT pg_try_advisory_xact_lock(:key)")
            if not conn.execute(lock, {"key": _DEDUP_LOCK_KEY}).scalar():
                return 0
        rows = conn.execute(
            select(
                _REPORTS.c.id,
                _REPORTS.c.kind,
                _REPORTS.c.received_at,
                _REPORTS.c.lon,
                _REPORTS.c.lat,
                _REPORTS.c.site_id,
                _REPORTS.c.link,
                _REPORTS.c.place_text,
                _REPORTS.c.description,
                _REPORTS.c.people_description,
                _REPORTS.c.vehicle_description,
                _REPORTS.c.anonymised_at,
            )
            .where(_REPORTS.c.duplicate_checked_at.is_(None))
            .order_by(_REPORTS.c.id)
            .limit(limit)
        ).all()
        now = utc_now()
        n_linked = 0
        for row in rows:
            signature = duplicate_of = None
            if row.anonymised_at is None:
                text_ = " ".join((row.description, row.people_description, row.vehicle_description))
                signature = minhash_signature(text_)
                duplicate_of = _duplicate_of(conn, row, signature, options)
                n_linked += duplicate_of is not None
            # One row at a time: the next report of this pass may be a copy of this one.
            conn.execute(
                _MARK_CHECKED,
                {
                    "b_id": row.id,
                    "b_at": now,
                    "b_minhash": signature,
                    "b_duplicate_of": duplicate_of,
                },
            )
        conn.commit()
    if rows:
        log.info("near-duplicate pass: %d report(s) checked, %d linked", len(rows), n_linked)
    return len(rows)
