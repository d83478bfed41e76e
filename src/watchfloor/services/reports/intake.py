"""Report intake: prepare a submission, store many in one commit, link duplicates later.

The path of a public submission, fastest first:

1. :func:`prepare_submission` (CPU only, no database): triage, a new receipt
   code and its argon2id hash, the request hash and the sealed receipt for the
   idempotency key.
2. :class:`ReportWriter` (one thread per server process): takes every
   submission queued while the previous commit ran and stores them in one
   transaction with SQLAlchemy Core (:func:`store_submissions`): group commit.
   Each caller is answered only after that commit returned, so an acknowledged
   report is durable (SQLite WAL with ``synchronous=FULL``, or PostgreSQL).
3. :func:`~watchfloor.services.reports.duplicates.link_pending_duplicates`
   (the same thread, when it has nothing to store, and at least every second):
   the near-duplicate check of reports stored since the last pass. A report
   waits for it with ``duplicate_checked_at`` NULL, which is itself durable: a
   pass that fails or a server that dies leaves the report pending, and the
   next pass (of any process) does it.

Retries of a submission with the same Idempotency-Key are answered from the
stored receipt (sealed under a key derived from the idempotency key), whether
the first copy was stored by an earlier commit or earlier in the same batch.
:func:`submit_report` is the one-at-a-time form of the same path (tests, the
demo data, scripts).

Imports the schemas, triage, receipts and duplicates modules of this package,
storage and the settings.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from cryptography.exceptions import InvalidTag
from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError, StatementError

from watchfloor.errors import (
    IdempotencyConflictError,
    InvalidInputError,
    StoreUnavailableError,
    WatchfloorError,
)
from watchfloor.services.reports.duplicates import link_pending_duplicates
from watchfloor.services.reports.receipts import (
    RECEIPT_BYTES,
    check_idempotency_key,
    format_receipt,
    open_receipt,
    random_code,
    receipt_hasher,
    request_hash,
    seal_receipt,
)
from watchfloor.services.reports.schemas import (
    Photo,
    ReportCreate,
    ReportReceipt,
    strip_photo_metadata,
    unstorable_field,
)
from watchfloor.services.reports.triage import SiteIndex, Triage, triage
from watchfloor.settings import ReportingOptions
from watchfloor.storage.db import Database, begin_write
from watchfloor.storage.keys import KeyRing
from watchfloor.storage.models import (
    IdempotencyKey,
    OutboxMessage,
    Report,
    ReportAttachment,
    utc_now,
)
from watchfloor.types import ReportQueue, ReportStatus

__all__ = [
    "Outcome",
    "ReportWriter",
    "Submission",
    "prepare_submission",
    "store_submissions",
    "submit_report",
]

log = logging.getLogger(__name__)

_REPORTS = cast(Table, Report.__table__)
_IDEMPOTENCY = cast(Table, IdempotencyKey.__table__)
_OUTBOX = cast(Table, OutboxMessage.__table__)
_ATTACHMENTS = cast(Table, ReportAttachment.__table__)

# References: "WF" + 5 random bytes = 8 Crockford characters (unique column; a clash is retried).
_REFERENCE_BYTES = 5
_MAX_BATCH = 256


@dataclass(frozen=True)
class Submission:
    """A validated report ready to store: triaged, with its receipt code and its hash."""

    data: ReportCreate
    photos: tuple[Photo, ...]
    triage: Triage
    receipt_code: str
    receipt_hash: str
    request_hash: str
    idempotency_key: str | None
    key_hash: str | None
    sealed_receipt: bytes | None
    received_at: datetime
    forward: bool


def prepare_submission(
    data: ReportCreate,
    *,
    secret: bytes,
    options: ReportingOptions,
    sites: SiteIndex,
    photos: Sequence[Photo] = (),
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Submission:
    """Return ``data`` triaged, with a new receipt code and its slow hash (no database work).

    Photos not yet stripped of their metadata are stripped here (re-encoded:
    CPU work; :func:`~watchfloor.services.reports.schemas.decode_photo_uploads`
    does it in a worker thread for the JSON API).

    Raises
    ------
    InvalidInputError
        For too many photos, a photo that cannot be decoded, or a malformed
        idempotency key.
    """
    if len(photos) > options.max_photos:
        msg = f"photos: send at most {options.max_photos} photos"
        raise InvalidInputError(msg)
    photos = [strip_photo_metadata(photo) for photo in photos]
    now = now or utc_now()
    key_hash = sealed = None
    code = random_code(RECEIPT_BYTES)
    if idempotency_key is not None:
        check_idempotency_key(idempotency_key)
        key_hash = hashlib.sha256(idempotency_key.encode()).hexdigest()
        sealed = seal_receipt(secret, idempotency_key, code)
    result = triage(data, now=now, sites=sites)
    return Submission(
        data=data,
        photos=tuple(photos),
        triage=result,
        receipt_code=code,
        receipt_hash=receipt_hasher(options).hash(code),
        request_hash=request_hash(data, photos),
        idempotency_key=idempotency_key,
        key_hash=key_hash,
        sealed_receipt=sealed,
        received_at=now,
        forward=result.queue == ReportQueue.CT and bool(options.forward_url),
    )


def _report_row(sub: Submission, reference: str) -> dict[str, Any]:
    data = sub.data
    details = {
        key: value
        for key, value in (
            ("protected_characteristic", data.protected_characteristic),
            ("victim_or_witness", data.victim_or_witness),
            ("prevent_relationship", data.prevent_relationship),
        )
        if value
    }
    return {
        "reference": reference,
        "receipt_hash": sub.receipt_hash,
        "kind": data.kind,
        "status": ReportStatus.NEW,
        "queue": sub.triage.queue,
        "priority": sub.triage.priority,
        "priority_reasons": sub.triage.reasons,
        "received_at": sub.received_at,
        "updated_at": sub.received_at,
        "occurred_at": data.occurred_at,
        "lon": data.lon,
        "lat": data.lat,
        "place_text": data.place_text,
        "site_id": data.site_id,
        "description": data.description,
        "people_description": data.people_description,
        "vehicle_description": data.vehicle_description,
        "link": data.link,
        "details": details,
        "anonymous": data.anonymous,
        "contact_ciphertext": None,
        "contact_key_id": "",
        "duplicate_of_id": None,
        "minhash": None,
        "reviewed_at": None,
        "closed_at": None,
        "anonymised_at": None,
        "duplicate_checked_at": None,
    }


#: What the writer answers a submission with: its receipt, or the error to raise.
Outcome = ReportReceipt | WatchfloorError


def _replayed(
    sub: Submission,
    *,
    request_hash: str,
    blob: bytes,
    secret: bytes,
    reference: str,
    received_at: datetime,
) -> Outcome:
    if request_hash != sub.request_hash:
        msg = "this Idempotency-Key was already used for a different report; use a new key"
        return IdempotencyConflictError(msg)
    assert sub.idempotency_key is not None
    try:
        code = open_receipt(secret, sub.idempotency_key, blob)
    except InvalidTag:
        # Sealed under a secret key the service no longer has: the report is stored,
        # but its receipt code cannot be shown again.
        msg = (
            f"this report was already received, reference {reference}; its receipt code "
            "cannot be shown again because the service's keys have changed since. "
            "Do not send it again: keep the reference"
        )
        return IdempotencyConflictError(msg)
    return ReportReceipt(
        reference=reference, receipt_code=format_receipt(code), received_at=received_at
    )


def _stored_keys(conn: Connection, subs: Sequence[Submission]) -> dict[str, Any]:
    """Return the stored idempotency rows (with reference and time) of the batch's keys."""
    keyed = [s.key_hash for s in subs if s.key_hash is not None]
    if not keyed:
        return {}
    query = (
        select(
            _IDEMPOTENCY.c.key_hash,
            _IDEMPOTENCY.c.request_hash,
            _IDEMPOTENCY.c.response_ciphertext,
            _REPORTS.c.reference,
            _REPORTS.c.received_at,
        )
        .join(_REPORTS, _REPORTS.c.id == _IDEMPOTENCY.c.report_id)
        .where(_IDEMPOTENCY.c.key_hash.in_(keyed))
    )
    return {row.key_hash: row for row in conn.execute(query)}


