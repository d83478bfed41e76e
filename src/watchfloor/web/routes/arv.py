"""ARV dispatch API: rank the available units for an incident by blue-light road ETA.

``POST /api/arv/dispatch`` takes the region, the incident and the units with
their state; a unit given without a position is taken at its base in the
region's plan in force (the operations room's ARV placement). The ranking is
:func:`watchfloor.services.arv.dispatch_advice`, the function behind
``watchfloor arv dispatch``. Staff of the operations room only (session cookie
and CSRF header, like the dashboard API). Bad input is 422 with one message per
field (``errors[].field``): an incident or unit off the region's roads, an
unknown or repeated unit, no units, every unit busy.

The first request with units at new positions costs one reverse search from
the incident; after answering, the times from those positions to every node are
computed and kept (:class:`~watchfloor.services.arv.UnitTimeCache`, per region,
bounded), so later requests with the units where they were are table lookups.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, BackgroundTasks, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from watchfloor.errors import FieldError, NotFoundError
from watchfloor.services import operations as ops
from watchfloor.services import regions
from watchfloor.services.arv import (
    PlanUnits,
    UnitTimeCache,
    dispatch_advice,
)
from watchfloor.services.reports.schemas import LineText
from watchfloor.traveltime import TravelTimeEngine
from watchfloor.web.routes.ops import OpsUser, Room

__all__ = ["DispatchIn", "DispatchOut", "router"]

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {"schema": {"type": "object"}}}}

router = APIRouter(
    prefix="/api/arv",
    tags=["armed response"],
    responses={
        401: {"description": "Not logged in", **_PROBLEM},
        403: {"description": "Role not allowed or CSRF token missing", **_PROBLEM},
        422: {"description": "A field is missing or not valid", **_PROBLEM},
    },
)

Lon = Annotated[float, Field(ge=-180, le=180, examples=[-0.7])]
Lat = Annotated[float, Field(ge=-90, le=90, examples=[52.65])]


class PointIn(BaseModel):
    """A WGS84 point."""

    model_config = ConfigDict(extra="forbid")

    lon: Lon
    lat: Lat


class UnitIn(BaseModel):
    """One unit: its id, state and position (omit the position for its planned base)."""

    model_config = ConfigDict(extra="forbid")

    unit: LineText = Field(min_length=1, max_length=40, examples=["ARV1"])
    state: Literal["available", "busy"] = "available"
    lon: Lon | None = None
    lat: Lat | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> UnitIn:
        if (self.lon is None) != (self.lat is None):
            msg = "give both lon and lat, or neither for the unit's planned base"
            raise ValueError(msg)
        return self


class DispatchIn(BaseModel):
    """A dispatch question: which available unit reaches the incident first?"""

    model_config = ConfigDict(extra="forbid")

    region: LineText = Field(min_length=1, max_length=100, examples=["rutland"])
    incident: PointIn
    units: list[UnitIn] = Field(min_length=1, max_length=500)


class RankedUnit(BaseModel):
    """An available unit with its blue-light ETA, nearest first."""

    rank: int
    unit: str
    eta_s: float


class DispatchOut(BaseModel):
    """The available units by ETA, and the units left out as busy."""

    region: str
    incident: PointIn
    ranking: list[RankedUnit]
    busy: list[str]


_CACHE_LOCK = threading.Lock()


def _unit_time_cache(request: Request, region: str, engine: TravelTimeEngine) -> UnitTimeCache:
    """The app's kept unit times for ``region`` (renewed when the region's engine changes)."""
    with _CACHE_LOCK:
        caches: dict[str, UnitTimeCache] | None = getattr(request.app.state, "arv_unit_times", None)
        if caches is None:
            caches = {}
            request.app.state.arv_unit_times = caches
        cache = caches.get(region)
        if cache is None or cache.engine is not engine:
            cache = UnitTimeCache(engine)
            caches[region] = cache
        return cache


def _positions(room: ops.OperationsRoom, region: str, units: list[UnitIn]) -> PlanUnits:
    """The units as a plan; units without a position take their base in the plan in force."""
    missing = [u for u in units if u.lon is None]
    bases = ops.arv_base_positions(room, region) if missing else {}
    lon, lat = [], []
    for i, u in enumerate(units):
        if u.lon is not None and u.lat is not None:
            lon.append(u.lon)
            lat.append(u.lat)
            continue
        base = bases.get(u.unit)
        if base is None:
            known = ", ".join(sorted(bases)) if bases else "none: the region has no ARV plan yet"
            msg = (
                f"unknown unit {u.unit}: give its lon and lat, or one of the planned units "
                f"({known})"
            )
            raise FieldError(msg, field=f"units[{i}].unit")
        lon.append(base[0])
        lat.append(base[1])
    return PlanUnits(
        unit=tuple(u.unit for u in units),
        lon=np.array(lon, dtype=np.float64),
        lat=np.array(lat, dtype=np.float64),
        region=region,
    )


@router.post("/dispatch")
def api_arv_dispatch(
    request: Request, background: BackgroundTasks, user: OpsUser, room: Room, body: DispatchIn
) -> DispatchOut:
    """Return the available units ranked by blue-light road ETA to the incident."""
    try:
        region = regions.pick_region(room.settings, body.region)
    except NotFoundError as exc:
        raise FieldError(str(exc), field="region") from None
    engine = regions.region_engine(regions.region_view(room.settings, region))
    cache = _unit_time_cache(request, region, engine)
    plan = _positions(room, region, body.units)
    busy = [u.unit for u in body.units if u.state == "busy"]
    ranking = dispatch_advice(
        engine, plan, lon=body.incident.lon, lat=body.incident.lat, busy=busy, cache=cache
    )
    # after answering: keep the times from these positions for the next request
    unit_node, _ = engine.nearest_nodes(plan.lon, plan.lat)
    background.add_task(cache.add, unit_node)
    return DispatchOut(
        region=region,
        incident=body.incident,
        ranking=[RankedUnit(**r) for r in ranking],
        busy=busy,
    )
