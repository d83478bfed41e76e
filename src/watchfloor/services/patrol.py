"""Patrol use-cases: plain security games from a CSV, and shift plans for a region.

``solve_game_csv`` reads an analyst's payoff table and solves the game.
``plan_patrols`` turns a region, a declared event and a shift into a patrol
plan: the posture (risk per site and hour) becomes the attacker's payoff,
the travel-time engine gives driving and walking times between sites and
police stations, the schedule-constrained game gives the coverage and the
defender's guarantee, mixed with greedy joint rotas
(:func:`watchfloor.patrol.mix_with_rotas`: never worse than "highest risk
first", every unit patrols its shift, coverage still exact) unless pins are
given, and one concrete route per unit is drawn with a recorded seed (OS
entropy unless a seed is given). Engines and travel-time matrices are kept
per road graph, so a re-plan of the same region skips the routing. Plans are written as
JSON, GeoJSON routes along the roads and printable per-unit briefings.
"""

from __future__ import annotations

import csv
import html
import io
import json
import logging
import os
import re
import secrets
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from watchfloor.errors import InfeasibleError, InvalidInputError, NotFoundError
from watchfloor.patrol import (
    GameSolution,
    PatrolMixture,
    PatrolSchedule,
    PatrolUnit,
    Pin,
    RouteCheck,
    SecurityGame,
    UnitRoute,
    check_route,
    mix_with_rotas,
    mixture_entropy_bits,
    sample_mixture_shift,
    sample_shift,
    solve_game,
    solve_patrol_schedule,
    strategy_entropy_bits,
    visits_per_unit_hour,
)
from watchfloor.patrol.sampling import SamplingMethod
from watchfloor.posture.calendar import LONDON
from watchfloor.roads.graph import RoadGraph
from watchfloor.settings import Settings
from watchfloor.storage.regions import Region
from watchfloor.traveltime import TravelTimeEngine

__all__ = [
    "DEFAULT_DETERRENCE",
    "GAME_COLUMNS",
    "PatrolPlan",
    "PinRequest",
    "game_from_csv_text",
    "game_solution_to_dict",
    "parse_pin",
    "parse_shift",
    "plan_for_region",
    "plan_patrols",
    "plan_to_dict",
    "plan_to_geojson",
    "solve_game_csv",
    "write_briefings",
    "write_geojson",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

GAME_COLUMNS = (
    "target",
    "defender_covered",
    "defender_uncovered",
    "attacker_covered",
    "attacker_uncovered",
)
#: Share of the attacker's payoff a visit in the slot takes away (covered = (1 - d) * risk).
DEFAULT_DETERRENCE = 0.75
#: A site snapped farther than this from a road has no road access.
MAX_SNAP_M = 1000.0
MAX_SHIFT_HOURS = 24.0


# ---------------------------------------------------------------------------- games


def game_from_csv_text(text: str, *, source: str = "payoff table") -> SecurityGame:
    """Return the security game described by a CSV payoff table.

    Columns: ``target, defender_covered, defender_uncovered, attacker_covered,
    attacker_uncovered``, one row per target; for a Bayesian game also
    ``attacker_type, type_probability`` with one row per type and target.

    Raises
    ------
    InvalidInputError
        When a column is missing, a number cannot be read, a target repeats or
        the attacker types do not list the same targets.
    """
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in GAME_COLUMNS if c not in header]
    if missing:
        msg = (
            f"{source}: missing column(s) {', '.join(missing)}; the header must be "
            f"{','.join(GAME_COLUMNS)} (optionally attacker_type,type_probability)"
        )
        raise InvalidInputError(msg)
    bayesian = "attacker_type" in header or "type_probability" in header
    if bayesian and not ("attacker_type" in header and "type_probability" in header):
        msg = f"{source}: a Bayesian game needs both attacker_type and type_probability columns"
        raise InvalidInputError(msg)
    rows: dict[str, dict[str, list[float]]] = {}
    probs: dict[str, float] = {}
    order: list[str] = []
    for line, raw in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        target = row.get("target", "")
        if not target:
            msg = f"{source}, line {line}: the target is empty"
            raise InvalidInputError(msg)
        values = []
        for col in GAME_COLUMNS[1:]:
            try:
                values.append(float(row[col]))
            except (KeyError, ValueError):
                msg = f"{source}, line {line}: {col} {row.get(col, '')!r} is not a number"
                raise InvalidInputError(msg) from None
        kind = row.get("attacker_type", "") if bayesian else "attacker"
        if bayesian:
            if not kind:
                msg = f"{source}, line {line}: attacker_type is empty"
                raise InvalidInputError(msg)
            try:
                p = float(row["type_probability"])
            except ValueError:
                msg = (
                    f"{source}, line {line}: type_probability "
                    f"{row['type_probability']!r} is not a number"
                )
                raise InvalidInputError(msg) from None
            if kind in probs and abs(probs[kind] - p) > 1e-12:
                msg = f"{source}, line {line}: type {kind!r} has two different probabilities"
                raise InvalidInputError(msg)
            probs[kind] = p
        table = rows.setdefault(kind, {})
        if target in table:
            msg = f"{source}, line {line}: target {target!r} appears twice" + (
                f" for type {kind!r}" if bayesian else ""
            )
            raise InvalidInputError(msg)
        table[target] = values
        if target not in order:
            order.append(target)
    if not order:
        msg = f"{source}: no targets (the table has a header but no rows)"
        raise InvalidInputError(msg)
    types = list(rows)
    for kind in types:
        if set(rows[kind]) != set(order):
            lacking = sorted(set(order) - set(rows[kind]))
            msg = f"{source}: type {kind!r} has no row for target(s) {', '.join(lacking)}"
            raise InvalidInputError(msg)
    arr = np.array([[rows[k][t] for t in order] for k in types])  # [types, targets, 4]
    return SecurityGame.from_arrays(
        arr[:, :, 0],
        arr[:, :, 1],
        arr[:, :, 2],
        arr[:, :, 3],
        type_probability=[probs[k] for k in types] if bayesian else None,
        target_ids=order,
        type_ids=types,
    )


