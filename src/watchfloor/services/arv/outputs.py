"""ARV plans written out and read back: GeoJSON with bases, isochrones and figures; a PNG map.

Files are written atomically (:mod:`watchfloor.storage.files`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping

from watchfloor.errors import InvalidInputError, NotFoundError
from watchfloor.placement import Placement
from watchfloor.services.arv.demand import ArvProblem
from watchfloor.services.arv.dispatch import PlanUnits
from watchfloor.storage.files import atomic_path, atomic_write_text
from watchfloor.types import IntArray

__all__ = [
    "bases_from_plan",
    "plan_to_geojson",
    "read_plan",
    "write_plan",
    "write_plan_png",
]


def plan_to_geojson(
    problem: ArvProblem,
    bases: IntArray,
    *,
    model: str,
    evaluation: Mapping[str, Any],
    placement: Placement | None = None,
    isochrones: bool = True,
) -> dict[str, Any]:
    """Return a GeoJSON FeatureCollection of the bases (units), isochrones and figures."""
    g = problem.engine.graph
    feats: list[dict[str, Any]] = []
    work = evaluation.get("hypercube", {}).get("workload") or [None] * len(bases)
    for u, c in enumerate(np.asarray(bases).tolist()):
        node = int(problem.candidate_node[c])
        feats.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "Point",
                    "coordinates": [float(g.lon[node]), float(g.lat[node])],
                },
                "properties": {
                    "role": "base",
                    "unit": f"ARV{u + 1}",
                    "candidate": int(c),
                    "name": problem.candidate_name[c],
                    "kind": problem.candidate_kind[c],
                    "node": node,
                    "workload": work[u],
                },
            }
        )
    if isochrones:
        feats.extend(_isochrones(problem, np.asarray(bases, dtype=np.int64)))
    meta: dict[str, Any] = {
        "region": problem.region,
        "model": model,
        "standards_s": problem.standards,
        "demand_sources": list(problem.demand_sources),
        "evaluation": dict(evaluation),
    }
    if placement is not None:
        meta["solver"] = {
            "status": placement.status,
            "objective": placement.objective,
            "bound": placement.bound,
            "gap": placement.gap,
            "solve_time_s": placement.solve_time_s,
        }
    return {"type": "FeatureCollection", "watchfloor_arv_plan": meta, "features": feats}


def _isochrones(problem: ArvProblem, bases: IntArray) -> list[dict[str, Any]]:
    """Area reachable from any base within each standard: a concave hull of road nodes.

    Cheaper than buffering every reachable road edge and good enough for a map layer.
    """
    g = problem.engine.graph
    budgets = sorted(set(problem.standards.values()))
    time_s, _ = problem.engine.nearest_source(problem.candidate_node[bases], cutoff_s=budgets[-1])
    out: list[dict[str, Any]] = []
    for budget in budgets:
        inside = np.flatnonzero(time_s <= budget)
        if inside.size < 3:
            continue
        hull = shapely.concave_hull(
            shapely.multipoints(np.column_stack([g.lon[inside], g.lat[inside]])), ratio=0.2
        )
        out.append(
            {
                "type": "Feature",
                "geometry": mapping(hull),
                "properties": {
                    "role": "isochrone",
                    "budget_s": budget,
                    "n_nodes": int(inside.size),
                },
            }
        )
    return out


def write_plan(doc: Mapping[str, Any], path: Path) -> None:
    """Write a plan GeoJSON atomically (temp file, then rename)."""
    atomic_write_text(path, json.dumps(doc))


def read_plan(path: Path) -> PlanUnits:
    """Return the units of a plan GeoJSON written by :func:`write_plan`.

    Raises
    ------
    NotFoundError, InvalidInputError
        Missing file, or a file without base points.
    """
    if not path.is_file():
        msg = f"plan file {path} does not exist; create one with `watchfloor arv plan --out`"
        raise NotFoundError(msg)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        bases = [
            f for f in doc.get("features", []) if (f.get("properties") or {}).get("role") == "base"
        ]
        units = tuple(str(f["properties"]["unit"]) for f in bases)
        lon = np.array([float(f["geometry"]["coordinates"][0]) for f in bases])
        lat = np.array([float(f["geometry"]["coordinates"][1]) for f in bases])
        region = str((doc.get("watchfloor_arv_plan") or {}).get("region", ""))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        msg = f"{path.name} is not an ARV plan GeoJSON ({exc}); write one with `arv plan --out`"
        raise InvalidInputError(msg) from None
    if not units:
        msg = f"{path.name} holds no ARV bases; write one with `arv plan --out`"
        raise InvalidInputError(msg)
    return PlanUnits(unit=units, lon=lon, lat=lat, region=region)


def bases_from_plan(problem: ArvProblem, plan: PlanUnits) -> IntArray:
    """Return candidate indices for a plan's bases (bases not among them are added)."""
    node, _ = problem.engine.nearest_nodes(plan.lon, plan.lat)
    index = {int(n): i for i, n in enumerate(problem.candidate_node.tolist())}
    missing = [int(n) for n in node.tolist() if int(n) not in index]
    if missing:
        msg = "plan bases must be candidate bases of the region; re-plan with `arv plan`"
        raise InvalidInputError(msg)
    return np.array([index[int(n)] for n in node.tolist()], dtype=np.int64)


def write_plan_png(problem: ArvProblem, bases: IntArray, path: Path) -> None:
    """Draw roads, demand (covered / not) and bases to a PNG map."""
    import matplotlib  # noqa: PLC0415 (matplotlib takes about half a second to load; only this map needs it)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 (after choosing the Agg backend above)
    from matplotlib.collections import LineCollection  # noqa: PLC0415 (as matplotlib above)

    g = problem.engine.graph
    tails = g.edge_tails()
    segs = np.stack(
        [
            np.column_stack([g.lon[tails], g.lat[tails]]),
            np.column_stack([g.lon[g.indices], g.lat[g.indices]]),
        ],
        axis=1,
    )
    fig, ax = plt.subplots(figsize=(8, 8))
    ax.add_collection(LineCollection(list(segs), colors="#bbbbbb", linewidths=0.4))
    b = np.asarray(bases, dtype=np.int64)
    covered = (problem.travel_s[b] <= problem.standard_s[None, :]).any(axis=0)
    a = problem.atom_node
    size = 2 + 60 * problem.demand / problem.demand.max()
    ax.scatter(g.lon[a][covered], g.lat[a][covered], s=size[covered], c="#2a9d8f", alpha=0.5, lw=0)
    ax.scatter(
        g.lon[a][~covered], g.lat[a][~covered], s=size[~covered], c="#e76f51", alpha=0.7, lw=0
    )
    bn = problem.candidate_node[b]
    ax.scatter(g.lon[bn], g.lat[bn], marker="*", s=250, c="#1d3557", edgecolors="white")
    for u, n in enumerate(bn.tolist()):
        ax.annotate(f"ARV{u + 1}", (g.lon[n], g.lat[n]), xytext=(5, 5), textcoords="offset points")
    ax.set_title(f"{problem.region}: ARV bases (green = demand within standard)")
    ax.set_aspect(1 / np.cos(np.deg2rad(float(np.mean(g.lat)))))
    ax.autoscale()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=120)
    finally:
        plt.close(fig)
