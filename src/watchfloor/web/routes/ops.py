"""The operations-room dashboard, its JSON layers, shift briefings and the public page.

Staff pages and ``/api/ops/...`` need a staff login; situation changes
(declare, threat level, calendar, re-plan, public message) need a planning
role and the CSRF token. ``/community`` is public: what the force is doing,
how to report, and the message of the day that staff published.
"""

from __future__ import annotations

import gzip
import json
import logging
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import AwareDatetime, BaseModel, Field
from starlette.responses import Response

from watchfloor.errors import InvalidInputError, PermissionDeniedError
from watchfloor.services import operations as ops
from watchfloor.services import regions
from watchfloor.services.auth import StaffUser
from watchfloor.services.cache import BoundedCache
from watchfloor.storage.files import atomic_write_bytes
from watchfloor.web import dashboard_layers as layers
from watchfloor.web.deps import CurrentUser, get_database
from watchfloor.web.templating import render

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter()

_ROOM_LOCK = threading.Lock()
#: Rooms whose layers the dashboard prepares ahead of requests.
_WARMED: weakref.WeakSet[ops.OperationsRoom] = weakref.WeakSet()


def room_for_app(app: FastAPI) -> ops.OperationsRoom:
    """Return the app's operations room, created on first use from the app's database.

    Creating it starts preparing every region's map layers in the background;
    ``watchfloor serve`` calls this as the server starts, so the first dashboard
    visit finds them ready.
    """
    room = getattr(app.state, "ops_room", None)
    if isinstance(room, ops.OperationsRoom):
        return room
    with _ROOM_LOCK:
        room = getattr(app.state, "ops_room", None)
        if not isinstance(room, ops.OperationsRoom):
            room = ops.OperationsRoom(app.state.settings, store=ops.OpsStore(app.state.db))
            app.state.ops_room = room
    if room not in _WARMED:
        _start_warming(room)
    return room


def get_room(request: Request) -> ops.OperationsRoom:
    """Return the app's operations room (a FastAPI dependency)."""
    return room_for_app(request.app)


def _start_warming(room: ops.OperationsRoom) -> None:
    """Encode every region's basemap now, and each new plan's layers as soon as it is made.

    The dashboard's first request then finds its bytes ready: building a
    county's basemap takes about a second, a plan's layers a few tenths.
    """
    with _ROOM_LOCK:
        if room in _WARMED:
            return
        _WARMED.add(room)
        room.add_plan_listener(lambda region, _plan: _warm_plan(room, region))

    def warm() -> None:
        for name in regions.built_regions(room.settings):
            try:
                _basemap(room, name)
                _warm_plan(room, name)
            except Exception:  # a region that cannot load shows its error on request
                log.exception("dashboard: could not prepare the layers of %s", name)

    threading.Thread(target=warm, name="dashboard-warm", daemon=True).start()


def _warm_plan(room: ops.OperationsRoom, region: str) -> None:
    for shift in ("current", "next"):
        _plan_layers(room, region, shift)


Room = Annotated[ops.OperationsRoom, Depends(get_room)]


def _actor(user: StaffUser) -> ops.Actor:
    return ops.Actor(name=user.username, roles=frozenset({user.role}))


def _ops_user(user: CurrentUser) -> StaffUser:
    if user.role not in ops.OPS_ROLES:
        msg = f"your role ({user.role}) does not use the operations room"
        raise PermissionDeniedError(msg)
    return user


OpsUser = Annotated[StaffUser, Depends(_ops_user)]


class EventIn(BaseModel):
    """A declared event, as the dashboard and the API send it."""

    kind: str = Field(min_length=1, max_length=100, examples=["vehicle attack"])
    place: str = Field(min_length=1, max_length=200, examples=["Finsbury Park, London"])
    at: AwareDatetime
    targeted_community: str | None = Field(default=None, max_length=100)
    backlash_community: str | None = Field(default=None, max_length=100)
    threat_level: str | None = None
    playbook: str | None = Field(default=None, max_length=100)


class ThreatIn(BaseModel):
    """A new national threat level."""

    level: str = Field(examples=["severe"])


