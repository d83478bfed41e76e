r"""Lexicographic min-max over exact coverage columns: the plan is never indifferent.

A min-max plan is flat above its guarantee: once the attacker's best response
``z_1`` is fixed (often by a site-slot every plan covers with certainty, whose
covered payoff ``A^c`` is the floor, or by one no unit reaches in time), the
rest of the site-slots may be left anyhow. The lexicographic objective
minimises the best response ``z_1``, then, keeping every site-slot that must
sit at ``z_1`` there, the best response ``z_2`` among the others, and so on::

    level k:  min z_k   s.t.  A^u_t - D_t (H lambda)_t <= cap_t   (t fixed at earlier levels)
                              A^u_t - D_t (H lambda)_t <= z_k     (the others)
                              sum lambda = 1,  lambda >= 0

A site-slot is fixed at level ``k`` when its row's dual is positive: by
complementary slackness it is at ``z_k`` in every optimal plan, so fixing it
loses nothing (the classic algorithm for lexicographic min-max / nucleolus
LPs: Maschler, Peleg & Shapley 1979; Ogryczak & Sliwinski 2006). Each level
holds at least one site-slot with a positive dual, so the levels always
progress. New columns for a level come from ``price`` (the duals of both row
sets weight the oracle).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from watchfloor.errors import InvalidInputError
from watchfloor.types import FloatArray

__all__ = ["LevelPlan", "level_master", "lexicographic_weights", "spread_weights"]

_TOL = 1e-9


@dataclass(frozen=True, eq=False)
class LevelPlan:
    """Return value of :func:`lexicographic_weights`.

    Attributes
    ----------
    weights : float64[n_columns]
        Probability of each column.
    levels : tuple of float
        ``z_1 >= z_2 >= ...``: the best response at each level.
    caps : float64[n_targets]
        The bound each target was fixed at (``inf``: never fixed).
    columns : float64[n_targets, n_columns]
        The columns, with any the oracle added.
    """

    weights: FloatArray
    levels: tuple[float, ...]
    caps: FloatArray
    columns: FloatArray


def level_master(
    a_u: FloatArray, d: FloatArray, columns: FloatArray, caps: FloatArray
) -> tuple[FloatArray, float, FloatArray]:
    """Return ``(weights, z, duals)`` of one level's LP (see the module docstring).

    ``columns`` is float[n_targets, n_columns]; ``caps`` holds ``inf`` for the
    targets still free. ``duals`` (>= 0, one per target) weight the oracle.
    """
    n_k = columns.shape[1]
    free = ~np.isfinite(caps)
    # variables: lambda (n_k), z ; rows: -D_t (H lambda)_t - [free] z <= -A^u_t + [fixed] cap_t
    a_ub = np.hstack([-(d[:, None] * columns), -free[:, None].astype(np.float64)])
    b_ub = np.where(free, -a_u, np.where(free, 0.0, caps) - a_u)
    if free.all():
        b_ub = -a_u
    cost = np.zeros(n_k + 1)
    cost[-1] = 1.0
    res = linprog(
        cost,
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=np.hstack([np.ones((1, n_k)), np.zeros((1, 1))]),
        b_eq=[1.0],
        bounds=[(0, None)] * n_k + [(None, None)],
        method="highs",
    )
    if res.status != 0:
        msg = f"a lexicographic level LP failed: {res.message}"
        raise InvalidInputError(msg)
    lam = np.maximum(np.asarray(res.x[:n_k], dtype=np.float64), 0.0)
    lam /= lam.sum()
    duals = np.maximum(-np.asarray(res.ineqlin.marginals, dtype=np.float64), 0.0)
    return lam, float(res.x[-1]), duals


def lexicographic_weights(
    a_u: FloatArray,
    d: FloatArray,
    columns: FloatArray,
    *,
    n_levels: int = 4,
    price: Callable[[FloatArray], FloatArray | None] | None = None,
    rounds_per_level: int = 5,
    deadline_s: float = float("inf"),
) -> LevelPlan:
    """Return column weights that minimise the best responses level by level.

    Parameters
    ----------
    a_u, d : float[n_targets]
        Attacker's payoff without a visit and what a visit takes away.
    columns : float[n_targets, n_columns]
        Exact coverage of each pure (or mixed) component.
    n_levels
        How many distinct levels to optimise.
    price
        Optional oracle: given per-target weights ``dual * d``, a new column
        (float[n_targets]) or ``None``; every column it returns is kept, in order.
    rounds_per_level
        Oracle calls per level at most.
    deadline_s
        ``time.process_time()`` after which no oracle is called and no level
        after the first is solved.
    """
    cols = columns
    caps = np.full(a_u.size, np.inf)
    levels: list[float] = []
    lam = np.zeros(cols.shape[1])
    for _ in range(3 * n_levels):  # levels that repeat a value do not count
        free = ~np.isfinite(caps)
        if not free.any() or len(levels) >= n_levels:
            break
        if levels and time.process_time() >= deadline_s:
            break  # out of time: the levels so far stand
        for _round in range(rounds_per_level + 1):
            lam, z, duals = level_master(a_u, d, cols, caps)
            if price is None or _round == rounds_per_level or time.process_time() >= deadline_s:
                break
            new = price(duals * d)
            if new is None:
                break
            known = bool((np.abs(cols - new[:, None]).max(axis=0) < _TOL).any())
            cols = np.column_stack([cols, new])  # kept even when known: the caller has it too
            if known:
                break
        tol = _TOL * max(1.0, abs(z))
        if not levels or z < levels[-1] - tol:
            levels.append(z)
        # held at z in every optimal plan: a positive dual (complementary slackness), or a
        # covered payoff at z (only a certain visit keeps it there)
        binding = free & ((duals > _TOL) | (a_u - d >= z - tol))
        if not binding.any():
            binding = free & (a_u - d * (cols @ lam) >= z - tol)
        caps[binding] = z + tol
    return LevelPlan(weights=lam, levels=tuple(levels), caps=caps, columns=cols)


def spread_weights(
    a_u: FloatArray, d: FloatArray, columns: FloatArray, caps: FloatArray, *, cap: float
) -> FloatArray | None:
    """Return weights that keep every target within ``caps`` and take the most risk away.

    No weight exceeds ``cap``; ``None`` when that is infeasible.
    """
    n_k = columns.shape[1]
    res = linprog(
        -(d @ columns),
        A_ub=-(d[:, None] * columns),
        b_ub=caps - a_u,
        A_eq=np.ones((1, n_k)),
        b_eq=[1.0],
        bounds=[(0, cap)] * n_k,
        method="highs",
    )
    if res.status != 0:
        return None
    lam = np.maximum(np.asarray(res.x, dtype=np.float64), 0.0)
    out: FloatArray = lam / lam.sum()
    return out
