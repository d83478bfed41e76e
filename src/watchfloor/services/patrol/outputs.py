"""Patrol plans written out: JSON, GeoJSON routes along the roads, printable briefings.

The JSON form (:func:`plan_to_dict`) is what the CLI prints and the
operations room stores; the GeoJSON draws each leg along the roads with the
plan's own engines; a briefing is one self-contained HTML page per unit
(inline CSS and an SVG map, no external requests) for the patrol to carry.
Files are written atomically (:mod:`watchfloor.storage.files`).
"""

from __future__ import annotations

import html
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from watchfloor.patrol import RouteCheck, UnitRoute, visits_per_unit_hour
from watchfloor.services.patrol.plan import PatrolPlan
from watchfloor.storage.files import atomic_folder, atomic_write_text
from watchfloor.types import LONDON

__all__ = ["plan_to_dict", "plan_to_geojson", "write_briefings", "write_geojson"]

#: The briefing templates (``briefing.html.j2``, ``briefing_index.html.j2``).
TEMPLATES = Path(__file__).resolve().parent.parent.parent / "patrol_templates"


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds")


def _unit_json(plan: PatrolPlan, route: UnitRoute, check: RouteCheck) -> dict[str, Any]:
    """Return the JSON form of one unit's route: visits, legs, travel and the route check."""
    visits = [
        {
            "site_id": plan.site_ids[v.site],
            "name": plan.site_names[v.site],
            "arrive": _iso(plan.time_at(v.arrive_s)),
            "depart": _iso(plan.time_at(v.depart_s)),
            "dwell_s": round(v.dwell_s, 1),
            "pinned": v.pinned,
        }
        for v in route.visits
    ]
    legs = [
        {
            "from": plan.location_id(leg.from_location),
            "to": plan.location_id(leg.to_location),
            "depart": _iso(plan.time_at(leg.depart_s)),
            "travel_time_s": round(leg.travel_time_s, 1),
            "wait_s": round(leg.wait_s, 1),
        }
        for leg in route.legs
    ]
    return {
        "unit_id": route.unit_id,
        "mode": route.mode,
        "base": plan.location_name(route.start_location),
        "route": {
            "visits": visits,
            "legs": legs,
            "total_travel_s": round(route.total_travel_s, 1),
            "status": check.status,
            "problems": list(check.problems),
        },
    }


def plan_to_dict(plan: PatrolPlan) -> dict[str, Any]:
    """Return the JSON form of a plan: units with routes, guarantee, coverage, seed."""
    sched = plan.schedule
    units = [
        _unit_json(plan, route, check)
        for route, check in zip(plan.routes, plan.checks, strict=True)
    ]
    covered = np.flatnonzero(sched.coverage.max(axis=1) > 1e-9)
    coverage = {plan.site_ids[i]: [round(float(c), 6) for c in sched.coverage[i]] for i in covered}
    best_slot = plan.slot_start[sched.attacker_slot]
    return {
        "region": plan.region,
        "shift": {"start": _iso(plan.shift_start), "end": _iso(plan.shift_end)},
        "seed": plan.seed,
        "method": plan.method,
        "status": sched.status,
        "guarantee": sched.guarantee,
        "lower_bound": sched.lower_bound,
        "attacker_best_response": {
            "site_id": plan.site_ids[sched.attacker_site],
            "name": plan.site_names[sched.attacker_site],
            "slot_start": _iso(best_slot),
        },
        "pins": [
            {
                "unit_id": p.unit_id,
                "site_id": plan.site_ids[p.site],
                "start": _iso(plan.time_at(p.start_s)),
                "end": _iso(plan.time_at(p.end_s)),
            }
            for p in sched.pins
        ],
        "guarantee_without_pins": plan.guarantee_without_pins,
        "pin_cost": plan.pin_cost,
        "entropy_bits": plan.entropy_bits,
        "visits_per_unit_hour": visits_per_unit_hour([plan.routes]),
        "lp_guarantee": (
            plan.mixture.lp_guarantee if plan.mixture is not None else sched.guarantee
        ),
        "greedy_guarantee": plan.mixture.greedy_guarantee if plan.mixture is not None else None,
        "mixture": (
            {
                "lp_weight": plan.mixture.lp_weight,
                "rotas": len(plan.mixture.rotas),
                "rota_weight": [round(float(w), 6) for w in plan.mixture.rota_weight],
            }
            if plan.mixture is not None
            else None
        ),
        "slots": [_iso(t) for t in plan.slot_start],
        "coverage": coverage,
        "units": units,
        "excluded_sites": list(plan.excluded_sites),
        "solve_time_s": sched.solve_time_s,
    }


