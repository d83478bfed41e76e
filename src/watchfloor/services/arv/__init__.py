"""Armed response: demand, candidate bases, plans, their evaluation, and dispatch advice.

- :mod:`.demand`: demand atoms, response standards and candidate bases
  (``build_problem``, ``ArvProblem``, ``DemandOptions``);
- :mod:`.plan`: bases for a number of units under a location model
  (``plan_bases``, ``station_bases``);
- :mod:`.evaluate`: coverage, queueing and simulation of a set of bases
  (``evaluate_bases``, ``calls_by_hour``);
- :mod:`.dispatch`: units ranked by road ETA to an incident (``dispatch_advice``);
- :mod:`.outputs`: plans as GeoJSON and PNG, and read back.

May import the pure placement solvers (:mod:`watchfloor.placement`), the
region picture (:mod:`watchfloor.services.regions`), ingest, storage, the
engine and the foundation; never the web or the CLI. Every public name is
importable from here.
"""

from __future__ import annotations

from watchfloor.services.arv.demand import (
    DEFAULT_STANDARDS_S,
    INCIDENT_GROUPS,
    SITE_WEIGHTS,
    ArvProblem,
    DemandOptions,
    build_problem,
    parse_duration_s,
)
from watchfloor.services.arv.dispatch import (
    PlanUnits,
    UnitTimeCache,
    UnitTimes,
    dispatch_advice,
    unit_times,
)
from watchfloor.services.arv.evaluate import HOUR_PROFILES, calls_by_hour, evaluate_bases
from watchfloor.services.arv.outputs import (
    bases_from_plan,
    plan_to_geojson,
    read_plan,
    write_plan,
    write_plan_png,
)
from watchfloor.services.arv.plan import MIN_REACHABLE_SHARE, MODELS, plan_bases, station_bases

__all__ = [
    "DEFAULT_STANDARDS_S",
    "HOUR_PROFILES",
    "INCIDENT_GROUPS",
    "MIN_REACHABLE_SHARE",
    "MODELS",
    "SITE_WEIGHTS",
    "ArvProblem",
    "DemandOptions",
    "PlanUnits",
    "UnitTimeCache",
    "UnitTimes",
    "bases_from_plan",
    "build_problem",
    "calls_by_hour",
    "dispatch_advice",
    "evaluate_bases",
    "parse_duration_s",
    "plan_bases",
    "plan_to_geojson",
    "read_plan",
    "station_bases",
    "unit_times",
    "write_plan",
    "write_plan_png",
]
