"""Public pages: choose what to report, the report form, the receipt and follow-up.

Server-rendered, usable without JavaScript. With JavaScript an optional
helper adds a map to pick the place (MapLibre served from ``/static``, the
roads of ``WATCHFLOOR_REPORT_REGION`` from ``/report/map/roads.json``: no
outside tiles or fonts) and a button that fills in the location from the
phone; the place text and the "at or near" list stay there for everyone.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from watchfloor.errors import InvalidInputError, NotFoundError
from watchfloor.services.reports import (
    KINDS,
    PROTECTED_CHARACTERISTICS,
    Photo,
    ReportCreate,
    ReportWriter,
    add_information,
    check_photo,
    prepare_submission,
    receipt_status,
)
from watchfloor.types import LONDON
from watchfloor.web.deps import DbSession, get_settings, verify_csrf
from watchfloor.web.reporting import Reporting, ReportingDep, WriterDep, rate_limit
from watchfloor.web.templating import render

__all__ = ["router", "validation_messages"]

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
    return render(
        request,
        "report_form.html",
        {
            "kind": kind,
            "kind_label": KINDS[kind],
            "characteristics": PROTECTED_CHARACTERISTICS,
            "sites": _sites(reporting),
            "has_map": bool(reporting.options.report_region),
            "values": {},
            "errors": {},
        },
    )


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


@router.post("/report", dependencies=[Depends(rate_limit), Depends(verify_csrf)])
async def submit_form(request: Request, reporting: ReportingDep, writer: WriterDep) -> Response:
    """Store a report sent from the form; show the reference and receipt code once."""
    form = await request.form()
    try:
        return await _submit_form(request, reporting, writer, form)
    finally:
        await form.close()


async def _submit_form(
    request: Request, reporting: Reporting, writer: ReportWriter, form: FormData
) -> Response:
    data, errors = _form_to_data(form)
    photos: list[Photo] = []
    try:
        photos = await _read_photos(
            form,
            max_bytes=reporting.options.max_photo_bytes,
            max_count=reporting.options.max_photos,
        )
    except InvalidInputError as exc:
        errors["photos"] = str(exc).removeprefix("photos: ").capitalize()
    report: ReportCreate | None = None
    if data["happening_now"]:
        return render(request, "call999.html", {}, status_code=422)
    try:
        report = ReportCreate.model_validate(data)
    except ValidationError as exc:
        errors = {**validation_messages(exc), **errors}
    kind = data["kind"]
    if errors or report is None:
        if kind not in KINDS:
            return render(
                request,
                "start.html",
                {"kinds": KINDS, "errors": {"kind": "Choose what you want to tell us about"}},
                status_code=422,
            )
        values = {key: form.get(key, "") for key in form}
        return render(
            request,
            "report_form.html",
            {
                "kind": kind,
                "kind_label": KINDS[kind],
                "characteristics": PROTECTED_CHARACTERISTICS,
                "sites": _sites(reporting),
                "has_map": bool(reporting.options.report_region),
                "values": values,
                "errors": errors,
            },
            status_code=422,
        )
    submission = prepare_submission(
        report,
        secret=reporting.secret,
        options=reporting.options,
        sites=reporting.sites,
        photos=photos,
    )
    receipt = await writer.store(submission)
    return render(request, "report_done.html", {"receipt": receipt})


@router.get("/receipt")
def receipt_form(request: Request) -> Response:
    """Form to check a report or add information, with the reference and receipt code."""
    return render(request, "receipt.html", {"values": {}, "errors": {}})


@router.post("/receipt", dependencies=[Depends(rate_limit), Depends(verify_csrf)])
async def receipt_check(request: Request, session: DbSession) -> Response:
    """Show whether the report was received or reviewed; add information when given."""
    form = await request.form()
    reference = str(form.get("reference", "")).strip()
    code = str(form.get("receipt_code", "")).strip()
    information = str(form.get("information", "")).strip()
    values = {"reference": reference, "information": information}
    errors: dict[str, str] = {}
    if not reference:
        errors["reference"] = "Enter the reference, for example WF1A2B3C4D"
    if not code:
        errors["receipt_code"] = "Enter the receipt code you were given"
    if errors:
        return render(
            request, "receipt.html", {"values": values, "errors": errors}, status_code=422
        )
    try:
        if information:
            await run_in_threadpool(add_information, session, reference, code, information)
        status = await run_in_threadpool(receipt_status, session, reference, code)
    except NotFoundError as exc:
        return render(
            request,
            "receipt.html",
            {"values": values, "errors": {"receipt_code": str(exc).capitalize()}},
            status_code=404,
        )
    except InvalidInputError as exc:
        message = str(exc).removeprefix("information: ").capitalize()
        return render(
            request,
            "receipt.html",
            {"values": values, "errors": {"information": message}},
            status_code=422,
        )
    return render(request, "receipt_status.html", {"status": status, "added": bool(information)})


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
