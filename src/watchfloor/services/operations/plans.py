"""What a re-plan produces: the plan body, the plan in force, its diff, the job and its timer.

A re-plan turns a :class:`~watchfloor.services.operations.situation.Situation`
into a :class:`PlanBody` (ranked sites, patrols for two shifts, ARV bases,
tension areas, notes); the room wraps it in a :class:`Plan` with its id and
timings and compares it with the plan before (:func:`compare_plans`). The
body is a frozen dataclass; its JSON form (for the database, the dashboard
and the API) is written and read only in
:mod:`watchfloor.services.operations.views`. Imports the foundation and the
situation module only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from watchfloor.services.operations.situation import Situation
from watchfloor.settings import Settings

__all__ = [
    "Job",
    "JsonDict",
    "Plan",
    "PlanBody",
    "PlanBuilder",
    "PlanDiff",
    "RankedSite",
    "ShiftPatrols",
    "Timer",
    "UnitPatrol",
    "Visit",
    "compare_plans",
]

#: One JSON-ready object of the plan (a ranked site, a shift's patrols, the ARV bases).
JsonDict = dict[str, Any]


def _no_features() -> JsonDict:
    return {"type": "FeatureCollection", "features": []}


@dataclass(frozen=True)
class RankedSite:
    """A site ranked by its highest risk in the current shift, with that slot's reasons."""

    site_id: str
    name: str
    kind: str
    category: str
    lon: float
    lat: float
    node: int
    risk: float
    rank: int
    peak_slot: datetime
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Visit:
    """One visit of a patrol unit: the site, when it arrives and leaves, where it is."""

    site_id: str
    name: str
    arrive: datetime
    depart: datetime
    dwell_s: float
    pinned: bool
    lon: float
    lat: float


@dataclass(frozen=True)
class UnitPatrol:
    """One unit's patrol in a shift: its visits in order and its road path (lon, lat pairs)."""

    unit: str
    unit_index: int
    mode: str
    base: str
    visits: tuple[Visit, ...]
    travel_s: float
    status: str
    path: list[list[float]] = field(default_factory=list, repr=False)


@dataclass(frozen=True)
class ShiftPatrols:
    """The patrols of one shift: the game's outcome and each unit's route.

    ``max_risk_left_out`` is the highest risk of a site left out of the game;
    ``exact`` says it is below the guarantee, so leaving it out changed nothing.
    """

    key: str
    label: str
    start: datetime
    end: datetime
    seed: int
    status: str
    guarantee: float
    entropy_bits: float
    attacker_best_response: JsonDict
    excluded_sites: int
    units: tuple[UnitPatrol, ...]
    n_game_sites: int = 0
    max_risk_left_out: float = 0.0
    exact: bool = True
    solve_s: float = 0.0
    paths_s: float = 0.0


@dataclass(frozen=True)
class ArvBase:
    """An ARV's standby base: the unit, the candidate place and its road node."""

    unit: str
    name: str
    kind: str
    node: int
    lon: float
    lat: float


@dataclass(frozen=True)
class ArvCover:
    """The ARV placement of a plan: bases, the solver's outcome, reach bands, demand covered."""

    model: str
    status: str
    gap: float
    objective: float
    bases: tuple[ArvBase, ...]
    standard_s: float
    covered_share: float
    demand_sources: tuple[str, ...]
    isochrones: JsonDict = field(default_factory=_no_features, repr=False)


@dataclass(frozen=True)
class PlanBody:
    """The plan computed from one situation.

    Attributes
    ----------
    region
        The region's name.
    situation
        What the plan was computed from (threat level, event, calendar, alerts), as JSON.
    sites
        Sites ranked by their highest risk in the current shift, with reasons.
    shifts
        The patrols of the current and the next shift.
    arv
        ARV standby bases, their reach bands and the demand covered (None when
        no placement was made).
    tension
        The alert areas that raised sites, as a GeoJSON feature collection.
    posture
        The posture's frame (slot length, start, threat level, playbook).
    notes
        Steps that were left out, in words.
    """

    region: str
    situation: JsonDict = field(default_factory=dict)
    sites: tuple[RankedSite, ...] = ()
    shifts: tuple[ShiftPatrols, ...] = ()
    arv: ArvCover | None = None
    tension: JsonDict = field(default_factory=_no_features)
    posture: JsonDict | None = None
    notes: tuple[str, ...] = ()

    def shift(self, key: str) -> ShiftPatrols | None:
        """Return the patrols of shift ``key`` (``current`` or ``next``), or None."""
        return next((s for s in self.shifts if s.key == key), None)

    @property
    def arv_bases(self) -> tuple[ArvBase, ...]:
        """Return the ARV bases of the plan (none without a placement)."""
        return self.arv.bases if self.arv is not None else ()

    @property
    def threat_level(self) -> str | None:
        """Return the threat level the plan was computed at."""
        level = self.situation.get("threat_level")
        return str(level) if level is not None else None


