"""The JSON form of the room's values: plan bodies, diffs, log entries, situations.

The one place where a :class:`~watchfloor.services.operations.plans.PlanBody`
becomes JSON-ready data (for the database, the dashboard, the API and the
command line) and back: ranked sites, each shift's patrols, the ARV cover,
the diff, log entries, messages. Imports the situation and plans modules
(and the posture's type for its frame); the pages built from the room's
state are in
:mod:`watchfloor.services.operations.panels`.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from watchfloor.posture import Posture
from watchfloor.services.operations.plans import (
    ArvBase,
    ArvCover,
    JsonDict,
    PlanBody,
    PlanDiff,
    RankedSite,
    ShiftPatrols,
    UnitPatrol,
    Visit,
)
from watchfloor.services.operations.situation import (
    LogEntry,
    PublicMessage,
    Situation,
    event_payload,
)

__all__ = [
    "arv_base_json",
    "arv_cover_from_json",
    "arv_cover_json",
    "jsonable",
    "log_entry_json",
    "message_json",
    "plan_body_from_json",
    "plan_body_json",
    "plan_diff_from_json",
    "plan_diff_json",
    "posture_frame_json",
    "ranked_site_from_json",
    "ranked_site_json",
    "shift_patrols_from_json",
    "shift_patrols_json",
    "situation_json",
    "visit_from_json",
    "visit_json",
]


def jsonable(value: Any) -> Any:
    """Return ``value`` with datetimes as ISO text, numpy scalars as Python, NaN/inf as None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return jsonable(value.item())
    return value


def plan_body_json(body: PlanBody) -> JsonDict:
    """Return a plan body as JSON-ready data (the form stored and served)."""
    out: JsonDict = {
        "region": body.region,
        "situation": body.situation,
        "sites": [ranked_site_json(s) for s in body.sites],
        "shifts": [shift_patrols_json(s) for s in body.shifts],
        "arv": arv_cover_json(body.arv) if body.arv is not None else {},
        "tension": body.tension,
        "notes": list(body.notes),
    }
    if body.posture is not None:
        out["posture"] = body.posture
    return out


def plan_body_from_json(data: JsonDict) -> PlanBody:
    """Return the plan body stored as ``data`` (see :func:`plan_body_json`)."""
    arv = data.get("arv") or {}
    return PlanBody(
        region=str(data.get("region", "")),
        situation=dict(data.get("situation") or {}),
        sites=tuple(ranked_site_from_json(s) for s in data.get("sites") or ()),
        shifts=tuple(shift_patrols_from_json(s) for s in data.get("shifts") or ()),
        arv=arv_cover_from_json(arv) if arv else None,
        tension=dict(data.get("tension") or {"type": "FeatureCollection", "features": []}),
        posture=data.get("posture"),
        notes=tuple(str(n) for n in data.get("notes") or ()),
    )


def ranked_site_json(site: RankedSite) -> JsonDict:
    """Return a ranked site as JSON-ready data."""
    return {
        "site_id": site.site_id,
        "name": site.name,
        "kind": site.kind,
        "category": site.category,
        "lon": site.lon,
        "lat": site.lat,
        "node": site.node,
        "risk": site.risk,
        "rank": site.rank,
        "peak_slot": site.peak_slot.isoformat(),
        "reasons": list(site.reasons),
    }


def ranked_site_from_json(data: JsonDict) -> RankedSite:
    """Return the ranked site stored as ``data`` (see :func:`ranked_site_json`)."""
    return RankedSite(
        site_id=str(data["site_id"]),
        name=str(data.get("name", "")),
        kind=str(data.get("kind", "")),
        category=str(data.get("category", "")),
        lon=float(data["lon"]),
        lat=float(data["lat"]),
        node=int(data.get("node", -1)),
        risk=float(data["risk"]),
        rank=int(data["rank"]),
        peak_slot=datetime.fromisoformat(data["peak_slot"]),
        reasons=tuple(str(r) for r in data.get("reasons", ())),
    )


