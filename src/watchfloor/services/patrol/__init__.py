"""Patrol use-cases: plain security games from a CSV, and shift plans for a region.

- :mod:`.games`: an analyst's payoff table read and solved (``solve_game_csv``);
- :mod:`.shifts`: shifts and pins as an operator types them;
- :mod:`.plan`: a region's shift plan from the posture (``plan_patrols``,
  ``plan_for_region``, ``PatrolPlan``);
- :mod:`.outputs`: the plan as JSON, GeoJSON routes and printable briefings.

May import the pure patrol solver (:mod:`watchfloor.patrol`, public API
only), the posture and region services, storage and the foundation; never
the web or the CLI. Every public name is importable from here.
"""

from __future__ import annotations

from watchfloor.services.patrol.games import (
    GAME_COLUMNS,
    game_from_csv_text,
    game_solution_to_dict,
    solve_game_csv,
)
from watchfloor.services.patrol.outputs import (
    plan_to_dict,
    plan_to_geojson,
    write_briefings,
    write_geojson,
)
from watchfloor.services.patrol.plan import (
    DEFAULT_DETERRENCE,
    PatrolPlan,
    plan_for_region,
    plan_patrols,
)
from watchfloor.services.patrol.shifts import PinRequest, parse_pin, parse_shift

__all__ = [
    "DEFAULT_DETERRENCE",
    "GAME_COLUMNS",
    "PatrolPlan",
    "PinRequest",
    "game_from_csv_text",
    "game_solution_to_dict",
    "parse_pin",
    "parse_shift",
    "plan_for_region",
    "plan_patrols",
    "plan_to_dict",
    "plan_to_geojson",
    "solve_game_csv",
    "write_briefings",
    "write_geojson",
]
