"""Road speeds for Great Britain: ``maxspeed`` parsing, class fallbacks, blue-light profile.

Three steps turn OSM tags into a travel time per edge:

1. **Posted speed** (:func:`posted_speed_kph`): the ``maxspeed`` tag as it is
   written in Great Britain (``"30 mph"``, ``"national"``, ``"GB:nsl_single"``,
   ``"GB:zone20"`` ...), or, when absent or unusable (``"signals"``,
   ``"none"``, ``"variable"``), a per-class default (:data:`DEFAULT_POSTED_MPH`).
   Urban or rural is not known from the tags, so the defaults are the limit
   most roads of the class carry: a residential street 30 mph, an
   unclassified lane 40 mph (nominally 60, rarely driven at it), a trunk
   road 60 mph.
2. **Effective speed** (:data:`EFFECTIVE_FACTOR`): traffic does not drive at
   the limit between junctions, bends, signals and parked cars. Like the
   OSRM car profile (which drives at 80 % of a tagged limit), the posted
   speed is scaled per class, from 0.9 on motorways down to 0.7 on
   residential and service roads. ``RoadGraph.speed_kph`` holds this
   effective speed and ``travel_time_s = length_m / speed``.
3. **Blue light** (:func:`blue_light_travel_time_s`): emergency vehicles
   under lights and sirens exceed the effective speed by a per-class factor,
   capped per class at what a trained driver can hold safely.

Bare numbers: OSM's default unit is km/h, but in Great Britain limits are
signed in mph and a bare ``"30"`` is almost always a missing `` mph``. A bare
number that is a GB limit (5-70 mph in steps of 5) is read as mph, any other
bare number as km/h. Lists (``"30;40"``) take the lowest value, so estimated
times err on the slow side.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import numpy as np

from watchfloor.errors import InvalidInputError
from watchfloor.roads.graph import ROAD_CLASSES, RoadGraph
from watchfloor.types import FloatArray

__all__ = [
    "BLUE_LIGHT_CAP_KPH",
    "BLUE_LIGHT_FACTOR",
    "DEFAULT_POSTED_MPH",
    "EFFECTIVE_FACTOR",
    "KPH_PER_MPH",
    "SPEED_PROFILE_VERSION",
    "blue_light_travel_time_s",
    "effective_speed_kph",
    "parse_maxspeed",
    "posted_speed_kph",
]

#: Recorded in region metadata; change it when any table below changes.
SPEED_PROFILE_VERSION = "gb-2026.1"

KPH_PER_MPH = 1.609344
_KPH_PER_KNOT = 1.852

#: Posted limit assumed when a way has no usable ``maxspeed`` (mph).
DEFAULT_POSTED_MPH: dict[str, float] = {
    "motorway": 70,
    "motorway_link": 50,
    "trunk": 60,
    "trunk_link": 40,
    "primary": 50,
    "primary_link": 30,
    "secondary": 40,
    "secondary_link": 30,
    "tertiary": 40,
    "tertiary_link": 30,
    "unclassified": 40,
    "residential": 30,
    "living_street": 10,
    "service": 15,
    "road": 30,
}

#: Share of the posted limit that ordinary traffic averages on the class
#: (junctions, bends, signals, parking).
EFFECTIVE_FACTOR: dict[str, float] = {
    "motorway": 0.9,
    "motorway_link": 0.75,
    "trunk": 0.85,
    "trunk_link": 0.75,
    "primary": 0.8,
    "primary_link": 0.75,
    "secondary": 0.8,
    "secondary_link": 0.75,
    "tertiary": 0.8,
    "tertiary_link": 0.75,
    "unclassified": 0.75,
    "residential": 0.7,
    "living_street": 0.7,
    "service": 0.7,
    "road": 0.7,
}

#: Blue-light speed = effective speed x factor, capped at BLUE_LIGHT_CAP_KPH.
BLUE_LIGHT_FACTOR: dict[str, float] = {
    "motorway": 1.3,
    "motorway_link": 1.25,
    "trunk": 1.3,
    "trunk_link": 1.25,
    "primary": 1.35,
    "primary_link": 1.25,
    "secondary": 1.35,
    "secondary_link": 1.25,
    "tertiary": 1.3,
    "tertiary_link": 1.2,
    "unclassified": 1.25,
    "residential": 1.25,
    "living_street": 1.1,
    "service": 1.1,
    "road": 1.2,
}

#: Highest blue-light speed held on each class (km/h).
BLUE_LIGHT_CAP_KPH: dict[str, float] = {
    "motorway": 160.0,
    "motorway_link": 90.0,
    "trunk": 145.0,
    "trunk_link": 80.0,
    "primary": 130.0,
    "primary_link": 70.0,
    "secondary": 110.0,
    "secondary_link": 65.0,
    "tertiary": 100.0,
    "tertiary_link": 60.0,
    "unclassified": 90.0,
    "residential": 65.0,
    "living_street": 30.0,
    "service": 30.0,
    "road": 60.0,
}

_NATIONAL_MPH = {"single": 60.0, "dual": 70.0, "motorway": 70.0}
_DUAL_CLASSES = frozenset({"motorway", "motorway_link"})
_GB_LIMITS_MPH = frozenset(range(5, 75, 5))
_NUMBER_UNIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z/]*)\s*$")
_ZONE = re.compile(r"^[a-z]{2}:zone:?(\d+)$")


def _parse_one(text: str, road_class: str | None) -> float | None:
    value = text.strip().lower()
    if not value:
        return None
    if value in {"national", "gb:national", "uk:national", "gb:nsl", "uk:nsl"}:
        kind = "dual" if road_class in _DUAL_CLASSES else "single"
        return _NATIONAL_MPH[kind] * KPH_PER_MPH
    if value in {"gb:nsl_single", "uk:nsl_single", "gb:rural", "uk:rural"}:
        return _NATIONAL_MPH["single"] * KPH_PER_MPH
    if value in {"gb:nsl_dual", "uk:nsl_dual"}:
        return _NATIONAL_MPH["dual"] * KPH_PER_MPH
    if value in {"gb:motorway", "uk:motorway"}:
        return _NATIONAL_MPH["motorway"] * KPH_PER_MPH
    if value in {"gb:nsl_restricted", "uk:nsl_restricted", "gb:urban", "uk:urban"}:
        return 30.0 * KPH_PER_MPH
    if value in {"walk", "gb:walk"}:
        return 6.0
    zone = _ZONE.match(value)
    if zone:
        return float(zone.group(1)) * KPH_PER_MPH
    match = _NUMBER_UNIT.match(value)
    if not match:
        return None  # "signals", "none", "variable", free text
    number, unit = float(match.group(1)), match.group(2)
    if number <= 0 or not math.isfinite(number):
        return None
    if unit == "mph":
        return number * KPH_PER_MPH
    if unit in {"km/h", "kmh", "kph", "kmph"}:
        return number
    if unit in {"knots", "kn", "knot"}:
        return number * _KPH_PER_KNOT
    if unit:
        return None
    return number * KPH_PER_MPH if number in _GB_LIMITS_MPH else number


def parse_maxspeed(value: str | None, *, road_class: str | None = None) -> float | None:
    """Return the speed in km/h written in a GB ``maxspeed`` tag, or None when it has none.

    Parameters
    ----------
    value
        The tag value, e.g. ``"30 mph"``, ``"national"``, ``"GB:nsl_dual"``,
        ``"GB:zone20"``, ``"50 km/h"``, ``"30;40"``. ``"signals"``, ``"none"``,
        ``"variable"`` and unreadable text give None.
    road_class
        The way's road class; ``"national"`` means 70 mph on motorways and
        60 mph elsewhere.
    """
    if value is None:
        return None
    speeds = [s for s in (_parse_one(p, road_class) for p in value.split(";")) if s is not None]
    return min(speeds) if speeds else None


def posted_speed_kph(maxspeed: str | None, road_class: str) -> float:
    """Return the posted limit in km/h: the parsed ``maxspeed`` or the class default.

    Raises
    ------
    InvalidInputError
        When ``road_class`` is not one of :data:`ROAD_CLASSES`.
    """
    if road_class not in DEFAULT_POSTED_MPH:
        msg = f"unknown road class {road_class!r}; use one of {', '.join(ROAD_CLASSES)}"
        raise InvalidInputError(msg)
    parsed = parse_maxspeed(maxspeed, road_class=road_class)
    return parsed if parsed is not None else DEFAULT_POSTED_MPH[road_class] * KPH_PER_MPH


def effective_speed_kph(maxspeed: str | None, road_class: str) -> float:
    """Return the average speed in km/h ordinary traffic holds on a way."""
    return posted_speed_kph(maxspeed, road_class) * EFFECTIVE_FACTOR[road_class]


def _per_class(table: Mapping[str, float], what: str) -> FloatArray:
    unknown = sorted(set(table) - set(ROAD_CLASSES))
    if unknown:
        msg = f"unknown road classes {unknown} in {what}; use names from {', '.join(ROAD_CLASSES)}"
        raise InvalidInputError(msg)
    values = np.array([float(table[c]) for c in ROAD_CLASSES], dtype=np.float64)
    if not np.isfinite(values).all() or (values <= 0).any():
        msg = f"{what} must be positive finite numbers"
        raise InvalidInputError(msg)
    return values


def blue_light_travel_time_s(
    graph: RoadGraph,
    *,
    factors: Mapping[str, float] | None = None,
    caps_kph: Mapping[str, float] | None = None,
) -> FloatArray:
    """Return each edge's travel time in seconds for a vehicle on blue lights.

    The blue-light speed of an edge is ``min(graph.speed_kph * factor[class],
    cap_kph[class])`` and never below the ordinary speed.

    Parameters
    ----------
    graph
        Road graph whose ``speed_kph`` holds ordinary effective speeds.
    factors
        Per-class multipliers overriding :data:`BLUE_LIGHT_FACTOR` (partial
        mappings allowed, e.g. ``{"residential": 1.1}``).
    caps_kph
        Per-class caps overriding :data:`BLUE_LIGHT_CAP_KPH`.

    Raises
    ------
    InvalidInputError
        For unknown class names or non-positive values.
    """
    factor = _per_class({**BLUE_LIGHT_FACTOR, **(factors or {})}, "blue-light factors")
    cap = _per_class({**BLUE_LIGHT_CAP_KPH, **(caps_kph or {})}, "blue-light caps")
    cls = graph.road_class.astype(np.intp)
    speed = np.minimum(graph.speed_kph * factor[cls], cap[cls])
    speed = np.maximum(speed, graph.speed_kph)
    with np.errstate(divide="ignore", invalid="ignore"):
        time_s = np.where(speed > 0, graph.length_m / (speed / 3.6), graph.travel_time_s)
    return np.asarray(time_s, dtype=np.float64)