def _insert_fresh(
    conn: Connection,
    subs: Sequence[Submission],
    references: dict[int, str],
    keyring: KeyRing,
) -> None:
    """Insert the reports ``references`` names (by index in ``subs``) with what goes with them."""
    fresh = list(references)
    result = conn.execute(
        insert(_REPORTS).returning(_REPORTS.c.id, _REPORTS.c.reference),
        [_report_row(subs[i], references[i]) for i in fresh],
    )
    id_of = {reference: report_id for report_id, reference in result}
    ids = {i: id_of[references[i]] for i in fresh}
    _store_secrets(conn, subs, ids, keyring)
    idempotency_rows = [
        {
            "key_hash": subs[i].key_hash,
            "request_hash": subs[i].request_hash,
            "report_id": ids[i],
            "response_ciphertext": subs[i].sealed_receipt,
            "created_at": subs[i].received_at,
        }
        for i in fresh
        if subs[i].key_hash is not None
    ]
    if idempotency_rows:
        conn.execute(insert(_IDEMPOTENCY), idempotency_rows)
    outbox_rows = [
        {
            "report_id": ids[i],
            "destination": "regional_ct",
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": subs[i].received_at,
            "last_error": "",
            "created_at": subs[i].received_at,
            "sent_at": None,
        }
        for i in fresh
        if subs[i].forward
    ]
    if outbox_rows:
        conn.execute(insert(_OUTBOX), outbox_rows)


