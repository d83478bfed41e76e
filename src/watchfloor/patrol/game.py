r"""Security games with K homogeneous resources, each covering one target.

The model (Kiekintveld et al. 2009; Korzhyk, Conitzer & Parr 2010)
-----------------------------------------------------------------
A defender protects ``n`` targets with ``K`` identical resources; a resource
covers one target. A mixed strategy is summarised by its *coverage*
``c in [0, 1]^n`` with ``sum(c) <= K``; every such vector is implementable
by a distribution over pure assignments (comb sampling, see
:func:`sample_assignments`). If target ``t`` is attacked, the defender gets
``U_d(t, c) = c_t D^c_t + (1 - c_t) D^u_t`` and an attacker of type ``l``
gets ``U_a^l(t, c) = c_t A^{c,l}_t + (1 - c_t) A^{u,l}_t``, with covered
payoffs at least as good for the defender and at most as good for the
attacker as uncovered ones. The defender commits first; every attacker type
observes ``c`` and attacks a best response, ties broken in the defender's
favour (the *strong Stackelberg equilibrium*, SSE).

Solvers
-------
* One attacker type (zero-sum or general-sum): :func:`solve_game` uses an
  exact water-filling in the spirit of ORIGAMI (Kiekintveld et al. 2009).
  The multiple-LPs method (Conitzer & Sandholm 2006) solves, for every target
  ``t``, ``max U_d(t, c)`` s.t. ``U_a(t, c) >= U_a(t', c)`` for all ``t'``,
  ``sum(c) <= K``, ``0 <= c <= 1``. Writing ``u = U_a(t, c)``, every other
  target needs at least ``r_{t'}(u) = max(0, (A^u_{t'} - u) / (A^u_{t'} -
  A^c_{t'}))`` coverage and target ``t`` gets exactly ``r_t(u)``; ``U_d(t, .)``
  grows with ``c_t``, so each LP is solved at the smallest feasible ``u``,
  which is the *same* for every ``t``: ``u* = max(u_K, max_t A^c_t)`` with
  ``sum_t r_t(u_K) = K``. ``u*`` is found by sorting ``A^u`` and scanning the
  piecewise-linear total requirement (``O(n log n)``); the SSE target is the
  best one for the defender among the targets with ``A^u_t >= u*`` (the
  attack set). Spare resources go to the other attack-set targets, so that
  the induced target is a strict best response wherever possible.
* Several attacker types (Bayesian): the ERASER mixed-integer programme
  (Kiekintveld et al. 2009), the compact form of DOBSS (Paruchuri et al.
  2008), solved with HiGHS::

      max  sum_l p_l d_l
      s.t. sum_t c_t <= K,  0 <= c_t <= 1,  q^l_t in {0, 1},  sum_t q^l_t = 1
           d_l - U_d^l(t, c) <= (1 - q^l_t) M
           0 <= k_l - U_a^l(t, c) <= (1 - q^l_t) M

References
----------
Conitzer & Sandholm, "Computing the optimal strategy to commit to", EC 2006.
Paruchuri et al., "Playing games for security: an efficient exact algorithm
for solving Bayesian Stackelberg games", AAMAS 2008.
Kiekintveld et al., "Computing optimal randomized resource allocations for
massive security games", AAMAS 2009.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse

from watchfloor.errors import InvalidInputError
from watchfloor.patrol._highs import solve_highs
from watchfloor.types import FloatArray, IntArray

__all__ = [
    "GameSolution",
    "SecurityGame",
    "attacker_best_response",
    "sample_assignments",
    "solve_game",
]

log = logging.getLogger(__name__)

GameStatus = Literal["optimal", "time_limit"]

_TOL = 1e-9


@dataclass(frozen=True, eq=False)
class SecurityGame:
    """A (Bayesian) security game: payoffs per attacker type and target.

    Attributes
    ----------
    defender_covered, defender_uncovered : float64[n_types, n_targets]
        Defender's payoff when the attacked target is covered / uncovered.
    attacker_covered, attacker_uncovered : float64[n_types, n_targets]
        Attacker's payoff when the attacked target is covered / uncovered.
    type_probability : float64[n_types]
        Prior over attacker types (sums to 1).
    target_ids : tuple of str
        One label per target.
    type_ids : tuple of str
        One label per attacker type.
    """

    defender_covered: FloatArray
    defender_uncovered: FloatArray
    attacker_covered: FloatArray
    attacker_uncovered: FloatArray
    type_probability: FloatArray
    target_ids: tuple[str, ...]
    type_ids: tuple[str, ...]

    @property
    def n_targets(self) -> int:
        """Number of targets."""
        return int(self.defender_covered.shape[1])

    @property
    def n_types(self) -> int:
        """Number of attacker types."""
        return int(self.defender_covered.shape[0])

    @classmethod
    def from_arrays(
        cls,
        defender_covered: npt.ArrayLike,
        defender_uncovered: npt.ArrayLike,
        attacker_covered: npt.ArrayLike,
        attacker_uncovered: npt.ArrayLike,
        *,
        type_probability: npt.ArrayLike | None = None,
        target_ids: Sequence[str] | None = None,
        type_ids: Sequence[str] | None = None,
    ) -> SecurityGame:
        """Return a validated game from 1-D (one attacker type) or 2-D payoff arrays.

        Raises
        ------
        InvalidInputError
            When shapes disagree, a payoff is not finite, a covered payoff is worse
            for the defender (or better for the attacker) than the uncovered one, or
            the type probabilities are not a distribution.
        """
        arrays = [
            np.atleast_2d(np.asarray(a, dtype=np.float64))
            for a in (defender_covered, defender_uncovered, attacker_covered, attacker_uncovered)
        ]
        shape = arrays[0].shape
        if any(a.shape != shape for a in arrays) or arrays[0].ndim != 2:
            msg = "payoff arrays must all have the same shape (n_targets,) or (n_types, n_targets)"
            raise InvalidInputError(msg)
        n_types, n_targets = shape
        if n_targets == 0:
            msg = "a security game needs at least one target"
            raise InvalidInputError(msg)
        if not all(np.isfinite(a).all() for a in arrays):
            msg = "payoffs must be finite numbers"
            raise InvalidInputError(msg)
        dc, du, ac, au = arrays
        if (dc < du - _TOL).any():
            t = int(np.argwhere(dc < du - _TOL)[0, 1])
            msg = (
                f"target {t}: defender_covered must be >= defender_uncovered "
                "(covering a target never hurts the defender)"
            )
            raise InvalidInputError(msg)
        if (ac > au + _TOL).any():
            t = int(np.argwhere(ac > au + _TOL)[0, 1])
            msg = (
                f"target {t}: attacker_covered must be <= attacker_uncovered "
                "(covering a target never helps the attacker)"
            )
            raise InvalidInputError(msg)
        if type_probability is None:
            if n_types != 1:
                msg = "type_probability is required when there is more than one attacker type"
                raise InvalidInputError(msg)
            probs = np.ones(1)
        else:
            probs = np.asarray(type_probability, dtype=np.float64).reshape(-1)
        if probs.shape != (n_types,) or not np.isfinite(probs).all() or (probs < 0).any():
            msg = f"type_probability must hold {n_types} non-negative numbers"
            raise InvalidInputError(msg)
        if abs(float(probs.sum()) - 1.0) > 1e-6:
            msg = f"type_probability must sum to 1 (it sums to {probs.sum():.6g})"
            raise InvalidInputError(msg)
        targets = tuple(target_ids) if target_ids is not None else tuple(map(str, range(n_targets)))
        types = tuple(type_ids) if type_ids is not None else tuple(map(str, range(n_types)))
        if len(targets) != n_targets or len(set(targets)) != n_targets:
            msg = f"target_ids must be {n_targets} distinct labels"
            raise InvalidInputError(msg)
        if len(types) != n_types:
            msg = f"type_ids must be {n_types} labels"
            raise InvalidInputError(msg)
        return cls(
            defender_covered=dc,
            defender_uncovered=du,
            attacker_covered=ac,
            attacker_uncovered=au,
            type_probability=probs / probs.sum(),
            target_ids=targets,
            type_ids=types,
        )

    def defender_utility(self, coverage: FloatArray) -> FloatArray:
        """Return the defender's utility per type and target, float64[n_types, n_targets]."""
        return coverage * self.defender_covered + (1.0 - coverage) * self.defender_uncovered

    def attacker_utility(self, coverage: FloatArray) -> FloatArray:
        """Return the attacker's utility per type and target, float64[n_types, n_targets]."""
        return coverage * self.attacker_covered + (1.0 - coverage) * self.attacker_uncovered


