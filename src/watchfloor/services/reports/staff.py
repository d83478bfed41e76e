"""The staff side of reports: queues, reading, the workflow, notes, bulk actions, exports.

Who may do what is declared here once (:data:`READ_ROLES`, :data:`WORK_ROLES`,
:data:`BULK_ROLES`, :data:`CONTACT_ROLES`, :data:`EXPORT_ROLES`, sets of
:class:`~watchfloor.types.Role`); routes declare the same sets and every
function here checks them again. Opening contact details or photos needs a
stated purpose and is written to the audit log once decrypted, before anything is
returned (an opening that fails is not an opening); photos are returned without
metadata; exports are audited too and never hold contact details.

Imports the schemas of this package, the staff account type of
:mod:`watchfloor.services.auth`, storage and the foundation.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from watchfloor.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from watchfloor.services.auth import StaffUser
from watchfloor.services.reports.schemas import (
    MAX_TEXT,
    QUEUES,
    STATUSES,
    BulkResult,
    Contact,
    Photo,
    QueuePage,
    ReportDetail,
    ReportEventOut,
    ReportSummary,
    clean_text,
    has_photo_metadata,
    strip_photo_metadata,
)
from watchfloor.storage.keys import KeyRing
from watchfloor.storage.models import AuditEntry, Report, ReportAttachment, ReportEvent, utc_now
from watchfloor.types import ReportStatus, Role

__all__ = [
    "BULK_ROLES",
    "CONTACT_ROLES",
    "EXPORT_ROLES",
    "READ_ROLES",
    "WORK_ROLES",
    "add_note",
    "bulk_action",
    "change_status",
    "dumps_geojson",
    "export_csv",
    "export_geojson",
    "get_report",
    "list_queue",
    "open_attachment",
    "open_contact",
    "retriage",
]

log = logging.getLogger(__name__)

#: Roles that may read queues and reports.
READ_ROLES: frozenset[Role] = frozenset(
    {
        Role.REVIEWER,
        Role.CT_ANALYST,
        Role.HATE_CRIME_OFFICER,
        Role.NEIGHBOURHOOD_OFFICER,
        Role.SUPERVISOR,
        Role.REGIONAL_CT,
    }
)
#: Roles that may change status, add notes and re-triage.
WORK_ROLES: frozenset[Role] = frozenset(
    {
        Role.REVIEWER,
        Role.CT_ANALYST,
        Role.HATE_CRIME_OFFICER,
        Role.NEIGHBOURHOOD_OFFICER,
        Role.SUPERVISOR,
    }
)
#: Roles that may route or close many reports at once.
BULK_ROLES: frozenset[Role] = frozenset({Role.REVIEWER, Role.SUPERVISOR})
#: Roles that may open reporter contact details and photos (with a purpose).
CONTACT_ROLES: frozenset[Role] = frozenset(
    {Role.CT_ANALYST, Role.HATE_CRIME_OFFICER, Role.SUPERVISOR}
)
#: Roles that may export reports for analysis.
EXPORT_ROLES: frozenset[Role] = frozenset(
    {Role.CT_ANALYST, Role.HATE_CRIME_OFFICER, Role.SUPERVISOR, Role.REGIONAL_CT}
)

_S = ReportStatus
_TRANSITIONS: dict[ReportStatus, frozenset[ReportStatus]] = {
    _S.NEW: frozenset({_S.TRIAGED, _S.ASSIGNED, _S.ACTIONED, _S.CLOSED}),
    _S.TRIAGED: frozenset({_S.ASSIGNED, _S.ACTIONED, _S.CLOSED}),
    _S.ASSIGNED: frozenset({_S.TRIAGED, _S.ACTIONED, _S.CLOSED}),
    _S.ACTIONED: frozenset({_S.ASSIGNED, _S.CLOSED}),
    _S.CLOSED: frozenset({_S.TRIAGED}),
}


def _summary(report: Report) -> ReportSummary:
    place = report.place_text or (f"site {report.site_id}" if report.site_id else "")
    if not place and report.lat is not None and report.lon is not None:
        place = f"{report.lat:.4f}, {report.lon:.4f}"
    return ReportSummary(
        id=report.id,
        reference=report.reference,
        kind=report.kind,
        queue=report.queue,
        status=report.status,
        priority=report.priority,
        received_at=report.received_at,
        place=place[:80],
        duplicate_of=report.duplicate_of_id,
    )


def _check_role(user: StaffUser, roles: Iterable[Role], what: str) -> None:
    allowed = [role for role in Role if role in roles]  # in the vocabulary's order
    if user.role not in allowed:
        msg = f"your role ({user.role}) cannot {what}; it needs one of: {', '.join(allowed)}"
        raise PermissionDeniedError(msg)


def _parse_after(after: str | None) -> tuple[int, int] | None:
    if not after:
        return None
    match = re.fullmatch(r"([0-9])\.([0-9]{1,18})", after)
    if not match:
        msg = "after: use the next_after value of the previous page"
        raise InvalidInputError(msg)
    return int(match.group(1)), int(match.group(2))


def list_queue(
    session: Session,
    user: StaffUser,
    *,
    queue: str | None = None,
    status: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> QueuePage:
    """Return one page of reports, most urgent first, then in order of arrival (keyset paging).

    Pages are read through the indexes ``(queue, status, priority, id)``,
    ``(queue, priority, id)``, ``(status, priority, id)`` or ``(priority, id)``,
    so a page costs the same
    with 100 or 100,000 reports stored.

    Raises
    ------
    InvalidInputError
        For an unknown queue or status or a malformed ``after``.
    """
    _check_role(user, READ_ROLES, "read reports")
    if queue is not None and queue not in QUEUES:
        msg = f"queue: unknown queue {queue!r}; use one of {', '.join(QUEUES)}"
        raise InvalidInputError(msg)
    if status is not None and status not in STATUSES:
        msg = f"status: unknown status {status!r}; use one of {', '.join(STATUSES)}"
        raise InvalidInputError(msg)
    limit = max(1, min(500, limit))
    query = select(Report)
    if queue is not None:
        query = query.where(Report.queue == queue)
    if status is not None:
        query = query.where(Report.status == status)
    key = _parse_after(after)
    if key is not None:
        priority, report_id = key
        query = query.where(
            or_(
                Report.priority > priority,
                and_(Report.priority == priority, Report.id > report_id),
            )
        )
    rows = list(session.scalars(query.order_by(Report.priority, Report.id).limit(limit)))
    next_after = None
    if len(rows) == limit:
        last = rows[-1]
        next_after = f"{last.priority}.{last.id}"
    return QueuePage(items=[_summary(r) for r in rows], next_after=next_after)


def _load(session: Session, report_id: int) -> Report:
    report = session.get(Report, report_id)
    if report is None:
        msg = f"there is no report {report_id}"
        raise NotFoundError(msg)
    return report


def get_report(session: Session, user: StaffUser, report_id: int) -> ReportDetail:
    """Return the report ``report_id`` for staff, marking it reviewed on first view.

    Raises
    ------
    NotFoundError
        When there is no such report.
    """
    _check_role(user, READ_ROLES, "read reports")
    report = _load(session, report_id)
    if report.reviewed_at is None and user.role in WORK_ROLES:
        report.reviewed_at = utc_now()
        session.commit()
    events = session.scalars(
        select(ReportEvent).where(ReportEvent.report_id == report.id).order_by(ReportEvent.id)
    )
    attachment_ids = list(
        session.scalars(
            select(ReportAttachment.id)
            .where(ReportAttachment.report_id == report.id)
            .order_by(ReportAttachment.id)
        )
    )
    duplicates = list(
        session.scalars(
            select(Report.id).where(Report.duplicate_of_id == report.id).order_by(Report.id)
        )
    )
    return ReportDetail(
        id=report.id,
        reference=report.reference,
        kind=report.kind,
        queue=report.queue,
        status=report.status,
        priority=report.priority,
        priority_reasons=list(report.priority_reasons),
        received_at=report.received_at,
        occurred_at=report.occurred_at,
        lon=report.lon,
        lat=report.lat,
        place_text=report.place_text,
        site_id=report.site_id,
        description=report.description,
        people_description=report.people_description,
        vehicle_description=report.vehicle_description,
        link=report.link,
        details=dict(report.details),
        anonymous=report.anonymous,
        has_contact=report.contact_ciphertext is not None,
        attachment_ids=attachment_ids,
        duplicate_of=report.duplicate_of_id,
        duplicates=duplicates,
        anonymised=report.anonymised_at is not None,
        events=[
            ReportEventOut(
                at=e.at,
                kind=e.kind,
                actor_id=e.actor_id,
                from_value=e.from_value,
                to_value=e.to_value,
                text=e.text,
            )
            for e in events
        ],
    )


def _set_status(
    report: Report, user: StaffUser, status: str, note: str, now: datetime
) -> ReportEvent:
    if status not in STATUSES:
        msg = f"status: unknown status {status!r}; use one of {', '.join(STATUSES)}"
        raise InvalidInputError(msg)
    allowed_next = _TRANSITIONS[ReportStatus(report.status)]
    if status not in allowed_next:
        allowed = ", ".join(sorted(allowed_next))
        msg = f"status: a {report.status} report can become {allowed}, not {status}"
        raise InvalidInputError(msg)
    event = ReportEvent(
        report_id=report.id,
        kind="status",
        actor_id=user.id,
        from_value=report.status,
        to_value=status,
        text=note,
        at=now,
    )
    report.status = status
    report.updated_at = now
    report.closed_at = now if status == ReportStatus.CLOSED else None
    if report.reviewed_at is None:
        report.reviewed_at = now
    return event


def change_status(
    session: Session, user: StaffUser, report_id: int, status: str, *, note: str = ""
) -> ReportDetail:
    """Return the report after moving it to ``status`` with an optional note (committed).

    Raises
    ------
    InvalidInputError
        For an unknown status or a transition the workflow does not allow.
    """
    _check_role(user, WORK_ROLES, "change reports")
    report = _load(session, report_id)
    session.add(_set_status(report, user, status, clean_text(note)[:MAX_TEXT], utc_now()))
    session.commit()
    return get_report(session, user, report_id)


def add_note(session: Session, user: StaffUser, report_id: int, text: str) -> ReportDetail:
    """Return the report after adding a staff note (committed).

    Raises
    ------
    InvalidInputError
        When the note is empty or too long.
    """
    _check_role(user, WORK_ROLES, "add notes")
    text = clean_text(text)
    if not text or len(text) > MAX_TEXT:
        msg = f"note: write between 1 and {MAX_TEXT} characters"
        raise InvalidInputError(msg)
    report = _load(session, report_id)
    session.add(ReportEvent(report_id=report.id, kind="note", actor_id=user.id, text=text))
    report.updated_at = utc_now()
    session.commit()
    return get_report(session, user, report_id)


def retriage(
    session: Session,
    user: StaffUser,
    report_id: int,
    *,
    queue: str,
    priority: int,
    reason: str = "",
) -> ReportDetail:
    """Return the report after moving it to ``queue`` with ``priority`` (committed).

    Raises
    ------
    InvalidInputError
        For an unknown queue or a priority outside 1-5.
    """
    _check_role(user, WORK_ROLES, "re-triage reports")
    if queue not in QUEUES:
        msg = f"queue: unknown queue {queue!r}; use one of {', '.join(QUEUES)}"
        raise InvalidInputError(msg)
    if not 1 <= priority <= 5:
        msg = "priority: use 1 (most urgent) to 5"
        raise InvalidInputError(msg)
    report = _load(session, report_id)
    now = utc_now()
    session.add(
        ReportEvent(
            report_id=report.id,
            kind="triage",
            actor_id=user.id,
            from_value=f"{report.queue}/{report.priority}",
            to_value=f"{queue}/{priority}",
            text=clean_text(reason)[:MAX_TEXT],
            at=now,
        )
    )
    report.queue, report.priority, report.updated_at = queue, priority, now
    if report.status == ReportStatus.NEW:
        report.status = ReportStatus.TRIAGED
    if report.reviewed_at is None:
        report.reviewed_at = now
    session.commit()
    return get_report(session, user, report_id)


def _route(report: Report, user: StaffUser, queue: str, note: str, now: datetime) -> ReportEvent:
    """Move ``report`` to ``queue`` (a new report becomes triaged); return the history entry."""
    event = ReportEvent(
        report_id=report.id,
        kind="triage",
        actor_id=user.id,
        from_value=f"{report.queue}/{report.priority}",
        to_value=f"{queue}/{report.priority}",
        text=note,
        at=now,
    )
    report.queue, report.updated_at = queue, now
    if report.status == ReportStatus.NEW:
        report.status = ReportStatus.TRIAGED
    return event


def bulk_action(
    session: Session,
    user: StaffUser,
    report_ids: Sequence[int],
    *,
    action: Literal["route", "close"],
    queue: str | None = None,
    note: str = "",
) -> BulkResult:
    """Return how many of ``report_ids`` were routed to ``queue`` or closed (committed).

    Reports that cannot make the change (already closed, already in the queue,
    unknown ids) are skipped and listed.

    Raises
    ------
    InvalidInputError
        For an unknown action or queue, or more than 5,000 ids.
    """
    _check_role(user, BULK_ROLES, "act on many reports at once")
    if len(report_ids) > 5000:
        msg = "report_ids: act on at most 5,000 reports at once"
        raise InvalidInputError(msg)
    if action == "route" and (queue is None or queue not in QUEUES):
        msg = f"queue: choose a queue to route to: {', '.join(QUEUES)}"
        raise InvalidInputError(msg)
    if action not in ("route", "close"):
        msg = "action: use route or close"
        raise InvalidInputError(msg)
    note = clean_text(note)[:MAX_TEXT]
    wanted = sorted(set(report_ids))
    now = utc_now()
    changed: list[int] = []
    skipped: list[int] = []
    found: dict[int, Report] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update({r.id: r for r in session.scalars(select(Report).where(Report.id.in_(chunk)))})
    for report_id in wanted:
        report = found.get(report_id)
        if report is None:
            skipped.append(report_id)
            continue
        if action == "close":
            if report.status == ReportStatus.CLOSED:
                skipped.append(report_id)
                continue
            session.add(_set_status(report, user, ReportStatus.CLOSED, note, now))
        else:
            assert queue is not None
            if report.queue == queue or report.status == ReportStatus.CLOSED:
                skipped.append(report_id)
                continue
            session.add(_route(report, user, queue, note, now))
        changed.append(report_id)
    session.commit()
    log.info("bulk %s: %d changed, %d skipped", action, len(changed), len(skipped))
    return BulkResult(changed=len(changed), skipped=skipped)


def _check_purpose(purpose: str) -> str:
    purpose = clean_text(purpose)
    if len(purpose) < 10 or len(purpose) > 500:
        msg = "purpose: say in 10 to 500 characters why you need to see this"
        raise InvalidInputError(msg)
    return purpose


def open_contact(
    session: Session, user: StaffUser, report_id: int, *, purpose: str, keyring: KeyRing
) -> Contact:
    """Return the reporter's contact details, writing the opening and its purpose to the audit log.

    Raises
    ------
    PermissionDeniedError
        When the user's role may not open contact details.
    InvalidInputError
        When no adequate purpose is given.
    NotFoundError
        When the report has no contact details (anonymous or anonymised).
    """
    _check_role(user, CONTACT_ROLES, "open contact details")
    purpose = _check_purpose(purpose)
    report = _load(session, report_id)
    if report.contact_ciphertext is None:
        msg = "this report has no contact details (anonymous or anonymised)"
        raise NotFoundError(msg)
    plaintext = keyring.decrypt(
        report.contact_key_id, report.contact_ciphertext, aad=f"contact:{report.id}".encode()
    )
    contact = Contact.model_validate_json(plaintext)
    # Audited once opened: an opening that failed showed nobody anything.
    session.add(
        AuditEntry(
            actor_id=user.id, action="report.contact.open", report_id=report.id, purpose=purpose
        )
    )
    session.commit()
    return contact


def open_attachment(
    session: Session,
    user: StaffUser,
    report_id: int,
    attachment_id: int,
    *,
    purpose: str,
    keyring: KeyRing,
) -> Photo:
    """Return a decrypted photo of a report, writing the opening to the audit log.

    Raises
    ------
    PermissionDeniedError
        When the user's role may not open photos.
    NotFoundError
        When the report has no such photo.
    """
    _check_role(user, CONTACT_ROLES, "open photos")
    purpose = _check_purpose(purpose)
    attachment = session.get(ReportAttachment, attachment_id)
    if attachment is None or attachment.report_id != report_id:
        msg = f"report {report_id} has no photo {attachment_id}"
        raise NotFoundError(msg)
    data = keyring.decrypt(
        attachment.key_id, attachment.ciphertext, aad=f"attachment:{attachment.id}".encode()
    )
    photo = Photo(data=data, content_type=attachment.content_type)
    if has_photo_metadata(photo):  # stored before intake stripped photos
        try:
            photo = strip_photo_metadata(photo)
        except InvalidInputError:
            msg = f"photo {attachment_id} holds metadata that cannot be removed, so it is not shown"
            raise NotFoundError(msg) from None
    # Audited once opened: an opening that failed showed nobody anything.
    session.add(
        AuditEntry(
            actor_id=user.id,
            action="report.attachment.open",
            report_id=report_id,
            purpose=purpose,
            detail=f"attachment {attachment_id}",
        )
    )
    session.commit()
    return photo


_EXPORT_COLUMNS = (
    "id",
    "reference",
    "kind",
    "queue",
    "status",
    "priority",
    "received_at",
    "occurred_at",
    "lon",
    "lat",
    "place_text",
    "site_id",
    "duplicate_of_id",
    "description",
)


def _export_rows(
    session: Session, user: StaffUser, queue: str | None, status: str | None
) -> Iterable[Report]:
    _check_role(user, EXPORT_ROLES, "export reports")
    if queue is not None and queue not in QUEUES:
        msg = f"queue: unknown queue {queue!r}; use one of {', '.join(QUEUES)}"
        raise InvalidInputError(msg)
    if status is not None and status not in STATUSES:
        msg = f"status: unknown status {status!r}; use one of {', '.join(STATUSES)}"
        raise InvalidInputError(msg)
    query = select(Report).order_by(Report.id)
    if queue is not None:
        query = query.where(Report.queue == queue)
    if status is not None:
        query = query.where(Report.status == status)
    session.add(
        AuditEntry(
            actor_id=user.id, action="report.export", detail=f"queue={queue} status={status}"
        )
    )
    session.commit()
    return session.scalars(query.execution_options(yield_per=1000))


def export_csv(
    session: Session, user: StaffUser, *, queue: str | None = None, status: str | None = None
) -> str:
    """Return reports as CSV (no contact details), written to the audit log as an export."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_EXPORT_COLUMNS)
    for r in _export_rows(session, user, queue, status):
        row = [getattr(r, c) for c in _EXPORT_COLUMNS]
        # Defuse spreadsheet formulas in free text.
        writer.writerow(
            ["'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v for v in row]
        )
    return out.getvalue()


def export_geojson(
    session: Session, user: StaffUser, *, queue: str | None = None, status: str | None = None
) -> dict[str, Any]:
    """Return located reports as a GeoJSON FeatureCollection (no contact details)."""
    features = []
    for r in _export_rows(session, user, queue, status):
        if r.lon is None or r.lat is None:
            continue
        props = {c: getattr(r, c) for c in _EXPORT_COLUMNS if c not in ("lon", "lat")}
        for key in ("received_at", "occurred_at"):
            props[key] = props[key].isoformat() if props[key] else None
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
                "properties": props,
            }
        )
    return {"type": "FeatureCollection", "features": features}


def dumps_geojson(collection: dict[str, Any]) -> str:
    """Return a GeoJSON document as compact JSON text."""
    return json.dumps(collection, separators=(",", ":"), default=str)
