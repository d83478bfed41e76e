"""The room's memory: situations, plans, diffs, jobs, the log and messages behind one lock.

:class:`RoomState` is what an :class:`~watchfloor.services.operations.room.OperationsRoom`
knows at a moment, and how it learns what another process stored: it is
rebuilt from the store when a room starts (:meth:`RoomState.restore`) and
takes in newer log entries, plans and messages on :meth:`RoomState.sync`.
Replaying a log entry (:meth:`RoomState.apply`) changes the situation the
same way the command that recorded it did. Imports the situation, plans and
store modules.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from datetime import datetime

from watchfloor.services.operations.plans import Job, Plan, PlanDiff
from watchfloor.services.operations.situation import (
    ALERT_KINDS,
    CalendarEntry,
    LogEntry,
    PublicMessage,
    Situation,
    event_from_payload,
)
from watchfloor.services.operations.store import OpsStore

__all__ = ["RoomState"]

log = logging.getLogger(__name__)


class RoomState:
    """Situations, plans, diffs, jobs, the situation log and public messages of every region.

    Every read and write takes :attr:`lock`; values handed out are frozen
    (a :class:`~watchfloor.services.operations.plans.Job` is read through its
    snapshot).
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.situations: dict[str, Situation] = {}
        self.plans: dict[str, Plan] = {}
        self.diffs: dict[str, PlanDiff] = {}
        self.jobs: dict[str, Job] = {}
        self.log: list[LogEntry] = []
        self.messages: dict[str, list[PublicMessage]] = {}
        self.synced_at = 0.0

    def situation(self, region: str) -> Situation:
        """Return the current situation of ``region`` (empty when nothing was declared)."""
        with self.lock:
            return self.situations.get(region, Situation(region=region))

    def change(self, region: str, **changes: object) -> Situation:
        """Return the situation of ``region`` with ``changes`` applied, now in force."""
        with self.lock:
            new = replace(self.situation(region), **changes)  # type: ignore[arg-type]
            self.situations[region] = new
            return new

    def put_plan(self, plan: Plan, diff: PlanDiff) -> None:
        """Put ``plan`` in force for its region, with its diff."""
        with self.lock:
            self.plans[plan.region] = plan
            self.diffs[plan.region] = diff

    def add_message(self, message: PublicMessage) -> None:
        """Keep a published public message (the newest of a region is shown)."""
        with self.lock:
            self.messages.setdefault(message.region, []).append(message)

    def record(self, entry: LogEntry) -> None:
        """Append an entry to the situation log."""
        with self.lock:
            self.log.append(entry)

    def apply(self, entry: LogEntry) -> None:
        """Change the situation as the command that recorded ``entry`` did."""
        p = entry.payload
        with self.lock:
            old = self.situation(entry.region)
            if entry.kind == "event":
                event = event_from_payload(p)
                self.change(
                    entry.region,
                    event=event,
                    event_id=entry.entry_id,
                    threat_level=event.threat_level or old.threat_level,
                )
            elif entry.kind == "threat":
                self.change(entry.region, threat_level=p["level"])
            elif entry.kind == "calendar":
                cal = CalendarEntry(
                    name=p["name"],
                    start=datetime.fromisoformat(p["start"]),
                    end=datetime.fromisoformat(p["end"]),
                    site_id=p.get("site_id"),
                    weight=float(p.get("weight", 1.5)),
                )
                self.change(entry.region, calendar=(*old.calendar, cal))
            elif entry.kind in ALERT_KINDS:
                self.change(entry.region, alerts=(*old.alerts, dict(p)))

    def restore(self, store: OpsStore) -> None:
        """Rebuild the state from the store (a room starting)."""
        with self.lock:
            for entry in store.load_log():
                self.log.append(entry)
                self.apply(entry)
            for region, (plan, diff) in store.load_latest_plans().items():
                self.plans[region] = plan
                if diff is not None:
                    self.diffs[region] = diff
            for message in store.load_messages():
                self.messages.setdefault(message.region, []).append(message)
            self.synced_at = time.monotonic()

    def sync(self, store: OpsStore, *, min_interval_s: float) -> None:
        """Take in what other processes stored since, at most once per ``min_interval_s``.

        New situation-log entries are applied, newer plans put in force (not
        for a region this process is re-planning) and the public messages
        re-read.
        """
        if time.monotonic() - self.synced_at < min_interval_s:
            return
        self.synced_at = time.monotonic()
        with self.lock:
            known_ids = {e.entry_id for e in self.log}
            last = max((e.recorded_at for e in self.log), default=None)
            current = {region: plan.plan_id for region, plan in self.plans.items()}
            busy = {j.region for j in self.jobs.values() if j.status in {"queued", "running"}}
        fresh = [e for e in store.load_log(since=last) if e.entry_id not in known_ids]
        plans = store.load_latest_plans(known=current)
        messages = store.load_messages()
        with self.lock:
            for entry in fresh:
                self.log.append(entry)
                self.apply(entry)
            for region, (plan, diff) in plans.items():
                mine = self.plans.get(region)
                if region in busy or (mine is not None and mine.created_at >= plan.created_at):
                    continue
                self.plans[region] = plan
                if diff is not None:
                    self.diffs[region] = diff
            self.messages = {}
            for message in messages:
                self.messages.setdefault(message.region, []).append(message)
        if fresh or plans:
            log.info("synced %d log entries and %d plans from the database", len(fresh), len(plans))
