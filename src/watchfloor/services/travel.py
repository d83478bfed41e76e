"""Travel-time use-cases on a stored region: point-to-point times, routes and isochrones.

Profiles: ``normal`` uses the region's ordinary travel times; ``blue_light``
uses :func:`watchfloor.roads.speeds.blue_light_travel_time_s`. Questions are
answered on the region picture (:func:`watchfloor.services.regions.region_view`
and its one engine per profile). :func:`engine_with_hierarchy` gives a fresh
engine whose contraction hierarchy for matrices is cached in the region
folder (``traveltime/ch-PROFILE.npz``) and rebuilt when the graph or the
weights change.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from watchfloor.errors import InvalidInputError
from watchfloor.roads.speeds import blue_light_travel_time_s
from watchfloor.services.regions import graph_engine, region_view
from watchfloor.settings import Settings
from watchfloor.storage.files import atomic_write_text
from watchfloor.storage.regions import Region
from watchfloor.traveltime import ContractionHierarchy, TravelTimeEngine

__all__ = [
    "PROFILES",
    "Profile",
    "TravelAnswer",
    "engine_with_hierarchy",
    "isochrone_between",
    "travel_time_between",
    "write_geojson",
]

log = logging.getLogger(__name__)

Profile = Literal["normal", "blue_light"]
PROFILES: tuple[str, ...] = get_args(Profile)


@dataclass(frozen=True)
class TravelAnswer:
    """The fastest drive between two points of a region.

    Attributes
    ----------
    status : {"ok", "unreachable"}
        ``"unreachable"`` when the roads do not connect the two snapped nodes.
    region, profile : str
        What was asked.
    from_lonlat, to_lonlat : tuple[float, float]
        The points given.
    from_node, to_node : int
        The road nodes they snapped to.
    from_snap_m, to_snap_m : float
        Straight-line distance from each point to its node.
    travel_time_s, length_m : float
        Along the road (``inf`` when unreachable).
    route : dict
        The route as a GeoJSON Feature (LineString, lon/lat).
    """

    status: Literal["ok", "unreachable"]
    region: str
    profile: str
    from_lonlat: tuple[float, float]
    to_lonlat: tuple[float, float]
    from_node: int
    to_node: int
    from_snap_m: float
    to_snap_m: float
    travel_time_s: float
    length_m: float
    route: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Return the answer as JSON-ready data (without the route geometry)."""
        finite = math.isfinite(self.travel_time_s)
        return {
            "status": self.status,
            "region": self.region,
            "profile": self.profile,
            "from": {
                "lon": self.from_lonlat[0],
                "lat": self.from_lonlat[1],
                "node": self.from_node,
                "snap_m": round(self.from_snap_m, 1),
            },
            "to": {
                "lon": self.to_lonlat[0],
                "lat": self.to_lonlat[1],
                "node": self.to_node,
                "snap_m": round(self.to_snap_m, 1),
            },
            "travel_time_s": round(self.travel_time_s, 3) if finite else None,
            "travel_time_min": round(self.travel_time_s / 60.0, 2) if finite else None,
            "length_m": round(self.length_m, 1) if finite else None,
        }


def _check_profile(profile: str) -> str:
    if profile not in PROFILES:
        msg = f"profile {profile!r} is unknown; use one of {', '.join(PROFILES)}"
        raise InvalidInputError(msg)
    return profile


def engine_with_hierarchy(region: Region, *, profile: str = "normal") -> TravelTimeEngine:
    """Return a new travel-time engine for a profile with its contraction hierarchy attached.

    The hierarchy is loaded from the region folder, or built and saved there
    (atomically) when it is missing or stale. Raises
    :class:`~watchfloor.errors.InvalidInputError` for an unknown profile.
    """
    _check_profile(profile)
    weights = blue_light_travel_time_s(region.graph) if profile == "blue_light" else None
    engine = TravelTimeEngine(region.graph, weights=weights)
    path = region.path / "traveltime" / f"ch-{profile}.npz"
    ip, ix, w = engine.csr()
    if path.is_file():
        try:
            cached = ContractionHierarchy.load(path)
        except InvalidInputError as exc:
            log.warning("ignoring cached hierarchy: %s", exc)
        else:
            if cached.matches(ip, ix, w):
                engine.use_hierarchy(cached)
                return engine
            log.info("cached hierarchy %s is stale; rebuilding", path)
    ch = engine.hierarchy()
    try:
        path.parent.mkdir(exist_ok=True)
        ch.save(path)
    except OSError as exc:  # a read-only region still answers, just without the cache
        log.warning("cannot cache the hierarchy at %s: %s", path, exc)
    return engine