def _leg_line(plan: PatrolPlan, mode: str, a: int, b: int) -> list[list[float]]:
    engine = plan.engines.get(mode, plan.engines["vehicle"])
    na, nb = plan.location_node(a), plan.location_node(b)
    if na == nb:
        lon, lat = plan.location_lonlat(a)
        return [[lon, lat], [lon, lat]]
    route = engine.route(na, nb)
    coords: list[list[float]] = route.lonlat.tolist()
    if len(coords) < 2:
        coords = [list(plan.location_lonlat(a)), list(plan.location_lonlat(b))]
    return coords


def plan_to_geojson(plan: PatrolPlan) -> dict[str, Any]:
    """Return the routes as GeoJSON: one LineString per leg along the roads, one Point per visit."""
    features: list[dict[str, Any]] = []
    for route in plan.routes:
        for k, leg in enumerate(route.legs):
            features.append(
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "LineString",
                        "coordinates": _leg_line(
                            plan, route.mode, leg.from_location, leg.to_location
                        ),
                    },
                    "properties": {
                        "unit_id": route.unit_id,
                        "mode": route.mode,
                        "leg": k,
                        "from": plan.location_id(leg.from_location),
                        "to": plan.location_id(leg.to_location),
                        "depart": _iso(plan.time_at(leg.depart_s)),
                        "travel_time_s": round(leg.travel_time_s, 1),
                    },
                }
            )
        for k, v in enumerate(route.visits):
            lon, lat = plan.location_lonlat(v.site)
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [lon, lat]},
                    "properties": {
                        "unit_id": route.unit_id,
                        "visit": k,
                        "site_id": plan.site_ids[v.site],
                        "name": plan.site_names[v.site],
                        "arrive": _iso(plan.time_at(v.arrive_s)),
                        "depart": _iso(plan.time_at(v.depart_s)),
                        "dwell_s": round(v.dwell_s, 1),
                        "pinned": v.pinned,
                    },
                }
            )
    return {
        "type": "FeatureCollection",
        "features": features,
        "properties": {"region": plan.region, "seed": plan.seed},
    }


def write_geojson(plan: PatrolPlan, path: Path) -> Path:
    """Write the plan's routes as GeoJSON to ``path`` (atomically) and return it."""
    atomic_write_text(path, json.dumps(plan_to_geojson(plan)))
    return path