@dataclass(frozen=True)
class Plan:
    """A plan in force: its body, with the id, trigger and timings of the re-plan."""

    plan_id: str
    region: str
    created_at: datetime
    trigger: str
    timings_s: dict[str, float]
    body: PlanBody

    @property
    def total_s(self) -> float:
        """Return the wall time of the whole re-plan in seconds."""
        return float(self.timings_s.get("total", 0.0))


@dataclass(frozen=True)
class PlanDiff:
    """What changed between two plans, and why.

    ``risen`` lists sites whose rank rose (``site_id, name, old_rank,
    new_rank, reason``); ``changed_units`` lists units whose route changed
    (``unit, shift, added, removed``).
    """

    previous_plan_id: str | None
    plan_id: str
    risen: tuple[JsonDict, ...]
    changed_units: tuple[JsonDict, ...]
    threat_level: tuple[str | None, str | None]


@dataclass
class Job:
    """A re-plan job; mutable while it runs, read through :meth:`snapshot`."""

    job_id: str
    region: str
    trigger: str
    status: str = "queued"
    submitted_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    plan_id: str | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    future: Future[None] | None = field(default=None, repr=False)

    def snapshot(self) -> JsonDict:
        """Return the job as JSON-ready data."""
        return {
            "job_id": self.job_id,
            "region": self.region,
            "trigger": self.trigger,
            "status": self.status,
            "submitted_at": self.submitted_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "error": self.error,
            "plan_id": self.plan_id,
            "timings_s": dict(self.timings_s),
        }


class Timer:
    """Records the wall time of named steps of a re-plan."""

    def __init__(self) -> None:
        self.timings_s: dict[str, float] = {}

    def step(self, name: str) -> TimedStep:
        """Return a context manager that records the time spent under ``name``."""
        return TimedStep(self, name)


class TimedStep:
    """One timed step of a :class:`Timer`: its time is added to the timer's on exit."""

    def __init__(self, timer: Timer, name: str) -> None:
        self.timer, self.name, self.t0 = timer, name, 0.0

    def __enter__(self) -> None:
        self.t0 = time.perf_counter()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        elapsed = time.perf_counter() - self.t0
        self.timer.timings_s[self.name] = self.timer.timings_s.get(self.name, 0.0) + elapsed


#: A planner turns (settings, situation, now, timer) into a plan body.
PlanBuilder = Callable[[Settings, Situation, datetime, Timer], PlanBody]


def compare_plans(old: Plan | None, new: Plan, *, top_n: int = 25) -> PlanDiff:
    """Return what changed from ``old`` to ``new``: risen sites and changed unit routes.

    A site has *risen* when it is among the ``top_n`` of the new plan and its
    rank is better (smaller) than before, or it was not ranked before; its
    reason is the new plan's first reason for that site. A unit's route has
    *changed* when the ordered list of sites it visits in a shift differs.
    """
    old_rank: dict[str, int] = {}
    old_threat = None
    if old is not None:
        old_rank = {s.site_id: s.rank for s in old.body.sites}
        old_threat = old.body.threat_level
    risen: list[JsonDict] = []
    for site in new.body.sites[:top_n]:
        before = old_rank.get(site.site_id)
        if before is None or site.rank < before:
            risen.append(
                {
                    "site_id": site.site_id,
                    "name": site.name,
                    "old_rank": before,
                    "new_rank": site.rank,
                    "reason": site.reasons[0] if site.reasons else "",
                }
            )
    changed: list[JsonDict] = []
    old_routes = _route_sites(old.body) if old is not None else {}
    for (shift_key, unit), sites in _route_sites(new.body).items():
        before_sites = old_routes.get((shift_key, unit))
        if before_sites is None or before_sites != sites:
            prior = before_sites or []
            changed.append(
                {
                    "unit": unit,
                    "shift": shift_key,
                    "added": [s for s in dict.fromkeys(sites) if s not in prior],
                    "removed": [s for s in dict.fromkeys(prior) if s not in sites],
                }
            )
    return PlanDiff(
        previous_plan_id=old.plan_id if old is not None else None,
        plan_id=new.plan_id,
        risen=tuple(risen),
        changed_units=tuple(changed),
        threat_level=(old_threat, new.body.threat_level),
    )


def _route_sites(body: PlanBody) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for shift in body.shifts:
        for unit in shift.units:
            out[(shift.key, unit.unit)] = [v.site_id for v in unit.visits]
    return out
