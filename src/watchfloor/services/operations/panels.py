"""What the room shows: the dashboard's panels, a unit's briefing, the public page, dispatch.

Each function reads an :class:`~watchfloor.services.operations.room.OperationsRoom`
and returns JSON-ready data for one page or API answer; nothing here changes
the room. The public page discloses no routes, times or unit numbers per
place. Imports the room, the store (report counts), the JSON views and the ARV
service (for dispatch).
"""

from __future__ import annotations

import time
from datetime import datetime

import numpy as np

from watchfloor.errors import InvalidInputError, NotFoundError
from watchfloor.services.arv import PlanUnits
from watchfloor.services.arv import dispatch_advice as rank_units
from watchfloor.services.cache import BoundedCache
from watchfloor.services.operations.plans import JsonDict
from watchfloor.services.operations.room import OperationsRoom, watch_report_clusters
from watchfloor.services.operations.situation import Actor, event_payload, playbook_names
from watchfloor.services.operations.store import report_queues
from watchfloor.services.operations.views import log_entry_json, plan_diff_json, visit_json
from watchfloor.services.regions import built_regions, region_engine, region_view
from watchfloor.storage.db import Database
from watchfloor.types import LONDON, ThreatLevel

__all__ = [
    "DEFAULT_MESSAGE",
    "REPORTING_LINES",
    "REPORT_WATCH_INTERVAL_S",
    "SHIFT_KEYS",
    "arv_base_positions",
    "community_update",
    "dashboard_page",
    "dashboard_status",
    "dispatch_advice",
    "regions_status",
    "status_json",
    "unit_briefing",
]

#: The two shifts a plan covers, as the dashboard names them.
SHIFT_KEYS: tuple[str, ...] = ("current", "next")

#: The public message shown until staff publish one.
DEFAULT_MESSAGE = (
    "Following the attack, you will see more officers in our towns, at places of worship "
    "and in busy places. They are there to keep everyone safe and to listen: please talk "
    "to them. We are continuing to review our well-rehearsed plans and will take any steps "
    "necessary to keep our communities safe."
)

#: Public ways to report, shown on the community page.
REPORTING_LINES: tuple[tuple[str, str, str], ...] = (
    ("999", "tel:999", "In an emergency, or if you are in danger now."),
    ("0800 789 321", "tel:0800789321", "Confidential anti-terrorist hotline: anything suspicious."),
    ("101", "tel:101", "Non-emergency: hate incidents, information, concerns."),
)

#: Site kinds as the public page words them.
_PUBLIC_KINDS = {
    "place_of_worship": "places of worship",
    "town_centre": "town and village centres",
    "crowded_place": "busy public places",
    "nte_venue": "pubs, bars and clubs",
    "nte_zone": "night-time areas",
    "school": "schools",
    "hospital": "hospitals",
}


def dashboard_page(room: OperationsRoom, region: str) -> JsonDict:
    """Return what the dashboard page of ``region`` starts with.

    The region's title, the built regions, the map bounds, the threat level
    and the levels to choose from, the playbooks, the local time (for the
    event form) and the public message to edit (the default before one is
    published).
    """
    message = room.published_message(region)
    return {
        "region": region,
        "region_title": region.replace("-", " ").title(),
        "regions": built_regions(room.settings),
        "bounds": region_view(room.settings, region, regions=room.regions).bounds,
        "threat_level": room.situation(region).threat_level,
        "threat_levels": [level.value for level in ThreatLevel],
        "playbooks": playbook_names(room.settings),
        "now_local": room.now().astimezone(LONDON).strftime("%Y-%m-%dT%H:%M"),
        "message_text": message.text if message else DEFAULT_MESSAGE,
    }


def regions_status(room: OperationsRoom) -> list[JsonDict]:
    """Return each built region with its threat level and the plan in force (id and time)."""
    out = []
    for name in built_regions(room.settings):
        plan = room.plan(name)
        out.append(
            {
                "region": name,
                "threat_level": room.situation(name).threat_level,
                "plan_id": plan.plan_id if plan else None,
                "plan_created_at": plan.created_at.isoformat() if plan else None,
            }
        )
    return out


#: Least time between two looks for report clusters of one region (seconds).
REPORT_WATCH_INTERVAL_S = 60.0

#: When each region's reports were last looked at (monotonic seconds).
_WATCHED: BoundedCache[str, float] = BoundedCache(64, name="report watch times")


def dashboard_status(
    room: OperationsRoom, database: Database, region: str, *, actor: Actor, shift: str
) -> JsonDict:
    """Return the dashboard's panels (:func:`status_json`) with the report queues' counts.

    First takes in what other processes stored (:meth:`OperationsRoom.sync`)
    and, at most once per :data:`REPORT_WATCH_INTERVAL_S` for a region, raises
    an alert for each new cluster of reports near a site
    (:func:`~watchfloor.services.operations.room.watch_report_clusters`), which
    re-plans like a tension alert.
    """
    room.sync()
    now = time.monotonic()
    last = _WATCHED.get(region)
    if last is None or now - last >= REPORT_WATCH_INTERVAL_S:
        _WATCHED.put(region, now)
        watch_report_clusters(room, database, region)
    status = status_json(room, region, actor=actor, shift=shift)
    status["queues"] = report_queues(database)
    return status


