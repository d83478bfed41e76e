"""Retention and key rotation: what happens to stored reports after they are closed.

:func:`anonymise_closed_reports` blanks the free text, contact details,
photos, receipt and exact place of reports closed longer than the retention
period (``settings.reporting.retention_days``; ``watchfloor reports
retention``), keeping kind, queue, dates and the audit trail for statistics.
On SQLite (``secure_delete`` is on for every connection) it then checkpoints
the write-ahead log (``TRUNCATE``), so the blanked text does not linger in the
``-wal`` file either.

:func:`rotate_keys` (``watchfloor keys rotate``) runs on a live service: it
saves the ring with a new current key (running servers reload the key file on
their next use), re-encrypts every contact detail and photo in small write
transactions, waits a grace period and re-encrypts what was written meanwhile,
then removes from the key file only the old keys that no stored row refers to
(checked with the writers held off). Rows it cannot open are reported, not
fatal. :func:`reencrypt_ciphertexts` is the re-encryption alone.

Imports storage and the foundation.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Connection, Engine, Table, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from watchfloor.errors import ConfigurationError
from watchfloor.storage.db import Database, begin_write
from watchfloor.storage.keys import KeyRing, key_ids_in_use
from watchfloor.storage.models import AuditEntry, Report, ReportAttachment, ReportEvent, utc_now
from watchfloor.types import ReportStatus

__all__ = [
    "KeyRotation",
    "Reencryption",
    "UnreadableCiphertext",
    "anonymise_closed_reports",
    "checkpoint_wal",
    "reencrypt_all",
    "reencrypt_ciphertexts",
    "rotate_keys",
]

log = logging.getLogger(__name__)


def anonymise_closed_reports(
    session: Session, *, older_than: timedelta, now: datetime | None = None
) -> int:
    """Return how many closed reports were anonymised (committed).

    Reports closed longer than ``older_than`` ago lose their free text, contact
    details, photos, exact location (rounded to about 1 km) and receipt code;
    kind, queue, dates and the audit trail stay for statistics.
    """
    now = now or utc_now()
    cutoff = now - older_than
    ids = list(
        session.scalars(
            select(Report.id).where(
                Report.status == ReportStatus.CLOSED,
                Report.closed_at < cutoff,
                Report.anonymised_at.is_(None),
            )
        )
    )
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        session.execute(delete(ReportAttachment).where(ReportAttachment.report_id.in_(chunk)))
        session.execute(update(ReportEvent).where(ReportEvent.report_id.in_(chunk)).values(text=""))
        session.execute(
            update(Report)
            .where(Report.id.in_(chunk))
            .values(
                description="",
                people_description="",
                vehicle_description="",
                link="",
                place_text="",
                details={},
                contact_ciphertext=None,
                contact_key_id="",
                receipt_hash="",
                minhash=None,
                lon=func.round(Report.lon, 2),
                lat=func.round(Report.lat, 2),
                anonymised_at=now,
            )
        )
        session.add(AuditEntry(action="report.retention.anonymise", detail=f"{len(chunk)} reports"))
    session.commit()
    if ids:
        checkpoint_wal(session.get_bind())
    log.info("retention: anonymised %d closed report(s)", len(ids))
    return len(ids)


def checkpoint_wal(bind: Engine | Connection) -> None:
    """Copy SQLite's write-ahead log into the database file and truncate it (no-op elsewhere).

    With ``secure_delete`` on, the database file's freed space is zeroed; the
    checkpoint makes the ``-wal`` file, which still holds the old pages, empty
    too. A checkpoint that other readers hold back is logged, not raised: the
    next one finishes it.
    """
    if bind.dialect.name != "sqlite":
        return
    engine = bind if isinstance(bind, Engine) else bind.engine
    with engine.connect() as conn:
        busy, _frames, _moved = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    if busy:
        log.warning("WAL checkpoint held back by readers; the next checkpoint completes it")


@dataclass(frozen=True)
class UnreadableCiphertext:
    """A stored ciphertext that its key does not open (key missing, or data damaged)."""

    table: str
    row_id: int
    key_id: str
    reason: str


@dataclass(frozen=True)
class Reencryption:
    """What one re-encryption pass did: items moved to the current key, items it could not open."""

    reencrypted: int
    unreadable: tuple[UnreadableCiphertext, ...]


@dataclass(frozen=True)
class KeyRotation:
    """Outcome of ``keys rotate``: the new key, counts, and which old keys went or stayed."""

    key_id: str
    reencrypted: int
    unreadable: tuple[UnreadableCiphertext, ...]
    retired: tuple[str, ...]
    kept: tuple[str, ...]


# (table, primary key, key-id column, ciphertext column, associated-data prefix)
_SEALED: tuple[tuple[Table, str, str, str], ...] = (
    (cast(Table, Report.__table__), "contact_key_id", "contact_ciphertext", "contact"),
    (cast(Table, ReportAttachment.__table__), "key_id", "ciphertext", "attachment"),
)


def _reencrypt_batch(
    conn: Connection, keyring: KeyRing, *, after: dict[str, int], skip: set[tuple[str, int]], n: int
) -> tuple[int, list[UnreadableCiphertext], bool]:
    """Re-encrypt up to ``n`` rows per table not under the current key; return counts, more?"""
    current = keyring.current_id
    moved, bad, more = 0, [], False
    for table, kid_col, blob_col, prefix in _SEALED:
        kid_c, blob_c, id_c = table.c[kid_col], table.c[blob_col], table.c["id"]
        rows = conn.execute(
            select(id_c, kid_c, blob_c)
            .where(blob_c.is_not(None), kid_c != current, id_c > after.get(table.name, 0))
            .order_by(id_c)
            .limit(n)
        ).all()
        more = more or len(rows) == n
        for row_id, kid, blob in rows:
            after[table.name] = row_id
            if (table.name, row_id) in skip:
                continue
            aad = f"{prefix}:{row_id}".encode()
            try:
                plaintext = keyring.decrypt(kid, blob, aad=aad)
            except ConfigurationError as exc:
                bad.append(UnreadableCiphertext(table.name, row_id, kid, str(exc)))
                skip.add((table.name, row_id))
                continue
            new_kid, new_blob = keyring.encrypt(plaintext, aad=aad)
            conn.execute(
                update(table).where(id_c == row_id).values({kid_col: new_kid, blob_col: new_blob})
            )
            moved += 1
    return moved, bad, more


def _reencrypt_pass(
    database: Database, keyring: KeyRing, *, skip: set[tuple[str, int]], batch: int
) -> Reencryption:
    moved, bad = 0, []
    after: dict[str, int] = {}
    more = True
    while more:
        with database.write_guard(), database.engine.connect() as conn:
            begin_write(conn)
            n, found, more = _reencrypt_batch(conn, keyring, after=after, skip=skip, n=batch)
            conn.commit()
        moved += n
        bad.extend(found)
    return Reencryption(reencrypted=moved, unreadable=tuple(bad))


def reencrypt_ciphertexts(
    database: Database, keyring: KeyRing, *, batch: int = 200
) -> Reencryption:
    """Return what was moved to the ring's current key, committed ``batch`` rows at a time.

    Items that cannot be opened (their key is missing or they do not
    authenticate) are left as they are and listed, not raised: one damaged row
    must not stop a rotation.
    """
    result = _reencrypt_pass(database, keyring, skip=set(), batch=batch)
    _log_unreadable(result.unreadable)
    return result


def reencrypt_all(session: Session, keyring: KeyRing) -> int:
    """Return how many ciphertexts were re-encrypted under the ring's current key (committed).

    Items that cannot be opened are skipped and logged (by table, id and key id).
    """
    conn = session.connection()
    skip: set[tuple[str, int]] = set()
    after: dict[str, int] = {}
    count, bad, more = 0, [], True
    while more:
        n, found, more = _reencrypt_batch(conn, keyring, after=after, skip=skip, n=500)
        count += n
        bad.extend(found)
    session.add(AuditEntry(action="keys.rotate", detail=f"{count} ciphertexts re-encrypted"))
    session.commit()
    _log_unreadable(tuple(bad))
    log.info("re-encrypted %d ciphertext(s) under the current key", count)
    return count


def _log_unreadable(bad: tuple[UnreadableCiphertext, ...]) -> None:
    for item in bad:
        log.error(
            "cannot re-encrypt %s %d (key %s): %s",
            item.table,
            item.row_id,
            item.key_id,
            item.reason,
        )


@contextmanager
def _writers_held(database: Database) -> Iterator[Connection]:
    """Yield a connection in a transaction during which no report can be stored."""
    with database.write_guard(), database.engine.connect() as conn:
        begin_write(conn)
        if conn.dialect.name == "postgresql":
            # Conflicts with every INSERT/UPDATE: in-flight writers finish first.
            conn.execute(text("LOCK TABLE reports, report_attachments IN SHARE ROW EXCLUSIVE MODE"))
        yield conn
        conn.commit()


@contextmanager
def _rotation_lock(keyring: KeyRing) -> Iterator[None]:
    """Hold an exclusive lock beside the key file: one rotation at a time."""
    if keyring.path is None:
        msg = "keys given by WATCHFLOOR_REPORT_KEYS cannot be rotated here; change the setting"
        raise ConfigurationError(msg)
    keyring.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(keyring.path.with_name(".rotate.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def rotate_keys(
    database: Database,
    keyring: KeyRing,
    *,
    grace_s: float = 2.0,
    batch: int = 200,
    sleep: Callable[[float], None] = time.sleep,
) -> KeyRotation:
    """Return the outcome of moving every ciphertext to a new key and retiring unused old keys.

    Safe while servers run: they reload the key file on their next use, and an
    old key leaves the file only when no row refers to it, checked while
    writers are held off, after ``grace_s`` seconds for processes in mid-write.

    Raises
    ------
    ConfigurationError
        When the keys come from ``WATCHFLOOR_REPORT_KEYS`` (change the setting instead).
    """
    with _rotation_lock(keyring):
        ring = keyring.with_new_key()
        ring.save()
        log.info("new current key %s saved; re-encrypting", ring.current_id)
        skip: set[tuple[str, int]] = set()
        first = _reencrypt_pass(database, ring, skip=skip, batch=batch)
        sleep(grace_s)
        second = _reencrypt_pass(database, ring, skip=skip, batch=batch)
        old = set(ring.keys) - {ring.current_id}
        with _writers_held(database) as conn:
            in_use = set(key_ids_in_use(conn))
            ring.keeping(in_use).save()
            conn.execute(
                insert(AuditEntry).values(
                    action="keys.rotate",
                    detail=f"{first.reencrypted + second.reencrypted} ciphertexts re-encrypted",
                    at=utc_now(),
                )
            )
    unreadable = first.unreadable + second.unreadable
    _log_unreadable(unreadable)
    return KeyRotation(
        key_id=ring.current_id,
        reencrypted=first.reencrypted + second.reencrypted,
        unreadable=unreadable,
        retired=tuple(sorted(old - in_use)),
        kept=tuple(sorted(old & in_use)),
    )
