"""The operations room: situation in, plan out, re-planned in the background.

Every change to a region's situation (an event declared, the threat level,
a calendar entry, a tension alert or a cluster of reports) is recorded in the
situation log and submits a re-plan job to one background worker
(:class:`~watchfloor.services.operations.worker.ReplanWorker`), which runs the
plan builder (:func:`watchfloor.services.operations.stages.default_builder`:
posture, patrols for two shifts, ARV bases), records how long each step took,
compares the new plan with the one in force
(:func:`~watchfloor.services.operations.plans.compare_plans`) and puts it in
force. A job that fails leaves the last good plan in force; the failure and
its message are kept on the job and in the timeline.

Imports every other module of the package except the pages
(:mod:`~watchfloor.services.operations.panels`), which read the room.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from watchfloor.errors import (
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from watchfloor.geo import haversine_m
from watchfloor.services.operations.plans import (
    Job,
    JsonDict,
    Plan,
    PlanBody,
    PlanBuilder,
    PlanDiff,
    Timer,
)
from watchfloor.services.operations.situation import (
    ALERT_KINDS,
    CLOCK_SKEW,
    CROSS_REGION_ROLES,
    PUBLISHING_ROLES,
    SYSTEM,
    Actor,
    CalendarEntry,
    EventDeclaration,
    LogEntry,
    PublicMessage,
    Situation,
    aware_utc,
    check_playbook,
    check_threat_level,
    event_payload,
    new_id,
    region_data_time,
    validate_event,
)
from watchfloor.services.operations.stages import RoomConfig, default_builder
from watchfloor.services.operations.state import RoomState
from watchfloor.services.operations.store import OpsStore, recent_report_points
from watchfloor.services.operations.worker import ReplanWorker
from watchfloor.services.regions import RegionCache, region_view
from watchfloor.settings import Settings
from watchfloor.storage.db import Database
from watchfloor.types import Role

__all__ = [
    "CLUSTER_MIN_REPORTS",
    "CLUSTER_RADIUS_M",
    "CLUSTER_WINDOW",
    "OperationsRoom",
    "watch_report_clusters",
]

log = logging.getLogger(__name__)


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
    regions
        The region cache every read of a region goes through; the process's
        own unless given (a test injects one with a counting loader).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        builder: PlanBuilder | None = None,
        clock: Callable[[], datetime] | None = None,
        store: OpsStore | None = None,
        config: RoomConfig | None = None,
        regions: RegionCache | None = None,
    ) -> None:
        self.settings = settings
        self.regions = regions
        self.config = config or RoomConfig()
        self._clock = clock if clock is not None else (lambda: datetime.now(UTC))
        self._store = store
        self._state = RoomState()
        self._worker = ReplanWorker(
            settings,
            self._state,
            builder=builder if builder is not None else self._default_builder,
            clock=self._clock,
            store=store,
            on_failure=self._log_failure,
        )
        if store is not None:
            self._state.restore(store)

    # -- reading -------------------------------------------------------------------------

    def now(self) -> datetime:
        """Return the room's clock (UTC)."""
        return self._clock()

    def situation(self, region: str) -> Situation:
        """Return the current situation of ``region`` (empty when nothing was declared)."""
        return self._state.situation(region)

    def plan(self, region: str) -> Plan | None:
        """Return the plan in force for ``region``, or None before the first plan."""
        with self._state.lock:
            return self._state.plans.get(region)

    def diff(self, region: str) -> PlanDiff | None:
        """Return what the plan in force changed against the one before it."""
        with self._state.lock:
            return self._state.diffs.get(region)

    def jobs(self, region: str | None = None, *, limit: int = 20) -> list[JsonDict]:
        """Return the most recent jobs (newest first), of one region or all."""
        with self._state.lock:
            rows = [j for j in self._state.jobs.values() if region is None or j.region == region]
            rows.sort(key=lambda j: j.submitted_at, reverse=True)
            return [j.snapshot() for j in rows[:limit]]

    def job(self, job_id: str) -> JsonDict:
        """Return one job as JSON-ready data."""
        with self._state.lock:
            found = self._state.jobs.get(job_id)
            if found is None:
                msg = f"no re-plan job {job_id!r}; list jobs at /api/ops/jobs"
                raise NotFoundError(msg)
            return found.snapshot()

    def timeline(self, region: str, *, limit: int = 100) -> list[LogEntry]:
        """Return the situation log of ``region``, newest first."""
        # The log is kept in the order entries were recorded.
        with self._state.lock:
            rows = [e for e in reversed(self._state.log) if e.region == region]
        return rows[:limit]

    def alerts(self, actor: Actor, *, region: str | None = None) -> list[LogEntry]:
        """Return tension alerts and report clusters the actor may see, newest first.

        Regional counter-terrorism staff (and admins) see every region; other
        staff see their own region (or the one asked for when they have none).
        """
        with self._state.lock:
            rows = [e for e in reversed(self._state.log) if e.kind in ALERT_KINDS]
        if actor.roles & CROSS_REGION_ROLES:
            return rows
        mine = actor.region or region
        return [e for e in rows if e.region == mine]

    def wait(self, job_id: str, *, timeout_s: float = 60.0) -> JsonDict:
        """Block until a job has finished (or the timeout passes) and return it."""
        return self._worker.wait(job_id, timeout_s=timeout_s)

    def published_message(self, region: str) -> PublicMessage | None:
        """Return the latest published public message of ``region``, or None."""
        with self._state.lock:
            rows = self._state.messages.get(region, [])
            return rows[-1] if rows else None

    def sync(self, *, min_interval_s: float = 2.0) -> None:
        """Take in what other processes (the command line, another server) stored since.

        New situation-log entries are applied, newer plans put in force and new
        public messages shown; at most once per ``min_interval_s``.
        """
        if self._store is not None:
            self._state.sync(self._store, min_interval_s=min_interval_s)

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
        event = self._checked_event(region, event)
        entry = self._record(
            region,
            "event",
            event.summary(),
            event_payload(event),
            occurred_at=event.at,
            actor=actor,
        )
        with self._state.lock:
            old = self.situation(region)
            self._state.change(
                region,
                event=event,
                event_id=entry.entry_id,
                threat_level=event.threat_level or old.threat_level,
            )
        return self._submit(region, f"event declared: {event.summary()}")

    def _checked_event(self, region: str, event: EventDeclaration) -> EventDeclaration:
        """Return ``event`` validated against the clock, the region's data and the posture model."""
        at = aware_utc(event.at, "event time")
        now = self.now()
        if at > now + CLOCK_SKEW:
            msg = (
                f"the event time {at.isoformat()} is in the future (now {now.isoformat()}); "
                "declare events that have happened"
            )
            raise InvalidInputError(msg)
        data_from = region_data_time(self.settings, region, regions=self.regions)
        if data_from is not None and at < data_from:
            msg = (
                f"the event time {at.isoformat()} is before region {region!r}'s map data "
                f"({data_from.date().isoformat()}); declare a later event or build the "
                "region from an older extract"
            )
            raise InvalidInputError(msg)
        level = check_threat_level(event.threat_level) if event.threat_level else None
        checked = validate_event(replace(event, at=at), self.situation(region).threat_level)
        return replace(
            event,
            kind=checked.kind,
            at=at,
            targeted_community=checked.targeted_community,
            backlash_community=checked.backlash_community,
            threat_level=level,
            playbook=check_playbook(self.settings, event.playbook) if event.playbook else None,
        )

    def set_threat_level(self, region: str, level: str, *, actor: Actor) -> Job:
        """Change the national threat level used for ``region`` and submit a re-plan."""
        self._authorise(actor, region)
        value = check_threat_level(level)
        region_data_time(self.settings, region, regions=self.regions)
        self._record(
            region,
            "threat",
            f"threat level set to {value}",
            {"level": value},
            occurred_at=None,
            actor=actor,
        )
        self._state.change(region, threat_level=value)
        return self._submit(region, f"threat level {value}")

    def add_calendar_entry(self, region: str, entry: CalendarEntry, *, actor: Actor) -> Job:
        """Add a calendar window (e.g. a match or a vigil) and submit a re-plan."""
        self._authorise(actor, region)
        start, end = aware_utc(entry.start, "calendar start"), aware_utc(entry.end, "calendar end")
        if end <= start:
            msg = f"calendar entry {entry.name!r} ends before it starts; give an end after {start}"
            raise InvalidInputError(msg)
        if not entry.name.strip():
            msg = "a calendar entry needs a name, e.g. 'Oakham v Stamford, Oakham FC'"
            raise InvalidInputError(msg)
        region_data_time(self.settings, region, regions=self.regions)
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
        with self._state.lock:
            old = self.situation(region)
            self._state.change(region, calendar=(*old.calendar, entry))
        return self._submit(region, f"calendar entry {entry.name}")

    def raise_alert(self, region: str, alert: JsonDict, *, kind: str = "tension_alert") -> Job:
        """Record a tension alert or a cluster of reports near a site and re-plan.

        ``alert`` carries at least ``summary``; ``lon``/``lat`` or ``area`` and
        ``level`` (1-5) when known. ``kind`` is ``"tension_alert"`` or
        ``"report_cluster"``.
        """
        if kind not in ALERT_KINDS:
            msg = f"unknown alert kind {kind!r}; use tension_alert or report_cluster"
            raise InvalidInputError(msg)
        summary = str(alert.get("summary") or kind.replace("_", " "))
        self._record(region, kind, summary, dict(alert), occurred_at=None, actor=SYSTEM)
        with self._state.lock:
            old = self.situation(region)
            self._state.change(region, alerts=(*old.alerts, dict(alert)))
        return self._submit(region, f"{kind.replace('_', ' ')}: {summary}")

    def replan(self, region: str, *, actor: Actor, reason: str = "manual re-plan") -> Job:
        """Submit a re-plan of ``region`` with its current situation."""
        self._authorise(actor, region)
        region_data_time(self.settings, region, regions=self.regions)
        return self._submit(region, reason)

    def publish_message(self, region: str, text: str, *, actor: Actor) -> PublicMessage:
        """Publish the reassurance message of the day for ``region``; return it."""
        if not actor.roles & PUBLISHING_ROLES:
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
        message = PublicMessage(
            id=new_id(),
            region=region,
            text=body,
            author=actor.name,
            created_at=now,
            published_at=now,
        )
        if self._store is not None:
            self._store.save_message(message)
        self._state.add_message(message)
        log.info("published the public message for %s (%d characters)", region, len(body))
        return message

    def add_plan_listener(self, listener: Callable[[str, Plan], None]) -> None:
        """Call ``listener(region, plan)`` in the worker each time a new plan comes into force.

        A listener that raises is logged and does not affect the plan.
        """
        self._worker.add_listener(listener)

    # -- machinery -----------------------------------------------------------------------

    def _default_builder(
        self, settings: Settings, situation: Situation, now: datetime, timer: Timer
    ) -> PlanBody:
        return default_builder(settings, situation, now, timer, self.config, regions=self.regions)

    def close(self) -> None:
        """Stop the background worker after the running job."""
        self._worker.close()

    def _authorise(self, actor: Actor, region: str) -> None:
        if not actor.can_plan():
            msg = (
                f"{actor.name} may not change the situation; "
                "it needs the planner, supervisor or regional_ct role"
            )
            raise PermissionDeniedError(msg)
        if (
            actor.region is not None
            and actor.region != region
            and Role.REGIONAL_CT not in actor.roles
        ):
            msg = f"{actor.name} plans for {actor.region}, not {region}"
            raise PermissionDeniedError(msg)

    def _record(
        self,
        region: str,
        kind: str,
        summary: str,
        payload: JsonDict,
        *,
        occurred_at: datetime | None,
        actor: Actor,
    ) -> LogEntry:
        now = self.now()
        entry = LogEntry(
            entry_id=new_id(),
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
        self._state.record(entry)
        return entry

    def _submit(self, region: str, trigger: str) -> Job:
        return self._worker.submit(region, trigger)

    def _log_failure(self, job: Job, message: str) -> None:
        self._record(
            job.region,
            "failure",
            f"re-plan failed: {message}",
            {"job_id": job.job_id},
            occurred_at=None,
            actor=SYSTEM,
        )


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
    moment = now or room.now()
    view = region_view(room.settings, region, regions=room.regions)
    points = recent_report_points(database, view.bbox, since=moment - CLUSTER_WINDOW, until=moment)
    if len(points) < CLUSTER_MIN_REPORTS:
        return []
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
        near_m = haversine_m(points.lon, points.lat, sites.lon[i], sites.lat[i])
        near = int((near_m <= CLUSTER_RADIUS_M).sum())
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