def _store_batch(
    database: Database, subs: Sequence[Submission], *, keyring: KeyRing, secret: bytes
) -> list[Outcome]:
    """Store ``subs`` in one transaction; raises IntegrityError when any row clashes."""
    outcomes: list[Outcome | None] = [None] * len(subs)
    first_of_key: dict[str, int] = {}
    fresh: list[int] = []
    refused = {i: error for i, sub in enumerate(subs) if (error := unstorable_field(sub.data))}
    with database.write_guard(), database.engine.connect() as conn:
        begin_write(conn)
        stored = _stored_keys(conn, subs)
        for i, sub in enumerate(subs):
            if i in refused:
                outcomes[i] = refused[i]
                continue
            if sub.key_hash is not None:
                row = stored.get(sub.key_hash)
                if row is not None:
                    outcomes[i] = _replayed(
                        sub,
                        request_hash=row.request_hash,
                        blob=row.response_ciphertext,
                        secret=secret,
                        reference=row.reference,
                        received_at=row.received_at,
                    )
                    continue
                if sub.key_hash in first_of_key:
                    continue  # a retry queued with its first copy: answered from it below
                first_of_key[sub.key_hash] = i
            fresh.append(i)
        references = {i: "WF" + random_code(_REFERENCE_BYTES) for i in fresh}
        if fresh:
            _insert_fresh(conn, subs, references, keyring)
        conn.commit()
    if fresh:
        queues = Counter(subs[i].triage.queue for i in fresh)
        # DEBUG: at a surge's rate one INFO line per commit costs more than the commit's SQL.
        log.debug(
            "report received: %d stored in one commit (%s)",
            len(fresh),
            ", ".join(f"{queue} {n}" for queue, n in sorted(queues.items())),
        )
    for i in fresh:
        sub = subs[i]
        outcomes[i] = ReportReceipt(
            reference=references[i],
            receipt_code=format_receipt(sub.receipt_code),
            received_at=sub.received_at,
        )
    for i, sub in enumerate(subs):
        if outcomes[i] is None:
            assert sub.key_hash is not None
            first = subs[first_of_key[sub.key_hash]]
            assert first.sealed_receipt is not None
            outcomes[i] = _replayed(
                sub,
                request_hash=first.request_hash,
                blob=first.sealed_receipt,
                secret=secret,
                reference=references[first_of_key[sub.key_hash]],
                received_at=first.received_at,
            )
    return [o for o in outcomes if o is not None]


def _store_secrets(
    conn: Connection, subs: Sequence[Submission], ids: dict[int, int], keyring: KeyRing
) -> None:
    """Encrypt contact details and photos with the new row ids as associated data."""
    contacts = []
    for i, report_id in ids.items():
        sub = subs[i]
        if not sub.data.anonymous and sub.data.contact is not None:
            key_id, blob = keyring.encrypt(
                sub.data.contact.model_dump_json().encode(), aad=f"contact:{report_id}".encode()
            )
            contacts.append({"b_id": report_id, "b_key": key_id, "b_blob": blob})
        for photo in sub.photos:
            attachment_id = conn.execute(
                insert(_ATTACHMENTS).returning(_ATTACHMENTS.c.id),
                {
                    "report_id": report_id,
                    "content_type": photo.content_type,
                    "size_bytes": len(photo.data),
                    "key_id": "",
                    "ciphertext": b"",
                    "created_at": sub.received_at,
                },
            ).scalar_one()
            key_id, blob = keyring.encrypt(photo.data, aad=f"attachment:{attachment_id}".encode())
            conn.execute(
                update(_ATTACHMENTS)
                .where(_ATTACHMENTS.c.id == attachment_id)
                .values(key_id=key_id, ciphertext=blob)
            )
    if contacts:
        conn.execute(
            update(_REPORTS)
            .where(_REPORTS.c.id == bindparam("b_id"))
            .values(contact_key_id=bindparam("b_key"), contact_ciphertext=bindparam("b_blob")),
            contacts,
        )