@dataclass(frozen=True, eq=False)
class GameSolution:
    """Return value of :func:`solve_game`: the equilibrium coverage and utilities.

    Attributes
    ----------
    coverage : float64[n_targets]
        Probability that each target is covered (sums to at most ``n_units``).
    attacker_target : int64[n_types]
        Each attacker type's best response (ties broken for the defender).
    attacker_utility : float64[n_types]
        Each type's expected utility at its best response.
    defender_utility : float
        Defender's expected utility (over the type prior).
    status : str
        ``"optimal"``, or ``"time_limit"`` when a Bayesian solve stopped early.
    method : str
        ``"water_filling"`` or ``"eraser_milp"``.
    gap : float
        Relative optimality gap proved by the solver (0 for the exact method).
    """

    coverage: FloatArray
    attacker_target: IntArray
    attacker_utility: FloatArray
    defender_utility: float
    status: GameStatus
    method: str
    gap: float


def attacker_best_response(game: SecurityGame, coverage: FloatArray) -> IntArray:
    """Return each type's best-response target, ties broken in the defender's favour."""
    ua = game.attacker_utility(coverage)
    ud = game.defender_utility(coverage)
    out = np.empty(game.n_types, dtype=np.int64)
    for layer in range(game.n_types):
        best = ua[layer].max()
        scale = max(1.0, abs(float(best)))
        ties = np.flatnonzero(ua[layer] >= best - 1e-9 * scale)
        out[layer] = ties[np.argmax(ud[layer, ties])]
    return out