def status_json(room: OperationsRoom, region: str, *, actor: Actor, shift: str) -> JsonDict:
    """Return what the dashboard's panels show: plan, diff, jobs, timeline, alerts, units."""
    if shift not in SHIFT_KEYS:
        msg = f"unknown shift {shift!r}; use current or next"
        raise InvalidInputError(msg)
    plan = room.plan(region)
    diff = room.diff(region)
    situation = room.situation(region)
    patrols = plan.body.shift(shift) if plan is not None else None
    units = [
        {
            "unit": unit.unit,
            "unit_index": unit.unit_index,
            "mode": unit.mode,
            "n_visits": len(unit.visits),
            "travel_s": unit.travel_s,
            "briefing": f"/dashboard/briefing/{region}/{shift}/{unit.unit}",
        }
        for unit in (patrols.units if patrols is not None else ())
    ]
    plan_panel = None
    if plan is not None:
        arv = plan.body.arv
        plan_panel = {
            "plan_id": plan.plan_id,
            "created_at": plan.created_at.isoformat(),
            "trigger": plan.trigger,
            "timings_s": plan.timings_s,
            "shift": {
                "key": patrols.key,
                "label": patrols.label,
                "start": patrols.start.isoformat(),
                "end": patrols.end.isoformat(),
            }
            if patrols is not None
            else None,
            "notes": list(plan.body.notes),
            "patrol": {
                "guarantee": patrols.guarantee,
                "exact": patrols.exact,
                "n_game_sites": patrols.n_game_sites,
                "seed": patrols.seed,
                "status": patrols.status,
            }
            if patrols is not None
            else None,
            "arv": {
                "model": arv.model if arv else None,
                "status": arv.status if arv else None,
                "covered_share": arv.covered_share if arv else None,
                "standard_s": arv.standard_s if arv else None,
            },
        }
    return {
        "region": region,
        "now": room.now().isoformat(),
        "situation": {
            "threat_level": situation.threat_level,
            "event": event_payload(situation.event) if situation.event else None,
            "calendar": [c.name for c in situation.calendar],
            "n_alerts": len(situation.alerts),
        },
        "plan": plan_panel,
        "diff": plan_diff_json(diff) if diff else None,
        "jobs": room.jobs(region, limit=10),
        "timeline": [log_entry_json(e) for e in room.timeline(region, limit=50)],
        "alerts": [log_entry_json(e) for e in room.alerts(actor, region=region)[:30]],
        "units": units,
    }


def unit_briefing(room: OperationsRoom, region: str, *, shift: str, unit: str) -> JsonDict:
    """Return one unit's shift briefing: visits in order, times, reasons and its route map data.

    Raises
    ------
    NotFoundError
        When there is no plan, no such shift or no such unit in it.
    """
    plan = room.plan(region)
    body = plan.body.shift(shift) if plan is not None else None
    if plan is None or body is None:
        msg = (
            f"region {region!r} has no plan for the {shift} shift yet; declare an event or re-plan"
        )
        raise NotFoundError(msg)
    found = next((u for u in body.units if u.unit == unit), None)
    if found is None:
        names = ", ".join(u.unit for u in body.units)
        msg = f"no unit {unit!r} in the {shift} shift; units are: {names}"
        raise NotFoundError(msg)
    reasons = {s.site_id: s.reasons for s in plan.body.sites}
    visits = [
        {
            **visit_json(v),
            "arrive_local": _local_hm(v.arrive),
            "depart_local": _local_hm(v.depart),
            "why": list(reasons.get(v.site_id) or [""])[:3],
        }
        for v in found.visits
    ]
    geojson, bounds = _route_map(found.path, visits)
    situation = plan.body.situation
    return {
        "region": region,
        "unit": unit,
        "mode": found.mode,
        "shift_label": body.label,
        "plan_id": plan.plan_id,
        "plan_created_at": plan.created_at.isoformat(),
        "threat_level": situation.get("threat_level", ""),
        "event": situation.get("event"),
        "visits": visits,
        "travel_s": found.travel_s,
        "seed": body.seed,
        "geojson": geojson,
        "bounds": bounds,
    }


