"""How good a set of ARV bases is: coverage, queueing (hypercube) and simulation.

Coverage within standard is per area type and overall, with all units free
and with each single unit busy; the hypercube model gives workloads and
response figures at the day's mean rate and hour by hour; the simulation
replays calls at the same hourly rates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from watchfloor.errors import InvalidInputError
from watchfloor.placement import hypercube_approx, hypercube_exact, simulate_response
from watchfloor.placement.hypercube import AUTO_EXACT_UNITS, hypercube_by_hour
from watchfloor.services.arv.demand import ArvProblem
from watchfloor.types import BoolArray, FloatArray, IntArray

__all__ = ["HOUR_PROFILES", "calls_by_hour", "evaluate_bases"]

#: Named shapes of the day's calls (relative weight of each hour, hour 0 first).
#: ``night`` is an assumed shape, not measured data: violence and weapons calls
#: twice the daytime rate in the late evening and night, a third of it at dawn.
#: A force should give its own command-and-control counts instead.
HOUR_PROFILES: dict[str, tuple[float, ...]] = {
    "flat": (1.0,) * 24,
    "night": (
        2.0, 2.0, 1.6, 1.2, 0.8, 0.5, 0.4, 0.5, 0.7, 0.8, 0.9, 1.0,
        1.0, 1.0, 1.0, 1.0, 1.1, 1.2, 1.3, 1.5, 1.7, 1.9, 2.0, 2.0,
    ),
}  # fmt: skip


def calls_by_hour(profile: str, calls_per_day: float) -> FloatArray:
    """Return calls in each hour of the day: ``calls_per_day`` spread by ``profile``.

    ``profile`` is a name in :data:`HOUR_PROFILES` or 24 comma-separated relative
    weights, hour 0 (00:00-01:00) first.

    Raises
    ------
    InvalidInputError
        Unknown name, not 24 numbers, negative weights or none positive.
    """
    if not (np.isfinite(calls_per_day) and calls_per_day > 0):
        msg = f"calls per day must be positive, got {calls_per_day}"
        raise InvalidInputError(msg)
    text = profile.strip()
    if text in HOUR_PROFILES:
        weights = np.array(HOUR_PROFILES[text])
    else:
        try:
            weights = np.array([float(v) for v in text.split(",")])
        except ValueError:
            weights = np.zeros(0)
        if weights.size != 24:
            msg = (
                f"hour profile {profile!r} is neither {' nor '.join(HOUR_PROFILES)} nor 24 "
                "comma-separated weights (hour 0 first)"
            )
            raise InvalidInputError(msg)
    if not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
        msg = "hour profile weights must be non-negative and not all zero"
        raise InvalidInputError(msg)
    return np.asarray(weights / weights.sum() * calls_per_day, dtype=np.float64)


def evaluate_bases(
    problem: ArvProblem,
    bases: IntArray,
    *,
    calls_per_day: float = 6.0,
    mean_service_s: float = 2700.0,
    simulate_days: int = 0,
    seed: int = 0,
    calls_per_hour: FloatArray | None = None,
) -> dict[str, Any]:
    """Return coverage, queueing and (optionally) simulated figures of units at ``bases``.

    ``bases`` are candidate indices. Coverage within standard is per area type and
    overall, with all units free and with each single unit busy; the hypercube
    model (exact up to 12 units) gives workloads, fraction within standard, mean
    and p90 response, at the day's mean rate (``hypercube``) and hour by hour
    (``hypercube_by_hour``: one steady state per hour's rate, day figures weighted
    by calls). ``calls_per_hour`` (24 values) sets the day's shape; without it
    ``calls_per_day`` is spread evenly. The simulation uses the same hourly rates.
    """
    base = np.asarray(bases, dtype=np.int64)
    if base.size == 0:
        msg = "a plan needs at least one base"
        raise InvalidInputError(msg)
    t_all = problem.travel_s[base]
    reachable = np.isfinite(t_all).all(axis=0)
    t = t_all[:, reachable]
    w = problem.demand[reachable]
    std = problem.standard_s[reachable]
    types = np.array(problem.area_type)[reachable]
    covered, by_type, one_busy = _coverage(t, w, std, types)
    total = float(w.sum())
    if calls_per_hour is None:
        hourly = np.full(24, calls_per_day / 24.0)
    else:
        hourly = np.asarray(calls_per_hour, dtype=np.float64)
        calls_per_day = float(hourly.sum())
    rate = calls_per_day / 86400.0
    n = base.size
    queue = _at_mean_rate(t, w, std, rate=rate, service_s=mean_service_s)
    out: dict[str, Any] = {
        "n_units": int(n),
        "demand_unreachable_share": float(1 - w.sum() / problem.demand.sum()),
        "coverage": float(w[covered].sum() / total),
        "coverage_by_area_type": by_type,
        "coverage_one_unit_busy_min": float(min(one_busy)),
        "coverage_one_unit_busy_mean": float(np.mean(one_busy)),
        "coverage_one_unit_busy": one_busy,
        "nearest_mean_s": float(np.dot(w, t.min(axis=0)) / total),
        "nearest_p90_s": float(_weighted_quantile(t.min(axis=0), w, 0.9)),
        "calls_per_day": calls_per_day,
        "mean_service_s": mean_service_s,
        "hypercube": queue,
        "hypercube_by_hour": _by_hour(t, w, std, hourly, mean_service_s),
    }
    if simulate_days > 0:
        sim = simulate_response(
            t,
            w,
            calls_per_hour=hourly,
            mean_service_s=mean_service_s,
            standard_s=std,
            rng=np.random.default_rng(seed),
            n_days=simulate_days,
        )
        out["simulation"] = {
            "days": simulate_days,
            "seed": seed,
            "n_calls": int(sim.response_s.size),
            "fraction_within_standard": sim.fraction_within_standard,
            "mean_response_s": sim.mean_response_s,
            "p90_response_s": sim.p90_response_s,
        }
    return out


def _coverage(
    travel: FloatArray, demand: FloatArray, standard: FloatArray, types: npt.NDArray[np.str_]
) -> tuple[BoolArray, dict[str, float], list[float]]:
    """Return which atoms are covered, the covered share per area type, and with each unit busy."""
    cover = travel <= standard[None, :]
    covered: BoolArray = np.asarray(cover.any(axis=0), dtype=bool)
    total = float(demand.sum())
    by_type = {
        a: float(demand[(types == a) & covered].sum() / max(demand[types == a].sum(), 1e-12))
        for a in ("urban", "rural", "remote")
        if (types == a).any()
    }
    one_busy = []
    for u in range(travel.shape[0]):
        others = np.delete(cover, u, axis=0)
        one_busy.append(float(demand[others.any(axis=0)].sum() / total) if others.size else 0.0)
    return covered, by_type, one_busy


def _at_mean_rate(
    travel: FloatArray, demand: FloatArray, standard: FloatArray, *, rate: float, service_s: float
) -> dict[str, Any]:
    """Return the hypercube figures at the day's mean call rate (empty when units saturate)."""
    n = travel.shape[0]
    if rate * service_s >= n:
        return {}
    fn = hypercube_exact if n <= AUTO_EXACT_UNITS else hypercube_approx
    hq = fn(travel, demand, call_rate_per_s=rate, mean_service_s=service_s, standard_s=standard)
    return {
        "method": hq.method,
        "fraction_within_standard": hq.fraction_within_standard,
        "mean_response_s": hq.mean_response_s,
        "p90_response_s": hq.p90_response_s,
        "prob_all_busy": hq.prob_all_busy,
        "workload": hq.workload.tolist(),
    }


