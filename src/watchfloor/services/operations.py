"""The operations-room loop: situation in, plan out, re-planned in the background.

A region's *situation* is what the duty inspector has told the system: the
declared event (what was attacked, where, when, which community), the
national threat level, calendar entries, and the tension alerts and report
clusters that arrived since. Every change to it submits a re-plan job to one
background worker, which recomputes, in order,

1. the posture (risk per site and time slot, with reasons) for the current
   and the next shift (:mod:`watchfloor.services.posture`),
2. the patrol plan of each of those shifts (:mod:`watchfloor.services.patrol`),
3. the ARV standby bases and their isochrones (:mod:`watchfloor.services.arv`),

records how long each step took, compares the new plan with the one in force
(sites whose rank rose and why, units whose routes changed) and puts it in
force. A job that fails leaves the last good plan in force; the failure and
its message are kept on the job and in the timeline.

Shifts follow the common three-shift pattern of UK forces, 06:00-14:00,
14:00-22:00 and 22:00-06:00 local time (Europe/London).
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from sqlalchemy import select

from watchfloor.errors import (
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    WatchfloorError,
)
from watchfloor.settings import Settings
from watchfloor.storage.db import Database
from watchfloor.storage.ops_models import OpsJobRow, OpsLogRow, OpsMessageRow, OpsPlanRow

__all__ = [
    "CROSS_REGION_ROLES",
    "PLANNING_ROLES",
    "SHIFT_STARTS_H",
    "THREAT_LEVELS",
    "Actor",
    "CalendarEntry",
    "EventDeclaration",
    "Job",
    "LogEntry",
    "OperationsRoom",
    "OpsStore",
    "Plan",
    "PlanDiff",
    "RoomConfig",
    "Shift",
    "compare_plans",
    "plan_diff_json",
    "shift_at",
    "watch_report_clusters",
]

log = logging.getLogger(__name__)

LONDON = ZoneInfo("Europe/London")

#: National threat levels, lowest first (as published by MI5/JTAC).
THREAT_LEVELS: tuple[str, ...] = ("low", "moderate", "substantial", "severe", "critical")

#: Local hours at which shifts start.
SHIFT_STARTS_H: tuple[int, ...] = (6, 14, 22)

#: Roles that may change the situation (declare, threat level, calendar, messages).
PLANNING_ROLES: frozenset[str] = frozenset({"planner", "supervisor", "admin", "regional_ct"})

#: Roles that see every region's alerts.
CROSS_REGION_ROLES: frozenset[str] = frozenset({"regional_ct", "admin"})

# An event clock may run a little ahead of ours; beyond this it is "in the future".
_CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Actor:
    """Who is acting: a staff user name, their roles and their home region (or None)."""

    name: str
    roles: frozenset[str]
    region: str | None = None

    def can_plan(self) -> bool:
        """Return True when the actor may change a situation."""
        return bool(self.roles & PLANNING_ROLES)


SYSTEM = Actor("system", frozenset({"admin"}))


@dataclass(frozen=True)
class EventDeclaration:
    """A declared event: what happened, where, when and who is at risk."""

    kind: str
    place: str
    at: datetime
    targeted_community: str | None = None
    backlash_community: str | None = None
    threat_level: str | None = None
    playbook: str | None = None

    def summary(self) -> str:
        """Return one line for the timeline."""
        who = (
            f", targeting the {self.targeted_community} community"
            if self.targeted_community
            else ""
        )
        book = f" (playbook {self.playbook})" if self.playbook else ""
        return f"{self.kind} at {self.place}{who}{book}"


@dataclass(frozen=True)
class CalendarEntry:
    """A user-added calendar window (a match, a vigil, a festival at a site)."""

    name: str
    start: datetime
    end: datetime
    site_id: str | None = None
    weight: float = 1.5


@dataclass(frozen=True)
class LogEntry:
    """One entry of the situation log, shown on the event timeline."""

    entry_id: str
    region: str
    kind: str
    summary: str
    payload: dict[str, Any]
    occurred_at: datetime
    recorded_at: datetime
    recorded_by: str


@dataclass(frozen=True)
class Shift:
    """A shift window (UTC datetimes) with its label."""

    label: str
    start: datetime
    end: datetime


def _wall_to_utc(wall: datetime) -> datetime:
    """The UTC instant of a London wall-clock hour (aware datetimes add in wall time)."""
    return datetime(wall.year, wall.month, wall.day, wall.hour, tzinfo=LONDON).astimezone(UTC)


def _london_hour(moment: datetime) -> datetime:
    return moment.astimezone(LONDON).replace(minute=0, second=0, microsecond=0)


def shift_at(moment: datetime) -> Shift:
    """Return the shift that contains ``moment`` (three shifts a day, London time).

    Shifts run from one local start (06:00, 14:00, 22:00) to the next, so the
    night shift of a clock change is 7 hours (March) or 9 hours (October) long
    and every moment lies in exactly one shift.
    """
    local = moment.astimezone(LONDON)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    starts = [day + timedelta(hours=h) for h in (SHIFT_STARTS_H[-1] - 24, *SHIFT_STARTS_H)]
    start_utc = max(u for u in map(_wall_to_utc, starts) if u <= moment)
    start = _london_hour(start_utc)
    end_utc = _wall_to_utc(start + timedelta(hours=8))
    label = f"{start:%a %d %b %H:%M}-{_london_hour(end_utc):%H:%M}"
    return Shift(label=label, start=start_utc, end=end_utc)


@dataclass(frozen=True)
class Plan:
    """A plan in force: posture, patrols for two shifts, ARV bases, with timings.

    ``body`` holds the plan as JSON-ready data, the form in which it is stored
    and served: ``sites`` (ranked, with risk and reasons), ``shifts`` (each
    with ``units`` and their routes), ``arv`` (bases, isochrones, coverage),
    ``situation`` (what it was computed from).
    """

    plan_id: str
    region: str
    created_at: datetime
    trigger: str
    timings_s: dict[str, float]
    body: dict[str, Any]

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
    risen: tuple[dict[str, Any], ...]
    changed_units: tuple[dict[str, Any], ...]
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

    def snapshot(self) -> dict[str, Any]:
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


@dataclass(frozen=True)
class Situation:
    """Everything a plan is computed from, for one region."""

    region: str
    event: EventDeclaration | None = None
    event_id: str | None = None
    threat_level: str = "substantial"
    calendar: tuple[CalendarEntry, ...] = ()
    alerts: tuple[dict[str, Any], ...] = ()


#: A planner turns (settings, situation, now, timer) into a plan body.
PlanBuilder = Callable[[Settings, Situation, datetime, "Timer"], dict[str, Any]]


class Timer:
    """Records the wall time of named steps of a re-plan."""

    def __init__(self) -> None:
        self.timings_s: dict[str, float] = {}

    def step(self, name: str) -> _Step:
        """Return a context manager that records the time spent under ``name``."""
        return _Step(self, name)


class _Step:
    def __init__(self, timer: Timer, name: str) -> None:
        self.timer, self.name, self.t0 = timer, name, 0.0

    def __enter__(self) -> None:
        self.t0 = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        elapsed = time.perf_counter() - self.t0
        self.timer.timings_s[self.name] = self.timer.timings_s.get(self.name, 0.0) + elapsed


def _new_id() -> str:
    return uuid.uuid4().hex


def _aware(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None:
        msg = f"{what} {moment.isoformat()} has no time zone; write it with an offset, e.g. +01:00"
        raise InvalidInputError(msg)
    return moment.astimezone(UTC)


def _check_threat_level(level: str) -> str:
    value = level.strip().lower()
    if value not in THREAT_LEVELS:
        msg = f"unknown threat level {level!r}; use one of {', '.join(THREAT_LEVELS)}"
        raise InvalidInputError(msg)
    return value


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
        old_rank = {s["site_id"]: int(s["rank"]) for s in old.body.get("sites", [])}
        old_threat = old.body.get("situation", {}).get("threat_level")
    risen: list[dict[str, Any]] = []
    for site in new.body.get("sites", [])[:top_n]:
        before = old_rank.get(site["site_id"])
        if before is None or int(site["rank"]) < before:
            reasons = site.get("reasons") or []
            risen.append(
                {
                    "site_id": site["site_id"],
                    "name": site.get("name", ""),
                    "old_rank": before,
                    "new_rank": int(site["rank"]),
                    "reason": reasons[0] if reasons else "",
                }
            )
    changed: list[dict[str, Any]] = []
    old_routes = _route_sites(old) if old is not None else {}
    for (shift_key, unit), sites in _route_sites(new).items():
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
        threat_level=(old_threat, new.body.get("situation", {}).get("threat_level")),
    )


def _route_sites(plan: Plan) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for shift in plan.body.get("shifts", []):
        for unit in shift.get("units", []):
            out[(shift["key"], unit["unit"])] = [v["site_id"] for v in unit.get("visits", [])]
    return out


class OperationsRoom:
    """The situation and plans of every region of one installation.

    Parameters
    ----------
    settings
        Installation settings (data home, database).
    builder
        The function that computes a plan body from a situation; the default
        runs posture, patrols and ARV placement on the region.
    clock
        Returns "now" (UTC); injected by tests and the demo.
    store
        Persists the situation log, plans, jobs and messages; ``None`` keeps
        them in memory only.
    config
        Patrol units, ARVs, standards and solver limits of a re-plan.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        builder: PlanBuilder | None = None,
        clock: Callable[[], datetime] | None = None,
        store: OpsStore | None = None,
        config: RoomConfig | None = None,
    ) -> None:
        self.settings = settings
        self.config = config or RoomConfig()
        self._builder = builder if builder is not None else self._default_builder
        self._clock = clock if clock is not None else (lambda: datetime.now(UTC))
        self._store = store
        self._lock = threading.RLock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="replan")
        self._situations: dict[str, Situation] = {}
        self._plans: dict[str, Plan] = {}
        self._diffs: dict[str, PlanDiff] = {}
        self._jobs: dict[str, Job] = {}
        self._log: list[LogEntry] = []
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._synced_at = 0.0
        self._listeners: list[Callable[[str, Plan], None]] = []
        if store is not None:
            self._restore(store)

    # -- reading -------------------------------------------------------------------------

    def now(self) -> datetime:
        """Return the room's clock (UTC)."""
        return self._clock()

    def situation(self, region: str) -> Situation:
        """Return the current situation of ``region`` (empty when nothing was declared)."""
        with self._lock:
            return self._situations.get(region, Situation(region=region))

    def plan(self, region: str) -> Plan | None:
        """Return the plan in force for ``region``, or None before the first plan."""
        with self._lock:
            return self._plans.get(region)

    def diff(self, region: str) -> PlanDiff | None:
        """Return what the plan in force changed against the one before it."""
        with self._lock:
            return self._diffs.get(region)

    def jobs(self, region: str | None = None, *, limit: int = 20) -> list[dict[str, Any]]:
        """Return the most recent jobs (newest first), of one region or all."""
        with self._lock:
            rows = [j for j in self._jobs.values() if region is None or j.region == region]
            rows.sort(key=lambda j: j.submitted_at, reverse=True)
            return [j.snapshot() for j in rows[:limit]]

    def job(self, job_id: str) -> dict[str, Any]:
        """Return one job as JSON-ready data."""
        with self._lock:
            found = self._jobs.get(job_id)
            if found is None:
                msg = f"no re-plan job {job_id!r}; list jobs at /api/ops/jobs"
                raise NotFoundError(msg)
            return found.snapshot()

    def timeline(self, region: str, *, limit: int = 100) -> list[LogEntry]:
        """Return the situation log of ``region``, newest first."""
        # The log is kept in the order entries were recorded.
        with self._lock:
            rows = [e for e in reversed(self._log) if e.region == region]
        return rows[:limit]

    def alerts(self, actor: Actor, *, region: str | None = None) -> list[LogEntry]:
        """Return tension alerts and report clusters the actor may see, newest first.

        Regional counter-terrorism staff (and admins) see every region; other
        staff see their own region (or the one asked for when they have none).
        """
        with self._lock:
            rows = [e for e in reversed(self._log) if e.kind in {"tension_alert", "report_cluster"}]
        if actor.roles & CROSS_REGION_ROLES:
            return rows
        mine = actor.region or region
        return [e for e in rows if e.region == mine]

    def wait(self, job_id: str, *, timeout_s: float = 60.0) -> dict[str, Any]:
        """Block until a job has finished (or the timeout passes) and return it."""
        with self._lock:
            found = self._jobs.get(job_id)
        if found is None:
            msg = f"no re-plan job {job_id!r}"
            raise NotFoundError(msg)
        if found.future is not None:
            with contextlib.suppress(TimeoutError):
                found.future.result(timeout=timeout_s)
        return found.snapshot()

    # -- changing the situation ---------------------------------------------------------

    def declare_event(self, region: str, event: EventDeclaration, *, actor: Actor) -> Job:
        """Record a declared event for ``region`` and submit a re-plan; return the job.

        Raises
        ------
        PermissionDeniedError
            When the actor may not plan.
        InvalidInputError
            When the event is in the future, before the region's data, names an
            unknown threat level or playbook.
        NotFoundError
            When the region is not built.
        """
        self._authorise(actor, region)
        at = _aware(event.at, "event time")
        now = self.now()
        if at > now + _CLOCK_SKEW:
            msg = (
                f"the event time {at.isoformat()} is in the future (now {now.isoformat()}); "
                "declare events that have happened"
            )
            raise InvalidInputError(msg)
        data_from = region_data_time(self.settings, region)
        if data_from is not None and at < data_from:
            msg = (
                f"the event time {at.isoformat()} is before region {region!r}'s map data "
                f"({data_from.date().isoformat()}); declare a later event or build the "
                "region from an older extract"
            )
            raise InvalidInputError(msg)
        level = _check_threat_level(event.threat_level) if event.threat_level else None
        checked = validate_event(replace(event, at=at), self.situation(region).threat_level)
        event = replace(
            event,
            kind=checked.kind,
            at=at,
            targeted_community=checked.targeted_community,
            backlash_community=checked.backlash_community,
            threat_level=level,
            playbook=check_playbook(self.settings, event.playbook) if event.playbook else None,
        )
        entry = self._record(
            region, "event", event.summary(), _event_payload(event), occurred_at=at, actor=actor
        )
        with self._lock:
            old = self.situation(region)
            self._situations[region] = replace(
                old,
                event=event,
                event_id=entry.entry_id,
                threat_level=level or old.threat_level,
            )
        return self._submit(region, f"event declared: {event.summary()}")

    def set_threat_level(self, region: str, level: str, *, actor: Actor) -> Job:
        """Change the national threat level used for ``region`` and submit a re-plan."""
        self._authorise(actor, region)
        value = _check_threat_level(level)
        region_data_time(self.settings, region)
        self._record(
            region,
            "threat",
            f"threat level set to {value}",
            {"level": value},
            occurred_at=None,
            actor=actor,
        )
        with self._lock:
            self._situations[region] = replace(self.situation(region), threat_level=value)
        return self._submit(region, f"threat level {value}")

    def add_calendar_entry(self, region: str, entry: CalendarEntry, *, actor: Actor) -> Job:
        """Add a calendar window (e.g. a match or a vigil) and submit a re-plan."""
        self._authorise(actor, region)
        start, end = _aware(entry.start, "calendar start"), _aware(entry.end, "calendar end")
        if end <= start:
            msg = f"calendar entry {entry.name!r} ends before it starts; give an end after {start}"
            raise InvalidInputError(msg)
        if not entry.name.strip():
            msg = "a calendar entry needs a name, e.g. 'Oakham v Stamford, Oakham FC'"
            raise InvalidInputError(msg)
        region_data_time(self.settings, region)
        entry = replace(entry, start=start, end=end)
        payload = {
            "name": entry.name,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "site_id": entry.site_id,
            "weight": entry.weight,
        }
        self._record(
            region, "calendar", f"calendar: {entry.name}", payload, occurred_at=start, actor=actor
        )
        with self._lock:
            old = self.situation(region)
            self._situations[region] = replace(old, calendar=(*old.calendar, entry))
        return self._submit(region, f"calendar entry {entry.name}")

    def raise_alert(
        self, region: str, alert: dict[str, Any], *, kind: str = "tension_alert"
    ) -> Job:
        """Record a tension alert or a cluster of reports near a site and re-plan.

        ``alert`` carries at least ``summary``; ``lon``/``lat`` or ``area`` and
        ``level`` (1-5) when known. ``kind`` is ``"tension_alert"`` or
        ``"report_cluster"``.
        """
        if kind not in {"tension_alert", "report_cluster"}:
            msg = f"unknown alert kind {kind!r}; use tension_alert or report_cluster"
            raise InvalidInputError(msg)
        summary = str(alert.get("summary") or kind.replace("_", " "))
        self._record(region, kind, summary, dict(alert), occurred_at=None, actor=SYSTEM)
        with self._lock:
            old = self.situation(region)
            self._situations[region] = replace(old, alerts=(*old.alerts, dict(alert)))
        return self._submit(region, f"{kind.replace('_', ' ')}: {summary}")

    def replan(self, region: str, *, actor: Actor, reason: str = "manual re-plan") -> Job:
        """Submit a re-plan of ``region`` with its current situation."""
        self._authorise(actor, region)
        region_data_time(self.settings, region)
        return self._submit(region, reason)

    # -- public messages -----------------------------------------------------------------

    def publish_message(self, region: str, text: str, *, actor: Actor) -> dict[str, Any]:
        """Publish the reassurance message of the day for ``region``; return it."""
        if not actor.roles & {"supervisor", "planner", "admin"}:
            msg = "only a supervisor or planner may publish the public message"
            raise PermissionDeniedError(msg)
        body = text.strip()
        if not body:
            msg = "the message is empty; write what the force is doing and why"
            raise InvalidInputError(msg)
        if len(body) > 2000:
            msg = f"the message has {len(body)} characters; keep it under 2,000"
            raise InvalidInputError(msg)
        now = self.now()
        message = {
            "id": _new_id(),
            "region": region,
            "text": body,
            "author": actor.name,
            "created_at": now,
            "published_at": now,
        }
        if self._store is not None:
            self._store.save_message(message)
        with self._lock:
            self._messages.setdefault(region, []).append(message)
        log.info("published the public message for %s (%d characters)", region, len(body))
        return message

    def published_message(self, region: str) -> dict[str, Any] | None:
        """Return the latest published public message of ``region``, or None."""
        with self._lock:
            rows = self._messages.get(region, [])
            return rows[-1] if rows else None

    def add_plan_listener(self, listener: Callable[[str, Plan], None]) -> None:
        """Call ``listener(region, plan)`` in the worker each time a new plan comes into force.

        A listener that raises is logged and does not affect the plan.
        """
        with self._lock:
            self._listeners.append(listener)

    # -- machinery -----------------------------------------------------------------------

    def _default_builder(
        self, settings: Settings, situation: Situation, now: datetime, timer: Timer
    ) -> dict[str, Any]:
        return default_builder(settings, situation, now, timer, self.config)

    def close(self) -> None:
        """Stop the background worker after the running job."""
        self._worker.shutdown(wait=True, cancel_futures=True)

    def _authorise(self, actor: Actor, region: str) -> None:
        if not actor.can_plan():
            msg = (
                f"{actor.name} may not change the situation; "
                "it needs the planner, supervisor or regional_ct role"
            )
            raise PermissionDeniedError(msg)
        if actor.region is not None and actor.region != region and "regional_ct" not in actor.roles:
            msg = f"{actor.name} plans for {actor.region}, not {region}"
            raise PermissionDeniedError(msg)

    def _record(
        self,
        region: str,
        kind: str,
        summary: str,
        payload: dict[str, Any],
        *,
        occurred_at: datetime | None,
        actor: Actor,
    ) -> LogEntry:
        now = self.now()
        entry = LogEntry(
            entry_id=_new_id(),
            region=region,
            kind=kind,
            summary=summary,
            payload=payload,
            occurred_at=occurred_at or now,
            recorded_at=now,
            recorded_by=actor.name,
        )
        if self._store is not None:
            self._store.save_log(entry)
        with self._lock:
            self._log.append(entry)
        return entry

    def _submit(self, region: str, trigger: str) -> Job:
        job = Job(job_id=_new_id(), region=region, trigger=trigger, submitted_at=self.now())
        with self._lock:
            self._jobs[job.job_id] = job
        if self._store is not None:
            self._store.save_job(job)
        job.future = self._worker.submit(self._run, job)
        log.info("re-plan of %s queued: %s", region, trigger)
        return job

    def _run(self, job: Job) -> None:
        timer = Timer()
        job.status, job.started_at = "running", self.now()
        situation = self.situation(job.region)
        t0 = time.perf_counter()
        try:
            body = self._builder(self.settings, situation, self.now(), timer)
        except WatchfloorError as exc:
            self._fail(job, timer, str(exc))
            return
        except Exception as exc:  # a solver crash must not take the room down
            log.exception("re-plan of %s failed", job.region)
            self._fail(job, timer, f"{type(exc).__name__}: {exc}")
            return
        timer.timings_s["total"] = time.perf_counter() - t0
        plan = Plan(
            plan_id=_new_id(),
            region=job.region,
            created_at=self.now(),
            trigger=job.trigger,
            timings_s=dict(timer.timings_s),
            body=body,
        )
        with self._lock:
            diff = compare_plans(self._plans.get(job.region), plan)
            self._plans[job.region] = plan
            self._diffs[job.region] = diff
        job.status, job.plan_id = "done", plan.plan_id
        job.finished_at, job.timings_s = self.now(), dict(timer.timings_s)
        if self._store is not None:
            self._store.save_plan(plan, diff)
            self._store.save_job(job)
        log.info(
            "re-plan of %s done in %.2f s: %d sites risen, %d unit routes changed",
            job.region,
            plan.total_s,
            len(diff.risen),
            len(diff.changed_units),
        )
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(job.region, plan)
            except Exception:  # a drawing cache must never undo a plan
                log.exception("plan listener failed for %s", job.region)

    def _fail(self, job: Job, timer: Timer, message: str) -> None:
        job.status, job.error = "failed", message
        job.finished_at, job.timings_s = self.now(), dict(timer.timings_s)
        self._record(
            job.region,
            "failure",
            f"re-plan failed: {message}",
            {"job_id": job.job_id},
            occurred_at=None,
            actor=SYSTEM,
        )
        if self._store is not None:
            self._store.save_job(job)
        log.warning("re-plan of %s failed; the last good plan stays in force", job.region)

    def _restore(self, store: OpsStore) -> None:
        for entry in store.load_log():
            self._log.append(entry)
            self._apply_logged(entry)
        for region, (plan, diff) in store.load_latest_plans().items():
            self._plans[region] = plan
            if diff is not None:
                self._diffs[region] = diff
        for message in store.load_messages():
            self._messages.setdefault(message["region"], []).append(message)
        self._synced_at = time.monotonic()

    def sync(self, *, min_interval_s: float = 2.0) -> None:
        """Take in what other processes (the command line, another server) stored since.

        New situation-log entries are applied, newer plans put in force and new
        public messages shown; at most once per ``min_interval_s``.
        """
        store = self._store
        if store is None or time.monotonic() - self._synced_at < min_interval_s:
            return
        self._synced_at = time.monotonic()
        with self._lock:
            known_ids = {e.entry_id for e in self._log}
            last = max((e.recorded_at for e in self._log), default=None)
            current = {region: plan.plan_id for region, plan in self._plans.items()}
            busy = {j.region for j in self._jobs.values() if j.status in {"queued", "running"}}
        fresh = [e for e in store.load_log(since=last) if e.entry_id not in known_ids]
        plans = store.load_latest_plans(known=current)
        messages = store.load_messages()
        with self._lock:
            for entry in fresh:
                self._log.append(entry)
                self._apply_logged(entry)
            for region, (plan, diff) in plans.items():
                mine = self._plans.get(region)
                if region in busy or (mine is not None and mine.created_at >= plan.created_at):
                    continue
                self._plans[region] = plan
                if diff is not None:
                    self._diffs[region] = diff
            self._messages = {}
            for message in messages:
                self._messages.setdefault(message["region"], []).append(message)
        if fresh or plans:
            log.info("synced %d log entries and %d plans from the database", len(fresh), len(plans))

    def _apply_logged(self, entry: LogEntry) -> None:
        old = self.situation(entry.region)
        p = entry.payload
        if entry.kind == "event":
            event = _event_from_payload(p)
            self._situations[entry.region] = replace(
                old,
                event=event,
                event_id=entry.entry_id,
                threat_level=event.threat_level or old.threat_level,
            )
        elif entry.kind == "threat":
            self._situations[entry.region] = replace(old, threat_level=p["level"])
        elif entry.kind == "calendar":
            cal = CalendarEntry(
                name=p["name"],
                start=datetime.fromisoformat(p["start"]),
                end=datetime.fromisoformat(p["end"]),
                site_id=p.get("site_id"),
                weight=float(p.get("weight", 1.5)),
            )
            self._situations[entry.region] = replace(old, calendar=(*old.calendar, cal))
        elif entry.kind in {"tension_alert", "report_cluster"}:
            self._situations[entry.region] = replace(old, alerts=(*old.alerts, dict(p)))


