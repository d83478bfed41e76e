"""The operations tables: the situation log, jobs, plans and public messages; report reads.

:class:`OpsStore` keeps what the room must not lose in the database (one
transaction per write; a plan and its job are written after the plan is
complete, so a crash mid-plan leaves the last good plan stored) and reads it
back for a restarted room or another process. The dashboard's reads of the
reports table (queue counts, located reports, recent report positions) are
here too, until the reports service offers them; roles that may not read
reports (planner, admin) see located reports only coarsely
(:func:`reports_geojson`). The only module of the
package that runs SQL; imports storage and the situation, plans and views
modules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select

from watchfloor.services.operations.plans import Job, JsonDict, Plan, PlanDiff
from watchfloor.services.operations.situation import LogEntry, PublicMessage
from watchfloor.services.operations.views import (
    jsonable,
    plan_body_from_json,
    plan_body_json,
    plan_diff_from_json,
    plan_diff_json,
)
from watchfloor.services.reports.staff import READ_ROLES
from watchfloor.storage.db import Database
from watchfloor.storage.models import Report
from watchfloor.storage.ops_models import OpsJobRow, OpsLogRow, OpsMessageRow, OpsPlanRow
from watchfloor.types import FloatArray, ReportQueue, ReportStatus, Role

__all__ = [
    "COARSE_CELL_M",
    "SENSITIVE_QUEUES",
    "OpsStore",
    "ReportPoints",
    "coarse_position",
    "recent_report_points",
    "report_queues",
    "reports_geojson",
    "utc",
]


def utc(moment: datetime) -> datetime:
    """Return ``moment`` as an aware UTC datetime (SQLite returns naive ones, stored in UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


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
        body = plan_body_json(plan.body)
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
                    body=jsonable(body),
                )
            )

    def save_message(self, message: PublicMessage) -> None:
        """Store a published public message."""
        with self.database.session() as session:
            session.add(OpsMessageRow(**message.as_dict()))

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
                    occurred_at=utc(r.occurred_at),
                    recorded_at=utc(r.recorded_at),
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
                    created_at=utc(r.created_at),
                    trigger=r.trigger,
                    timings_s={k: float(v) for k, v in timings.items()},
                    body=plan_body_from_json(body),
                )
                out[region] = (plan, plan_diff_from_json(diff) if diff else None)
        return out

    def load_messages(self) -> list[PublicMessage]:
        """Return every published message, oldest first."""
        with self.database.session() as session:
            rows = session.scalars(
                select(OpsMessageRow)
                .where(OpsMessageRow.published_at.is_not(None))
                .order_by(OpsMessageRow.published_at)
            ).all()
            return [
                PublicMessage(
                    id=r.id,
                    region=r.region,
                    text=r.text,
                    author=r.author,
                    created_at=utc(r.created_at),
                    published_at=utc(r.published_at) if r.published_at else None,
                )
                for r in rows
            ]


# -- reads of the reports table (for the dashboard) ----------------------------------------


def report_queues(database: Database) -> list[JsonDict]:
    """Return each staff queue's counts of new and open reports, with a link to the queue page."""
    with database.session() as session:
        rows = session.execute(
            select(Report.queue, Report.status, func.count())
            .where(Report.status != ReportStatus.CLOSED.value)
            .group_by(Report.queue, Report.status)
        ).all()
    new: dict[str, int] = {}
    open_: dict[str, int] = {}
    for queue, status, n in rows:
        open_[str(queue)] = open_.get(str(queue), 0) + int(n)
        if status == ReportStatus.NEW:
            new[str(queue)] = new.get(str(queue), 0) + int(n)
    known = [q.value for q in ReportQueue]
    names = known + sorted(set(open_) - set(known))
    return [
        {
            "queue": q,
            "label": ReportQueue(q).label if q in known else q.replace("_", " ").title(),
            "count": new.get(q, 0),
            "open": open_.get(q, 0),
            "href": f"/staff/queues?queue={q}&status=new",
        }
        for q in names
    ]