class CalendarIn(BaseModel):
    """A calendar window to plan for (a match, a vigil, a festival)."""

    name: str = Field(min_length=1, max_length=200)
    start: AwareDatetime
    end: AwareDatetime
    site_id: str | None = Field(default=None, max_length=32)
    weight: float = Field(default=1.5, gt=0, le=10)


class JobOut(BaseModel):
    """A re-plan job."""

    job_id: str
    region: str
    trigger: str
    status: str
    submitted_at: str
    started_at: str | None
    finished_at: str | None
    error: str | None
    plan_id: str | None
    timings_s: dict[str, float]


def _job_out(job: ops.Job | dict[str, Any]) -> JobOut:
    data = job.snapshot() if isinstance(job, ops.Job) else job
    return JobOut(**data)


# --- pages ------------------------------------------------------------------------------


@router.get("/dashboard", include_in_schema=False)
def dashboard_page(
    request: Request, user: OpsUser, room: Room, region: str | None = None
) -> Response:
    """Return the operations-room page of ``region`` (default: the first built region)."""
    name = regions.pick_region(room.settings, region)
    page = ops.dashboard_page(room, name)
    context = {
        **page,
        "bounds_json": json.dumps(page["bounds"]),
        "can_plan": _actor(user).can_plan(),
        "user_name": f"{user.username} ({user.role})",
        "static": "/static",
    }
    return render(request, "dashboard.html", context)


@router.post("/dashboard/message", include_in_schema=False)
def publish_message_form(
    user: OpsUser,
    room: Room,
    region: Annotated[str, Form(max_length=100)],
    text: Annotated[str, Form(max_length=4000)],
) -> Response:
    """Publish the public message of the day (one click from the dashboard)."""
    name = regions.pick_region(room.settings, region)
    room.publish_message(name, text, actor=_actor(user))
    return RedirectResponse(f"/community?region={name}", status_code=303)


@router.get("/dashboard/briefing/{region}/{shift}/{unit}", include_in_schema=False)
def briefing_page(
    request: Request, *, user: OpsUser, room: Room, region: str, shift: str, unit: str
) -> Response:
    """Return the printable briefing of one unit for one shift, with its route map."""
    name = regions.pick_region(room.settings, region)
    brief = ops.unit_briefing(room, name, shift=shift, unit=unit)
    view = regions.region_view(room.settings, name)
    context = {
        "region": name,
        "brief": brief,
        "brief_json": _script_json(brief["geojson"]),
        "bounds_json": json.dumps(brief["bounds"] or view.bounds),
        "static": "/static",
        "user_name": user.username,
    }
    return render(request, "dashboard_briefing.html", context)


@router.get("/community", include_in_schema=False)
def community_page(request: Request, room: Room, region: str | None = None) -> Response:
    """Return the public community update page (no login)."""
    name = regions.pick_region(room.settings, region)
    room.sync()
    context = ops.community_update(room, name)
    return render(request, "dashboard_community.html", context)


# --- JSON API ---------------------------------------------------------------------------


@router.get("/api/ops/regions", tags=["operations"])
def api_regions(user: OpsUser, room: Room) -> list[dict[str, Any]]:
    """Return the built regions with their plan status."""
    return ops.regions_status(room)


@router.get("/api/ops/alerts", tags=["operations"])
def api_alerts(user: OpsUser, room: Room, region: str | None = None) -> list[dict[str, Any]]:
    """Return tension alerts and report clusters (every region for regional CT staff)."""
    return [ops.log_entry_json(e) for e in room.alerts(_actor(user), region=region)]


@router.get("/api/ops/jobs/{job_id}", tags=["operations"])
def api_job(user: OpsUser, room: Room, job_id: str) -> JobOut:
    """Return one re-plan job."""
    return _job_out(room.job(job_id))


@router.get("/api/ops/{region}/status", tags=["operations"])
def api_status(
    request: Request, user: OpsUser, room: Room, region: str, shift: str = "current"
) -> dict[str, Any]:
    """Return the plan in force, its diff and timings, jobs, timeline, alerts, queues, units."""
    name = regions.pick_region(room.settings, region)
    return ops.dashboard_status(room, get_database(request), name, actor=_actor(user), shift=shift)