def _event_payload(event: EventDeclaration) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "place": event.place,
        "at": event.at.isoformat(),
        "targeted_community": event.targeted_community,
        "backlash_community": event.backlash_community,
        "threat_level": event.threat_level,
        "playbook": event.playbook,
    }


def _event_from_payload(p: dict[str, Any]) -> EventDeclaration:
    return EventDeclaration(
        kind=p["kind"],
        place=p["place"],
        at=datetime.fromisoformat(p["at"]),
        targeted_community=p.get("targeted_community"),
        backlash_community=p.get("backlash_community"),
        threat_level=p.get("threat_level"),
        playbook=p.get("playbook"),
    )


def iter_shifts(now: datetime, n: int = 2) -> Iterator[Shift]:
    """Yield the shift containing ``now`` and the ``n - 1`` that follow it."""
    shift = shift_at(now)
    for _ in range(n):
        yield shift
        shift = shift_at(shift.end + timedelta(seconds=1))


class OpsStore:
    """Keeps the operations room's log, plans, jobs and messages in the database.

    Every write is one transaction; a plan and its job are written after the
    plan is complete, so a crash mid-plan leaves the last good plan stored.
    """

    def __init__(self, database: Database) -> None:
        self.database = database

    def save_log(self, entry: LogEntry) -> None:
        """Store one situation-log entry."""
        with self.database.session() as session:
            session.add(
                OpsLogRow(
                    id=entry.entry_id,
                    region=entry.region,
                    kind=entry.kind,
                    summary=entry.summary,
                    payload=entry.payload,
                    occurred_at=entry.occurred_at,
                    recorded_at=entry.recorded_at,
                    recorded_by=entry.recorded_by,
                )
            )

    def save_job(self, job: Job) -> None:
        """Insert or update a job row."""
        with self.database.session() as session:
            session.merge(
                OpsJobRow(
                    id=job.job_id,
                    region=job.region,
                    trigger=job.trigger,
                    status=job.status,
                    submitted_at=job.submitted_at,
                    finished_at=job.finished_at,
                    error=job.error,
                    plan_id=job.plan_id,
                    timings=dict(job.timings_s),
                )
            )

    def save_plan(self, plan: Plan, diff: PlanDiff) -> None:
        """Store a plan put in force, with its diff against the one before."""
        body = dict(plan.body)
        body["timings_s"] = dict(plan.timings_s)
        body["diff"] = plan_diff_json(diff)
        with self.database.session() as session:
            session.add(
                OpsPlanRow(
                    id=plan.plan_id,
                    region=plan.region,
                    created_at=plan.created_at,
                    trigger=plan.trigger,
                    total_s=plan.total_s,
                    body=_jsonable(body),
                )
            )

    def save_message(self, message: dict[str, Any]) -> None:
        """Store a published public message."""
        with self.database.session() as session:
            session.add(OpsMessageRow(**message))

    def load_log(self, *, since: datetime | None = None) -> list[LogEntry]:
        """Return the situation-log entries (recorded at or after ``since``), oldest first."""
        query = select(OpsLogRow).order_by(OpsLogRow.recorded_at)
        if since is not None:
            query = query.where(OpsLogRow.recorded_at >= since)
        with self.database.session() as session:
            rows = session.scalars(query).all()
            return [
                LogEntry(
                    entry_id=r.id,
                    region=r.region,
                    kind=r.kind,
                    summary=r.summary,
                    payload=dict(r.payload),
                    occurred_at=_utc(r.occurred_at),
                    recorded_at=_utc(r.recorded_at),
                    recorded_by=r.recorded_by,
                )
                for r in rows
            ]

    def load_latest_plans(
        self, *, known: dict[str, str] | None = None
    ) -> dict[str, tuple[Plan, PlanDiff | None]]:
        """Return each region's latest stored plan and its diff (except plans in ``known``)."""
        known = known or {}
        out: dict[str, tuple[Plan, PlanDiff | None]] = {}
        with self.database.session() as session:
            heads = session.execute(
                select(OpsPlanRow.id, OpsPlanRow.region).order_by(OpsPlanRow.created_at)
            ).all()
            latest = {region: plan_id for plan_id, region in heads}
            for region, plan_id in latest.items():
                if known.get(region) == plan_id:
                    continue
                r = session.get(OpsPlanRow, plan_id)
                if r is None:
                    continue
                body = dict(r.body)
                timings = body.pop("timings_s", {"total": r.total_s})
                diff = body.pop("diff", None)
                plan = Plan(
                    plan_id=r.id,
                    region=r.region,
                    created_at=_utc(r.created_at),
                    trigger=r.trigger,
                    timings_s={k: float(v) for k, v in timings.items()},
                    body=body,
                )
                out[region] = (plan, _diff_from_json(diff) if diff else None)
        return out

    def load_messages(self) -> list[dict[str, Any]]:
        """Return every published message, oldest first."""
        with self.database.session() as session:
            rows = session.scalars(
                select(OpsMessageRow)
                .where(OpsMessageRow.published_at.is_not(None))
                .order_by(OpsMessageRow.published_at)
            ).all()
            return [
                {
                    "id": r.id,
                    "region": r.region,
                    "text": r.text,
                    "author": r.author,
                    "created_at": _utc(r.created_at),
                    "published_at": _utc(r.published_at) if r.published_at else None,
                }
                for r in rows
            ]


