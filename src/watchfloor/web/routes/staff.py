"""Staff pages: log in, queues with bulk actions, report detail and workflow forms.

Server-rendered forms posting to the same services as the staff JSON API; every
form carries the CSRF token.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from watchfloor.errors import InvalidInputError, PermissionDeniedError, ThrottledError
from watchfloor.services import reports as svc
from watchfloor.services.auth import StaffUser, authenticate, end_session, start_session
from watchfloor.web.deps import CurrentUser, DbSession, require_roles, verify_csrf
from watchfloor.web.ratelimit import rate_limit_for
from watchfloor.web.reporting import ReportingDep
from watchfloor.web.routes.staff_api import set_session_cookie
from watchfloor.web.security import SESSION_COOKIE
from watchfloor.web.templating import render

__all__ = ["router"]

router = APIRouter(prefix="/staff", include_in_schema=False)

Reader = Annotated[StaffUser, Depends(require_roles(*svc.READ_ROLES))]
Worker = Annotated[StaffUser, Depends(require_roles(*svc.WORK_ROLES))]
Bulker = Annotated[StaffUser, Depends(require_roles(*svc.BULK_ROLES))]
Opener = Annotated[StaffUser, Depends(require_roles(*svc.CONTACT_ROLES))]
ReportId = Annotated[int, Path(ge=1, le=2**62)]


def _see(report_id: int) -> RedirectResponse:
    return RedirectResponse(f"/staff/reports/{report_id}", status_code=303)


@router.get("/login")
def login_page(request: Request) -> Response:
    """The staff login form."""
    return render(request, "staff_login.html", {"error": ""})


@router.post("/login", dependencies=[Depends(rate_limit_for("login")), Depends(verify_csrf)])
async def login_form(request: Request, session: DbSession) -> Response:
    """Check the credentials, start a session and go to the queues.

    A wrong password shows the form again (403); a username locked after repeated
    failures, or a server checking too many log-ins at once, shows it with the
    wait (429 and ``Retry-After``); no password is checked then.
    """
    form = await request.form()
    username = str(form.get("username", "")).strip()[:256]
    password = str(form.get("password", ""))[:1024]
    try:
        user = await run_in_threadpool(authenticate, session, username, password)
    except PermissionDeniedError as exc:
        return render(request, "staff_login.html", {"error": str(exc)}, status_code=403)
    except ThrottledError as exc:
        page = render(request, "staff_login.html", {"error": str(exc)}, status_code=429)
        page.headers["Retry-After"] = str(exc.retry_after_s)
        return page
    token = start_session(session, user)
    session.commit()
    response = RedirectResponse("/staff/queues", status_code=303)
    set_session_cookie(request, response, token)
    return response


@router.post("/logout")
def logout_form(request: Request, session: DbSession, user: CurrentUser) -> Response:
    """End the session and go back to the login page."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        end_session(session, token)
        session.commit()
    response = RedirectResponse("/staff/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/queues")
def queues_page(
    *,
    request: Request,
    user: Reader,
    session: DbSession,
    queue: str = "",
    status: str = "new",
    after: str = "",
) -> Response:
    """A queue of reports, most urgent first, with checkboxes for bulk actions."""
    page = svc.list_queue(
        session,
        user,
        queue=queue or None,
        status=status or None,
        after=after or None,
        limit=100,
    )
    stuck = svc.outbox_counts(session).stuck
    return render(
        request,
        "staff_queues.html",
        {
            "page": page,
            "queue": queue,
            "status": status,
            "queues": svc.QUEUES,
            "statuses": svc.STATUSES,
            "kinds": svc.KINDS,
            "can_bulk": user.role in svc.BULK_ROLES,
            "can_export": user.role in svc.EXPORT_ROLES,
            "stuck": stuck,
        },
    )


@router.post("/bulk")
async def bulk_form(request: Request, user: Bulker, session: DbSession) -> Response:
    """Route or close the ticked reports."""
    form = await request.form()
    ids: list[int] = []
    for value in form.getlist("report_id"):
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
            ids.append(int(value))
    if not ids:
        raise InvalidInputError("report_id: tick at least one report")
    action = str(form.get("action", ""))
    queue = str(form.get("queue", "")) or None
    if action not in ("route", "close"):
        raise InvalidInputError("action: choose route or close")
    result = svc.bulk_action(
        session,
        user,
        ids,
        action="route" if action == "route" else "close",
        queue=queue,
        note=str(form.get("note", "")),
    )
    back = str(form.get("back", "/staff/queues"))
    if not back.startswith("/staff/queues"):
        back = "/staff/queues"
    sep = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{sep}changed={result.changed}", status_code=303)


@router.get("/reports/{report_id}")
def report_page(
    request: Request, user: Reader, session: DbSession, report_id: ReportId
) -> Response:
    """A report with its history and the workflow forms."""
    detail = svc.get_report(session, user, report_id)
    return render(request, "staff_report.html", _detail_context(user, detail))


def _detail_context(user: StaffUser, detail: svc.ReportDetail, **extra: Any) -> dict[str, Any]:
    return {
        "r": detail,
        "kinds": svc.KINDS,
        "queues": svc.QUEUES,
        "statuses": svc.STATUSES,
        "can_work": user.role in svc.WORK_ROLES,
        "can_open": user.role in svc.CONTACT_ROLES,
        "contact": None,
        **extra,
    }


@router.post("/reports/{report_id}/status")
async def status_form(
    request: Request, user: Worker, session: DbSession, report_id: ReportId
) -> Response:
    """Move the report in the workflow."""
    form = await request.form()
    svc.change_status(
        session, user, report_id, str(form.get("status", "")), note=str(form.get("note", ""))
    )
    return _see(report_id)


@router.post("/reports/{report_id}/note")
async def note_form(
    request: Request, user: Worker, session: DbSession, report_id: ReportId
) -> Response:
    """Add a note."""
    form = await request.form()
    svc.add_note(session, user, report_id, str(form.get("text", "")))
    return _see(report_id)


@router.post("/reports/{report_id}/triage")
async def triage_form(
    request: Request, user: Worker, session: DbSession, report_id: ReportId
) -> Response:
    """Re-triage: a new queue and priority."""
    form = await request.form()
    priority = str(form.get("priority", ""))
    if not (priority.isascii() and priority.isdigit() and len(priority) < 3):
        raise InvalidInputError("priority: choose 1 (most urgent) to 5")
    svc.retriage(
        session,
        user,
        report_id,
        queue=str(form.get("queue", "")),
        priority=int(priority),
        reason=str(form.get("reason", "")),
    )
    return _see(report_id)


@router.post("/reports/{report_id}/contact")
async def contact_form(
    request: Request,
    user: Opener,
    session: DbSession,
    reporting: ReportingDep,
    report_id: ReportId,
) -> Response:
    """Show the contact details once, after a stated purpose (audited)."""
    form = await request.form()
    contact = svc.open_contact(
        session,
        user,
        report_id,
        purpose=str(form.get("purpose", "")),
        keyring=reporting.keyring,
    )
    detail = svc.get_report(session, user, report_id)
    return render(request, "staff_report.html", _detail_context(user, detail, contact=contact))
