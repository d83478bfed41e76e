"""The operations room: a region's situation in, a plan of patrols and ARVs out.

Modules, in the order they import each other (no module imports one below it):

- ``situation``: the declared picture (actors and role sets, events, threat level,
  calendar, shifts) and its checks;
- ``plans``: what a re-plan produces (``PlanBody`` of ``RankedSite``, ``ShiftPatrols`` and
  ``ArvCover``; ``Plan``, ``PlanDiff``, jobs, timer), all frozen dataclasses;
- ``views``: the JSON form of those values, both ways (the only serialiser of a body);
- ``store``: the operations tables and the dashboard's reads of reports (the only SQL);
- ``stages``: posture -> patrols -> ARV bases, and ``default_builder`` that runs them;
- ``state``, ``worker`` and ``room``: the room's memory, the background worker that
  runs one re-plan at a time, and the ``OperationsRoom`` whose commands change the
  situation and submit re-plans;
- ``panels``: what the dashboard, a unit's briefing and the public page show.

May import the foundation, the pure solvers, ``storage``, and the ``regions``,
``posture``, ``patrol``, ``arv``, ``reach`` and ``cache`` services; never the web
or the command line. The names below are the package's public surface.
"""

from __future__ import annotations

from watchfloor.services.operations.panels import (
    DEFAULT_MESSAGE,
    REPORTING_LINES,
    SHIFT_KEYS,
    arv_base_positions,
    community_update,
    dashboard_page,
    dashboard_status,
    dispatch_advice,
    regions_status,
    status_json,
    unit_briefing,
)
from watchfloor.services.operations.plans import (
    ArvBase,
    ArvCover,
    Job,
    Plan,
    PlanBody,
    PlanBuilder,
    PlanDiff,
    RankedSite,
    ShiftPatrols,
    Timer,
    UnitPatrol,
    Visit,
    compare_plans,
)
from watchfloor.services.operations.room import OperationsRoom, watch_report_clusters
from watchfloor.services.operations.situation import (
    CROSS_REGION_ROLES,
    OPS_ROLES,
    PLANNING_ROLES,
    PUBLISHING_ROLES,
    SHIFT_STARTS_H,
    Actor,
    CalendarEntry,
    EventDeclaration,
    LogEntry,
    PublicMessage,
    Shift,
    Situation,
    iter_shifts,
    playbook_names,
    region_data_time,
    shift_at,
)
from watchfloor.services.operations.stages import RoomConfig, default_builder
from watchfloor.services.operations.store import OpsStore, report_queues, reports_geojson
from watchfloor.services.operations.views import (
    log_entry_json,
    message_json,
    plan_body_json,
    plan_diff_json,
    ranked_site_json,
)

__all__ = [
    "CROSS_REGION_ROLES",
    "DEFAULT_MESSAGE",
    "OPS_ROLES",
    "PLANNING_ROLES",
    "PUBLISHING_ROLES",
    "REPORTING_LINES",
    "SHIFT_KEYS",
    "SHIFT_STARTS_H",
    "Actor",
    "ArvBase",
    "ArvCover",
    "CalendarEntry",
    "EventDeclaration",
    "Job",
    "LogEntry",
    "OperationsRoom",
    "OpsStore",
    "Plan",
    "PlanBody",
    "PlanBuilder",
    "PlanDiff",
    "PublicMessage",
    "RankedSite",
    "RoomConfig",
    "Shift",
    "ShiftPatrols",
    "Situation",
    "Timer",
    "UnitPatrol",
    "Visit",
    "arv_base_positions",
    "community_update",
    "compare_plans",
    "dashboard_page",
    "dashboard_status",
    "default_builder",
    "dispatch_advice",
    "iter_shifts",
    "log_entry_json",
    "message_json",
    "plan_body_json",
    "plan_diff_json",
    "playbook_names",
    "ranked_site_json",
    "region_data_time",
    "regions_status",
    "report_queues",
    "reports_geojson",
    "shift_at",
    "status_json",
    "unit_briefing",
    "watch_report_clusters",
]
