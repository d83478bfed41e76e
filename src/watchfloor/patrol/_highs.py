"""A thin layer over HiGHS: pass a whole sparse model at once, read back status and values.

Models are assembled in bulk with numpy (CSC from coordinate arrays), never row by
row, and handed to :class:`highspy.Highs` with ``passModel``.
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

from watchfloor.highs import quiet_highs
from watchfloor.types import FloatArray

__all__ = ["HighsOutcome", "solve_highs"]

log = logging.getLogger(__name__)

HighsStatus = Literal["optimal", "time_limit", "infeasible", "error"]


@dataclass(frozen=True)
class HighsOutcome:
    """Return value of :func:`solve_highs`: the solution and what HiGHS proved about it."""

    status: HighsStatus
    x: FloatArray
    objective: float
    bound: float
    gap: float
    solve_time_s: float


def solve_highs(
    cost: FloatArray,
    matrix: sparse.csc_array,
    row_lower: FloatArray,
    row_upper: FloatArray,
    *,
    col_lower: FloatArray,
    col_upper: FloatArray,
    integer: npt.NDArray[np.bool_] | None = None,
    maximize: bool = False,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 1e-6,
    lp_solver: str = "choose",
) -> HighsOutcome:
    """Return the outcome of solving ``opt cost @ x`` s.t. ``row_lower <= A x <= row_upper``.

    Parameters
    ----------
    cost, matrix, row_lower, row_upper, col_lower, col_upper
        The model in HiGHS's column-wise form (``inf`` for a missing bound).
    integer
        Which columns are integer (``None``: a pure LP).
    maximize
        Maximise instead of minimise.
    time_limit_s, mip_rel_gap
        Stop criteria passed to HiGHS.
    lp_solver
        HiGHS ``solver`` option: ``"choose"``, ``"simplex"``, ``"ipm"`` or ``"pdlp"``.
    """
    n_rows, n_cols = matrix.shape
    csc = sparse.csc_array(matrix)
    csc.sort_indices()
    lp = highspy.HighsLp()
    lp.num_col_ = int(n_cols)
    lp.num_row_ = int(n_rows)
    lp.col_cost_ = np.asarray(cost, dtype=np.float64)
    lp.col_lower_ = np.asarray(col_lower, dtype=np.float64)
    lp.col_upper_ = np.asarray(col_upper, dtype=np.float64)
    lp.row_lower_ = np.asarray(row_lower, dtype=np.float64)
    lp.row_upper_ = np.asarray(row_upper, dtype=np.float64)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
    lp.a_matrix_.index_ = csc.indices.astype(np.int32)
    lp.a_matrix_.value_ = csc.data.astype(np.float64)
    lp.a_matrix_.num_col_ = int(n_cols)
    lp.a_matrix_.num_row_ = int(n_rows)
    lp.sense_ = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
    if integer is not None and integer.any():
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if flag else highspy.HighsVarType.kContinuous
            for flag in integer
        ]
    h = quiet_highs()
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    h.setOptionValue("threads", 1)
    h.setOptionValue("solver", lp_solver)
    h.passModel(lp)
    started = time.perf_counter()
    h.run()
    elapsed = time.perf_counter() - started
    model_status = h.getModelStatus()
    info = h.getInfo()
    status: HighsStatus
    if model_status == highspy.HighsModelStatus.kOptimal:
        status = "optimal"
    elif model_status == highspy.HighsModelStatus.kTimeLimit:
        status = "time_limit"
    elif model_status in (
        highspy.HighsModelStatus.kInfeasible,
        highspy.HighsModelStatus.kUnboundedOrInfeasible,
    ):
        status = "infeasible"
    else:
        status = "error"
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    x = (
        np.asarray(h.getSolution().col_value, dtype=np.float64)
        if has_solution
        else np.full(n_cols, np.nan)
    )
    if has_solution and status == "error":
        status = "time_limit"
    objective = float(info.objective_function_value) if has_solution else float("nan")
    is_mip = integer is not None and bool(integer.any())
    bound = float(info.mip_dual_bound) if is_mip else objective
    gap = float(info.mip_gap) if is_mip and has_solution else 0.0
    if status == "optimal" and not is_mip:
        gap = 0.0
    log.debug("HiGHS: %d columns, %d rows, status %s, %.3f s", n_cols, n_rows, status, elapsed)
    return HighsOutcome(
        status=status, x=x, objective=objective, bound=bound, gap=gap, solve_time_s=elapsed
    )
