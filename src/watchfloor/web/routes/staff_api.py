"""Staff JSON API: log in, queues, report detail, workflow, bulk actions, exports.

Every route declares the roles it admits; the services check them again for
changes. State-changing requests need the ``X-CSRF-Token`` header (returned at
login and in every page's ``<meta name="csrf-token">``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from watchfloor.services import reports as svc
from watchfloor.services.auth import (
    StaffUser,
    authenticate,
    end_session,
    list_users,
    start_session,
)
from watchfloor.services.reports.schemas import LineText
from watchfloor.types import ReportQueue, ReportStatus, Role
from watchfloor.web.deps import CurrentUser, DbSession, csrf_token, require_roles
from watchfloor.web.ratelimit import rate_limit_for
from watchfloor.web.reporting import ReportingDep
from watchfloor.web.security import SESSION_COOKIE

__all__ = ["Reader", "Worker", "router", "set_session_cookie"]

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {"schema": {"type": "object"}}}}

router = APIRouter(
    prefix="/api/staff",
    tags=["staff"],
    responses={
        401: {"description": "Not logged in", **_PROBLEM},
        403: {"description": "Role not allowed or CSRF token missing", **_PROBLEM},
        422: {"description": "A field is missing or not valid", **_PROBLEM},
    },
)

Reader = Annotated[StaffUser, Depends(require_roles(*svc.READ_ROLES))]
Worker = Annotated[StaffUser, Depends(require_roles(*svc.WORK_ROLES))]
Bulker = Annotated[StaffUser, Depends(require_roles(*svc.BULK_ROLES))]
Opener = Annotated[StaffUser, Depends(require_roles(*svc.CONTACT_ROLES))]
Exporter = Annotated[StaffUser, Depends(require_roles(*svc.EXPORT_ROLES))]
Overseer = Annotated[StaffUser, Depends(require_roles(Role.SUPERVISOR, Role.ADMIN))]
Admin = Annotated[StaffUser, Depends(require_roles(Role.ADMIN))]
ReportId = Annotated[int, Path(ge=1, le=2**62)]
ReportIdItem = Annotated[int, Field(ge=1, le=2**62)]


class Login(BaseModel):
    """Staff credentials."""

    model_config = ConfigDict(extra="forbid")

    username: LineText = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class SessionOut(BaseModel):
    """The logged-in staff member and the CSRF token for state-changing requests."""

    username: str
    role: Role
    csrf_token: str


class StatusChange(BaseModel):
    """A move in the workflow, with an optional note."""

    model_config = ConfigDict(extra="forbid")

    status: ReportStatus
    note: str = Field(default="", max_length=5000)


class NoteAdd(BaseModel):
    """A staff note on a report."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=5000)


class TriageChange(BaseModel):
    """A new queue and priority (1 most urgent to 5)."""

    model_config = ConfigDict(extra="forbid")

    queue: ReportQueue
    priority: int = Field(ge=1, le=5)
    reason: str = Field(default="", max_length=5000)


class BulkRequest(BaseModel):
    """Route or close many reports at once."""

    model_config = ConfigDict(extra="forbid")

    report_ids: list[ReportIdItem] = Field(min_length=1, max_length=5000)
    action: Literal["route", "close"]
    queue: ReportQueue | None = None
    note: str = Field(default="", max_length=5000)


class Purpose(BaseModel):
    """Why the contact details or photo must be opened (written to the audit log)."""

    model_config = ConfigDict(extra="forbid")

    purpose: str = Field(min_length=10, max_length=500)


class UserOut(BaseModel):
    """A staff account."""

    username: str
    role: Role


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    """Set the session cookie: HttpOnly, SameSite=Strict, Secure on HTTPS."""
    secure = request.app.state.options.secure_cookies
    if secure is None:
        secure = request.url.scheme == "https"
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=12 * 3600,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )


@router.post("/session", dependencies=[Depends(rate_limit_for("login"))])
def login(body: Login, request: Request, response: Response, session: DbSession) -> SessionOut:
    """Log in; the session cookie is set and the CSRF token returned."""
    user = authenticate(session, body.username, body.password)
    token = start_session(session, user)
    session.commit()
    set_session_cookie(request, response, token)
    return SessionOut(username=user.username, role=user.role, csrf_token=csrf_token(request))