def _svg_map(lines: list[list[list[float]]], points: list[tuple[float, float, str]]) -> str:
    """Return an inline SVG drawing route polylines and numbered stops (lon/lat in)."""
    coords = [c for line in lines for c in line] + [[p[0], p[1]] for p in points]
    if not coords:
        return ""
    arr = np.asarray(coords, dtype=np.float64)
    lat0 = float(np.radians(arr[:, 1].mean()))
    x = arr[:, 0] * np.cos(lat0)
    y = arr[:, 1]
    x0, x1, y0, y1 = x.min(), x.max(), y.min(), y.max()
    span = max(x1 - x0, y1 - y0, 1e-4)
    width = height = 560.0
    pad = 24.0

    def proj(lon: float, lat: float) -> tuple[float, float]:
        px = pad + (lon * np.cos(lat0) - x0) / span * (width - 2 * pad)
        py = height - pad - (lat - y0) / span * (height - 2 * pad)
        return float(px), float(py)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        'class="map" role="img" aria-label="route map">',
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="#f7f7f2"/>',
    ]
    for line in lines:
        pts = " ".join("{:.1f},{:.1f}".format(*proj(c[0], c[1])) for c in line)
        parts.append(
            f'<polyline points="{pts}" fill="none" stroke="#1f4e9c" stroke-width="2.5" '
            'stroke-linejoin="round"/>'
        )
    for lon, lat, label in points:
        px, py = proj(lon, lat)
        parts.append(
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="9" fill="#fff" stroke="#b3261e" '
            'stroke-width="2"/>'
        )
        parts.append(
            f'<text x="{px:.1f}" y="{py + 4:.1f}" font-size="10" text-anchor="middle">'
            f"{html.escape(label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _briefing_context(plan: PatrolPlan, route: UnitRoute, check: RouteCheck) -> dict[str, Any]:
    """Return what the unit's briefing page shows: stops, times, travel and its map."""
    lines = [_leg_line(plan, route.mode, leg.from_location, leg.to_location) for leg in route.legs]
    points = [(*plan.location_lonlat(v.site), str(k + 1)) for k, v in enumerate(route.visits)]
    points.append((*plan.location_lonlat(route.start_location), "B"))
    stops = [
        {
            "n": k + 1,
            "name": plan.site_names[v.site] or plan.site_ids[v.site],
            "site_id": plan.site_ids[v.site],
            "arrive": plan.time_at(v.arrive_s).strftime("%H:%M"),
            "depart": plan.time_at(v.depart_s).strftime("%H:%M"),
            "dwell_min": round(v.dwell_s / 60.0),
            "travel_min": round(route.legs[k].travel_time_s / 60.0),
            "pinned": v.pinned,
        }
        for k, v in enumerate(route.visits)
    ]
    return {
        "unit": route.unit_id,
        "mode": "foot" if route.mode == "foot" else "vehicle",
        "base": plan.location_name(route.start_location),
        "region": plan.region,
        "shift_start": plan.shift_start.astimezone(LONDON).strftime("%a %d %b %Y %H:%M"),
        "shift_end": plan.shift_end.astimezone(LONDON).strftime("%H:%M"),
        "stops": stops,
        "return_min": round(route.legs[-1].travel_time_s / 60.0),
        "total_travel_min": round(route.total_travel_s / 60.0),
        "status": check.status,
        "seed": plan.seed,
        "svg": _svg_map(lines, points),
    }


def write_briefings(plan: PatrolPlan, folder: Path) -> list[Path]:
    """Write one printable HTML briefing per unit (and an index) into ``folder``; return the files.

    Pages are self-contained (inline CSS and SVG map, no external requests).
    The folder is filled in a temporary sibling and renamed into place.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    unit_tpl = env.get_template("briefing.html.j2")
    index_tpl = env.get_template("briefing_index.html.j2")
    folder = folder.resolve()
    written: list[str] = []
    with atomic_folder(folder) as staging:
        summaries = []
        for route, check in zip(plan.routes, plan.checks, strict=True):
            context = _briefing_context(plan, route, check)
            name = f"{route.unit_id}.html"
            (staging / name).write_text(unit_tpl.render(**context), encoding="utf-8")
            written.append(name)
            summaries.append(
                {
                    "unit": route.unit_id,
                    "file": name,
                    "mode": context["mode"],
                    "visits": len(context["stops"]),
                    "base": context["base"],
                }
            )
        (staging / "index.html").write_text(
            index_tpl.render(
                region=plan.region,
                shift_start=plan.shift_start.astimezone(LONDON).strftime("%a %d %b %Y %H:%M"),
                shift_end=plan.shift_end.astimezone(LONDON).strftime("%H:%M"),
                units=summaries,
                seed=plan.seed,
                guarantee=f"{plan.schedule.guarantee:.4g}",
            ),
            encoding="utf-8",
        )
        written.append("index.html")
    return [folder / n for n in written]
