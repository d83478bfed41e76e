"""Armed-response placement: covering, median and centre models, queueing, simulation.

Pure solvers over travel-time matrices (rows = candidate sites or units, columns =
demand points), returning frozen results with an explicit ``status``. They may
import only the foundation (:mod:`watchfloor.errors`, :mod:`watchfloor.types`),
numpy, scipy, highspy, numba and simpy: no files, database, settings or clock.
"""

from watchfloor.placement._common import Placement
from watchfloor.placement.coverage import solve_backup, solve_mclp, solve_mexclp
from watchfloor.placement.dispatch import DispatchAdvice, rank_units
from watchfloor.placement.hypercube import QueueingResult, hypercube_approx, hypercube_exact
from watchfloor.placement.median import assignment_cost, solve_pcenter, solve_pmedian
from watchfloor.placement.moveup import MoveUp, recommend_moveup
from watchfloor.placement.simulation import SimulationResult, simulate_response

__all__ = [
    "DispatchAdvice",
    "MoveUp",
    "Placement",
    "QueueingResult",
    "SimulationResult",
    "assignment_cost",
    "hypercube_approx",
    "hypercube_exact",
    "rank_units",
    "recommend_moveup",
    "simulate_response",
    "solve_backup",
    "solve_mclp",
    "solve_mexclp",
    "solve_pcenter",
    "solve_pmedian",
]
