"""The JSON form of the room's values: plan bodies, diffs, log entries, situations.

The one place where a :class:`~watchfloor.services.operations.plans.PlanBody`
becomes JSON-ready data (for the database, the dashboard, the API and the
command line) and back, and where the stages' typed results (the posture,
the patrol service's plan, the ARV placement) become the parts of a body.
Imports the situation and plans modules and those results' types; the pages
built from the room's state are in
:mod:`watchfloor.services.operations.panels`.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import numpy as np

from watchfloor.placement import Placement
from watchfloor.posture import Posture
from watchfloor.services.arv import ArvProblem
from watchfloor.services.operations.plans import JsonDict, PlanBody, PlanDiff
from watchfloor.services.operations.situation import (
    LogEntry,
    PublicMessage,
    Shift,
    Situation,
    event_payload,
)
from watchfloor.sites.register import SiteRegister
from watchfloor.types import IntArray

__all__ = [
    "arv_json",
    "jsonable",
    "log_entry_json",
    "message_json",
    "plan_body_from_json",
    "plan_body_json",
    "plan_diff_from_json",
    "plan_diff_json",
    "posture_frame_json",
    "ranked_sites_json",
    "shift_json",
    "situation_json",
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
        "sites": list(body.sites),
        "shifts": list(body.shifts),
        "arv": body.arv,
        "tension": body.tension,
        "notes": list(body.notes),
    }
    if body.posture is not None:
        out["posture"] = body.posture
    return out


def plan_body_from_json(data: JsonDict) -> PlanBody:
    """Return the plan body stored as ``data`` (see :func:`plan_body_json`)."""
    return PlanBody(
        region=str(data.get("region", "")),
        situation=dict(data.get("situation") or {}),
        sites=tuple(data.get("sites") or ()),
        shifts=tuple(data.get("shifts") or ()),
        arv=dict(data.get("arv") or {}),
        tension=dict(data.get("tension") or {"type": "FeatureCollection", "features": []}),
        posture=data.get("posture"),
        notes=tuple(str(n) for n in data.get("notes") or ()),
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


# -- the parts of a plan body, from the stages' typed results --------------------------------


def ranked_sites_json(posture: Posture, sites: SiteRegister, shift: Shift) -> list[JsonDict]:
    """Return sites ranked by their highest value in ``shift``, with that slot's reasons."""
    value = np.asarray(posture.value)
    if value.size == 0:
        return []
    n_shift = int((shift.end - shift.start).total_seconds() // (60 * posture.slot_minutes))
    first = max(0, posture.slot_index(shift.start))
    window = value[:, first : first + n_shift]
    best_slot = first + np.argmax(window, axis=1)
    best = value[np.arange(value.shape[0]), best_slot]
    order = np.lexsort((np.asarray(posture.site_id, dtype=object).astype(str), -best))
    out = []
    for rank, i in enumerate(order.tolist(), start=1):
        j = int(best_slot[i])
        out.append(
            {
                "site_id": posture.site_id[i],
                "name": sites.name[i] or sites.category[i],
                "kind": sites.kind[i],
                "category": sites.category[i],
                "lon": round(float(sites.lon[i]), 6),
                "lat": round(float(sites.lat[i]), 6),
                "node": int(sites.node[i]),
                "risk": round(float(best[i]), 5),
                "rank": rank,
                "peak_slot": posture.slot_start[j].isoformat(),
                "reasons": [str(r) for r in posture.reasons(i, j)[1:]][:6]
                or [str(posture.reasons(i, j)[0])],
            }
        )
    return out


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


def shift_json(
    key: str,
    shift: Shift,
    data: JsonDict,
    paths: dict[str, list[list[float]]],
    where: dict[str, tuple[float, float]],
) -> JsonDict:
    """Return one shift of the plan body from the patrol service's plan and the unit paths."""
    units = []
    for k, unit in enumerate(data["units"]):
        visits = [
            {**v, "lon": where[v["site_id"]][0], "lat": where[v["site_id"]][1]}
            for v in unit["route"]["visits"]
        ]
        units.append(
            {
                "unit": unit["unit_id"],
                "unit_index": k,
                "mode": unit["mode"],
                "base": unit["base"],
                "visits": visits,
                "travel_s": unit["route"]["total_travel_s"],
                "status": unit["route"]["status"],
                "path": paths.get(unit["unit_id"], []),
            }
        )
    return {
        "key": key,
        "label": shift.label,
        "start": shift.start.isoformat(),
        "end": shift.end.isoformat(),
        "seed": data["seed"],
        "status": data["status"],
        "guarantee": data["guarantee"],
        "entropy_bits": data["entropy_bits"],
        "attacker_best_response": data["attacker_best_response"],
        "excluded_sites": len(data["excluded_sites"]),
        "units": units,
    }


def arv_json(
    problem: ArvProblem,
    placement: Placement,
    nodes: IntArray,
    *,
    covered_share: float,
    standard_s: float,
    iso: JsonDict,
) -> JsonDict:
    """Return the ARV part of a plan body: bases, solver outcome, reach bands, demand covered."""
    graph = problem.engine.graph
    bases = [
        {
            "unit": f"ARV{u + 1}",
            "name": problem.candidate_name[int(c)],
            "kind": problem.candidate_kind[int(c)],
            "node": int(n),
            "lon": round(float(graph.lon[n]), 6),
            "lat": round(float(graph.lat[n]), 6),
        }
        for u, (c, n) in enumerate(zip(placement.sites.tolist(), nodes.tolist(), strict=True))
    ]
    return {
        "model": placement.model,
        "status": placement.status,
        "gap": float(placement.gap),
        "objective": float(placement.objective),
        "bases": bases,
        "standard_s": standard_s,
        "covered_share": covered_share,
        "demand_sources": list(problem.demand_sources),
        "isochrones": jsonable(iso),
    }