def _route_map(
    path: list[list[float]], visits: list[JsonDict]
) -> tuple[JsonDict, list[list[float]] | None]:
    """Return a unit's route and numbered visits as GeoJSON, and the bounds around them."""
    features: list[JsonDict] = []
    if len(path) >= 2:
        features.append(
            {
                "type": "Feature",
                "properties": {"type": "route"},
                "geometry": {"type": "LineString", "coordinates": path},
            }
        )
    for k, v in enumerate(visits):
        features.append(
            {
                "type": "Feature",
                "properties": {"type": "visit", "order": k + 1, "name": v.get("name", "")},
                "geometry": {"type": "Point", "coordinates": [v["lon"], v["lat"]]},
            }
        )
    coords = [
        c
        for f in features
        for c in (
            f["geometry"]["coordinates"]
            if f["geometry"]["type"] == "LineString"
            else [f["geometry"]["coordinates"]]
        )
    ]
    bounds = (
        [
            [min(c[0] for c in coords), min(c[1] for c in coords)],
            [max(c[0] for c in coords), max(c[1] for c in coords)],
        ]
        if coords
        else None
    )
    return {"type": "FeatureCollection", "features": features}, bounds


def _local_hm(moment: datetime) -> str:
    return moment.astimezone(LONDON).strftime("%H:%M")


def community_update(room: OperationsRoom, region: str) -> JsonDict:
    """Return the public community page: the message, what the force is doing, how to report.

    Nothing operational is disclosed: no routes, times or unit numbers per
    place, only counts and kinds of places.
    """
    message = room.published_message(region)
    plan = room.plan(region)
    doing: list[str] = []
    if plan is not None:
        current = plan.body.shift("current")
        units = current.units if current is not None else ()
        visited = {v.site_id for u in units for v in u.visits}
        kinds: dict[str, int] = {}
        for site in plan.body.sites:
            if site.site_id in visited:
                kinds[site.kind] = kinds.get(site.kind, 0) + 1
        parts = [
            f"{n} {_PUBLIC_KINDS[k]}"
            for k, n in sorted(kinds.items(), key=lambda kv: -kv[1])
            if k in _PUBLIC_KINDS
        ]
        if parts:
            doing.append(
                "Officers are making extra visible patrols today, including at "
                + ", ".join(parts)
                + "."
            )
        if plan.body.arv_bases:
            doing.append(
                "Armed officers are on patrol across the county, ready to respond quickly."
            )
    doing.append("We are working with community leaders and listening to your concerns.")
    return {
        "region": region,
        "region_title": region.replace("-", " ").title(),
        "message": message,
        "doing": doing,
        "lines": REPORTING_LINES,
        "threat_level": room.situation(region).threat_level,
    }


def arv_base_positions(room: OperationsRoom, region: str) -> dict[str, tuple[float, float]]:
    """Return ``{unit: (lon, lat)}`` of the ARV bases in the plan in force (empty before one)."""
    plan = room.plan(region)
    bases = plan.body.arv_bases if plan is not None else ()
    return {b.unit: (b.lon, b.lat) for b in bases}


def dispatch_advice(
    room: OperationsRoom, region: str, *, lon: float, lat: float, busy: tuple[str, ...] = ()
) -> JsonDict:
    """Return the plan's ARVs ranked by road ETA to an incident at ``lon, lat``.

    Raises
    ------
    NotFoundError
        When the region has no plan with ARV bases yet.
    InvalidInputError
        When the point is outside the region, or ``busy`` names an unknown unit.
    """
    plan = room.plan(region)
    bases = plan.body.arv_bases if plan is not None else ()
    if not bases:
        msg = f"region {region!r} has no ARV placement yet; declare an event or re-plan first"
        raise NotFoundError(msg)
    # An unknown unit in ``busy`` is refused by the ranking itself (services.arv).
    view = region_view(room.settings, region, regions=room.regions)
    west, south, east, north = view.bbox
    margin = 0.05
    if not (west - margin <= lon <= east + margin and south - margin <= lat <= north + margin):
        msg = (
            f"the incident at {lon:.5f},{lat:.5f} is outside region {region!r} "
            f"({west:.3f},{south:.3f} to {east:.3f},{north:.3f}); click inside the region"
        )
        raise InvalidInputError(msg)
    units = PlanUnits(
        unit=tuple(b.unit for b in bases),
        lon=np.array([b.lon for b in bases], dtype=np.float64),
        lat=np.array([b.lat for b in bases], dtype=np.float64),
        region=view.name,
    )
    ranking = rank_units(region_engine(view), units, lon=lon, lat=lat, busy=busy)
    name = {b.unit: b.name for b in bases}
    ranked: list[JsonDict] = [
        {"unit": r["unit"], "base": name[r["unit"]], "status": "available",
         "eta_s": round(float(r["eta_s"]), 1)}
        for r in ranking
    ]  # fmt: skip
    ranked += [
        {"unit": b.unit, "base": b.name, "status": "busy", "eta_s": None}
        for b in bases
        if b.unit in busy
    ]
    return {
        "incident": {"lon": lon, "lat": lat},
        "recommended": ranked[0]["unit"],
        "units": ranked,
        "n_unreachable": len(bases) - len(busy) - len(ranking),
        "profile": "blue_light",
    }
