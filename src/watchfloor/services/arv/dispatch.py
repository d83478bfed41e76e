"""ARV dispatch advice: the available units ranked by blue-light road ETA to an incident.

A one-off command searches once from the incident; a long-running service
keeps per-unit travel-time rows (:class:`UnitTimes`, :class:`UnitTimeCache`,
bounded by bytes) so a query is a column lookup, exact by construction.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from watchfloor.errors import FieldError, InvalidInputError
from watchfloor.geo import lonlat_to_bng
from watchfloor.placement import rank_units
from watchfloor.traveltime import TravelTimeEngine
from watchfloor.types import FloatArray, IntArray

__all__ = ["PlanUnits", "UnitTimeCache", "UnitTimes", "dispatch_advice", "unit_times"]


@dataclass(frozen=True)
class PlanUnits:
    """Units of a stored plan: id, base position and node."""

    unit: tuple[str, ...]
    lon: FloatArray
    lat: FloatArray
    region: str


@dataclass(frozen=True, eq=False)
class UnitTimes:
    """Blue-light times from each unit's position to every node (one Dijkstra per unit).

    Built once when units take position (a unit that moves costs one search to
    refresh); a dispatch query is then a column lookup, exact by construction.
    """

    node: IntArray
    time_s: FloatArray


def unit_times(engine: TravelTimeEngine, unit_node: IntArray) -> UnitTimes:
    """Return the per-unit travel-time table used by :func:`dispatch_advice`."""
    nodes = np.asarray(unit_node, dtype=np.int64)
    return UnitTimes(node=nodes, time_s=engine.many_to_all(nodes))


class UnitTimeCache:
    """Blue-light times from unit positions to every node, kept per road node (LRU).

    For a long-running service whose units are given as positions with every
    request (``POST /api/arv/dispatch``): :meth:`etas` answers from the kept rows
    when every unit's node has one, and :meth:`add` computes the missing rows (one
    Dijkstra each; run it after answering). Rows are exact travel times, so a
    ranking from them equals one from a fresh search. At most ``max_bytes`` of
    rows are kept (``n_nodes * 8`` bytes each), least recently used dropped first.
    Thread-safe.
    """

    def __init__(self, engine: TravelTimeEngine, *, max_bytes: int = 256 * 2**20) -> None:
        self.engine = engine
        self.max_rows = max(1, max_bytes // max(8 * engine.n_nodes, 1))
        self._rows: OrderedDict[int, FloatArray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._rows)

    def etas(self, unit_node: IntArray, target: int) -> FloatArray | None:
        """Return times from ``unit_node`` to ``target``, or None when a row is missing."""
        with self._lock:
            rows = [self._rows.get(int(n)) for n in np.asarray(unit_node).tolist()]
            if any(r is None for r in rows):
                return None
            for n in np.asarray(unit_node).tolist():
                self._rows.move_to_end(int(n))
            return np.array([r[target] for r in rows if r is not None], dtype=np.float64)

    def add(self, unit_node: IntArray) -> int:
        """Compute and keep the rows of nodes not kept yet; returns how many were added."""
        with self._lock:
            missing = sorted({int(n) for n in np.asarray(unit_node).tolist()} - set(self._rows))
        missing = missing[: self.max_rows]
        if not missing:
            return 0
        times = self.engine.many_to_all(np.array(missing, dtype=np.int64))
        with self._lock:
            for n, row in zip(missing, times, strict=True):
                self._rows[n] = row
                self._rows.move_to_end(n)
            while len(self._rows) > self.max_rows:
                self._rows.popitem(last=False)
        return len(missing)


def dispatch_advice(
    engine: TravelTimeEngine,
    plan: PlanUnits,
    *,
    lon: float,
    lat: float,
    busy: Sequence[str] = (),
    max_snap_m: float = 1000.0,
    table: UnitTimes | None = None,
    cache: UnitTimeCache | None = None,
) -> list[dict[str, Any]]:
    """Return the available units ranked by blue-light ETA to an incident (CLI and API).

    Without ``table`` or ``cache`` the ETAs come from one reverse search from the
    incident (right for a one-off command); a long-running service passes a
    :class:`UnitTimes` table built with :func:`unit_times` for the plan's units,
    or a :class:`UnitTimeCache` that answers when it holds every unit's node.

    Raises
    ------
    FieldError
        (an :class:`InvalidInputError`) Unknown or repeated unit, or an incident or
        unit position farther than ``max_snap_m`` from a road of the region.
    InfeasibleError
        Every unit busy, or none can reach the incident.
    """
    if not plan.unit:
        msg = "no units: give at least one unit with its position"
        raise FieldError(msg, field="units")
    seen: set[str] = set()
    for i, u in enumerate(plan.unit):
        if u in seen:
            msg = f"unit {u} is listed twice; give each unit once"
            raise FieldError(msg, field=f"units[{i}]")
        seen.add(u)
    unknown = sorted(set(busy) - seen)
    if unknown:
        msg = f"unknown unit(s) {', '.join(unknown)}; the units are {', '.join(plan.unit)}"
        raise FieldError(msg, field="busy")
    node = _snap(engine, [lon], [lat], max_snap_m=max_snap_m, what=["incident"])
    if table is not None:
        eta = table.time_s[:, int(node[0])]
    else:
        unit_node = _snap(
            engine,
            plan.lon,
            plan.lat,
            max_snap_m=max_snap_m,
            what=[f"units[{i}]" for i in range(len(plan.unit))],
            names=list(plan.unit),
        )
        kept = cache.etas(unit_node, int(node[0])) if cache is not None else None
        eta = kept if kept is not None else engine.matrix(unit_node, node)[:, 0]
    busy_set = set(busy)
    free = np.array([u not in busy_set for u in plan.unit])
    advice = rank_units(eta, available=free)
    return [
        {"rank": r + 1, "unit": plan.unit[int(u)], "eta_s": float(e)}
        for r, (u, e) in enumerate(zip(advice.order.tolist(), advice.eta_s.tolist(), strict=True))
    ]


def _snap(
    engine: TravelTimeEngine,
    lon: Sequence[float] | FloatArray,
    lat: Sequence[float] | FloatArray,
    *,
    max_snap_m: float,
    what: list[str],
    names: list[str] | None = None,
) -> IntArray:
    """Nearest road nodes of points; a point off the region names its field."""
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    bad = ~(np.isfinite(lon_a) & np.isfinite(lat_a))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        msg = f"{what[i]}: coordinates must be finite numbers"
        raise FieldError(msg, field=what[i])
    x, y = (np.asarray(v, dtype=np.float64) for v in lonlat_to_bng(lon_a, lat_a))
    dist = np.full(lon_a.size, np.inf)
    node = np.zeros(lon_a.size, dtype=np.int64)
    try:
        node, dist = engine.nearest_nodes_xy(x, y)
    except InvalidInputError:
        # the engine refuses points beyond its own snap limit: find which one
        for i in range(lon_a.size):
            try:
                n_i, d_i = engine.nearest_nodes_xy(x[i : i + 1], y[i : i + 1])
            except InvalidInputError:
                continue
            node[i], dist[i] = n_i[0], d_i[0]
    far = dist > max_snap_m
    if far.any():
        i = int(np.flatnonzero(far)[0])
        who = "incident" if names is None else f"unit {names[i]}"
        how_far = "more than the snap limit" if np.isinf(dist[i]) else f"{dist[i]:.0f} m"
        msg = (
            f"{who} at {lon_a[i]:.5f},{lat_a[i]:.5f} is {how_far} from the nearest road of "
            f"the region ({engine.bbox_text()}); give a location inside the region"
        )
        raise FieldError(msg, field=what[i])
    return np.asarray(node, dtype=np.int64)