def _diff_from_json(data: dict[str, Any]) -> PlanDiff:
    before, after = [*list(data.get("threat_level") or []), None, None][:2]
    return PlanDiff(
        previous_plan_id=data.get("previous_plan_id"),
        plan_id=str(data.get("plan_id", "")),
        risen=tuple(data.get("risen", [])),
        changed_units=tuple(data.get("changed_units", [])),
        threat_level=(before, after),
    )


def _utc(moment: datetime) -> datetime:
    # SQLite returns naive datetimes for timezone-aware columns; they were stored in UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def plan_diff_json(diff: PlanDiff) -> dict[str, Any]:
    """Return a plan diff as JSON-ready data."""
    return {
        "previous_plan_id": diff.previous_plan_id,
        "plan_id": diff.plan_id,
        "risen": list(diff.risen),
        "changed_units": list(diff.changed_units),
        "threat_level": list(diff.threat_level),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    return value


# -- regions ----------------------------------------------------------------------------

DEFAULT_MESSAGE = (
    "Following the attack, you will see more officers in our towns, at places of worship "
    "and in busy places. They are there to keep everyone safe and to listen: please talk "
    "to them. We are continuing to review our well-rehearsed plans and will take any steps "
    "necessary to keep our communities safe."
)


@dataclass(frozen=True, eq=False)
class RegionView:
    """A loaded region with what the room needs to draw and plan on it."""

    name: str
    region: Any  # watchfloor.storage.regions.Region
    bbox: tuple[float, float, float, float]
    mtime_ns: int

    @property
    def bounds(self) -> list[list[float]]:
        """Return ``[[west, south], [east, north]]`` for the map."""
        w, s, e, n = self.bbox
        return [[w, s], [e, n]]


_REGION_CACHE: dict[tuple[str, str], RegionView] = {}
_REGION_LOCK = threading.Lock()


def built_regions(settings: Settings) -> list[str]:
    """Return the names of the built regions, sorted."""
    root = settings.regions_dir
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "region.json").is_file())