def visit_json(visit: Visit) -> JsonDict:
    """Return a patrol visit as JSON-ready data."""
    return {
        "site_id": visit.site_id,
        "name": visit.name,
        "arrive": visit.arrive.isoformat(),
        "depart": visit.depart.isoformat(),
        "dwell_s": visit.dwell_s,
        "pinned": visit.pinned,
        "lon": visit.lon,
        "lat": visit.lat,
    }


def visit_from_json(data: JsonDict) -> Visit:
    """Return the visit stored as ``data`` (see :func:`visit_json`)."""
    return Visit(
        site_id=str(data["site_id"]),
        name=str(data.get("name", "")),
        arrive=datetime.fromisoformat(data["arrive"]),
        depart=datetime.fromisoformat(data["depart"]),
        dwell_s=float(data.get("dwell_s", 0.0)),
        pinned=bool(data.get("pinned", False)),
        lon=float(data["lon"]),
        lat=float(data["lat"]),
    )


def shift_patrols_json(shift: ShiftPatrols) -> JsonDict:
    """Return one shift's patrols as JSON-ready data (units with visits and road paths)."""
    units = [
        {
            "unit": u.unit,
            "unit_index": u.unit_index,
            "mode": u.mode,
            "base": u.base,
            "visits": [visit_json(v) for v in u.visits],
            "travel_s": u.travel_s,
            "status": u.status,
            "path": u.path,
        }
        for u in shift.units
    ]
    return {
        "key": shift.key,
        "label": shift.label,
        "start": shift.start.isoformat(),
        "end": shift.end.isoformat(),
        "seed": shift.seed,
        "status": shift.status,
        "guarantee": shift.guarantee,
        "entropy_bits": shift.entropy_bits,
        "attacker_best_response": shift.attacker_best_response,
        "excluded_sites": shift.excluded_sites,
        "units": units,
        "n_game_sites": shift.n_game_sites,
        "max_risk_left_out": shift.max_risk_left_out,
        "exact": shift.exact,
        "solve_s": shift.solve_s,
        "paths_s": shift.paths_s,
    }


def shift_patrols_from_json(data: JsonDict) -> ShiftPatrols:
    """Return the shift's patrols stored as ``data`` (see :func:`shift_patrols_json`)."""
    units = tuple(
        UnitPatrol(
            unit=str(u["unit"]),
            unit_index=int(u.get("unit_index", k)),
            mode=str(u.get("mode", "")),
            base=str(u.get("base", "")),
            visits=tuple(visit_from_json(v) for v in u.get("visits", ())),
            travel_s=float(u.get("travel_s", 0.0)),
            status=str(u.get("status", "")),
            path=list(u.get("path") or []),
        )
        for k, u in enumerate(data.get("units", ()))
    )
    return ShiftPatrols(
        key=str(data["key"]),
        label=str(data.get("label", "")),
        start=datetime.fromisoformat(data["start"]),
        end=datetime.fromisoformat(data["end"]),
        seed=int(data.get("seed", 0)),
        status=str(data.get("status", "")),
        guarantee=float(data.get("guarantee", 0.0)),
        entropy_bits=float(data.get("entropy_bits", 0.0)),
        attacker_best_response=dict(data.get("attacker_best_response") or {}),
        excluded_sites=int(data.get("excluded_sites", 0)),
        units=units,
        n_game_sites=int(data.get("n_game_sites", 0)),
        max_risk_left_out=float(data.get("max_risk_left_out") or 0.0),
        exact=bool(data.get("exact", True)),
        solve_s=float(data.get("solve_s", 0.0)),
        paths_s=float(data.get("paths_s", 0.0)),
    )


def arv_base_json(base: ArvBase) -> JsonDict:
    """Return an ARV base as JSON-ready data (unit, place, road node, position)."""
    return {
        "unit": base.unit,
        "name": base.name,
        "kind": base.kind,
        "node": base.node,
        "lon": base.lon,
        "lat": base.lat,
    }