def _check_units(n_units: int) -> None:
    if isinstance(n_units, bool) or int(n_units) != n_units or n_units < 1:
        msg = f"n_units must be a whole number of at least 1 (got {n_units!r})"
        raise InvalidInputError(msg)


def minimal_attacker_utility(
    attacker_covered: FloatArray, attacker_uncovered: FloatArray, n_resources: float
) -> tuple[float, FloatArray]:
    """Return ``(u*, coverage)``: the least attacker best-response utility and its coverage.

    ``coverage`` is the minimal coverage that holds every target at or below
    ``u*`` (it may sum to less than ``n_resources``). Exact, ``O(n log n)``.
    """
    a = attacker_uncovered
    d = a - attacker_covered
    scale = max(1.0, float(np.abs(a).max()))
    flat = d <= 1e-12 * scale
    lower = float(attacker_covered.max())
    if flat.any():
        lower = max(lower, float(a[flat].max()))
    idx = np.flatnonzero(~flat)
    u_k = -np.inf
    if idx.size:
        order = idx[np.argsort(-a[idx], kind="stable")]
        a_s = a[order]
        w = 1.0 / d[order]
        s1 = np.cumsum(a_s * w)
        s2 = np.cumsum(w)
        # need(k) = total requirement when u = a_s[k] (targets 0..k-1 active)
        need = np.empty(a_s.size)
        need[0] = 0.0
        need[1:] = s1[:-1] - a_s[1:] * s2[:-1]
        hit = np.flatnonzero(need >= n_resources)
        k = int(hit[0]) if hit.size else a_s.size
        # need[0] == 0 < n_resources, so k >= 1: targets 0..k-1 are active at u_K
        u_k = float((s1[k - 1] - n_resources) / s2[k - 1])
    u_star = max(u_k, lower)
    coverage = np.zeros_like(a)
    if idx.size:
        coverage[idx] = np.clip((a[idx] - u_star) / d[idx], 0.0, 1.0)
    return u_star, coverage