def pick_region(settings: Settings, name: str | None) -> str:
    """Return ``name`` when that region is built, else the default or first built region.

    Raises
    ------
    NotFoundError
        When ``name`` is given and not built, or no region is built at all.
    """
    names = built_regions(settings)
    if name:
        if name not in names:
            have = ", ".join(names) if names else "none"
            msg = (
                f"region {name!r} is not built (built: {have}); run "
                f"`watchfloor region fetch {name}` or `watchfloor region build FILE --name {name}`"
            )
            raise NotFoundError(msg)
        return name
    if not names:
        msg = "no region is built; run `watchfloor demo` or `watchfloor region fetch NAME`"
        raise NotFoundError(msg)
    from watchfloor.settings import DEFAULT_REGION  # noqa: PLC0415

    return DEFAULT_REGION if DEFAULT_REGION in names else names[0]


def region_view(settings: Settings, name: str) -> RegionView:
    """Return the region ``name``, loaded once and reloaded when it is rebuilt.

    Raises
    ------
    NotFoundError
        When the region is not built.
    """
    from watchfloor.services.regions import open_region  # noqa: PLC0415

    meta_path = settings.regions_dir / name / "region.json"
    try:
        mtime = meta_path.stat().st_mtime_ns
    except OSError:
        mtime = -1
    key = (str(settings.regions_dir), name)
    with _REGION_LOCK:
        cached = _REGION_CACHE.get(key)
        if cached is not None and cached.mtime_ns == mtime:
            return cached
        region = open_region(name, settings)
        graph = region.graph
        bbox = (
            float(graph.lon.min()),
            float(graph.lat.min()),
            float(graph.lon.max()),
            float(graph.lat.max()),
        )
        view = RegionView(name=name, region=region, bbox=bbox, mtime_ns=mtime)
        _REGION_CACHE[key] = view
        log.info("loaded region %s: %d nodes, %d sites", name, graph.n_nodes, len(region.sites))
        return view