def _by_hour(
    travel: FloatArray,
    demand: FloatArray,
    standard: FloatArray,
    hourly: FloatArray,
    service_s: float,
) -> dict[str, Any]:
    """Hour-by-hour hypercube figures as a JSON-ready dict (a note when an hour overflows)."""
    n = travel.shape[0]
    over = [h for h in range(24) if hourly[h] * service_s / 3600.0 >= n]
    if over:
        return {
            "note": (
                f"no steady state in hour(s) {', '.join(f'{h:02d}:00' for h in over)}: "
                f"the offered load reaches the {n} units; add units or shorten service"
            ),
            "calls_per_hour": hourly.tolist(),
        }
    res = hypercube_by_hour(
        travel, demand, calls_per_hour=hourly, mean_service_s=service_s, standard_s=standard
    )
    busiest = int(np.argmax(hourly))

    def num(v: float) -> float | None:
        return None if not np.isfinite(v) else float(v)

    return {
        "method": res.method,
        "status": res.status,
        "n_solves": res.n_solves,
        "fraction_within_standard": res.fraction_within_standard,
        "mean_response_s": res.mean_response_s,
        "p90_response_s": res.p90_response_s,
        "prob_all_busy": res.prob_all_busy,
        "workload": res.workload.tolist(),
        "busiest_hour": busiest,
        "calls_per_hour": hourly.tolist(),
        "hours": [
            {
                "hour": h,
                "calls": float(hourly[h]),
                "fraction_within_standard": num(res.by_hour_fraction_within_standard[h]),
                "mean_response_s": num(res.by_hour_mean_response_s[h]),
                "p90_response_s": num(res.by_hour_p90_response_s[h]),
                "prob_all_busy": num(res.by_hour_prob_all_busy[h]),
            }
            for h in range(24)
        ],
    }


def _weighted_quantile(values: FloatArray, weights: FloatArray, q: float) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    k = int(np.searchsorted(cum, q * cum[-1]))
    return float(values[order][min(k, values.size - 1)])