def _snap(
    engine: TravelTimeEngine, lonlat: tuple[float, float], what: str, region: str
) -> tuple[int, float]:
    try:
        node, dist = engine.nearest_nodes([lonlat[0]], [lonlat[1]])
    except InvalidInputError as exc:
        msg = f"{what}: {exc} (region {region!r})"
        raise InvalidInputError(msg) from None
    return int(node[0]), float(dist[0])


def travel_time_between(
    region_name: str,
    settings: Settings,
    *,
    origin: tuple[float, float],
    destination: tuple[float, float],
    profile: str = "normal",
) -> TravelAnswer:
    """Return the fastest drive between two lon/lat points of a stored region.

    Raises
    ------
    NotFoundError
        When the region is not built.
    InvalidInputError
        For an unknown profile or a point far from the region's roads.
    """
    _check_profile(profile)
    region = region_view(settings, region_name).region
    engine = graph_engine(region.graph, profile=profile)
    s, s_m = _snap(engine, origin, "--from", region.name)
    t, t_m = _snap(engine, destination, "--to", region.name)
    route = engine.route(s, t)
    log.info(
        "travel %s -> %s on %s (%s): %.1f s, %.0f m",
        s,
        t,
        region.name,
        profile,
        route.travel_time_s,
        route.length_m,
    )
    return TravelAnswer(
        status=route.status,
        region=region.name,
        profile=profile,
        from_lonlat=origin,
        to_lonlat=destination,
        from_node=s,
        to_node=t,
        from_snap_m=s_m,
        to_snap_m=t_m,
        travel_time_s=route.travel_time_s,
        length_m=route.length_m,
        route=route.to_geojson(),
    )


def isochrone_between(
    region_name: str,
    settings: Settings,
    *,
    origin: tuple[float, float],
    minutes: Sequence[float],
    profile: str = "normal",
) -> dict[str, Any]:
    """Return nested isochrone bands (GeoJSON FeatureCollection) around a point.

    Raises
    ------
    InvalidInputError
        When a budget is not a positive number of minutes, the profile is
        unknown or the point is far from the region's roads.
    """
    values = [float(m) for m in minutes]
    if not values:
        msg = "give at least one --minutes budget, e.g. --minutes 10"
        raise InvalidInputError(msg)
    bad = [m for m in values if not (math.isfinite(m) and m > 0)]
    if bad:
        msg = f"--minutes must be positive, got {bad[0]:g}; give the time budget, e.g. --minutes 10"
        raise InvalidInputError(msg)
    _check_profile(profile)
    region = region_view(settings, region_name).region
    engine = graph_engine(region.graph, profile=profile)
    node, snap_m = _snap(engine, origin, "--from", region.name)
    collection = engine.isochrone([node], budget_s=[m * 60.0 for m in values])
    collection["properties"].update(
        {
            "region": region.name,
            "profile": profile,
            "from": {"lon": origin[0], "lat": origin[1], "node": node, "snap_m": round(snap_m, 1)},
        }
    )
    return collection


def write_geojson(obj: dict[str, Any], path: Path) -> None:
    """Write a GeoJSON object to ``path`` atomically (temp file, then rename)."""
    target = Path(path)
    if not target.parent.is_dir():
        msg = f"folder {target.parent} does not exist; create it or choose another --out"
        raise InvalidInputError(msg)
    atomic_write_text(target, json.dumps(obj), make_parents=False)