def region_data_time(settings: Settings, name: str) -> datetime | None:
    """Return when the region's map data was captured (OSM timestamp), or None.

    Raises
    ------
    NotFoundError
        When the region is not built.
    """
    meta = region_view(settings, name).region.meta
    stamp = str(meta.get("osm_replication_timestamp") or "")
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- events and playbooks ----------------------------------------------------------------


def playbook_names(settings: Settings) -> list[str]:
    """Return the names of the playbooks a planner can choose (shipped and the force's own)."""
    from watchfloor.services.posture import available_playbooks  # noqa: PLC0415

    return sorted(available_playbooks(settings))


def check_playbook(settings: Settings, name: str) -> str:
    """Return the canonical name of playbook ``name``.

    Raises
    ------
    InvalidInputError
        When there is no such playbook (the message lists the available ones).
    """
    from watchfloor.posture import resolve_playbook  # noqa: PLC0415
    from watchfloor.services.posture import available_playbooks  # noqa: PLC0415

    return resolve_playbook(name, available_playbooks(settings)).name


def validate_event(event: EventDeclaration, threat_level: str) -> Any:
    """Return the posture model's validated event (``watchfloor.posture.event.Event``).

    Raises
    ------
    InvalidInputError
        For an unknown kind or community (the message names the allowed values).
    """
    from watchfloor.posture.event import event_from_dict  # noqa: PLC0415

    return event_from_dict(
        {
            "kind": event.kind,
            "at": event.at.isoformat(),
            "place": event.place,
            "targeted_community": event.targeted_community or "none",
            "backlash_community": event.backlash_community or "none",
            "threat_level": event.threat_level or threat_level,
            "playbook": event.playbook,
        }
    )


# -- views of the plan in force ------------------------------------------------------------


def log_entry_json(entry: LogEntry) -> dict[str, Any]:
    """Return a situation-log entry as JSON-ready data."""
    return {
        "id": entry.entry_id,
        "region": entry.region,
        "kind": entry.kind,
        "summary": entry.summary,
        "occurred_at": entry.occurred_at.isoformat(),
        "recorded_at": entry.recorded_at.isoformat(),
        "recorded_by": entry.recorded_by,
        "payload": _jsonable(entry.payload),
    }


def _shift_body(plan: Plan | None, shift: str) -> dict[str, Any] | None:
    if plan is None:
        return None
    for body in plan.body.get("shifts", []):
        if body.get("key") == shift:
            return dict(body)
    return None


def status_json(room: OperationsRoom, region: str, *, actor: Actor, shift: str) -> dict[str, Any]:
    """Return what the dashboard's panels show: plan, diff, jobs, timeline, alerts, units."""
    if shift not in {"current", "next"}:
        msg = f"unknown shift {shift!r}; use current or next"
        raise InvalidInputError(msg)
    plan = room.plan(region)
    diff = room.diff(region)
    situation = room.situation(region)
    units = []
    shift_body = _shift_body(plan, shift)
    if shift_body is not None:
        for unit in shift_body.get("units", []):
            units.append(
                {
                    "unit": unit["unit"],
                    "unit_index": unit["unit_index"],
                    "mode": unit.get("mode", ""),
                    "n_visits": len(unit.get("visits", [])),
                    "travel_s": float(unit.get("travel_s", 0.0)),
                    "briefing": f"/dashboard/briefing/{region}/{shift}/{unit['unit']}",
                }
            )
    return {
        "region": region,
        "now": room.now().isoformat(),
        "situation": {
            "threat_level": situation.threat_level,
            "event": _event_payload(situation.event) if situation.event else None,
            "calendar": [c.name for c in situation.calendar],
            "n_alerts": len(situation.alerts),
        },
        "plan": (
            {
                "plan_id": plan.plan_id,
                "created_at": plan.created_at.isoformat(),
                "trigger": plan.trigger,
                "timings_s": plan.timings_s,
                "shift": {
                    k: shift_body[k] for k in ("key", "label", "start", "end") if k in shift_body
                }
                if shift_body
                else None,
                "notes": plan.body.get("notes", []),
                "patrol": {
                    k: shift_body.get(k)
                    for k in ("guarantee", "exact", "n_game_sites", "seed", "status")
                }
                if shift_body
                else None,
                "arv": {
                    k: (plan.body.get("arv") or {}).get(k)
                    for k in ("model", "status", "covered_share", "standard_s")
                },
            }
            if plan
            else None
        ),
        "diff": plan_diff_json(diff) if diff else None,
        "jobs": room.jobs(region, limit=10),
        "timeline": [log_entry_json(e) for e in room.timeline(region, limit=50)],
        "alerts": [log_entry_json(e) for e in room.alerts(actor, region=region)[:30]],
        "units": units,
    }


#: Staff queues of the reporting service and how they are labelled on the dashboard.
REPORT_QUEUES: dict[str, str] = {
    "ct": "Counter-terrorism",
    "hate_crime": "Hate crime",
    "neighbourhood": "Neighbourhood",
    "prevent": "Prevent",
}


def report_queues(database: Database) -> list[dict[str, Any]]:
    """Return each staff queue's counts of new and open reports, with a link to the queue page."""
    from sqlalchemy import func  # noqa: PLC0415

    from watchfloor.storage.models import Report  # noqa: PLC0415

    with database.session() as session:
        rows = session.execute(
            select(Report.queue, Report.status, func.count())
            .where(Report.status != "closed")
            .group_by(Report.queue, Report.status)
        ).all()
    new: dict[str, int] = {}
    open_: dict[str, int] = {}
    for queue, status, n in rows:
        open_[str(queue)] = open_.get(str(queue), 0) + int(n)
        if status == "new":
            new[str(queue)] = new.get(str(queue), 0) + int(n)
    names = list(REPORT_QUEUES) + sorted(set(open_) - set(REPORT_QUEUES))
    return [
        {
            "queue": q,
            "label": REPORT_QUEUES.get(q, q.replace("_", " ").title()),
            "count": new.get(q, 0),
            "open": open_.get(q, 0),
            "href": f"/staff/queues?queue={q}&status=new",
        }
        for q in names
    ]


def reports_geojson(
    database: Database,
    bbox: tuple[float, float, float, float],
    *,
    days: int = 30,
    limit: int = 20_000,
) -> dict[str, Any]:
    """Return located reports inside ``bbox`` from the last ``days`` days as GeoJSON points.

    Only kind, queue, status, priority and time are given: never the text or
    anything about the reporter.
    """
    from watchfloor.storage.models import Report  # noqa: PLC0415

    west, south, east, north = bbox
    since = datetime.now(UTC) - timedelta(days=days)
    with database.session() as session:
        rows = session.execute(
            select(
                Report.id,
                Report.kind,
                Report.queue,
                Report.status,
                Report.priority,
                Report.received_at,
                Report.lon,
                Report.lat,
            )
            .where(
                Report.lon.is_not(None),
                Report.lat.is_not(None),
                Report.lon.between(west, east),
                Report.lat.between(south, north),
                Report.received_at >= since,
            )
            .order_by(Report.received_at.desc())
            .limit(limit)
        ).all()
    features = [
        {
            "type": "Feature",
            "properties": {
                "id": int(r.id),
                "kind": r.kind,
                "queue": r.queue,
                "status": r.status,
                "priority": int(r.priority),
                "received_at": _utc(r.received_at).isoformat(),
            },
            "geometry": {"type": "Point", "coordinates": [round(r.lon, 5), round(r.lat, 5)]},
        }
        for r in rows
    ]
    return {"type": "FeatureCollection", "features": features}