#: Side of the grid cell (metres) a non-reading role sees a report's position snapped to.
COARSE_CELL_M = 150.0

#: Queues whose kind and queue a non-reading role does not see at all.
SENSITIVE_QUEUES = frozenset({ReportQueue.HATE_CRIME, ReportQueue.PREVENT})

_M_PER_DEG_LAT = 111_320.0


def coarse_position(
    lon: float, lat: float, *, cell_m: float = COARSE_CELL_M
) -> tuple[float, float]:
    """Return the centre of the ``cell_m`` grid cell holding ``(lon, lat)`` (degrees).

    Rows are ``cell_m`` of latitude; each row's cells are ``cell_m`` wide at
    the row's centre, so a cell is about ``cell_m`` square anywhere in the UK.
    """
    step_lat = cell_m / _M_PER_DEG_LAT
    row = math.floor(lat / step_lat)
    centre_lat = (row + 0.5) * step_lat
    step_lon = step_lat / math.cos(math.radians(centre_lat))
    centre_lon = (math.floor(lon / step_lon) + 0.5) * step_lon
    return round(centre_lon, 5), round(centre_lat, 5)


def _report_feature(r: Any, *, reader: bool) -> JsonDict:
    if reader:
        return {
            "type": "Feature",
            "properties": {
                "id": int(r.id),
                "kind": r.kind,
                "queue": r.queue,
                "status": r.status,
                "priority": int(r.priority),
                "received_at": utc(r.received_at).isoformat(),
            },
            "geometry": {"type": "Point", "coordinates": [round(r.lon, 5), round(r.lat, 5)]},
        }
    hidden = r.queue in SENSITIVE_QUEUES
    received = utc(r.received_at).replace(minute=0, second=0, microsecond=0)
    return {
        "type": "Feature",
        "properties": {
            "kind": None if hidden else r.kind,
            "queue": None if hidden else r.queue,
            "status": r.status,
            "priority": int(r.priority),
            "received_at": received.isoformat(),
            "coarse_m": COARSE_CELL_M,
        },
        "geometry": {"type": "Point", "coordinates": list(coarse_position(r.lon, r.lat))},
    }


def reports_geojson(
    database: Database,
    bbox: tuple[float, float, float, float],
    *,
    role: Role,
    days: int = 30,
    limit: int = 20_000,
) -> JsonDict:
    """Return located reports inside ``bbox`` from the last ``days`` days as GeoJSON points.

    Only kind, queue, status, priority and time are given: never the text or
    anything about the reporter. A ``role`` that may read reports
    (:data:`watchfloor.services.reports.READ_ROLES`) gets each report's exact
    position, id and time; any other (planner, admin) gets the position
    snapped to the centre of a :data:`COARSE_CELL_M` grid cell, the time to
    the hour, no id, and for hate-crime and Prevent reports no kind or queue.
    """
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
    reader = role in READ_ROLES
    features = [_report_feature(r, reader=reader) for r in rows]
    return {"type": "FeatureCollection", "features": features}


@dataclass(frozen=True)
class ReportPoints:
    """Positions of located reports (degrees), one entry per report."""

    lon: FloatArray
    lat: FloatArray

    def __len__(self) -> int:
        return int(self.lon.size)


def recent_report_points(
    database: Database,
    bbox: tuple[float, float, float, float],
    *,
    since: datetime,
    until: datetime,
) -> ReportPoints:
    """Return the positions of reports inside ``bbox`` received between ``since`` and ``until``."""
    west, south, east, north = bbox
    with database.session() as session:
        rows = session.execute(
            select(Report.lon, Report.lat).where(
                Report.lon.between(west, east),
                Report.lat.between(south, north),
                Report.received_at >= since,
                Report.received_at <= until,
            )
        ).all()
    return ReportPoints(
        lon=np.array([r[0] for r in rows], dtype=np.float64),
        lat=np.array([r[1] for r in rows], dtype=np.float64),
    )