@router.get("/api/ops/{region}/basemap", tags=["operations"])
def api_basemap(request: Request, user: OpsUser, room: Room, region: str) -> Response:
    """Return the region's roads by class (GeoJSON), simplified for drawing.

    On a large county the overview leaves minor roads out (the collection's
    ``minor_deferred`` is then true); ``/basemap/minor`` serves them by area.
    """
    name = regions.pick_region(room.settings, region)
    # Roads change only when the region is rebuilt: serve the encoded bytes, cacheable.
    return _encoded_response(
        request,
        _basemap(room, name),
        cache_control="private, max-age=3600",
        media_type="application/geo+json",
    )


#: Largest area of minor roads served at once (square degrees, about 12 x 9 km at 52 N).
MINOR_ROADS_MAX_AREA_DEG2 = 0.015


@router.get("/api/ops/{region}/basemap/minor", tags=["operations"])
def api_basemap_minor(
    *,
    user: OpsUser,
    room: Room,
    region: str,
    west: Annotated[float, Query(ge=-180, le=180)],
    south: Annotated[float, Query(ge=-90, le=90)],
    east: Annotated[float, Query(ge=-180, le=180)],
    north: Annotated[float, Query(ge=-90, le=90)],
) -> Response:
    """Return the minor roads with an end inside a small box (GeoJSON), for a zoomed-in map."""
    name = regions.pick_region(room.settings, region)
    if not (west < east and south < north):
        msg = "the box needs west < east and south < north"
        raise InvalidInputError(msg)
    if (east - west) * (north - south) > MINOR_ROADS_MAX_AREA_DEG2:
        msg = (
            f"the box is larger than {MINOR_ROADS_MAX_AREA_DEG2} square degrees; "
            "ask for minor roads of a smaller area (zoom in)"
        )
        raise InvalidInputError(msg)
    graph = regions.region_view(room.settings, name).region.graph
    roads = layers.basemap_from_graph(
        graph, groups=("minor",), max_minor_edges=2**62, bbox=(west, south, east, north)
    )
    return JSONResponse(roads, media_type="application/geo+json")


@router.get("/api/ops/{region}/layers", tags=["operations"])
def api_layers(
    request: Request, user: OpsUser, room: Room, region: str, shift: str = "current"
) -> Response:
    """Return every layer of the plan in force in one object (sites, patrols, ARVs, tension).

    ``plan_id`` says which plan it is (null before the first). Encoded once
    per plan and shift, gzip-compressed when the client accepts it, with an
    ETag so an unchanged plan costs a 304.
    """
    name = regions.pick_region(room.settings, region)
    if shift not in ops.SHIFT_KEYS:
        msg = f"unknown shift {shift!r}; use current or next"
        raise InvalidInputError(msg)
    return _encoded_response(request, _plan_layers(room, name, shift), cache_control="no-cache")


@router.get("/api/ops/{region}/sites/{site_id}", tags=["operations"])
def api_site(user: OpsUser, room: Room, region: str, site_id: str) -> dict[str, Any]:
    """Return one site's rank, risk and reasons in the plan in force."""
    name = regions.pick_region(room.settings, region)
    sites = regions.region_view(room.settings, name).region.sites
    return layers.site_detail(sites, _body(room, name), site_id)


@router.get("/api/ops/{region}/sites", tags=["operations"])
def api_sites(user: OpsUser, room: Room, region: str) -> Response:
    """Return the sites with their risk rank and reasons (GeoJSON points)."""
    name = regions.pick_region(room.settings, region)
    sites = regions.region_view(room.settings, name).region.sites
    return _geojson(layers.sites_geojson(sites, _body(room, name)))


@router.get("/api/ops/{region}/patrols", tags=["operations"])
def api_patrols(user: OpsUser, room: Room, region: str, shift: str = "current") -> Response:
    """Return the patrol routes and visits of a shift (GeoJSON lines and points)."""
    name = regions.pick_region(room.settings, region)
    return _geojson(layers.patrols_geojson(_body(room, name), shift=shift))