def unit_briefing(room: OperationsRoom, region: str, *, shift: str, unit: str) -> dict[str, Any]:
    """Return one unit's shift briefing: visits in order, times, reasons and its route map data.

    Raises
    ------
    NotFoundError
        When there is no plan, no such shift or no such unit in it.
    """
    plan = room.plan(region)
    body = _shift_body(plan, shift)
    if plan is None or body is None:
        msg = (
            f"region {region!r} has no plan for the {shift} shift yet; declare an event or re-plan"
        )
        raise NotFoundError(msg)
    found = next((u for u in body.get("units", []) if u["unit"] == unit), None)
    if found is None:
        names = ", ".join(u["unit"] for u in body.get("units", []))
        msg = f"no unit {unit!r} in the {shift} shift; units are: {names}"
        raise NotFoundError(msg)
    reasons = {s["site_id"]: s.get("reasons", []) for s in plan.body.get("sites", [])}
    visits = [
        {
            **v,
            "arrive_local": _local_hm(v["arrive"]),
            "depart_local": _local_hm(v["depart"]),
            "why": (reasons.get(v["site_id"]) or [""])[:3],
        }
        for v in found.get("visits", [])
    ]
    path = found.get("path") or []
    features: list[dict[str, Any]] = []
    if len(path) >= 2:
        features.append(
            {
                "type": "Feature",
                "properties": {"type": "route"},
                "geometry": {"type": "LineString", "coordinates": path},
            }
        )
    for k, v in enumerate(visits):
        features.append(
            {
                "type": "Feature",
                "properties": {"type": "visit", "order": k + 1, "name": v.get("name", "")},
                "geometry": {"type": "Point", "coordinates": [v["lon"], v["lat"]]},
            }
        )
    coords = [
        c
        for f in features
        for c in (
            f["geometry"]["coordinates"]
            if f["geometry"]["type"] == "LineString"
            else [f["geometry"]["coordinates"]]
        )
    ]
    bounds = (
        [
            [min(c[0] for c in coords), min(c[1] for c in coords)],
            [max(c[0] for c in coords), max(c[1] for c in coords)],
        ]
        if coords
        else None
    )
    situation = plan.body.get("situation", {})
    return {
        "region": region,
        "unit": unit,
        "mode": found.get("mode", ""),
        "shift_label": body.get("label", shift),
        "plan_id": plan.plan_id,
        "plan_created_at": plan.created_at.isoformat(),
        "threat_level": situation.get("threat_level", ""),
        "event": situation.get("event"),
        "visits": visits,
        "travel_s": float(found.get("travel_s", 0.0)),
        "seed": body.get("seed"),
        "geojson": {"type": "FeatureCollection", "features": features},
        "bounds": bounds,
    }


def _local_hm(stamp: str) -> str:
    return datetime.fromisoformat(stamp).astimezone(LONDON).strftime("%H:%M")


#: Public ways to report, shown on the community page.
REPORTING_LINES: tuple[tuple[str, str, str], ...] = (
    ("999", "tel:999", "In an emergency, or if you are in danger now."),
    ("0800 789 321", "tel:0800789321", "Confidential anti-terrorist hotline: anything suspicious."),
    ("101", "tel:101", "Non-emergency: hate incidents, information, concerns."),
)


def community_update(room: OperationsRoom, region: str) -> dict[str, Any]:
    """Return the public community page: the message, what the force is doing, how to report.

    Nothing operational is disclosed: no routes, times or unit numbers per
    place, only counts and kinds of places.
    """
    message = room.published_message(region)
    plan = room.plan(region)
    doing: list[str] = []
    if plan is not None:
        current = _shift_body(plan, "current") or {}
        visited = {v["site_id"] for u in current.get("units", []) for v in u.get("visits", [])}
        kinds: dict[str, int] = {}
        for site in plan.body.get("sites", []):
            if site["site_id"] in visited:
                kinds[site.get("kind", "")] = kinds.get(site.get("kind", ""), 0) + 1
        labels = {
            "place_of_worship": "places of worship",
            "town_centre": "town and village centres",
            "crowded_place": "busy public places",
            "nte_venue": "pubs, bars and clubs",
            "nte_zone": "night-time areas",
            "school": "schools",
            "hospital": "hospitals",
        }
        parts = [
            f"{n} {labels[k]}"
            for k, n in sorted(kinds.items(), key=lambda kv: -kv[1])
            if k in labels
        ]
        if parts:
            doing.append(
                "Officers are making extra visible patrols today, including at "
                + ", ".join(parts)
                + "."
            )
        if plan.body.get("arv", {}).get("bases"):
            doing.append(
                "Armed officers are on patrol across the county, ready to respond quickly."
            )
    doing.append("We are working with community leaders and listening to your concerns.")
    return {
        "region": region,
        "region_title": region.replace("-", " ").title(),
        "message": message,
        "doing": doing,
        "lines": REPORTING_LINES,
        "threat_level": room.situation(region).threat_level,
    }


