"""Protective patrols as Stackelberg security games.

* :mod:`~watchfloor.patrol.game`: security games with K resources each covering
  one target; exact strong Stackelberg equilibrium (water-filling; ERASER MILP
  for Bayesian attacker types).
* :mod:`~watchfloor.patrol.schedule`: the schedule-constrained game over
  site-slots, whose coverage feasible shift routes realise (transition-graph
  flows, HiGHS), with operator pins.
* :mod:`~watchfloor.patrol.routes`: exact pricing of one unit's route (longest
  path on the time-expanded DAG).
* :mod:`~watchfloor.patrol.certificate`: a proven lower bound on the best
  guarantee any routes can reach (expected-visit relaxation by column generation),
  and the site-slots no unit can reach in time.
* :mod:`~watchfloor.patrol.colgen`: the certified plan: column generation over joint
  rotas from today's mixture to a requested gap (:func:`solve_patrol_game`).
* :mod:`~watchfloor.patrol.levels`: the lexicographic min-max over coverage columns
  (the plan is never indifferent above its guarantee).
* :mod:`~watchfloor.patrol.handover`: the next shift's units start where the last
  shift's routes leave them.
* :mod:`~watchfloor.patrol.mixture`: the schedule LP mixed with greedy joint rotas.
* :mod:`~watchfloor.patrol.sampling`: concrete routes drawn from the flows.
* :mod:`~watchfloor.patrol.metrics`: predictability (visit-time entropy, the
  learning attacker) and dosage.
* :mod:`~watchfloor.patrol.reference`: the brute-force multiple-LPs solver.

Pure numerical code over arrays: no files, database, settings or clock (time
limits are CPU-time budgets); imports only numpy, scipy, highspy and the
foundation (``watchfloor.errors``, ``watchfloor.types``). Randomness is an
``rng`` argument.
"""

from watchfloor.patrol.certificate import (
    OPTIMAL_GAP,
    Certificate,
    RouteGame,
    Uncoverable,
    certify,
    route_game_from_arrays,
)
from watchfloor.patrol.colgen import certify_mixture, solve_patrol_game
from watchfloor.patrol.game import (
    GameSolution,
    SecurityGame,
    attacker_best_response,
    sample_assignments,
    solve_game,
)
from watchfloor.patrol.handover import position_at, units_at_handover
from watchfloor.patrol.metrics import (
    EmpiricalCoverage,
    VisitLengths,
    empirical_coverage,
    hits_of_shift,
    inter_visit_spread_s,
    learning_attacker_gains,
    peak_revisit_share,
    visit_lengths,
    visit_time_entropy_bits,
    visits_per_unit_hour,
)
from watchfloor.patrol.mixture import JointRota, PatrolMixture, greedy_rota, mix_with_rotas
from watchfloor.patrol.routes import BestRoute, best_route
from watchfloor.patrol.sampling import (
    ClassStrategy,
    Leg,
    RouteCheck,
    UnitRoute,
    Visit,
    check_route,
    class_strategies,
    mixture_entropy_bits,
    sample_mixture_shift,
    sample_shift,
    strategy_entropy_bits,
)
from watchfloor.patrol.schedule import (
    DWELL_MAX_S,
    DWELL_MIN_S,
    ClassFlow,
    PatrolSchedule,
    PatrolUnit,
    Pin,
    solve_patrol_schedule,
)

__all__ = [
    "DWELL_MAX_S",
    "DWELL_MIN_S",
    "OPTIMAL_GAP",
    "BestRoute",
    "Certificate",
    "ClassFlow",
    "ClassStrategy",
    "EmpiricalCoverage",
    "GameSolution",
    "JointRota",
    "Leg",
    "PatrolMixture",
    "PatrolSchedule",
    "PatrolUnit",
    "Pin",
    "RouteCheck",
    "RouteGame",
    "SecurityGame",
    "Uncoverable",
    "UnitRoute",
    "Visit",
    "VisitLengths",
    "attacker_best_response",
    "best_route",
    "certify",
    "certify_mixture",
    "check_route",
    "class_strategies",
    "empirical_coverage",
    "greedy_rota",
    "hits_of_shift",
    "inter_visit_spread_s",
    "learning_attacker_gains",
    "mix_with_rotas",
    "mixture_entropy_bits",
    "peak_revisit_share",
    "position_at",
    "route_game_from_arrays",
    "sample_assignments",
    "sample_mixture_shift",
    "sample_shift",
    "solve_game",
    "solve_patrol_game",
    "solve_patrol_schedule",
    "strategy_entropy_bits",
    "units_at_handover",
    "visit_lengths",
    "visit_time_entropy_bits",
    "visits_per_unit_hour",
]
