"""A thin layer over HiGHS: pass a whole sparse model at once, read back status and gap.

Models are built in bulk with numpy (a CSC matrix from coordinate arrays), never
row by row, and handed to :class:`highspy.Highs` with ``passModel``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Literal

import highspy
import numpy as np
import numpy.typing as npt
from scipy import sparse

from watchfloor.errors import InfeasibleError
from watchfloor.highs import quiet_highs

__all__ = ["MilpOutcome", "SolveStatus", "solve_milp"]

log = logging.getLogger(__name__)

SolveStatus = Literal["optimal", "time_limit"]

#: Rough cost of HiGHS presolve per matrix non-zero, measured on covering models.
PRESOLVE_S_PER_NONZERO = 2e-5

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class MilpOutcome:
    """Return value of :func:`solve_milp`: the incumbent and what HiGHS proved about it."""

    status: SolveStatus
    x: FloatArray
    objective: float
    bound: float
    gap: float
    solve_time_s: float
    n_variables: int
    n_constraints: int


def relative_gap(objective: float, bound: float) -> float:
    """Return ``|objective - bound| / max(|objective|, 1e-9)`` (0 when both are 0)."""
    denom = max(abs(objective), 1e-9)
    return float(abs(objective - bound) / denom) if abs(objective - bound) > 1e-12 else 0.0


def solve_milp(
    cost: FloatArray,
    matrix: sparse.csc_matrix | sparse.csc_array,
    row_lower: FloatArray,
    row_upper: FloatArray,
    *,
    col_lower: FloatArray,
    col_upper: FloatArray,
    integer: npt.NDArray[np.bool_],
    maximize: bool = False,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 1e-4,
    start: FloatArray | None = None,
    objective_offset: float = 0.0,
    deadline: float | None = None,
) -> MilpOutcome:
    """Return the best solution HiGHS finds for a MILP and its proven gap.

    ``min/max cost @ x + objective_offset`` subject to
    ``row_lower <= matrix @ x <= row_upper`` and ``col_lower <= x <= col_upper``,
    with ``x[integer]`` integral.

    ``deadline`` (a :func:`time.perf_counter` instant) bounds the whole call, model
    hand-over included; without it ``time_limit_s`` does. HiGHS checks its time limit
    only between presolve passes, which on a large model can take several times a
    short budget, so presolve is switched off when its expected cost (about
    ``PRESOLVE_S_PER_NONZERO`` per non-zero) exceeds half the budget. When HiGHS stops
    without a feasible point of its own, a feasible ``start`` is returned instead,
    with an infinite bound (the caller supplies a better one).

    Raises
    ------
    InfeasibleError
        When HiGHS proves the model infeasible or stops without any feasible point
        and no ``start`` was given.
    """
    t0 = time.perf_counter()
    if deadline is None:
        deadline = t0 + time_limit_s
    csc = sparse.csc_array(matrix)
    csc.sum_duplicates()
    csc.sort_indices()
    n_rows, n_cols = csc.shape
    lp = highspy.HighsLp()
    lp.num_col_ = n_cols
    lp.num_row_ = n_rows
    lp.col_cost_ = np.ascontiguousarray(cost, dtype=np.float64)
    lp.col_lower_ = np.ascontiguousarray(col_lower, dtype=np.float64)
    lp.col_upper_ = np.ascontiguousarray(col_upper, dtype=np.float64)
    lp.row_lower_ = np.ascontiguousarray(row_lower, dtype=np.float64)
    lp.row_upper_ = np.ascontiguousarray(row_upper, dtype=np.float64)
    lp.offset_ = float(objective_offset)
    lp.sense_ = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_ = n_cols
    lp.a_matrix_.num_row_ = n_rows
    lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
    lp.a_matrix_.index_ = csc.indices.astype(np.int32)
    lp.a_matrix_.value_ = csc.data.astype(np.float64)
    kinds = np.where(integer, 1, 0).astype(np.uint8)
    lp.integrality_ = [
        highspy.HighsVarType.kInteger if k else highspy.HighsVarType.kContinuous for k in kinds
    ]
    h = quiet_highs()
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    h.setOptionValue("threads", 1)
    h.passModel(lp)
    if start is not None:
        # HiGHS's feasibility jump looks for a first feasible point, which the start
        # already is, and does not look at the clock: on a 900,000-entry p-median it
        # ran 1 s past a 0.35 s budget
        h.setOptionValue("mip_heuristic_run_feasibility_jump", False)
        sol = highspy.HighsSolution()
        sol.col_value = np.ascontiguousarray(start, dtype=np.float64)
        sol.value_valid = True
        h.setSolution(sol)
    budget = max(deadline - time.perf_counter(), 0.01)
    h.setOptionValue("time_limit", float(budget))
    if csc.nnz * PRESOLVE_S_PER_NONZERO > 0.5 * budget:
        h.setOptionValue("presolve", "off")
    h.run()
    model_status = h.getModelStatus()
    info = h.getInfo()
    elapsed = time.perf_counter() - t0
    ms = highspy.HighsModelStatus
    if model_status in (ms.kInfeasible, ms.kUnboundedOrInfeasible):
        msg = "the placement model has no feasible solution; relax the standard or add units"
        raise InfeasibleError(msg)
    has_solution = int(info.primal_solution_status) == 2
    if not has_solution and start is not None and model_status != ms.kOptimal:
        x0 = np.asarray(start, dtype=np.float64)
        objective = float(np.dot(cost, x0)) + float(objective_offset)
        log.debug("HiGHS stopped without a solution of its own: the start is returned")
        return MilpOutcome(
            status="time_limit",
            x=x0,
            objective=objective,
            bound=np.inf if maximize else -np.inf,
            gap=np.inf,
            solve_time_s=time.perf_counter() - t0,
            n_variables=n_cols,
            n_constraints=n_rows,
        )
    if not has_solution:
        msg = (
            f"no feasible placement found within {time_limit_s:g} s "
            f"(solver status {h.modelStatusToString(model_status)}); raise the time limit"
        )
        raise InfeasibleError(msg)
    x = np.asarray(h.getSolution().col_value, dtype=np.float64)
    objective = float(info.objective_function_value)
    if integer.any():
        bound = float(info.mip_dual_bound)
        gap = relative_gap(objective, bound)
    else:
        bound, gap = objective, 0.0
    status: SolveStatus = "optimal" if model_status == ms.kOptimal else "time_limit"
    log.debug(
        "HiGHS: %d columns, %d rows, %d non-zeros, status %s, objective %.6g, gap %.3g, %.2f s",
        n_cols,
        n_rows,
        csc.nnz,
        status,
        objective,
        gap,
        elapsed,
    )
    return MilpOutcome(
        status=status,
        x=x,
        objective=objective,
        bound=bound,
        gap=gap,
        solve_time_s=elapsed,
        n_variables=n_cols,
        n_constraints=n_rows,
    )