def _is_data_error(exc: Exception) -> bool:
    """Whether ``exc`` is the database refusing one row's data (not the database failing)."""
    if isinstance(exc, DataError):
        return True
    if isinstance(exc, StatementError) and not isinstance(exc, DBAPIError):
        return True  # raised while binding a parameter (a date that overflows, bad text)
    return isinstance(exc, (ValueError, OverflowError, UnicodeError))


def _store_alone(
    database: Database, sub: Submission, *, keyring: KeyRing, secret: bytes
) -> Outcome:
    """Store ``sub`` in its own transaction (up to five attempts when a row clashes)."""
    for _attempt in range(5):
        try:
            (outcome,) = _store_batch(database, [sub], keyring=keyring, secret=secret)
        except IntegrityError:
            continue
        except (SQLAlchemyError, ValueError, OverflowError, UnicodeError) as exc:
            if not _is_data_error(exc):
                raise
            log.warning("the database refused a report's data: %s", type(exc).__name__)
            msg = (
                "body: the database could not store this report as written; "
                "remove unusual characters and check the date, then send it again"
            )
            return InvalidInputError(msg)
        return outcome
    # pragma: no cover - five clashes in a row
    return StoreUnavailableError("could not store the report; please send it again")


def store_submissions(
    database: Database, subs: Sequence[Submission], *, keyring: KeyRing, secret: bytes
) -> list[Outcome]:
    """Return the receipt (or the error) of each submission, after one durable commit.

    A submission whose data cannot be stored (a date out of range once in UTC,
    a control character in a stored string) is answered with a
    :class:`~watchfloor.errors.FieldError` naming the field and the rest of the
    batch is stored. When a row clashes (a retry stored by another process
    meanwhile, or a reference drawn twice) or the database refuses a row's data
    anyway, the batch is rolled back and each submission is stored on its own
    (a clash up to five attempts each), so one bad submission fails alone.
    An unavailable database raises :class:`~sqlalchemy.exc.SQLAlchemyError`.
    """
    try:
        return _store_batch(database, subs, keyring=keyring, secret=secret)
    except IntegrityError:
        pass
    except (SQLAlchemyError, ValueError, OverflowError, UnicodeError) as exc:
        if not _is_data_error(exc):
            raise
    return [_store_alone(database, sub, keyring=keyring, secret=secret) for sub in subs]


def submit_report(
    database: Database,
    data: ReportCreate,
    *,
    keyring: KeyRing,
    secret: bytes,
    photos: Sequence[Photo] = (),
    idempotency_key: str | None = None,
    sites: SiteIndex | None = None,
    options: ReportingOptions | None = None,
    now: datetime | None = None,
) -> ReportReceipt:
    """Return the receipt of a new report, after it is durably committed and checked.

    The one-at-a-time form of the server's path: the report is stored in its
    own transaction, then the near-duplicate pass runs before returning. With
    an ``idempotency_key`` a retried submission returns the first receipt and
    stores nothing new. Pass ``options`` from ``settings.reporting``; without
    them the options are read from the environment.

    Raises
    ------
    InvalidInputError
        For too many photos or a malformed idempotency key.
    IdempotencyConflictError
        When the key was used before for a different submission.
    """
    options = options or ReportingOptions()
    sub = prepare_submission(
        data,
        secret=secret,
        options=options,
        sites=sites or SiteIndex.empty(),
        photos=photos,
        idempotency_key=idempotency_key,
        now=now,
    )
    (outcome,) = store_submissions(database, [sub], keyring=keyring, secret=secret)
    if isinstance(outcome, WatchfloorError):
        raise outcome
    link_pending_duplicates(database, options=options)
    return outcome


# ---------------------------------------------------------------------------
# Group commit
# ---------------------------------------------------------------------------

Done = Callable[[Outcome | BaseException], None]


