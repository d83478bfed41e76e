"""Forwarding reports to an outside system through a durable outbox.

Messages are written in the same transaction as the report (see
:mod:`watchfloor.services.reports.intake`), so nothing is lost while
the receiver is down. :func:`deliver_outbox` POSTs due messages as JSON; a
failure schedules a retry with exponential backoff (10 s, 20 s, 40 s ... up to
one hour) and after ``stuck_after`` failures the message is flagged ``stuck``
(it is still retried, and shown to supervisors as an alert). The receiver
should treat ``reference`` as an idempotency key: a message may be delivered
more than once if the process stops between the POST and the commit.
:func:`outbox_counts` says how many messages are pending, sent and stuck.

The receiver's address must be ``https://`` (:func:`check_forward_url`; plain
``http://`` only to a loopback address, for tests and a local relay), and each
POST can carry credentials (:class:`ForwardAuth`): a bearer token in
``Authorization`` and an HMAC-SHA256 signature of ``timestamp.body`` in
``X-Watchfloor-Signature: t=TIMESTAMP,sha256=HEX``, which the receiver checks
with the shared key (and refuses when the timestamp is old, against replay).

Imports the schemas of this package, storage and httpx.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from watchfloor.errors import ConfigurationError
from watchfloor.services.reports.schemas import OutboxState
from watchfloor.settings import ReportingOptions
from watchfloor.storage.db import Database
from watchfloor.storage.models import OutboxMessage, Report, utc_now

__all__ = [
    "SIGNATURE_HEADER",
    "DeliveryResult",
    "ForwardAuth",
    "backoff",
    "build_payload",
    "check_forward_url",
    "deliver_outbox",
    "forward_auth",
    "outbox_counts",
    "signature_header",
]

log = logging.getLogger(__name__)

_BASE_DELAY_S = 10.0
_MAX_DELAY_S = 3600.0

#: The header that carries the HMAC signature of a forwarded message.
SIGNATURE_HEADER = "X-Watchfloor-Signature"


@dataclass(frozen=True)
class ForwardAuth:
    """Credentials sent with each forwarded message: a bearer token, an HMAC key, or both."""

    bearer_token: str | None = field(default=None, repr=False)
    hmac_key: bytes | None = field(default=None, repr=False)

    def headers(self, body: bytes, *, timestamp: int) -> dict[str, str]:
        """Return the HTTP headers that authenticate ``body`` sent at ``timestamp`` (Unix s)."""
        headers: dict[str, str] = {}
        if self.bearer_token:
            headers["Authorization"] = f"Bearer {self.bearer_token}"
        if self.hmac_key:
            headers[SIGNATURE_HEADER] = signature_header(self.hmac_key, body, timestamp=timestamp)
        return headers


def forward_auth(options: ReportingOptions) -> ForwardAuth | None:
    """Return the credentials the settings give for forwarding, or None when none are set."""
    token = options.forward_bearer_token
    key = options.forward_hmac_key
    if token is None and key is None:
        return None
    return ForwardAuth(
        bearer_token=token.get_secret_value() if token else None,
        hmac_key=key.get_secret_value().encode() if key else None,
    )


def signature_header(key: bytes, body: bytes, *, timestamp: int) -> str:
    """Return the signature header value ``t=TIMESTAMP,sha256=HEX`` of ``body``.

    The MAC covers ``b"%d." % timestamp + body``, so a receiver that checks the
    timestamp's age also refuses a replayed message.
    """
    mac = hmac.new(key, b"%d." % timestamp + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},sha256={mac}"


def check_forward_url(url: str) -> str:
    """Return ``url`` when reports may be forwarded to it: https, or http to loopback only.

    Raises
    ------
    ConfigurationError
        For a plain ``http://`` address off this machine, another scheme, or no host.
    """
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        msg = "WATCHFLOOR_FORWARD_URL must be an https:// address of the receiving system"
        raise ConfigurationError(msg)
    if parsed.scheme == "http" and not _is_loopback(parsed.host):
        msg = (
            f"WATCHFLOOR_FORWARD_URL {parsed.scheme}://{parsed.host}/... is plain http: reports "
            "would cross the network unencrypted; use the receiver's https:// address "
            "(http is accepted only to a loopback address such as 127.0.0.1)"
        )
        raise ConfigurationError(msg)
    return url


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class DeliveryResult:
    """Counts of one delivery pass."""

    sent: int
    failed: int
    stuck: int


def backoff(attempts: int) -> timedelta:
    """Return the wait before the next attempt after ``attempts`` failures."""
    return timedelta(seconds=min(_MAX_DELAY_S, _BASE_DELAY_S * 2 ** max(0, attempts - 1)))


def build_payload(report: Report) -> dict[str, object]:
    """Return what is forwarded of a report: no contact details, no receipt."""
    return {
        "reference": report.reference,
        "kind": report.kind,
        "queue": report.queue,
        "priority": report.priority,
        "received_at": report.received_at.isoformat(),
        "occurred_at": report.occurred_at.isoformat() if report.occurred_at else None,
        "lon": report.lon,
        "lat": report.lat,
        "place_text": report.place_text,
        "site_id": report.site_id,
        "description": report.description,
        "people_description": report.people_description,
        "vehicle_description": report.vehicle_description,
        "link": report.link,
        "details": report.details,
        "reporter_gave_contact": report.contact_ciphertext is not None,
    }


def deliver_outbox(
    database: Database,
    url: str,
    *,
    client: httpx.Client,
    auth: ForwardAuth | None = None,
    stuck_after: int = 5,
    batch: int = 50,
    now: datetime | None = None,
) -> DeliveryResult:
    """Return the counts after POSTing every due outbox message once to ``url``.

    Each message is sent as JSON with the headers of ``auth`` (bearer token,
    HMAC signature) when given.

    Raises
    ------
    ConfigurationError
        When ``url`` is plain http off this machine (see :func:`check_forward_url`).
    """
    check_forward_url(url)
    auth = auth or ForwardAuth()
    now = now or utc_now()
    sent = failed = stuck = 0
    with database.sessions() as session:
        due = list(
            session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.status.in_(("pending", "stuck")),
                    OutboxMessage.next_attempt_at <= now,
                )
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(batch)
            )
        )
        for message in due:
            report = session.get(Report, message.report_id)
            if report is None:  # pragma: no cover - foreign key keeps it
                continue
            error = ""
            try:
                body = json.dumps(build_payload(report), separators=(",", ":")).encode()
                headers = {"Content-Type": "application/json"}
                headers.update(auth.headers(body, timestamp=int(time.time())))
                response = client.post(url, content=body, headers=headers, timeout=10.0)
                if response.status_code >= 300:
                    error = f"receiver answered HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}"
            message.attempts += 1
            if not error:
                message.status, message.sent_at, message.last_error = "sent", now, ""
                sent += 1
            else:
                failed += 1
                message.last_error = error[:200]
                message.next_attempt_at = now + backoff(message.attempts)
                if message.attempts >= stuck_after:
                    if message.status != "stuck":
                        log.warning(
                            "outbox: message %d is stuck after %d attempts (%s)",
                            message.id,
                            message.attempts,
                            error,
                        )
                    message.status = "stuck"
                    stuck += 1
            session.commit()
    if due:
        log.info("outbox: %d sent, %d failed, %d stuck", sent, failed, stuck)
    return DeliveryResult(sent=sent, failed=failed, stuck=stuck)


def outbox_counts(session: Session) -> OutboxState:
    """Return how many outbox messages are pending, sent and stuck."""
    counts = dict(
        session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all()
    )
    return OutboxState(
        pending=int(counts.get("pending", 0)),
        sent=int(counts.get("sent", 0)),
        stuck=int(counts.get("stuck", 0)),
    )