def solve_game_csv(path: Path, *, n_units: int) -> tuple[SecurityGame, GameSolution]:
    """Return the game read from a CSV payoff table and its strong Stackelberg equilibrium.

    Raises
    ------
    NotFoundError
        When the file does not exist.
    InvalidInputError
        When the table is malformed or ``n_units`` is below 1.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        msg = f"payoff table {path} does not exist"
        raise NotFoundError(msg) from None
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"payoff table {path} cannot be read: {exc}"
        raise InvalidInputError(msg) from None
    game = game_from_csv_text(text, source=f"payoff table {path.name}")
    return game, solve_game(game, n_units=n_units)


def game_solution_to_dict(game: SecurityGame, solution: GameSolution) -> dict[str, Any]:
    """Return the JSON form: coverage per target, attacker target(s) and utilities."""
    out: dict[str, Any] = {
        "coverage": {
            t: round(float(c), 12) for t, c in zip(game.target_ids, solution.coverage, strict=True)
        },
        "defender_utility": float(solution.defender_utility),
        "status": solution.status,
        "method": solution.method,
    }
    if game.n_types == 1:
        out["attacker_target"] = game.target_ids[int(solution.attacker_target[0])]
        out["attacker_utility"] = float(solution.attacker_utility[0])
    else:
        out["attacker_target"] = {
            k: game.target_ids[int(t)]
            for k, t in zip(game.type_ids, solution.attacker_target, strict=True)
        }
        out["attacker_utility"] = {
            k: float(u) for k, u in zip(game.type_ids, solution.attacker_utility, strict=True)
        }
        out["gap"] = solution.gap
    return out


# ---------------------------------------------------------------------------- shifts, pins

_DATE_PREFIX = re.compile(r"^(\d{4}-\d{2}-\d{2})T")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=LONDON)


def parse_shift(text: str) -> tuple[datetime, datetime]:
    """Return the (start, end) of a shift given as an ISO 8601 interval.

    ``2026-06-19T06:00/14:00`` (end abbreviated: the missing date is the
    start's), ``2026-06-19T22:00/2026-06-20T06:00`` or a duration
    ``2026-06-19T06:00/PT8H``. Times without an offset are UK local time.

    Raises
    ------
    InvalidInputError
        When the text is not an interval, the shift ends before it starts or
        lasts more than 24 hours.
    """
    raw = text.strip()
    if raw.count("/") != 1:
        msg = (
            f"shift {text!r} is not an ISO 8601 interval such as 2026-06-19T06:00/14:00 "
            "or 2026-06-19T22:00/2026-06-20T06:00"
        )
        raise InvalidInputError(msg)
    left, right = (p.strip() for p in raw.split("/"))
    try:
        start = _aware(datetime.fromisoformat(left))
    except ValueError:
        msg = f"shift start {left!r} is not an ISO 8601 date-time such as 2026-06-19T06:00"
        raise InvalidInputError(msg) from None
    end: datetime
    duration = re.fullmatch(r"PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+)M)?", right.upper())
    if duration and right.upper() != "PT":
        hours = float(duration.group(1) or 0) + float(duration.group(2) or 0) / 60
        end = start + timedelta(hours=hours)
    else:
        full = right
        if not _DATE_PREFIX.match(right):
            date_part = _DATE_PREFIX.match(left)
            day = date_part.group(1) if date_part else left[:10]
            if re.fullmatch(r"\d{2}T.*", right):  # "20T06:00": another day, same month
                full = day[:8] + right
            elif re.fullmatch(r"\d{2}-\d{2}T.*", right):  # "06-20T06:00"
                full = day[:5] + right
            else:  # "14:00"
                full = f"{day}T{right}"
        try:
            end = datetime.fromisoformat(full)
        except ValueError:
            msg = f"shift end {right!r} is not a time such as 14:00 or 2026-06-20T06:00"
            raise InvalidInputError(msg) from None
        if end.tzinfo is None:
            end = end.replace(tzinfo=start.tzinfo)
    if end <= start:
        msg = (
            f"the shift ends ({end.isoformat()}) before it starts ({start.isoformat()}); "
            "to cross midnight write the end date in full, e.g. "
            "2026-06-19T22:00/2026-06-20T06:00"
        )
        raise InvalidInputError(msg)
    if end - start > timedelta(hours=MAX_SHIFT_HOURS):
        msg = f"the shift lasts {(end - start)} - more than {MAX_SHIFT_HOURS:.0f} hours"
        raise InvalidInputError(msg)
    return start, end


@dataclass(frozen=True)
class PinRequest:
    """A parsed ``UNIT:SITE:HH:MM-HH:MM`` override (site by id or name)."""

    unit_id: str
    site: str
    start_hhmm: str
    end_hhmm: str


_PIN = re.compile(r"^([^:]+):(.+):(\d{1,2}:\d{2})-(\d{1,2}:\d{2})$")


def parse_pin(text: str) -> PinRequest:
    """Return the pin parsed from ``UNIT:SITE:HH:MM-HH:MM`` (e.g. ``P03:n123:19:30-20:30``).

    Raises
    ------
    InvalidInputError
        When the text does not have that form.
    """
    match = _PIN.match(text.strip())
    if not match:
        msg = (
            f"pin {text!r} must read UNIT:SITE:HH:MM-HH:MM, e.g. P03:n123:19:30-20:30 "
            "(SITE is a site id or a site name)"
        )
        raise InvalidInputError(msg)
    unit, site, a, b = (g.strip() for g in match.groups())
    for hhmm in (a, b):
        h, m = map(int, hhmm.split(":"))
        if h > 23 or m > 59:
            msg = f"pin {text!r}: {hhmm} is not a time of day"
            raise InvalidInputError(msg)
    return PinRequest(unit_id=unit, site=site, start_hhmm=a, end_hhmm=b)


# ---------------------------------------------------------------------------- plans


@dataclass(frozen=True, eq=False)
class PatrolPlan:
    """A patrol plan for one shift: the solved game, one route per unit, and the context.

    Times in ``schedule`` and ``routes`` are seconds from ``origin`` (local
    midnight of the shift's start day).
    """

    region: str
    shift_start: datetime
    shift_end: datetime
    origin: datetime
    seed: int
    method: str
    site_ids: tuple[str, ...]
    site_names: tuple[str, ...]
    site_lonlat: FloatArray
    site_nodes: npt.NDArray[np.int64]
    base_names: tuple[str, ...]
    base_lonlat: FloatArray
    base_nodes: npt.NDArray[np.int64]
    slot_start: tuple[datetime, ...]
    slot_minutes: int
    value: FloatArray
    units: tuple[PatrolUnit, ...]
    schedule: PatrolSchedule
    routes: tuple[UnitRoute, ...]
    checks: tuple[RouteCheck, ...]
    guarantee_without_pins: float | None
    excluded_sites: tuple[dict[str, str], ...]
    entropy_bits: float
    engines: dict[str, TravelTimeEngine] = field(repr=False)
    mixture: PatrolMixture | None = field(default=None, repr=False)

    @property
    def pin_cost(self) -> float | None:
        """Rise of the attacker's best-response utility caused by the pins (None: no pins)."""
        if self.guarantee_without_pins is None:
            return None
        return self.schedule.guarantee - self.guarantee_without_pins

    def time_at(self, seconds: float) -> datetime:
        """Return the (local) date-time of a time in seconds from the origin."""
        return (self.origin + timedelta(seconds=float(seconds))).astimezone(LONDON)

    def location_name(self, loc: int) -> str:
        """Return the name of a location index (sites, then bases)."""
        n = len(self.site_ids)
        if loc < n:
            return self.site_names[loc] or self.site_ids[loc]
        return self.base_names[loc - n]

    def location_id(self, loc: int) -> str:
        """Return the id of a location index: a site id or ``base:NAME``."""
        n = len(self.site_ids)
        return self.site_ids[loc] if loc < n else f"base:{self.base_names[loc - n]}"

    def location_node(self, loc: int) -> int:
        """Return the road-graph node of a location index."""
        n = len(self.site_ids)
        return int(self.site_nodes[loc] if loc < n else self.base_nodes[loc - n])

    def location_lonlat(self, loc: int) -> tuple[float, float]:
        """Return (lon, lat) of a location index."""
        n = len(self.site_ids)
        row = self.site_lonlat[loc] if loc < n else self.base_lonlat[loc - n]
        return float(row[0]), float(row[1])


def _seconds(at: datetime, origin: datetime) -> float:
    return (at - origin).total_seconds()


def _resolve_site(name: str, ids: Sequence[str], names: Sequence[str]) -> int:
    if name in ids:
        return list(ids).index(name)
    low = name.casefold()
    exact = [i for i, n in enumerate(names) if n.casefold() == low]
    if len(exact) == 1:
        return exact[0]
    partial = [i for i, n in enumerate(names) if low in n.casefold()]
    if len(exact) > 1 or len(partial) > 1:
        cands = exact if len(exact) > 1 else partial
        listed = "; ".join(f"{ids[i]} ({names[i]})" for i in cands[:6])
        msg = f"site {name!r} is ambiguous: {listed}; give the site id"
        raise InvalidInputError(msg)
    if len(partial) == 1:
        return partial[0]
    msg = f"no site with id or name {name!r}; see `watchfloor sites list`"
    raise NotFoundError(msg)


#: Engines and travel-time matrices kept per road graph (the operations room
#: re-plans the same region every few minutes): graph id -> (graph, engines, matrices).
_CACHE: dict[
    int, tuple[RoadGraph, dict[str, TravelTimeEngine], dict[tuple[str, bytes], FloatArray]]
]
_CACHE = {}
_CACHE_GRAPHS = 4
_CACHE_MATRICES = 8
_CACHE_LOCK = threading.Lock()


def _cache_entry(
    graph: RoadGraph,
) -> tuple[RoadGraph, dict[str, TravelTimeEngine], dict[tuple[str, bytes], FloatArray]]:
    with _CACHE_LOCK:
        entry = _CACHE.get(id(graph))
        if entry is None or entry[0] is not graph:
            while len(_CACHE) >= _CACHE_GRAPHS:
                del _CACHE[next(iter(_CACHE))]
            entry = (graph, {}, {})
            _CACHE[id(graph)] = entry
        return entry


def _engines(graph: RoadGraph, *, foot: bool) -> dict[str, TravelTimeEngine]:
    """Return the driving (and walking) engines of a graph, built once per graph."""
    _, engines, _ = _cache_entry(graph)
    with _CACHE_LOCK:
        if "vehicle" not in engines:
            engines["vehicle"] = TravelTimeEngine(graph)
        if foot and "foot" not in engines:
            engines["foot"] = TravelTimeEngine.for_walking(graph)
        return {m: e for m, e in engines.items() if m == "vehicle" or foot}


def _cached_matrix(
    graph: RoadGraph, mode: str, engine: TravelTimeEngine, nodes: npt.NDArray[np.int64]
) -> FloatArray:
    """Return ``engine.matrix(nodes, nodes)``, computed once per graph, mode and node list."""
    _, _, matrices = _cache_entry(graph)
    key = (mode, nodes.tobytes())
    with _CACHE_LOCK:
        hit = matrices.get(key)
    if hit is not None:
        return hit.copy()
    uniq, inverse = np.unique(nodes, return_inverse=True)
    small = engine.matrix(uniq, uniq)
    mat = small[np.ix_(inverse, inverse)]
    log.info(
        "travel-time matrix (%s): %d locations, %d distinct nodes", mode, nodes.size, uniq.size
    )
    with _CACHE_LOCK:
        while len(matrices) >= _CACHE_MATRICES:
            del matrices[next(iter(matrices))]
        matrices[key] = mat
    return mat.copy()


def plan_for_region(
    region: Region,
    value: npt.ArrayLike,
    slot_start: Sequence[datetime],
    *,
    slot_minutes: int,
    n_units: int,
    shift_start: datetime,
    shift_end: datetime,
    n_foot: int = 0,
    pins: Sequence[PinRequest] = (),
    seed: int | None = None,
    method: str = "decomposition",
    deterrence: float = DEFAULT_DETERRENCE,
    tick_minutes: int = 30,
    time_limit_s: float = 120.0,
) -> PatrolPlan:
    """Return a patrol plan for a region from a risk array (the posture's ``value``).

    Parameters
    ----------
    region
        A built region (road graph and site register).
    value : float[n_sites, n_slots]
        Attacker's payoff per site (register order) and slot.
    slot_start
        Start of each slot (timezone-aware).
    slot_minutes
        Slot length.
    n_units, n_foot
        Patrol units, of which the first ``n_foot`` walk.
    shift_start, shift_end
        The shift (timezone-aware).
    pins
        Operator overrides; the plan is also solved without them to price them.
    seed
        Seed of the route draw; ``None`` draws one from the OS (recorded).
    method
        ``"decomposition"`` or ``"max_entropy"``.
    deterrence
        Share of the payoff a visit takes away (attacker_covered = (1 - d) value).
    tick_minutes
        Spacing of visit starts.
    time_limit_s
        Time limit of each LP.

    Raises
    ------
    InvalidInputError
        Zero units, more foot units than units, a shift that ends before it
        starts, a risk array of the wrong shape, an unknown unit in a pin.
    InfeasibleError
        A pin that cannot be met, or no police station or site with road access.
    """
    if isinstance(n_units, bool) or n_units < 1:
        msg = f"--units must be at least 1 (got {n_units}); a plan needs patrol units"
        raise InvalidInputError(msg)
    if not 0 <= n_foot <= n_units:
        msg = f"--foot must be between 0 and the number of units ({n_units}), got {n_foot}"
        raise InvalidInputError(msg)
    if shift_end <= shift_start:
        msg = "the shift ends before it starts"
        raise InvalidInputError(msg)
    if not 0.0 < deterrence <= 1.0:
        msg = f"deterrence must be in (0, 1], got {deterrence}"
        raise InvalidInputError(msg)
    sites = region.sites
    n_all = len(sites.site_id)
    risk = np.asarray(value, dtype=np.float64)
    if risk.shape != (n_all, len(slot_start)):
        msg = f"risk has shape {risk.shape}, expected ({n_all}, {len(slot_start)})"
        raise InvalidInputError(msg)
    engines = _engines(region.graph, foot=bool(n_foot))

    # Bases: police stations (the region's centre when it has none).
    stations = [i for i, k in enumerate(sites.kind) if k == "police_station"]
    if stations:
        base_nodes = np.asarray(sites.node[stations], dtype=np.int64)
        base_names = tuple(sites.name[i] or sites.site_id[i] for i in stations)
        base_lonlat = np.column_stack([sites.lon[stations], sites.lat[stations]])
    else:
        node, _ = engines["vehicle"].nearest_nodes(
            np.array([float(np.mean(sites.lon))]), np.array([float(np.mean(sites.lat))])
        )
        base_nodes = node.astype(np.int64)
        base_names = ("region centre",)
        base_lonlat = np.array([[region.graph.lon[node[0]], region.graph.lat[node[0]]]])

    # Road access: snapped close to a road, and reachable from and back to a base.
    # One matrix per mode over every site and base, cached per graph: the access
    # check and the game's travel times are both read from it.
    site_nodes_all = np.asarray(sites.node, dtype=np.int64)
    all_nodes = np.concatenate([site_nodes_all, base_nodes])
    full = {
        mode: _cached_matrix(region.graph, mode, eng, all_nodes) for mode, eng in engines.items()
    }
    out_t = full["vehicle"][n_all:, :n_all]
    back_t = full["vehicle"][:n_all, n_all:]
    excluded: list[dict[str, str]] = []
    keep: list[int] = []
    for i in range(n_all):
        reason = ""
        if not np.isfinite(sites.snap_m[i]) or sites.snap_m[i] > MAX_SNAP_M:
            reason = f"nearest road is {sites.snap_m[i]:.0f} m away"
        elif not (np.isfinite(out_t[:, i]).any() and np.isfinite(back_t[i, :]).any()):
            reason = "no road route from or back to any police station"
        if reason:
            excluded.append({"site_id": sites.site_id[i], "name": sites.name[i], "reason": reason})
        else:
            keep.append(i)
    if excluded:
        log.warning("%d sites have no road access and are left out of the plan", len(excluded))
    if not keep:
        msg = "no site of the region has road access from a police station"
        raise InfeasibleError(msg)
    kept = np.asarray(keep, dtype=np.int64)
    site_ids = tuple(sites.site_id[i] for i in keep)
    site_names = tuple(sites.name[i] for i in keep)
    rows = np.concatenate([kept, n_all + np.arange(base_nodes.size)])
    travel = {mode: mat[np.ix_(rows, rows)] for mode, mat in full.items()}
    for mat in travel.values():
        np.fill_diagonal(mat, 0.0)

    origin = shift_start.astimezone(LONDON).replace(hour=0, minute=0, second=0, microsecond=0)
    start_s, end_s = _seconds(shift_start, origin), _seconds(shift_end, origin)
    n_sites = kept.size
    n_bases = base_nodes.size
    units = tuple(
        PatrolUnit(
            unit_id=f"P{k + 1:02d}",
            mode="foot" if k < n_foot else "vehicle",
            start_location=n_sites + k % n_bases,
            end_location=n_sites + k % n_bases,
            start_s=start_s,
            end_s=end_s,
        )
        for k in range(n_units)
    )
    unit_by_key = {u.unit_id.casefold(): u for u in units}
    pin_list: list[Pin] = []
    for req in pins:
        unit = unit_by_key.get(req.unit_id.casefold())
        if unit is None:
            msg = f"pin names unit {req.unit_id!r}; units are P01..P{n_units:02d}"
            raise InvalidInputError(msg)
        try:
            site = _resolve_site(req.site, site_ids, site_names)
        except NotFoundError:
            if any(req.site in (e["site_id"], e["name"]) for e in excluded):
                msg = f"pin for {unit.unit_id}: site {req.site!r} has no road access"
                raise InfeasibleError(msg) from None
            raise
        day = shift_start.astimezone(LONDON).date()
        times = []
        for hhmm in (req.start_hhmm, req.end_hhmm):
            h, m = map(int, hhmm.split(":"))
            at = datetime(day.year, day.month, day.day, h, m, tzinfo=LONDON)
            if (
                at < shift_start - timedelta(minutes=1)
                and shift_end.astimezone(LONDON).date() != day
            ):
                at += timedelta(days=1)
            times.append(_seconds(at, origin))
        if times[1] <= times[0]:
            msg = f"pin for {unit.unit_id}: the window ends before it starts"
            raise InvalidInputError(msg)
        pin_list.append(Pin(unit.unit_id, site, times[0], times[1]))

    starts_s = np.array([_seconds(t, origin) for t in slot_start])
    a_u = risk[kept]
    a_c = (1.0 - deterrence) * a_u
    solve_kw: dict[str, Any] = {
        "slot_start_s": starts_s,
        "slot_length_s": 60.0 * slot_minutes,
        "travel_time_s": travel,
        "units": units,
        "tick_s": 60.0 * max(tick_minutes, 10),
        "time_limit_s": time_limit_s,
        "site_names": [n or i for n, i in zip(site_names, site_ids, strict=True)],
    }
    schedule = solve_patrol_schedule(a_u, a_c, pins=pin_list, **solve_kw)
    without = None
    if pin_list:
        without = solve_patrol_schedule(a_u, a_c, **solve_kw).guarantee
    if seed is None:
        seed = secrets.randbits(63)
    rng = np.random.default_rng(seed)
    if method not in ("decomposition", "max_entropy"):
        msg = f"method must be 'decomposition' or 'max_entropy', got {method!r}"
        raise InvalidInputError(msg)
    mode: SamplingMethod = "max_entropy" if method == "max_entropy" else "decomposition"
    mixture: PatrolMixture | None = None
    if pin_list:
        routes = sample_shift(schedule, units=units, travel_time_s=travel, rng=rng, method=mode)
        entropy = strategy_entropy_bits(schedule, method=mode)
    else:
        # Mix the LP with joint rotas (double oracle): exact coverage, never worse
        # than "highest risk first", and every unit busy in the rotas.
        mixture = mix_with_rotas(schedule, a_u, a_c, units=units, travel_time_s=travel)
        schedule = mixture.schedule
        routes = sample_mixture_shift(
            mixture, units=units, travel_time_s=travel, rng=rng, method=mode
        )
        entropy = mixture_entropy_bits(mixture, method=mode)
    checks = tuple(check_route(r, travel[r.mode]) for r in routes)
    bad = sum(c.status != "feasible" for c in checks)
    if bad:
        log.error("%d sampled routes failed the feasibility check", bad)
    log.info(
        "patrol plan for %s: %d units, %d sites, guarantee %.4g, seed %d",
        region.name,
        n_units,
        n_sites,
        schedule.guarantee,
        seed,
    )
    return PatrolPlan(
        region=region.name,
        shift_start=shift_start,
        shift_end=shift_end,
        origin=origin,
        seed=int(seed),
        method=mode,
        site_ids=site_ids,
        site_names=site_names,
        site_lonlat=np.column_stack([sites.lon[kept], sites.lat[kept]]),
        site_nodes=site_nodes_all[kept],
        base_names=base_names,
        base_lonlat=base_lonlat,
        base_nodes=base_nodes,
        slot_start=tuple(slot_start),
        slot_minutes=slot_minutes,
        value=a_u,
        units=units,
        schedule=schedule,
        routes=routes,
        checks=checks,
        guarantee_without_pins=without,
        excluded_sites=tuple(excluded),
        entropy_bits=entropy,
        engines=engines,
        mixture=mixture,
    )


def plan_patrols(
    settings: Settings,
    *,
    region: str,
    event_path: Path | None,
    n_units: int,
    shift: str,
    n_foot: int = 0,
    pins: Sequence[str] = (),
    seed: int | None = None,
    method: str = "decomposition",
    time_limit_s: float = 120.0,
) -> PatrolPlan:
    """Return the patrol plan of a region for an event file and a shift interval.

    The posture comes from :func:`watchfloor.services.posture.posture_for_region`
    (hourly slots over the shift); see :func:`plan_for_region` for the rest.

    Raises
    ------
    NotFoundError, InvalidInputError, InfeasibleError
        As the steps they come from (region, event file, shift, pins).
    """
    from watchfloor.services.posture import posture_for_region  # noqa: PLC0415

    start, end = parse_shift(shift)
    pin_requests = [parse_pin(p) for p in pins]
    if n_units < 1:
        msg = f"--units must be at least 1 (got {n_units}); a plan needs patrol units"
        raise InvalidInputError(msg)
    hours = (end - start).total_seconds() / 3600.0
    run = posture_for_region(
        region, event_path, settings=settings, at=start, hours=hours + 1.0, slot_minutes=60
    )
    posture = run.posture
    from watchfloor.services.regions import open_region  # noqa: PLC0415

    built = open_region(region, settings)
    keep = [j for j, t in enumerate(posture.slot_start) if t < end]
    return plan_for_region(
        built,
        posture.value[:, keep],
        [posture.slot_start[j] for j in keep],
        slot_minutes=posture.slot_minutes,
        n_units=n_units,
        shift_start=start,
        shift_end=end,
        n_foot=n_foot,
        pins=pin_requests,
        seed=seed,
        method=method,
        time_limit_s=time_limit_s,
    )


# ---------------------------------------------------------------------------- outputs


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds")


def plan_to_dict(plan: PatrolPlan) -> dict[str, Any]:
    """Return the JSON form of a plan: units with routes, guarantee, coverage, seed."""
    sched = plan.schedule
    units = []
    for route, check in zip(plan.routes, plan.checks, strict=True):
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
        units.append(
            {
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
        )
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


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_geojson(plan: PatrolPlan, path: Path) -> Path:
    """Write the plan's routes as GeoJSON to ``path`` (atomically) and return it."""
    _atomic_write(path, json.dumps(plan_to_geojson(plan)))
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


def write_briefings(plan: PatrolPlan, folder: Path) -> list[Path]:
    """Write one printable HTML briefing per unit (and an index) into ``folder``.

    Pages are self-contained (inline CSS and SVG map, no external requests).
    The folder is filled in a temporary sibling and renamed into place.
    """
    import jinja2  # noqa: PLC0415

    templates = Path(__file__).resolve().parent.parent / "patrol_templates"
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    unit_tpl = env.get_template("briefing.html.j2")
    index_tpl = env.get_template("briefing_index.html.j2")
    folder = folder.resolve()
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    written: list[str] = []
    try:
        summaries = []
        for route, check in zip(plan.routes, plan.checks, strict=True):
            lines = [
                _leg_line(plan, route.mode, leg.from_location, leg.to_location)
                for leg in route.legs
            ]
            points = [
                (*plan.location_lonlat(v.site), str(k + 1)) for k, v in enumerate(route.visits)
            ]
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
            context = {
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
            name = f"{route.unit_id}.html"
            (staging / name).write_text(unit_tpl.render(**context), encoding="utf-8")
            written.append(name)
            summaries.append(
                {
                    "unit": route.unit_id,
                    "file": name,
                    "mode": context["mode"],
                    "visits": len(stops),
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
        if folder.exists():
            old = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.old."))
            old.rmdir()
            folder.replace(old)
            staging.replace(folder)
            for f in old.iterdir():
                f.unlink()
            old.rmdir()
        else:
            staging.replace(folder)
    except BaseException:
        for f in staging.glob("*"):
            f.unlink()
        if staging.exists():
            staging.rmdir()
        raise
    return [folder / n for n in written]
