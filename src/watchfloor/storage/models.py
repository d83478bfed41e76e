"""Tables of staff accounts, public reports, the audit log and the outbox.

The schema is created by the migration ``reports_0001`` (branch ``reports``);
these classes are the typed ORM view of it. Reporter contact details and
uploaded files are held only as ciphertext (``*_ciphertext`` with the id of the
key that encrypted them); receipt codes only as slow hashes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from watchfloor.storage.db import Base

__all__ = [
    "AuditEntry",
    "IdempotencyKey",
    "LoginThrottle",
    "OutboxMessage",
    "RateLimitHit",
    "Report",
    "ReportAttachment",
    "ReportEvent",
    "StaffSession",
    "User",
    "utc_now",
]


def utc_now() -> datetime:
    """Return the current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware (also on SQLite)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            msg = "naive datetime given to a UTC column"
            raise ValueError(msg)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# BIGINT primary keys on PostgreSQL, INTEGER (the rowid alias) on SQLite.
_Id = BigInteger().with_variant(Integer(), "sqlite")


class User(Base):
    """A staff account: a username, an argon2 password hash and one role."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class StaffSession(Base):
    """A server-side login session; only the SHA-256 of the cookie token is stored."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")


class LoginThrottle(Base):
    """Consecutive failed log-ins of one username (known or not) and its lockout.

    Kept for unknown names too, so that a lockout does not tell which names exist;
    a successful log-in, ``users enable`` or ``users set-password`` deletes the row.
    """

    __tablename__ = "login_throttle"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class RateLimitHit(Base):
    """Requests of one client in one window, shared by every process of the service.

    ``key`` is a keyed hash of the bucket and the client address (never the
    address); ``window`` the number of the window since the epoch. Used on
    PostgreSQL; on SQLite the counters live in a file beside the database
    (:mod:`watchfloor.web.ratelimit`) and this table stays empty.
    """

    __tablename__ = "rate_limit_hits"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)

    # UNLOGGED on PostgreSQL (made so by reports_0004): counters need no durability.
    __table_args__ = (Index("ix_rate_limit_hits_window", "window"),)


_ROOTS = "duplicate_of_id IS NULL AND duplicate_checked_at IS NOT NULL AND anonymised_at IS NULL"


class Report(Base):
    """A public report, its triage and (encrypted) reporter contact details."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    receipt_hash: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="new")
    queue: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(Integer)
    priority_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    place_text: Mapped[str] = mapped_column(Text, default="")
    site_id: Mapped[str] = mapped_column(String(32), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    people_description: Mapped[str] = mapped_column(Text, default="")
    vehicle_description: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    contact_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    contact_key_id: Mapped[str] = mapped_column(String(32), default="")
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    minhash: Mapped[bytes | None] = mapped_column(LargeBinary)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duplicate_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the near-duplicate pass looked at the report (NULL: still to do, see reports_0003)."""

    __table_args__ = (
        # Queue views: keyset pages by priority, then arrival, within a queue and status.
        Index("ix_reports_queue_status_priority_id", "queue", "status", "priority", "id"),
        Index("ix_reports_status_priority_id", "status", "priority", "id"),
        Index("ix_reports_priority_id", "priority", "id"),
        Index("ix_reports_queue_priority_id", "queue", "priority", "id"),
        Index("ix_reports_status_id", "status", "id"),
        Index("ix_reports_received_at", "received_at"),
        Index("ix_reports_closed_at", "closed_at"),
        Index(
            "ix_reports_dedup_pending",
            "id",
            sqlite_where=text("duplicate_checked_at IS NULL"),
            postgresql_where=text("duplicate_checked_at IS NULL"),
        ),
        Index(
            "ix_reports_dedup_roots",
            "kind",
            "received_at",
            sqlite_where=text(_ROOTS),
            postgresql_where=text(_ROOTS),
        ),
    )


class ReportEvent(Base):
    """One entry of a report's history: a status change, a note, re-triage or added text."""

    __tablename__ = "report_events"

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    from_value: Mapped[str] = mapped_column(String(32), default="")
    to_value: Mapped[str] = mapped_column(String(32), default="")
    text: Mapped[str] = mapped_column(Text, default="")


class ReportAttachment(Base):
    """A photo attached to a report, encrypted (AES-GCM) with the key ``key_id``."""

    __tablename__ = "report_attachments"

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    content_type: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(Integer)
    key_id: Mapped[str] = mapped_column(String(32))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class AuditEntry(Base):
    """An append-only record of who opened or changed what, and why.

    Rows are never updated or deleted: the ORM refuses to flush such changes and
    database triggers (SQLite and PostgreSQL) reject ``UPDATE`` and ``DELETE``.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(48))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    purpose: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_audit_log_report_id", "report_id"),)


def _refuse_audit_change(_mapper: Any, _connection: Any, _target: Any) -> None:
    msg = "the audit log is append-only: entries cannot be changed or deleted"
    raise PermissionError(msg)


event.listen(AuditEntry, "before_update", _refuse_audit_change)
event.listen(AuditEntry, "before_delete", _refuse_audit_change)


class IdempotencyKey(Base):
    """A submission's idempotency key (hashed) and the report it created.

    ``response_ciphertext`` holds the receipt code encrypted under a key derived
    from the idempotency key itself, so only the client that knows the key can get
    the same receipt back on a retry.
    """

    __tablename__ = "idempotency_keys"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"))
    response_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class OutboxMessage(Base):
    """A report to forward to an outside system, sent with retries until acknowledged."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    destination: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    last_error: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),)
