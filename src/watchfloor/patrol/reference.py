r"""Brute-force reference solver: the multiple-LPs method, kept for checking the fast ones.

For every profile of attacker best responses ``(t_1, ..., t_L)`` (one target
per attacker type) solve the LP (Conitzer & Sandholm 2006, extended to
Bayesian games by enumerating type profiles)::

    max  sum_l p_l U_d^l(t_l, c)
    s.t. U_a^l(t_l, c) >= U_a^l(t', c)   for every type l and target t'
         sum_t c_t <= K,  0 <= c_t <= 1

and keep the best feasible profile: the strong Stackelberg equilibrium. The
cost is ``n ** L`` LPs, so this is for small games (tests and benchmarks).

Reference: Conitzer & Sandholm, "Computing the optimal strategy to commit
to", EC 2006.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.optimize import linprog

from watchfloor.errors import InvalidInputError
from watchfloor.patrol.game import GameSolution, SecurityGame, attacker_best_response

__all__ = ["solve_game_multiple_lps"]

_MAX_LPS = 200_000


def solve_game_multiple_lps(game: SecurityGame, *, n_units: int) -> GameSolution:
    """Return the strong Stackelberg equilibrium found by enumerating one LP per response profile.

    Raises
    ------
    InvalidInputError
        When the game needs more than 200,000 LPs.
    """
    n, n_l = game.n_targets, game.n_types
    if n**n_l > _MAX_LPS:
        msg = f"{n} targets and {n_l} types need {n**n_l} LPs; use solve_game instead"
        raise InvalidInputError(msg)
    dd = game.defender_covered - game.defender_uncovered
    da = game.attacker_covered - game.attacker_uncovered
    best_value = -np.inf
    best_c: np.ndarray | None = None
    eye = np.eye(n)
    for profile in itertools.product(range(n), repeat=n_l):
        # objective: maximise sum_l p_l (D^u + dd c_t)  ->  minimise -sum p_l dd[l, t_l] c_t
        cost = np.zeros(n)
        const = 0.0
        a_ub = [np.ones((1, n))]
        b_ub = [np.array([float(n_units)])]
        for layer, t in enumerate(profile):
            p = game.type_probability[layer]
            cost[t] -= p * dd[layer, t]
            const += p * game.defender_uncovered[layer, t]
            # U_a(t', c) - U_a(t, c) <= 0  ->  da[t'] c_t' - da[t] c_t <= A^u_t - A^u_t'
            rows = eye * da[layer][None, :]
            rows[:, t] -= da[layer, t]
            a_ub.append(rows)
            b_ub.append(game.attacker_uncovered[layer, t] - game.attacker_uncovered[layer])
        res = linprog(
            cost,
            A_ub=np.vstack(a_ub),
            b_ub=np.concatenate(b_ub),
            bounds=[(0.0, 1.0)] * n,
            method="highs",
        )
        if res.status != 0:
            continue
        value = const - float(res.fun)
        if value > best_value + 1e-12:
            best_value = value
            best_c = np.clip(res.x, 0.0, 1.0)
    if best_c is None:  # pragma: no cover - zero coverage is always feasible for some profile
        msg = "no attacker response profile is feasible"
        raise InvalidInputError(msg)
    best = attacker_best_response(game, best_c)
    layers = np.arange(n_l)
    ua = game.attacker_utility(best_c)
    return GameSolution(
        coverage=best_c,
        attacker_target=best,
        attacker_utility=ua[layers, best],
        defender_utility=best_value,
        status="optimal",
        method="multiple_lps",
        gap=0.0,
    )