@router.get("/api/ops/{region}/arv/bases", tags=["operations"])
def api_arv_bases(user: OpsUser, room: Room, region: str) -> Response:
    """Return the ARV standby bases (GeoJSON points)."""
    name = regions.pick_region(room.settings, region)
    return _geojson(layers.arv_bases_geojson(_body(room, name)))


@router.get("/api/ops/{region}/arv/isochrones", tags=["operations"])
def api_arv_isochrones(user: OpsUser, room: Room, region: str) -> Response:
    """Return the ARV bases' response-standard isochrones (GeoJSON polygons)."""
    return _geojson(
        layers.arv_isochrones_geojson(_body(room, regions.pick_region(room.settings, region)))
    )


@router.get("/api/ops/{region}/tension", tags=["operations"])
def api_tension(user: OpsUser, room: Room, region: str) -> Response:
    """Return tension areas with their level 1-5 (GeoJSON polygons)."""
    return _geojson(layers.tension_geojson(_body(room, regions.pick_region(room.settings, region))))


@router.get("/api/ops/{region}/reports", tags=["operations"])
def api_reports(request: Request, user: OpsUser, room: Room, region: str) -> Response:
    """Return located public reports in the region: kind, queue, time; never text or identity.

    Roles that may not read reports get coarse positions, and no kind or
    queue for hate-crime and Prevent reports.
    """
    name = regions.pick_region(room.settings, region)
    view = regions.region_view(room.settings, name)
    return _geojson(ops.reports_geojson(get_database(request), view.bbox, role=user.role))


@router.get("/api/ops/{region}/dispatch", tags=["operations"])
def api_dispatch(
    *,
    user: OpsUser,
    room: Room,
    region: str,
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
    busy: str = "",
) -> dict[str, Any]:
    """Return the available ARVs ranked by road ETA to an incident at ``lon, lat``."""
    name = regions.pick_region(room.settings, region)
    busy_units = tuple(u.strip() for u in busy.split(",") if u.strip())
    return ops.dispatch_advice(room, name, lon=lon, lat=lat, busy=busy_units)


@router.post("/api/ops/{region}/events", tags=["operations"], status_code=202)
def api_declare(user: OpsUser, room: Room, region: str, body: EventIn) -> JobOut:
    """Declare an event; returns the re-plan job (poll ``/api/ops/jobs/{id}``)."""
    name = regions.pick_region(room.settings, region)
    event = ops.EventDeclaration(
        kind=body.kind,
        place=body.place,
        at=body.at,
        targeted_community=body.targeted_community or None,
        backlash_community=body.backlash_community or None,
        threat_level=body.threat_level or None,
        playbook=body.playbook or None,
    )
    return _job_out(room.declare_event(name, event, actor=_actor(user)))


@router.post("/api/ops/{region}/threat", tags=["operations"], status_code=202)
def api_threat(user: OpsUser, room: Room, region: str, body: ThreatIn) -> JobOut:
    """Change the national threat level; returns the re-plan job."""
    name = regions.pick_region(room.settings, region)
    return _job_out(room.set_threat_level(name, body.level, actor=_actor(user)))


@router.post("/api/ops/{region}/calendar", tags=["operations"], status_code=202)
def api_calendar(user: OpsUser, room: Room, region: str, body: CalendarIn) -> JobOut:
    """Add a calendar window; returns the re-plan job."""
    name = regions.pick_region(room.settings, region)
    entry = ops.CalendarEntry(
        name=body.name, start=body.start, end=body.end, site_id=body.site_id, weight=body.weight
    )
    return _job_out(room.add_calendar_entry(name, entry, actor=_actor(user)))


@router.post("/api/ops/{region}/replan", tags=["operations"], status_code=202)
def api_replan(user: OpsUser, room: Room, region: str) -> JobOut:
    """Re-plan with the current situation; returns the job."""
    name = regions.pick_region(room.settings, region)
    return _job_out(room.replan(name, actor=_actor(user)))


class MessageIn(BaseModel):
    """The public message of the day."""

    text: str = Field(min_length=1, max_length=2000)


