"""Public pages: choose what to report, the report form, the receipt and follow-up.

Server-rendered, usable without JavaScript. With JavaScript an optional
helper adds a map to pick the place (MapLibre served from ``/static``, the
roads of ``WATCHFLOOR_REPORT_REGION`` from ``/report/map/roads.json``: no
outside tiles or fonts) and a button that fills in the location from the
phone; the place text and the "at or near" list stay there for everyone.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.responses import RedirectResponse, Response

from watchfloor.errors import (
    CsrfError,
    IdempotencyConflictError,
    InvalidInputError,
    NotFoundError,
    StoreUnavailableError,
    TooManyRequestsError,
    WatchfloorError,
)
from watchfloor.services.reports import (
    KINDS,
    PROTECTED_CHARACTERISTICS,
    Photo,
    ReceiptStatus,
    ReportCreate,
    ReportReceipt,
    ReportWriter,
    add_information,
    check_photo,
    prepare_submission,
    receipt_status,
)
from watchfloor.settings import ReportingOptions
from watchfloor.types import LONDON
from watchfloor.web.deps import DbSession, get_settings, refuse_cross_site
from watchfloor.web.reporting import Reporting, ReportingDep, WriterDep, rate_limit
from watchfloor.web.security import (
    CSRF_FIELD,
    form_token_id,
    new_form_token,
    open_from_url,
    seal_for_url,
)
from watchfloor.web.templating import render

log = logging.getLogger(__name__)

__all__ = ["FORM_IDEMPOTENCY_PREFIX", "RECEIPT_PAGE_S", "router", "validation_messages"]

router = APIRouter(include_in_schema=False)

_FORM_FIELDS = (
    "description",
    "place_text",
    "site_id",
    "people_description",
    "vehicle_description",
    "link",
    "protected_characteristic",
    "victim_or_witness",
    "prevent_relationship",
)


#: Form anchors of model fields that have no input of their own on the form.
_ANCHORS = {"lon": "where", "lat": "where", "happening_now": "happening_now"}


def _field_of(loc: list[str], message: str) -> tuple[str, str]:
    """Return the form field an error belongs to, and its message without the field name."""
    if loc and loc[0] == "contact":
        return ("contact_" + loc[-1] if len(loc) > 1 else "contact"), message
    if loc:
        return loc[-1], message
    match = re.match(r"^(\w+): (.*)$", message)
    if match:
        return match.group(1), match.group(2)
    first = message.split(" ", 1)[0]
    if first in ReportCreate.model_fields:
        return first, message
    if "lon and lat" in message:
        return "where", "the map position is not complete; pick the place on the map again"
    return "form", message


def validation_messages(exc: ValidationError) -> dict[str, str]:
    """Return one plain-English message per form field from a pydantic error.

    Errors of the whole model (no location) are put on the field their message
    names (``"where: ..."``, ``"occurred_at is in the future"``), else on ``form``.
    """
    messages: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        message = str(err.get("msg", "is not valid")).removeprefix("Value error, ")
        field, message = _field_of(loc, message)
        if field in ("lon", "lat"):
            message = "the map position is not valid; pick the place on the map again"
        field = _ANCHORS.get(field, field)
        messages.setdefault(field, message[:1].upper() + message[1:])
    return messages


def _sites(reporting: Reporting) -> list[tuple[str, str]]:
    sites = reporting.sites
    pairs = sorted(zip(sites.name, sites.site_id, strict=True), key=lambda p: p[0].lower())
    return [(site_id, name) for name, site_id in pairs if name][:500]


def _photo_hint(options: ReportingOptions) -> str:
    """The photo limits in the words the form shows (the body limit is sized to fit them)."""
    size_mb = options.max_photo_bytes // (1024 * 1024)
    return f"Up to {options.max_photos} photos, JPEG, PNG or WebP, each under {size_mb} MB."


def _render_form(
    request: Request,
    reporting: Reporting,
    kind: str,
    *,
    form_id: str | None,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """Return the report form for ``kind`` with a signed token for ``form_id`` (new when None)."""
    token = new_form_token(reporting.secret, now_s=time.time(), form_id=form_id)
    context = {
        "kind": kind,
        "kind_label": KINDS[kind],
        "characteristics": PROTECTED_CHARACTERISTICS,
        "sites": _sites(reporting),
        "has_map": bool(reporting.options.report_region),
        "photo_hint": _photo_hint(reporting.options),
        "max_photos": reporting.options.max_photos,
        "max_photo_bytes": reporting.options.max_photo_bytes,
        "values": values or {},
        "errors": errors or {},
        "csrf_token": token,
    }
    return render(request, "report_form.html", context, status_code=status_code)


@router.get("/")
def start_page(request: Request) -> Response:
    """The start page: is it happening now, and what do you want to report."""
    return render(request, "start.html", {"kinds": KINDS})


@router.get("/report")
def report_form(
    request: Request, reporting: ReportingDep, kind: str = "", now: str = ""
) -> Response:
    """The report form for ``kind``; "happening now" stops here and says call 999."""
    if now == "yes":
        return render(request, "call999.html", {})
    if kind not in KINDS:
        errors = {"kind": "Choose what you want to tell us about"} if kind or now else {}
        status = 422 if errors else 200
        return render(request, "start.html", {"kinds": KINDS, "errors": errors}, status_code=status)
    response = _render_form(request, reporting, kind, form_id=None)
    # The empty form holds nothing personal: kept in the browser's history, Back shows
    # the same form (same token, hence the same idempotency key) instead of a new one.
    response.headers["Cache-Control"] = "private, no-cache"
    return response


#: Dates before this year on the form are typing slips (and not storable everywhere).
_EARLIEST_YEAR = 1900


def _form_to_data(form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    data: dict[str, Any] = {"kind": str(form.get("kind", ""))}
    for name in _FORM_FIELDS:
        value = form.get(name)
        if isinstance(value, str) and value.strip():
            data[name] = value
    data["happening_now"] = form.get("happening_now") == "yes"
    when = str(form.get("occurred_at", "")).strip()
    if when:
        try:
            occurred = datetime.fromisoformat(when).replace(tzinfo=LONDON)
        except ValueError:
            errors["occurred_at"] = "Enter the date and time, for example 21/11/2026 14:30"
        else:
            if occurred.year < _EARLIEST_YEAR:
                errors["occurred_at"] = f"Enter a date after {_EARLIEST_YEAR}, or leave it empty"
            else:
                data["occurred_at"] = occurred
    for name in ("lon", "lat"):
        value = str(form.get(name, "")).strip()
        if value:
            try:
                data[name] = float(value)
            except ValueError:
                errors["where"] = "The map position is not valid; pick the place again"
    data["anonymous"] = form.get("anonymous", "yes") != "no"
    if not data["anonymous"]:
        data["contact"] = {
            key: str(form.get("contact_" + key, "")).strip() for key in ("name", "phone", "email")
        }
    return data, errors


async def _read_photos(form: FormData, *, max_bytes: int, max_count: int) -> list[Photo]:
    photos: list[Photo] = []
    for upload in form.getlist("photos"):
        if not isinstance(upload, UploadFile) or not upload.filename:
            continue
        data = await upload.read(max_bytes + 1)
        if not data:
            continue
        photos.append(check_photo(data, max_bytes=max_bytes))
    if len(photos) > max_count:
        msg = f"Send at most {max_count} photos"
        raise InvalidInputError(msg)
    return photos


def _form_id(request: Request, form: FormData, secret: bytes) -> str | None:
    """Return the id of the form's signed token; None when it is expired or not ours.

    Raises
    ------
    CsrfError
        When the request carries no form token at all: it did not come from our form.
    """
    token = form.get(CSRF_FIELD)
    if not isinstance(token, str) or not token:
        msg = "this form did not come from this site; reload the page and send it again"
        raise CsrfError(msg)
    return form_token_id(secret, token, now_s=time.time())


async def _over_limit(request: Request) -> int | None:
    """Return the seconds to wait when the client is over the rate limit, else None."""
    try:
        await rate_limit(request)
    except TooManyRequestsError as exc:
        return int(getattr(exc, "retry_after_s", 60))
    return None


_OVER_LIMIT = (
    "Too many reports were sent from this connection in the last minute. Your report is "
    "kept below: wait a minute, then press Send report again"
)


@router.post("/report", dependencies=[Depends(refuse_cross_site)])
async def submit_form(request: Request, reporting: ReportingDep, writer: WriterDep) -> Response:
    """Store a report sent from the form, then send the browser to its receipt page.

    Any refusal (the rate limit included) shows the form again with what was
    typed and an error summary. The form's id is the submission's idempotency
    key, so a double click or a resent form stores one report; the answer is a
    redirect (post-redirect-get), so a refresh of the receipt page sends nothing.
    """
    retry_after_s = await _over_limit(request)
    form = await request.form()
    try:
        form_id = _form_id(request, form, reporting.secret)
        if retry_after_s is not None:
            errors = {"form": _OVER_LIMIT}
            response = _form_again(request, reporting, form, form_id, errors, photos=False)
            response.status_code = 429
            response.headers["Retry-After"] = str(retry_after_s)
            return response
        try:
            return await _submit_form(request, reporting, writer, form, form_id)
        except Exception as exc:  # a fault of ours: the reporter keeps the text all the same
            log.error("report form failed: %s", type(exc).__name__)  # the type only: no text
            errors = {"form": _OUR_FAULT}
            photos = any(isinstance(v, UploadFile) and v.filename for v in form.getlist("photos"))
            return _form_again(
                request, reporting, form, form_id, errors, photos=photos, status_code=500
            )
    finally:
        await form.close()


_OUR_FAULT = (
    "Something went wrong on our side and your report was not sent. Press Send report again"
)


def _kept_values(form: FormData) -> dict[str, str]:
    """Return what was typed into the form (files and the token left out)."""
    return {
        key: value
        for key, value in form.multi_items()
        if isinstance(value, str) and key != CSRF_FIELD
    }


async def _submit_form(
    request: Request,
    reporting: Reporting,
    writer: ReportWriter,
    form: FormData,
    form_id: str | None,
) -> Response:
    data, errors = _form_to_data(form)
    kind = data["kind"]
    if kind not in KINDS:
        errors = {"kind": "Choose what you want to tell us about"}
        return render(request, "start.html", {"kinds": KINDS, "errors": errors}, status_code=422)
    if data["happening_now"]:
        return render(request, "call999.html", {}, status_code=422)
    photos: list[Photo] = []
    options = reporting.options
    try:
        photos = await _read_photos(
            form, max_bytes=options.max_photo_bytes, max_count=options.max_photos
        )
    except InvalidInputError as exc:
        errors["photos"] = str(exc).removeprefix("photos: ").capitalize()
    report: ReportCreate | None = None
    try:
        report = ReportCreate.model_validate(data)
    except ValidationError as exc:
        errors = {**validation_messages(exc), **errors}
    if form_id is None:
        errors["form"] = "This form was open for a long time; check your report and send it again"
    if errors or report is None or form_id is None:
        return _form_again(request, reporting, form, form_id, errors, photos=bool(photos))
    prepare = functools.partial(
        prepare_submission,
        report,
        secret=reporting.secret,
        options=options,
        sites=reporting.sites,
        photos=photos,
        idempotency_key=FORM_IDEMPOTENCY_PREFIX + form_id,
    )
    # Photos are re-encoded to drop their metadata (about 0.6 s for 12 megapixels):
    # off the event loop, so other requests are not held up.
    submission = await run_in_threadpool(prepare) if photos else prepare()
    try:
        receipt = await writer.store(submission)
    except IdempotencyConflictError:
        # Sent before with other details (back button, then edited): a new report.
        errors = {"form": _SENT_BEFORE}
        return _form_again(
            request, reporting, form, None, errors, photos=bool(photos), status_code=409
        )
    except WatchfloorError as exc:
        if exc.http_status >= 500 and not isinstance(exc, StoreUnavailableError):
            raise
        errors = _store_errors(exc)
        status = exc.http_status
        return _form_again(
            request, reporting, form, form_id, errors, photos=True, status_code=status
        )
    return RedirectResponse(_receipt_page_url(reporting.secret, receipt), status_code=303)


#: The idempotency key of a form submission is this prefix and the form's id.
FORM_IDEMPOTENCY_PREFIX = "form-"

_SENT_BEFORE = (
    "You already sent a report from this form with different details. If this is a new "
    "report, check it and press Send report again; to add to the first one, use its receipt"
)


def _store_errors(exc: WatchfloorError) -> dict[str, str]:
    """Return the form errors for a submission the writer refused (4xx) or could not store."""
    if isinstance(exc, StoreUnavailableError):
        return {"form": "We could not store your report just now. Press Send report again"}
    field = getattr(exc, "field", None)
    message = str(exc)
    if isinstance(field, str) and field:
        message = message.removeprefix(field + ": ")
        name = field.split(".")[-1]
        name = "contact_" + name if field.startswith("contact.") else name
        name = _ANCHORS.get(name, name)
        return {name: message[:1].upper() + message[1:]}
    return {"form": message[:1].upper() + message[1:]}


def _form_again(
    request: Request,
    reporting: Reporting,
    form: FormData,
    form_id: str | None,
    errors: dict[str, str],
    *,
    photos: bool,
    status_code: int = 422,
) -> Response:
    """Return the form again with what was typed, ``errors`` and a fresh token."""
    if photos and "photos" not in errors:
        # Browsers never refill a file input: say so rather than drop them silently.
        errors["photos"] = "Your photos were not sent; choose them again"
    kind = str(form.get("kind", ""))
    if kind not in KINDS:
        errors = {"kind": "Choose what you want to tell us about"}
        return render(request, "start.html", {"kinds": KINDS, "errors": errors}, status_code=422)
    values = _kept_values(form)
    return _render_form(
        request,
        reporting,
        kind,
        form_id=form_id,
        values=values,
        errors=errors,
        status_code=status_code,
    )


#: How long after sending the receipt page shows the receipt code again (refresh, back).
RECEIPT_PAGE_S = 3600

_RECEIPT_PURPOSE = b"report-receipt-page"


def _receipt_page_url(secret: bytes, receipt: ReportReceipt) -> str:
    payload = {
        "reference": receipt.reference,
        "receipt_code": receipt.receipt_code,
        "received_at": receipt.received_at.isoformat(),
        "sealed_at": int(time.time()),
    }
    sealed = seal_for_url(secret, _RECEIPT_PURPOSE, json.dumps(payload).encode())
    return "/report/sent?" + urlencode({"r": sealed})


@router.get("/report/sent")
def report_sent(request: Request, reporting: ReportingDep, r: str = "") -> Response:
    """The reference and receipt code of a report just sent (for an hour; the reference after)."""
    raw = open_from_url(reporting.secret, _RECEIPT_PURPOSE, r[:1000]) if r else None
    if raw is None:
        msg = (
            "this receipt page's address is not complete; if you sent a report, find its reference"
        )
        raise NotFoundError(msg)
    payload = json.loads(raw)
    expired = time.time() - int(payload["sealed_at"]) > RECEIPT_PAGE_S
    receipt = {
        "reference": payload["reference"],
        "receipt_code": "" if expired else payload["receipt_code"],
    }
    return render(request, "report_done.html", {"receipt": receipt, "expired": expired})


def _render_receipt(
    request: Request,
    reporting: Reporting,
    *,
    form_id: str | None = None,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    token = new_form_token(reporting.secret, now_s=time.time(), form_id=form_id)
    context = {"values": values or {}, "errors": errors or {}, "csrf_token": token}
    return render(request, "receipt.html", context, status_code=status_code)


@router.get("/receipt")
def receipt_form(request: Request, reporting: ReportingDep) -> Response:
    """Form to check a report or add information, with the reference and receipt code."""
    return _render_receipt(request, reporting)


@router.post("/receipt", dependencies=[Depends(refuse_cross_site)])
async def receipt_check(request: Request, session: DbSession, reporting: ReportingDep) -> Response:
    """Show whether the report was received or reviewed; add information when given."""
    retry_after_s = await _over_limit(request)
    form = await request.form()
    form_id = _form_id(request, form, reporting.secret)
    reference = str(form.get("reference", "")).strip()
    code = str(form.get("receipt_code", "")).strip()
    information = str(form.get("information", "")).strip()
    values = {"reference": reference, "information": information}
    errors: dict[str, str] = {}
    if not reference:
        errors["reference"] = "Enter the reference, for example WF1A2B3C4D"
    if not code:
        errors["receipt_code"] = "Enter the receipt code you were given"
    if form_id is None:
        errors["form"] = "This form was open for a long time; check it and send it again"
    if retry_after_s is not None:
        errors = {"form": "Too many tries from this connection; wait a minute and send it again"}
        response = _render_receipt(request, reporting, values=values, errors=errors)
        response.status_code = 429
        response.headers["Retry-After"] = str(retry_after_s)
        return response
    if errors:
        return _render_receipt(request, reporting, values=values, errors=errors, status_code=422)
    try:
        if information:
            await run_in_threadpool(add_information, session, reference, code, information)
        status = await run_in_threadpool(receipt_status, session, reference, code)
    except NotFoundError as exc:
        errors = {"receipt_code": str(exc).capitalize()}
        return _render_receipt(request, reporting, values=values, errors=errors, status_code=404)
    except InvalidInputError as exc:
        errors = {"information": str(exc).removeprefix("information: ").capitalize()}
        return _render_receipt(request, reporting, values=values, errors=errors, status_code=422)
    # Post-redirect-get: a refresh of the answer neither adds the information again
    # nor asks to resend the form.
    payload = {"status": status.model_dump(mode="json"), "added": bool(information)}
    payload["sealed_at"] = int(time.time())
    sealed = seal_for_url(reporting.secret, _STATUS_PURPOSE, json.dumps(payload).encode())
    return RedirectResponse("/receipt/status?" + urlencode({"r": sealed}), status_code=303)


_STATUS_PURPOSE = b"receipt-status-page"


@router.get("/receipt/status")
def receipt_status_page(request: Request, reporting: ReportingDep, r: str = "") -> Response:
    """Whether the report was received or reviewed, as found when it was checked (an hour)."""
    raw = open_from_url(reporting.secret, _STATUS_PURPOSE, r[:1000]) if r else None
    payload = json.loads(raw) if raw is not None else None
    if payload is None or time.time() - int(payload["sealed_at"]) > RECEIPT_PAGE_S:
        msg = "this page has expired or its address is not complete; check your report again"
        raise NotFoundError(msg)
    status = ReceiptStatus.model_validate(payload["status"])
    context = {"status": status, "added": bool(payload["added"])}
    return render(request, "receipt_status.html", context)


@dataclass(frozen=True)
class _Roads:
    raw: bytes
    gz: bytes
    etag: str


_ROADS_LOCK = threading.Lock()


def _region_roads(request: Request, region: str) -> _Roads:
    """Return the region's roads as GeoJSON with its bounds (encoded once per process)."""
    cached: _Roads | None = getattr(request.app.state, "report_roads", None)
    if cached is not None:
        return cached
    with _ROADS_LOCK:
        cached = getattr(request.app.state, "report_roads", None)
        if cached is None:
            # Region loading pulls in scipy, pyarrow and shapely: only the map needs them.
            from watchfloor.services.regions import open_region  # noqa: PLC0415 (slow; map only)
            from watchfloor.web.dashboard_layers import (  # noqa: PLC0415 (slow; map only)
                basemap_from_graph,
            )

            graph = open_region(region, get_settings(request)).graph
            roads = basemap_from_graph(graph)
            roads["bbox"] = [
                round(float(graph.lon.min()), 5),
                round(float(graph.lat.min()), 5),
                round(float(graph.lon.max()), 5),
                round(float(graph.lat.max()), 5),
            ]
            raw = json.dumps(roads, separators=(",", ":")).encode()
            digest = hashlib.sha256(raw).hexdigest()[:16]
            cached = _Roads(raw=raw, gz=gzip.compress(raw, mtime=0), etag=f'"{digest}"')
            request.app.state.report_roads = cached
    return cached


@router.get("/report/map/roads.json")
async def report_map_roads(request: Request, reporting: ReportingDep) -> Response:
    """The roads of the force's region for the map on the report form (GeoJSON, with bbox)."""
    region = reporting.options.report_region
    if not region:
        msg = "there is no map: WATCHFLOOR_REPORT_REGION is not set"
        raise NotFoundError(msg)
    roads = await run_in_threadpool(_region_roads, request, region)
    headers = {
        "Cache-Control": "public, max-age=3600",
        "ETag": roads.etag,
        "Vary": "Accept-Encoding",
    }
    if roads.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(roads.gz, media_type="application/geo+json", headers=headers)
    return Response(roads.raw, media_type="application/geo+json", headers=headers)
