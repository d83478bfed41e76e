"""services.arv as a package: its public surface, pinned, and one blue-light engine per region."""

from __future__ import annotations

import watchfloor.services.arv as arv
from watchfloor.services.arv import ArvProblem, build_problem
from watchfloor.services.regions import graph_engine
from watchfloor.storage.regions import Region

PUBLIC = {
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
}


def test_public_surface_is_pinned_and_importable() -> None:
    assert set(arv.__all__) == PUBLIC
    assert all(getattr(arv, name) is not None for name in arv.__all__)
    # The modules say where each part lives; the names are the package's.
    assert ArvProblem.__module__ == "watchfloor.services.arv.demand"


def test_the_problem_uses_the_regions_blue_light_engine(rutland_region: Region) -> None:
    problem = build_problem(rutland_region, n_generated=5)
    assert problem.engine is graph_engine(rutland_region.graph, profile="blue_light")