@router.post("/api/ops/{region}/message", tags=["operations"])
def api_message(user: OpsUser, room: Room, region: str, body: MessageIn) -> dict[str, Any]:
    """Publish the reassurance message of the day on the community page."""
    name = regions.pick_region(room.settings, region)
    message = room.publish_message(name, body.text, actor=_actor(user))
    return ops.message_json(message)


def _geojson(data: dict[str, Any]) -> Response:
    return JSONResponse(data, media_type="application/geo+json")


def _script_json(data: Any) -> str:
    # Inside <script type="application/json">: "<" is escaped so no text can close the tag.
    return json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _body(room: ops.OperationsRoom, region: str) -> ops.PlanBody | None:
    plan = room.plan(region)
    return plan.body if plan is not None else None


@dataclass(frozen=True)
class _Encoded:
    """A JSON body encoded once: raw and gzip bytes with an entity tag."""

    raw: bytes
    gz: bytes
    etag: str

    @classmethod
    def of(cls, data: Any, *, tag: str) -> _Encoded:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return cls(raw=raw, gz=gzip.compress(raw, compresslevel=6, mtime=0), etag=f'"{tag}"')


def _encoded_response(
    request: Request,
    body: _Encoded,
    *,
    cache_control: str,
    media_type: str = "application/json",
) -> Response:
    headers = {"Cache-Control": cache_control, "ETag": body.etag, "Vary": "Accept-Encoding"}
    if body.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(body.gz, media_type=media_type, headers=headers)
    return Response(body.raw, media_type=media_type, headers=headers)


#: Encoded basemaps by (region path, region mtime): one per region and rebuild.
_BASEMAPS: BoundedCache[tuple[str, int], _Encoded] = BoundedCache(8, name="encoded basemaps")
#: Encoded plan layers by (region path, region mtime, plan id, shift); the newest few kept.
_PLAN_LAYERS: BoundedCache[tuple[str, int, str, str], _Encoded] = BoundedCache(
    16, name="encoded plan layers"
)


def _basemap(room: ops.OperationsRoom, region: str) -> _Encoded:
    view = regions.region_view(room.settings, region)
    key = (str(view.region.path), view.mtime_ns)
    tag = f"roads-{view.mtime_ns}"
    # Kept on disk too: a restarted server does not simplify a county's roads again.
    path = room.settings.cache_dir / "dashboard" / f"{region}-{tag}.json.gz"
    cached = _BASEMAPS.get(key)
    if cached is None and path.is_file():
        gz = path.read_bytes()
        cached = _Encoded(raw=gzip.decompress(gz), gz=gz, etag=f'"{tag}"')
        _BASEMAPS.put(key, cached)
    if cached is None:
        t0 = time.perf_counter()
        roads = layers.basemap_from_graph(view.region.graph)
        drawn = {f["properties"]["group"] for f in roads["features"]}
        roads["minor_deferred"] = "minor" not in drawn
        cached = _Encoded.of(roads, tag=tag)
        _BASEMAPS.put(key, cached)
        try:
            atomic_write_bytes(path, cached.gz)
        except OSError as exc:  # a read-only data home still serves from memory
            log.warning("dashboard: could not keep the roads of %s on disk (%s)", region, exc)
        log.info(
            "dashboard: roads of %s encoded in %.2f s (%d bytes, %d gzip)",
            region,
            time.perf_counter() - t0,
            len(cached.raw),
            len(cached.gz),
        )
    return cached


def _plan_layers(room: ops.OperationsRoom, region: str, shift: str) -> _Encoded:
    view = regions.region_view(room.settings, region)
    plan = room.plan(region)
    plan_id = plan.plan_id if plan is not None else "none"
    key = (str(view.region.path), view.mtime_ns, plan_id, shift)
    cached = _PLAN_LAYERS.get(key)
    if cached is not None:
        return cached
    data = layers.plan_layers(view.region.sites, plan.body if plan else None, shift=shift)
    data["plan_id"] = plan.plan_id if plan is not None else None
    data["shift"] = shift
    cached = _Encoded.of(data, tag=f"{plan_id}-{shift}-{view.mtime_ns}")
    _PLAN_LAYERS.put(key, cached)
    return cached