def dispatch_advice(
    room: OperationsRoom, region: str, *, lon: float, lat: float, busy: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Return the plan's ARVs ranked by road ETA to an incident at ``lon, lat``.

    Raises
    ------
    NotFoundError
        When the region has no plan with ARV bases yet.
    InvalidInputError
        When the point is outside the region, or ``busy`` names an unknown unit.
    """
    plan = room.plan(region)
    bases = (plan.body.get("arv") or {}).get("bases", []) if plan is not None else []
    if not bases:
        msg = f"region {region!r} has no ARV placement yet; declare an event or re-plan first"
        raise NotFoundError(msg)
    # An unknown unit in ``busy`` is refused by the ranking itself (services.arv).
    view = region_view(room.settings, region)
    west, south, east, north = view.bbox
    margin = 0.05
    if not (west - margin <= lon <= east + margin and south - margin <= lat <= north + margin):
        msg = (
            f"the incident at {lon:.5f},{lat:.5f} is outside region {region!r} "
            f"({west:.3f},{south:.3f} to {east:.3f},{north:.3f}); click inside the region"
        )
        raise InvalidInputError(msg)
    return _dispatch(view, bases, lon=lon, lat=lat, busy=busy)


_ENGINES: dict[tuple[str, int, str], Any] = {}


def region_engine(view: RegionView, *, profile: str = "blue_light") -> Any:
    """Return a travel-time engine for the region (``blue_light`` or ``normal`` driving), cached."""
    from watchfloor.roads.speeds import blue_light_travel_time_s  # noqa: PLC0415
    from watchfloor.traveltime.engine import TravelTimeEngine  # noqa: PLC0415

    key = (str(view.region.path), view.mtime_ns, profile)
    with _REGION_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            graph = view.region.graph
            weights = blue_light_travel_time_s(graph) if profile == "blue_light" else None
            engine = TravelTimeEngine(graph, weights=weights)
            _ENGINES[key] = engine
        return engine


def _dispatch(
    view: RegionView,
    bases: list[dict[str, Any]],
    *,
    lon: float,
    lat: float,
    busy: tuple[str, ...],
) -> dict[str, Any]:
    """Rank the plan's units with the CLI's and the ARV API's function, for the dashboard."""
    from watchfloor.services.arv import PlanUnits  # noqa: PLC0415
    from watchfloor.services.arv import dispatch_advice as rank  # noqa: PLC0415

    plan = PlanUnits(
        unit=tuple(str(b["unit"]) for b in bases),
        lon=np.array([float(b["lon"]) for b in bases], dtype=np.float64),
        lat=np.array([float(b["lat"]) for b in bases], dtype=np.float64),
        region=view.name,
    )
    ranking = rank(region_engine(view), plan, lon=lon, lat=lat, busy=busy)
    name = {str(b["unit"]): b.get("name", "") for b in bases}
    units: list[dict[str, Any]] = [
        {"unit": r["unit"], "base": name[r["unit"]], "status": "available",
         "eta_s": round(float(r["eta_s"]), 1)}
        for r in ranking
    ]  # fmt: skip
    units += [
        {"unit": b["unit"], "base": b.get("name", ""), "status": "busy", "eta_s": None}
        for b in bases
        if b["unit"] in busy
    ]
    return {
        "incident": {"lon": lon, "lat": lat},
        "recommended": units[0]["unit"],
        "units": units,
        "n_unreachable": len(bases) - len(busy) - len(ranking),
        "profile": "blue_light",
    }


# -- the plan builder ---------------------------------------------------------------------


@dataclass(frozen=True)
class RoomConfig:
    """Resources and limits a re-plan uses (the same for every region of a room)."""

    patrol_units: int = 8
    foot_units: int = 0
    arv_units: int = 3
    arv_standard_s: float = 15 * 60.0
    time_limit_s: float = 20.0
    game_sites: int = 40


def _optional_service(module: str) -> Any | None:
    """Return the service module, or None when this installation does not have it."""
    import importlib  # noqa: PLC0415

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return None


def default_builder(
    settings: Settings,
    situation: Situation,
    now: datetime,
    timer: Timer,
    config: RoomConfig | None = None,
) -> dict[str, Any]:
    """Return a plan body: posture, patrols for this and the next shift, ARV bases.

    Each step that this installation lacks is left out with a note; a step
    that fails raises, and the room keeps the last good plan.
    """
    with timer.step("load_region"):
        view = region_view(settings, situation.region)
    notes: list[str] = []
    shifts = list(iter_shifts(now, 2))
    body: dict[str, Any] = {
        "region": situation.region,
        "situation": _situation_json(situation),
        "sites": [],
        "shifts": [],
        "arv": {},
        "tension": {"type": "FeatureCollection", "features": []},
        "notes": notes,
    }
    inputs = StageInput(settings, view, situation, shifts, now, timer, config or RoomConfig())
    posture = _posture_stage(inputs, body)
    for stage in (_patrol_stage, _arv_stage):
        note = stage(inputs, body, posture)
        if note:
            notes.append(note)
    return body


def _situation_json(situation: Situation) -> dict[str, Any]:
    return {
        "threat_level": situation.threat_level,
        "event": _event_payload(situation.event) if situation.event else None,
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
        "alerts": [_jsonable(a) for a in situation.alerts],
    }


@dataclass(frozen=True, eq=False)
class StageInput:
    """What every step of a re-plan reads: the region, the situation, the shifts, the clock."""

    settings: Settings
    view: RegionView
    situation: Situation
    shifts: list[Shift]
    now: datetime
    timer: Timer
    config: RoomConfig


#: Slot length of the posture the room computes (minutes).
POSTURE_SLOT_MINUTES = 30

#: Radius around a located alert inside which sites take its tension level (metres).
ALERT_RADIUS_M = 1500.0


def _posture_stage(stage: StageInput, body: dict[str, Any]) -> Any:
    """Compute the posture over the two shifts; fill ``body["sites"]`` and ``body["tension"]``."""
    from watchfloor.posture import compute_posture, resolve_playbook  # noqa: PLC0415
    from watchfloor.services.posture import available_playbooks  # noqa: PLC0415

    situation, sites = stage.situation, stage.view.region.sites
    event = None
    playbook = None
    if situation.event is not None:
        event = validate_event(situation.event, situation.threat_level)
        if situation.event.playbook:
            playbook = resolve_playbook(
                situation.event.playbook, available_playbooks(stage.settings)
            )
    start, end = stage.shifts[0].start, stage.shifts[-1].end
    n_slots = int((end - start).total_seconds() // (60 * POSTURE_SLOT_MINUTES))
    tension, areas = _tension_levels(situation, sites)
    with stage.timer.step("posture"):
        posture = compute_posture(
            sites,
            event,
            start=start,
            n_slots=n_slots,
            slot_minutes=POSTURE_SLOT_MINUTES,
            playbook=playbook,
            tension=tension,
            threat_level=situation.threat_level,
        )
    body["sites"] = _ranked_sites(posture, sites, stage.shifts[0])
    body["tension"] = {"type": "FeatureCollection", "features": areas}
    body["posture"] = {
        "slot_minutes": POSTURE_SLOT_MINUTES,
        "start": start.isoformat(),
        "n_slots": n_slots,
        "threat_level": posture.threat_level,
        "playbook": posture.playbook,
        "brief_roles": list(posture.brief_roles),
    }
    return posture


def _ranked_sites(posture: Any, sites: Any, shift: Shift) -> list[dict[str, Any]]:
    """Rank sites by their highest value in ``shift``, with that slot's reasons."""
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


def _tension_levels(
    situation: Situation, sites: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return tension per site id from located alerts, and the alert areas as GeoJSON features.

    An alert with a GeoJSON ``geometry`` (its areas) raises every site inside
    it to its ``level`` (1-5); one with only ``lon``/``lat`` raises the sites
    within ``radius_m``. The highest level wins.
    """
    import shapely  # noqa: PLC0415

    from watchfloor.geo import haversine_m  # noqa: PLC0415
    from watchfloor.posture import TensionLevel  # noqa: PLC0415

    levels: dict[str, Any] = {}
    features: list[dict[str, Any]] = []
    for alert in situation.alerts:
        if alert.get("lon") is None or alert.get("lat") is None:
            continue
        lon, lat = float(alert["lon"]), float(alert["lat"])
        level = int(min(5, max(1, int(alert.get("level", 3)))))
        radius_m = float(alert.get("radius_m", ALERT_RADIUS_M))
        reason = str(alert.get("summary", "community tension"))
        if isinstance(alert.get("geometry"), dict):
            area = shapely.geometry.shape(alert["geometry"])
            inside = shapely.contains_xy(area, sites.lon, sites.lat) if len(sites) else []
        else:
            inside = haversine_m(sites.lon, sites.lat, lon, lat) <= radius_m if len(sites) else []
        if len(sites):
            for i in np.flatnonzero(inside).tolist():
                sid = sites.site_id[i]
                if sid not in levels or levels[sid].level < level:
                    levels[sid] = TensionLevel(level=level, reason=reason)
        if isinstance(alert.get("geometry"), dict):
            geometry = alert["geometry"]
        else:
            geometry = _circle(lon, lat, radius_m)
        features.append(
            {
                "type": "Feature",
                "properties": {"level": level, "summary": reason, "area": alert.get("area", "")},
                "geometry": geometry,
            }
        )
    return levels, features


def _circle(lon: float, lat: float, radius_m: float, n: int = 48) -> dict[str, Any]:
    angle = np.linspace(0.0, 2 * np.pi, n + 1)
    dlat = radius_m / 111_320.0
    dlon = dlat / max(np.cos(np.radians(lat)), 1e-6)
    ring = np.column_stack([lon + dlon * np.cos(angle), lat + dlat * np.sin(angle)])
    ring[-1] = ring[0]
    return {"type": "Polygon", "coordinates": [np.round(ring, 6).tolist()]}


def _patrol_stage(stage: StageInput, body: dict[str, Any], posture: Any) -> str | None:
    """Plan patrols for each shift; fill ``body["shifts"]``. Returns a note when skipped."""
    svc = _optional_service("watchfloor.services.patrol")
    if svc is None:
        return "patrol planning is not installed"
    where = {s["site_id"]: (s["lon"], s["lat"]) for s in body["sites"]}
    value = np.asarray(posture.value)
    keys = ("current", "next")

    def solve(key: str, shift: Shift) -> dict[str, Any]:
        cols = [j for j, t in enumerate(posture.slot_start) if shift.start <= t < shift.end]
        region, keep, cutoff = _game_sites(stage, value[:, cols])
        t0 = time.perf_counter()
        plan = svc.plan_for_region(
            region,
            value[np.ix_(keep, cols)],
            [posture.slot_start[j] for j in cols],
            slot_minutes=posture.slot_minutes,
            n_units=stage.config.patrol_units,
            n_foot=stage.config.foot_units,
            shift_start=shift.start,
            shift_end=shift.end,
            time_limit_s=stage.config.time_limit_s,
        )
        data = svc.plan_to_dict(plan)
        t_paths = time.perf_counter()
        paths = _unit_paths(plan)
        paths_s = time.perf_counter() - t_paths
        shift_body = _shift_json(key, shift, data, paths, where)
        shift_body.update(
            n_game_sites=int(keep.size),
            # Sites left out of the game never exceed this risk; when it is below
            # the guarantee no attacker would choose them and the reduction is exact.
            max_risk_left_out=cutoff,
            exact=cutoff <= float(data["guarantee"]),
            solve_s=time.perf_counter() - t0,
            paths_s=paths_s,
        )
        return shift_body

    # The two shifts are independent games: solve them side by side (HiGHS and
    # the numba kernels release the interpreter lock).
    with stage.timer.step("patrols"), ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(solve, k, sh) for k, sh in zip(keys, stage.shifts, strict=False)]
        shifts = [f.result() for f in futures]
    for shift_body in shifts:
        # patrol_<shift> includes routes_<shift>: the road geometry of the units' legs.
        stage.timer.timings_s[f"patrol_{shift_body['key']}"] = shift_body["solve_s"]
        stage.timer.timings_s[f"routes_{shift_body['key']}"] = shift_body["paths_s"]
    body["shifts"].extend(shifts)
    return None


#: Road geometry of patrol legs, by (engine, from node, to node): consecutive plans
#: over the same riskiest sites drive many of the same legs. The newest kept.
_LEG_CACHE: OrderedDict[tuple[int, int, int], npt.NDArray[np.float64]] = OrderedDict()
_LEG_ENGINES: dict[int, Any] = {}
_LEG_CACHE_SIZE = 6000
_LEG_LOCK = threading.Lock()


def _leg_lonlat(engine: Any, a: int, b: int) -> npt.NDArray[np.float64]:
    """Return the road polyline (lon, lat rows, 6 decimals) of the fastest drive from a to b."""
    key = (id(engine), a, b)
    with _LEG_LOCK:
        hit = _LEG_CACHE.get(key)
        if hit is not None:
            _LEG_CACHE.move_to_end(key)
            return hit
    lonlat = np.asarray(engine.route(a, b).lonlat, dtype=np.float64)
    line: npt.NDArray[np.float64] = np.empty_like(lonlat)
    np.round(lonlat, 6, out=line)
    with _LEG_LOCK:
        _LEG_ENGINES[id(engine)] = engine  # keeps the id from being reused while cached
        _LEG_CACHE[key] = line
        while len(_LEG_CACHE) > _LEG_CACHE_SIZE:
            _LEG_CACHE.popitem(last=False)
    return line


def _unit_paths(plan: Any) -> dict[str, list[list[float]]]:
    """Return each unit's whole route along the roads, legs joined (lon, lat pairs).

    The same geometry as the patrol service's GeoJSON legs, with each leg's
    road search cached across plans.
    """
    paths: dict[str, list[list[float]]] = {}
    for route in plan.routes:
        engine = plan.engines.get(route.mode, plan.engines["vehicle"])
        line = paths.setdefault(route.unit_id, [])
        for leg in route.legs:
            a, b = plan.location_node(leg.from_location), plan.location_node(leg.to_location)
            coords: list[list[float]] = []
            if a != b:
                coords = _leg_lonlat(engine, a, b).tolist()
            if len(coords) < 2:
                coords = [
                    [round(v, 6) for v in plan.location_lonlat(leg.from_location)],
                    [round(v, 6) for v in plan.location_lonlat(leg.to_location)],
                ]
            line.extend(coords[1:] if line and line[-1] == coords[0] else coords)
    return paths


def _shift_json(
    key: str,
    shift: Shift,
    data: dict[str, Any],
    paths: dict[str, list[list[float]]],
    where: dict[str, tuple[float, float]],
) -> dict[str, Any]:
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


def _game_sites(stage: StageInput, value: Any) -> tuple[Any, Any, float]:
    """Return the region cut to the game's sites, their indices and the largest risk left out.

    The game is played over the ``config.game_sites`` riskiest sites of the
    shift plus every police station (the units' bases). The rest are left out
    of the solve to keep a re-plan within seconds; ``max_risk_left_out`` tells
    whether that could change the answer.
    """
    from dataclasses import replace as dc_replace  # noqa: PLC0415

    region = stage.view.region
    peak = value.max(axis=1) if value.size else np.zeros(len(region.sites))
    order = np.argsort(-peak, kind="stable")
    top = order[: stage.config.game_sites]
    stations = np.flatnonzero(np.asarray(region.sites.kind) == "police_station")
    keep = np.union1d(top, stations).astype(np.int64)
    rest = np.setdiff1d(np.arange(peak.size), keep)
    cutoff = float(peak[rest].max()) if rest.size else 0.0
    if keep.size == len(region.sites):
        return region, keep, cutoff
    return dc_replace(region, sites=region.sites.take(keep)), keep, cutoff


_ARV_PROBLEMS: dict[tuple[str, int], Any] = {}
_REACH_CACHE: dict[tuple[int, int, float], list[dict[str, Any]]] = {}
_ARV_PLACEMENTS: dict[tuple[Any, ...], Any] = {}


#: Reach bands drawn around each ARV base, as fractions of the response standard.
REACH_BAND_FRACTIONS = (1 / 3, 2 / 3, 1.0)


def _reach_areas(engine: Any, nodes: Any, *, budget_s: float) -> dict[str, Any]:
    """Return, per base, the isochrone bands its unit reaches (GeoJSON polygons).

    Bands at a third, two thirds and all of ``budget_s`` (5, 10 and 15 minutes
    for a 15-minute standard), from one travel-time search per base
    (:func:`watchfloor.services.reach.reach_bands`). Bases are cached per
    engine, node and budget: a re-plan that keeps a base reuses its bands.
    """
    from watchfloor.services.reach import reach_bands  # noqa: PLC0415

    budgets = tuple(round(budget_s * f, 1) for f in REACH_BAND_FRACTIONS)
    features = []
    for u, node in enumerate(np.asarray(nodes).tolist()):
        key = (id(engine), int(node), float(budget_s))
        bands = _REACH_CACHE.get(key)
        if bands is None:
            bands = reach_bands(engine, int(node), budgets_s=budgets)
            _REACH_CACHE[key] = bands
        for band in bands:
            props = {**band["properties"], "unit": f"ARV{u + 1}", "node": int(node)}
            features.append({**band, "properties": props})
    return {"type": "FeatureCollection", "features": features}


def _arv_stage(stage: StageInput, body: dict[str, Any], posture: Any) -> str | None:
    """Place the ARVs (MEXCLP) with their isochrones; fill ``body["arv"]``.

    The demand, candidates and blue-light travel times of a region are built
    once and kept; each re-plan solves the placement again.
    """
    svc = _optional_service("watchfloor.services.arv")
    if svc is None:
        return "ARV placement is not installed"
    view, cfg = stage.view, stage.config
    key = (str(view.region.path), view.mtime_ns)
    problem = _ARV_PROBLEMS.get(key)
    if problem is None:
        with stage.timer.step("arv_problem"):
            problem = svc.build_problem(view.region)
        _ARV_PROBLEMS[key] = problem
    # Demand and candidates do not depend on the situation, so neither does the
    # placement: it is solved once per region and unit count, then reused.
    placed_key = (*key, cfg.arv_units, cfg.time_limit_s)
    placement = _ARV_PLACEMENTS.get(placed_key)
    if placement is None:
        with stage.timer.step("arv"):
            placement = svc.plan_bases(
                problem, n_units=cfg.arv_units, model="mexclp", time_limit_s=cfg.time_limit_s
            )
        _ARV_PLACEMENTS[placed_key] = placement
    nodes = np.asarray(problem.candidate_node)[np.asarray(placement.sites)]
    graph = problem.engine.graph
    with stage.timer.step("isochrones"):
        iso = _reach_areas(problem.engine, nodes, budget_s=cfg.arv_standard_s)
        reach = problem.engine.nearest_source(nodes, cutoff_s=cfg.arv_standard_s)[0]
    atoms = np.asarray(problem.atom_node)
    covered = np.isfinite(reach[atoms]) & (reach[atoms] <= np.asarray(problem.standard_s))
    demand = np.asarray(problem.demand, dtype=np.float64)
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
    body["arv"] = {
        "model": placement.model,
        "status": placement.status,
        "gap": float(placement.gap),
        "objective": float(placement.objective),
        "bases": bases,
        "standard_s": cfg.arv_standard_s,
        "covered_share": float(demand[covered].sum() / demand.sum()) if demand.sum() else 0.0,
        "demand_sources": list(problem.demand_sources),
        "isochrones": _jsonable(iso),
    }
    return None


# -- reports near sites -------------------------------------------------------------------

#: A cluster: at least this many located reports within the radius of one site in the window.
CLUSTER_MIN_REPORTS = 3
CLUSTER_RADIUS_M = 300.0
CLUSTER_WINDOW = timedelta(hours=24)


def watch_report_clusters(
    room: OperationsRoom, database: Database, region: str, *, now: datetime | None = None
) -> list[Job]:
    """Raise a ``report_cluster`` alert (and re-plan) for each site with a new cluster of reports.

    A cluster is at least :data:`CLUSTER_MIN_REPORTS` located reports received
    within :data:`CLUSTER_RADIUS_M` of a site in the last :data:`CLUSTER_WINDOW`.
    A site is alerted once per window. Returns the re-plan jobs submitted.
    """
    from watchfloor.geo import haversine_m  # noqa: PLC0415
    from watchfloor.storage.models import Report  # noqa: PLC0415

    moment = now or room.now()
    view = region_view(room.settings, region)
    west, south, east, north = view.bbox
    with database.session() as session:
        rows = session.execute(
            select(Report.lon, Report.lat).where(
                Report.lon.between(west, east),
                Report.lat.between(south, north),
                Report.received_at >= moment - CLUSTER_WINDOW,
                Report.received_at <= moment,
            )
        ).all()
    if len(rows) < CLUSTER_MIN_REPORTS:
        return []
    lon = np.array([r[0] for r in rows], dtype=np.float64)
    lat = np.array([r[1] for r in rows], dtype=np.float64)
    sites = view.region.sites
    recent = {
        str(e.payload.get("site_id"))
        for e in room.timeline(region, limit=500)
        if e.kind == "report_cluster" and e.recorded_at >= moment - CLUSTER_WINDOW
    }
    jobs = []
    for i in range(len(sites)):
        if sites.site_id[i] in recent or sites.kind[i] == "police_station":
            continue
        near = int((haversine_m(lon, lat, sites.lon[i], sites.lat[i]) <= CLUSTER_RADIUS_M).sum())
        if near >= CLUSTER_MIN_REPORTS:
            name = sites.name[i] or sites.category[i]
            alert = {
                "summary": f"{near} reports within {CLUSTER_RADIUS_M:.0f} m of {name} in 24 h",
                "site_id": sites.site_id[i],
                "lon": float(sites.lon[i]),
                "lat": float(sites.lat[i]),
                "radius_m": CLUSTER_RADIUS_M,
                "level": 3,
            }
            jobs.append(room.raise_alert(region, alert, kind="report_cluster"))
            recent.add(sites.site_id[i])
    return jobs