class ReportWriter:
    """One thread that stores queued submissions, many per transaction (group commit).

    Requests hand over a prepared :class:`Submission` and wait; the thread
    stores everything queued while its previous commit ran in one transaction,
    then answers each request. When nothing is queued it runs the
    near-duplicate pass (and at least every ``dedup_interval_s``).

    Parameters
    ----------
    database : Database
        Where reports are stored.
    keyring : KeyRing
        Encrypts contact details and photos.
    secret : bytes
        The app's secret key (idempotency receipts).
    options : ReportingOptions
        Duplicate-linking options.
    max_batch : int
        Most submissions in one transaction.
    """

    def __init__(
        self,
        database: Database,
        *,
        keyring: KeyRing,
        secret: bytes,
        options: ReportingOptions,
        max_batch: int = _MAX_BATCH,
        dedup_interval_s: float = 0.5,
    ) -> None:
        self.database = database
        self.keyring = keyring
        self.secret = secret
        self.options = options
        self.max_batch = max_batch
        self.dedup_interval_s = dedup_interval_s
        self._queue: queue.SimpleQueue[tuple[Submission, Done] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def start(self) -> None:
        """Start the thread (once; :meth:`submit` starts it too)."""
        with self._lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="report-writer", daemon=True)
                self._thread.start()

    def close(self, timeout_s: float = 10.0) -> None:
        """Store what is queued, then stop the thread."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout_s)

    def submit(self, sub: Submission, done: Done) -> None:
        """Queue ``sub``; ``done`` is called from the writer thread with the outcome."""
        if self._thread is None:
            self.start()
        if self._closed:
            done(StoreUnavailableError("the server is stopping; please send the report again"))
            return
        self._queue.put((sub, done))

    async def store(self, sub: Submission) -> ReportReceipt:
        """Return the receipt of ``sub`` once it is committed (await from the event loop).

        Raises
        ------
        IdempotencyConflictError
            When its idempotency key was used for a different report.
        StoreUnavailableError
            When the database could not store it (the client should retry).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome | BaseException] = loop.create_future()

        def settle(outcome: Outcome | BaseException) -> None:
            if not future.done():
                future.set_result(outcome)

        def done(outcome: Outcome | BaseException) -> None:
            loop.call_soon_threadsafe(settle, outcome)

        self.submit(sub, done)
        outcome = await future
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def store_sync(self, sub: Submission, timeout_s: float = 60.0) -> ReportReceipt:
        """Return the receipt of ``sub`` once it is committed (blocking, from any thread)."""
        box: list[Outcome | BaseException] = []
        ready = threading.Event()

        def done(outcome: Outcome | BaseException) -> None:
            box.append(outcome)
            ready.set()

        self.submit(sub, done)
        if not ready.wait(timeout_s):
            msg = "could not store the report in time; please send it again"
            raise StoreUnavailableError(msg)
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    def _store(self, batch: list[tuple[Submission, Done]]) -> None:
        try:
            outcomes: Sequence[Outcome | BaseException] = store_submissions(
                self.database, [s for s, _ in batch], keyring=self.keyring, secret=self.secret
            )
        except SQLAlchemyError as exc:
            log.warning("could not store %d report(s): %s", len(batch), type(exc).__name__)
            error = StoreUnavailableError(
                "could not store the report just now; please send it again"
            )
            outcomes = [error] * len(batch)
        except Exception as exc:  # answer every caller, whatever happened
            log.error("report writer failed: %s", type(exc).__name__)
            outcomes = [exc] * len(batch)
        for (_sub, done), outcome in zip(batch, outcomes, strict=True):
            done(outcome)

    def _dedup(self) -> int:
        try:
            return link_pending_duplicates(self.database, options=self.options)
        except SQLAlchemyError as exc:
            log.warning("near-duplicate pass failed (%s); it will be retried", type(exc).__name__)
            return 0

    def _run(self) -> None:
        # The near-duplicate pass takes the write lock: while reports arrive it runs
        # at most every dedup_interval_s, so that it never holds up their commits for
        # long; when none arrive it runs at once.
        last_dedup = 0.0
        stopping = False
        while not stopping:
            try:
                item = self._queue.get(timeout=self.dedup_interval_s)
            except queue.Empty:
                while self._dedup() and self._queue.empty():
                    pass
                last_dedup = time.monotonic()
                continue
            batch: list[tuple[Submission, Done]] = []
            while item is not None:
                batch.append(item)
                if len(batch) >= self.max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            else:
                stopping = True
            if batch:
                self._store(batch)
            if time.monotonic() - last_dedup > self.dedup_interval_s:
                self._dedup()
                last_dedup = time.monotonic()
        self._dedup()