@router.delete("/session", status_code=204)
def logout(request: Request, session: DbSession, user: CurrentUser) -> Response:
    """Log out (end the server-side session)."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        end_session(session, token)
        session.commit()
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/reports")
def queue(
    *,
    user: Reader,
    session: DbSession,
    queue: ReportQueue | None = None,
    status: ReportStatus | None = None,
    after: Annotated[str | None, Query(max_length=40, pattern=r"^[0-9]\.[0-9]{1,18}$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> svc.QueuePage:
    """A page of reports, most urgent first, then oldest first; follow ``next_after``."""
    return svc.list_queue(session, user, queue=queue, status=status, after=after, limit=limit)


@router.get("/reports/{report_id}")
def report_detail(user: Reader, session: DbSession, report_id: ReportId) -> svc.ReportDetail:
    """One report with its history (contact details need a stated purpose)."""
    return svc.get_report(session, user, report_id)


@router.post("/reports/{report_id}/status")
def report_status(
    user: Worker, session: DbSession, report_id: ReportId, body: StatusChange
) -> svc.ReportDetail:
    """Move a report in the workflow (new, triaged, assigned, actioned, closed)."""
    return svc.change_status(session, user, report_id, body.status, note=body.note)


@router.post("/reports/{report_id}/notes")
def report_note(
    user: Worker, session: DbSession, report_id: ReportId, body: NoteAdd
) -> svc.ReportDetail:
    """Add a note to a report."""
    return svc.add_note(session, user, report_id, body.text)


@router.post("/reports/{report_id}/triage")
def report_triage(
    user: Worker, session: DbSession, report_id: ReportId, body: TriageChange
) -> svc.ReportDetail:
    """Re-triage a report: a new queue and priority, with the reason."""
    return svc.retriage(
        session, user, report_id, queue=body.queue, priority=body.priority, reason=body.reason
    )


@router.post("/reports/bulk")
def reports_bulk(user: Bulker, session: DbSession, body: BulkRequest) -> svc.BulkResult:
    """Route many reports to a queue, or close them, in one go."""
    return svc.bulk_action(
        session, user, body.report_ids, action=body.action, queue=body.queue, note=body.note
    )


@router.post("/reports/{report_id}/contact")
def report_contact(
    *,
    user: Opener,
    session: DbSession,
    reporting: ReportingDep,
    report_id: ReportId,
    body: Purpose,
) -> svc.Contact:
    """Open the reporter's contact details; the purpose goes to the audit log."""
    return svc.open_contact(
        session, user, report_id, purpose=body.purpose, keyring=reporting.keyring
    )


@router.post(
    "/reports/{report_id}/attachments/{attachment_id}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}},
)
def report_attachment(
    *,
    user: Opener,
    session: DbSession,
    reporting: ReportingDep,
    report_id: ReportId,
    attachment_id: ReportId,
    body: Purpose,
) -> Response:
    """Open a photo of a report; the purpose goes to the audit log."""
    photo = svc.open_attachment(
        session, user, report_id, attachment_id, purpose=body.purpose, keyring=reporting.keyring
    )
    return Response(
        photo.data,
        media_type=photo.content_type,
        headers={"content-disposition": "attachment; filename=photo"},
    )


@router.get("/export.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def export_csv(
    *,
    user: Exporter,
    session: DbSession,
    queue: ReportQueue | None = None,
    status: ReportStatus | None = None,
) -> Response:
    """Reports as CSV for analysis (no contact details)."""
    body = svc.export_csv(session, user, queue=queue, status=status)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": "attachment; filename=reports.csv"},
    )


@router.get(
    "/export.geojson",
    response_class=Response,
    responses={200: {"content": {"application/geo+json": {}}}},
)
def export_geojson(
    *,
    user: Exporter,
    session: DbSession,
    queue: ReportQueue | None = None,
    status: ReportStatus | None = None,
) -> Response:
    """Located reports as GeoJSON points for analysis (no contact details)."""
    collection = svc.export_geojson(session, user, queue=queue, status=status)
    return Response(svc.dumps_geojson(collection), media_type="application/geo+json")


@router.get("/outbox")
def outbox_state(user: Overseer, session: DbSession) -> svc.OutboxState:
    """Counts of the forwarding outbox by state."""
    return svc.outbox_counts(session)


@router.get("/users")
def users(user: Admin, session: DbSession) -> list[UserOut]:
    """Staff accounts and their roles."""
    return [UserOut(username=u.username, role=u.role) for u in list_users(session)]