def _solve_single_type(game: SecurityGame, n_units: int) -> GameSolution:
    dc, du = game.defender_covered[0], game.defender_uncovered[0]
    ac, au = game.attacker_covered[0], game.attacker_uncovered[0]
    # No shortcut for n_units >= n: full coverage is not always best in a general-sum
    # game (the defender may leave a target open to draw the attack there).
    u_star, coverage = minimal_attacker_utility(ac, au, float(n_units))
    scale = max(1.0, abs(u_star))
    attack_set = np.flatnonzero(au >= u_star - 1e-9 * scale)
    spare = float(n_units) - float(coverage.sum())
    # A flat target (A^c == A^u) in the attack set may take the spare coverage.
    flat = (au - ac) <= 1e-12 * max(1.0, float(np.abs(au).max()))
    value = coverage[attack_set] * dc[attack_set] + (1 - coverage[attack_set]) * du[attack_set]
    flat_in = flat[attack_set]
    if flat_in.any():
        boost = np.minimum(1.0, coverage[attack_set] + max(spare, 0.0))
        value = np.where(flat_in, boost * dc[attack_set] + (1 - boost) * du[attack_set], value)
    target = int(attack_set[int(np.argmax(value))])
    if flat[target]:
        add = min(1.0 - coverage[target], max(spare, 0.0))
        coverage[target] += add
        spare -= add
    # Spare resources make the other attack-set targets strictly worse for the attacker.
    for t in attack_set[np.argsort(-au[attack_set], kind="stable")]:
        if spare <= 1e-12:
            break
        if t == target:
            continue
        add = min(1.0 - coverage[t], spare)
        coverage[t] += add
        spare -= add
    best = attacker_best_response(game, coverage)
    ua = game.attacker_utility(coverage)[0]
    ud = game.defender_utility(coverage)[0]
    return GameSolution(
        coverage=coverage,
        attacker_target=best,
        attacker_utility=np.array([ua[best[0]]]),
        defender_utility=float(ud[best[0]]),
        status="optimal",
        method="water_filling",
        gap=0.0,
    )


def _solve_bayesian(game: SecurityGame, n_units: int, time_limit_s: float) -> GameSolution:
    n, n_l = game.n_targets, game.n_types
    dd = game.defender_covered - game.defender_uncovered
    da = game.attacker_covered - game.attacker_uncovered
    spread = max(
        float(np.ptp(np.concatenate([game.defender_covered, game.defender_uncovered]))),
        float(np.ptp(np.concatenate([game.attacker_covered, game.attacker_uncovered]))),
    )
    big = 2.0 * spread + 1.0
    # columns: c (n), q (n_l * n), d (n_l), k (n_l)
    c0, q0, d0, k0 = 0, n, n + n_l * n, n + n_l * n + n_l
    n_cols = k0 + n_l
    rows: list[npt.NDArray[np.int64]] = []
    cols: list[npt.NDArray[np.int64]] = []
    vals: list[FloatArray] = []
    lo: list[FloatArray] = []
    hi: list[FloatArray] = []
    r = 0

    def add(rr: npt.ArrayLike, cc: npt.ArrayLike, vv: npt.ArrayLike) -> None:
        rows.append(np.asarray(rr, dtype=np.int64).ravel())
        cols.append(np.asarray(cc, dtype=np.int64).ravel())
        vals.append(np.asarray(vv, dtype=np.float64).ravel())

    t_idx = np.arange(n)
    add(np.zeros(n), t_idx, np.ones(n))  # sum c <= K
    lo.append(np.array([-np.inf]))
    hi.append(np.array([float(n_units)]))
    r = 1
    for layer in range(n_l):
        qcols = q0 + layer * n + t_idx
        add(np.full(n, r), qcols, np.ones(n))  # sum q = 1
        lo.append(np.array([1.0]))
        hi.append(np.array([1.0]))
        r += 1
        # d_l - dd c_t + M q_t <= M + D^u_t
        rr = r + t_idx
        add(rr, np.full(n, d0 + layer), np.ones(n))
        add(rr, c0 + t_idx, -dd[layer])
        add(rr, qcols, np.full(n, big))
        lo.append(np.full(n, -np.inf))
        hi.append(big + game.defender_uncovered[layer])
        r += n
        # k_l - da c_t >= A^u_t  and  k_l - da c_t + M q_t <= M + A^u_t
        rr = r + t_idx
        add(rr, np.full(n, k0 + layer), np.ones(n))
        add(rr, c0 + t_idx, -da[layer])
        lo.append(game.attacker_uncovered[layer].copy())
        hi.append(np.full(n, np.inf))
        r += n
        rr = r + t_idx
        add(rr, np.full(n, k0 + layer), np.ones(n))
        add(rr, c0 + t_idx, -da[layer])
        add(rr, qcols, np.full(n, big))
        lo.append(np.full(n, -np.inf))
        hi.append(big + game.attacker_uncovered[layer])
        r += n
    matrix = sparse.csc_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, n_cols)
    )
    cost = np.zeros(n_cols)
    cost[d0 : d0 + n_l] = game.type_probability
    col_lower = np.zeros(n_cols)
    col_upper = np.ones(n_cols)
    col_lower[d0:] = -np.inf
    col_upper[d0:] = np.inf
    integer = np.zeros(n_cols, dtype=bool)
    integer[q0:d0] = True
    outcome = solve_highs(
        cost,
        matrix,
        np.concatenate(lo),
        np.concatenate(hi),
        col_lower=col_lower,
        col_upper=col_upper,
        integer=integer,
        maximize=True,
        time_limit_s=time_limit_s,
        mip_rel_gap=1e-9,
    )
    if outcome.status not in ("optimal", "time_limit") or not np.isfinite(outcome.x).all():
        msg = f"the Bayesian game could not be solved (HiGHS status {outcome.status})"
        raise InvalidInputError(msg)
    coverage = np.clip(outcome.x[c0:n], 0.0, 1.0)
    best = attacker_best_response(game, coverage)
    ua = game.attacker_utility(coverage)
    ud = game.defender_utility(coverage)
    layers = np.arange(n_l)
    status: GameStatus = "optimal" if outcome.status == "optimal" else "time_limit"
    return GameSolution(
        coverage=coverage,
        attacker_target=best,
        attacker_utility=ua[layers, best],
        defender_utility=float(game.type_probability @ ud[layers, best]),
        status=status,
        method="eraser_milp",
        gap=float(outcome.gap),
    )