def arv_cover_json(cover: ArvCover) -> JsonDict:
    """Return the ARV part of a plan as JSON-ready data: bases, outcome, reach bands."""
    return {
        "model": cover.model,
        "status": cover.status,
        "gap": cover.gap,
        "objective": cover.objective,
        "bases": [arv_base_json(b) for b in cover.bases],
        "standard_s": cover.standard_s,
        "covered_share": cover.covered_share,
        "demand_sources": list(cover.demand_sources),
        "isochrones": cover.isochrones,
    }


def arv_cover_from_json(data: JsonDict) -> ArvCover:
    """Return the ARV part stored as ``data`` (see :func:`arv_cover_json`)."""
    return ArvCover(
        model=str(data.get("model", "")),
        status=str(data.get("status", "")),
        gap=float(data.get("gap") or 0.0),
        objective=float(data.get("objective") or 0.0),
        bases=tuple(
            ArvBase(
                unit=str(b["unit"]),
                name=str(b.get("name", "")),
                kind=str(b.get("kind", "")),
                node=int(b.get("node", -1)),
                lon=float(b["lon"]),
                lat=float(b["lat"]),
            )
            for b in data.get("bases", ())
        ),
        standard_s=float(data.get("standard_s", 0.0)),
        covered_share=float(data.get("covered_share", 0.0)),
        demand_sources=tuple(str(d) for d in data.get("demand_sources", ())),
        isochrones=dict(data.get("isochrones") or {"type": "FeatureCollection", "features": []}),
    )


def plan_diff_json(diff: PlanDiff) -> JsonDict:
    """Return a plan diff as JSON-ready data."""
    return {
        "previous_plan_id": diff.previous_plan_id,
        "plan_id": diff.plan_id,
        "risen": list(diff.risen),
        "changed_units": list(diff.changed_units),
        "threat_level": list(diff.threat_level),
    }


def plan_diff_from_json(data: JsonDict) -> PlanDiff:
    """Return the plan diff stored as ``data`` (see :func:`plan_diff_json`)."""
    before, after = [*list(data.get("threat_level") or []), None, None][:2]
    return PlanDiff(
        previous_plan_id=data.get("previous_plan_id"),
        plan_id=str(data.get("plan_id", "")),
        risen=tuple(data.get("risen", [])),
        changed_units=tuple(data.get("changed_units", [])),
        threat_level=(before, after),
    )


def log_entry_json(entry: LogEntry) -> JsonDict:
    """Return a situation-log entry as JSON-ready data."""
    return {
        "id": entry.entry_id,
        "region": entry.region,
        "kind": entry.kind,
        "summary": entry.summary,
        "occurred_at": entry.occurred_at.isoformat(),
        "recorded_at": entry.recorded_at.isoformat(),
        "recorded_by": entry.recorded_by,
        "payload": jsonable(entry.payload),
    }


def situation_json(situation: Situation) -> JsonDict:
    """Return what a plan was computed from, as the JSON kept in its body."""
    return {
        "threat_level": situation.threat_level,
        "event": event_payload(situation.event) if situation.event else None,
        "event_id": situation.event_id,
        "calendar": [
            {
                "name": c.name,
                "start": c.start.isoformat(),
                "end": c.end.isoformat(),
                "site_id": c.site_id,
            }
            for c in situation.calendar
        ],
        "alerts": [jsonable(a) for a in situation.alerts],
    }


def message_json(message: PublicMessage) -> JsonDict:
    """Return a public message as JSON-ready data (times as ISO text)."""
    return jsonable(message.as_dict())  # type: ignore[no-any-return]


def posture_frame_json(posture: Posture, *, start: datetime, n_slots: int) -> JsonDict:
    """Return the posture's frame kept with a plan: slots, threat level, playbook, roles."""
    return {
        "slot_minutes": posture.slot_minutes,
        "start": start.isoformat(),
        "n_slots": n_slots,
        "threat_level": posture.threat_level,
        "playbook": posture.playbook,
        "brief_roles": list(posture.brief_roles),
    }