def solve_game(
    game: SecurityGame,
    *,
    n_units: int,
    time_limit_s: float = 60.0,
    method: Literal["auto", "water_filling", "eraser_milp"] = "auto",
) -> GameSolution:
    """Return the strong Stackelberg equilibrium of ``game`` with ``n_units`` resources.

    One attacker type is solved exactly by water-filling (``O(n log n)``);
    several types by the ERASER mixed-integer programme with HiGHS. See the
    module docstring for the model.

    Parameters
    ----------
    game
        The payoffs.
    n_units
        Number of identical resources, each covering one target (at least 1).
    time_limit_s
        Time limit of the Bayesian MILP; the status says whether it was reached.
    method
        ``"auto"`` (water-filling for one type, the MILP otherwise) or force one;
        ``"water_filling"`` needs a single attacker type.

    Raises
    ------
    InvalidInputError
        When ``n_units`` is not a whole number of at least 1.
    """
    _check_units(n_units)
    if method not in ("auto", "water_filling", "eraser_milp"):
        msg = f"method must be 'auto', 'water_filling' or 'eraser_milp' (got {method!r})"
        raise InvalidInputError(msg)
    if method == "water_filling" and game.n_types != 1:
        msg = "water-filling solves games with one attacker type; use method='eraser_milp'"
        raise InvalidInputError(msg)
    if game.n_types == 1 and method != "eraser_milp":
        solution = _solve_single_type(game, int(n_units))
    else:
        solution = _solve_bayesian(game, int(n_units), time_limit_s)
    log.debug(
        "solved security game: %d targets, %d types, %d units, %s",
        game.n_targets,
        game.n_types,
        n_units,
        solution.method,
    )
    return solution


def sample_assignments(
    coverage: FloatArray, *, n_units: int, n_samples: int, rng: np.random.Generator
) -> IntArray:
    """Return ``n_samples`` pure assignments drawn so each target's frequency is its coverage.

    Comb (systematic) sampling: targets are laid end to end in a random order
    on ``[0, sum(c))`` and the teeth ``U, U + 1, ...`` pick the covered
    targets; since every ``c_t <= 1`` no target is picked twice and
    ``P(t covered) = c_t`` exactly. Unused resources (``sum(c) < K``) are
    returned as ``-1``.

    Returns
    -------
    int64[n_samples, n_units]
        Target covered by each resource (``-1``: idle).
    """
    _check_units(n_units)
    c = np.clip(np.asarray(coverage, dtype=np.float64), 0.0, 1.0)
    if float(c.sum()) > n_units + 1e-6:
        msg = f"coverage sums to {c.sum():.6g}, more than the {n_units} units available"
        raise InvalidInputError(msg)
    out = np.full((n_samples, n_units), -1, dtype=np.int64)
    for s in range(n_samples):
        order = rng.permutation(c.size)
        ends = np.cumsum(c[order])
        teeth = rng.random() + np.arange(n_units)
        pos = np.searchsorted(ends, teeth, side="right")
        ok = pos < c.size
        out[s, : int(ok.sum())] = order[pos[ok]]
    return out
