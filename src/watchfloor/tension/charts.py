"""Per-area control charts: EARS C1/C2/C3 and a Poisson CUSUM.

EARS (CDC Early Aberration Reporting System; Hutwagner et al. 2003), with the
definitions of R's ``surveillance::earsC``:

* **C1**: baseline = the 7 days before day *t*; :math:`C1_t = (y_t - \\bar y) / s`.
* **C2**: the same with a 2-day guard band: baseline = days *t-9 .. t-3*.
* **C3**: :math:`C3_t = \\sum_{j=0}^{2} \\max(0, C2_{t-j} - 1)`.

:math:`s` is the sample standard deviation (``n - 1``), floored at
``min_sigma``. An alarm is raised when the statistic exceeds
:math:`\\Phi^{-1}(1 - \\alpha)` (``alpha = 0.001`` as in ``earsC``: 3.09). The
upper bound reported is ``mean + threshold * s`` for C1 and C2. Days without a
full baseline get NaN and no alarm; a zero standard deviation gives an infinite
statistic when the count is above the mean (as R's division does) and no
alarm when it is not.

**CUSUM** (Page 1954) on standardised Poisson counts against expected values
:math:`\\mu_t` from a baseline: :math:`z_t = (y_t - \\mu_t)/\\sqrt{\\mu_t}`,
:math:`S_t = \\max(0, S_{t-1} + z_t - k)`, alarm when :math:`S_t \\ge h` (as R's
``surveillance::algo.cusum`` with ``trans = "standard"``), after which the sum
restarts at 0 (``reset=False``: it carries on, as in R).

Every function takes a matrix of counts, rows = areas, columns = days.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view
from scipy.stats import norm

from watchfloor.errors import InvalidInputError
from watchfloor.types import BoolArray, FloatArray

__all__ = ["ChartResult", "cusum", "ears"]


@dataclass(frozen=True)
class ChartResult:
    """Statistic, upper bound and alarms per area (rows) and day (columns)."""

    method: str
    statistic: FloatArray
    upperbound: FloatArray
    alarm: BoolArray
    threshold: float


def _as_matrix(counts: npt.ArrayLike) -> FloatArray:
    y = np.asarray(counts, dtype=np.float64)
    if y.ndim == 1:
        y = y[None, :]
    if y.ndim != 2 or not np.isfinite(y).all() or (y < 0).any():
        msg = "counts must be a finite, non-negative (areas x days) matrix"
        raise InvalidInputError(msg)
    return y


def ears(
    counts: npt.ArrayLike,
    *,
    method: Literal["C1", "C2", "C3"] = "C2",
    baseline: int = 7,
    alpha: float = 0.001,
    min_sigma: float = 0.0,
) -> ChartResult:
    """Return EARS C1, C2 or C3 statistics and alarms for every area and day.

    Parameters
    ----------
    counts
        Counts, shape (n_areas, n_days) or (n_days,).
    method
        "C1" (no guard band), "C2" (2-day guard band) or "C3".
    baseline
        Days in the baseline (7 in EARS).
    alpha
        One-sided level; the threshold is the standard normal (1 - alpha) quantile.
    min_sigma
        Floor on the baseline standard deviation.
    """
    if method not in {"C1", "C2", "C3"}:
        msg = f"EARS method {method!r} is not C1, C2 or C3"
        raise InvalidInputError(msg)
    if baseline < 2:
        msg = f"baseline of {baseline} days is too short; give at least 2"
        raise InvalidInputError(msg)
    if not 0 < alpha < 1:
        msg = f"alpha {alpha} is outside (0, 1)"
        raise InvalidInputError(msg)
    y = _as_matrix(counts)
    threshold = float(norm.ppf(1 - alpha))
    lag = 0 if method == "C1" else 2
    stat, mean, sd = _standardised(y, baseline=baseline, lag=lag, min_sigma=min_sigma)
    upper = mean + threshold * sd
    if method == "C3":
        part = np.where(np.isnan(stat), np.nan, np.maximum(0.0, stat - 1.0))
        c3 = np.full_like(stat, np.nan)
        c3[:, 2:] = part[:, 2:] + part[:, 1:-1] + part[:, :-2]
        stat = c3
        upper = np.full_like(stat, np.nan)
    with np.errstate(invalid="ignore"):
        alarm = np.nan_to_num(stat, nan=-np.inf) > threshold
    return ChartResult(
        method=method, statistic=stat, upperbound=upper, alarm=alarm, threshold=threshold
    )


def _standardised(
    y: FloatArray, *, baseline: int, lag: int, min_sigma: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    n_areas, n_days = y.shape
    stat = np.full((n_areas, n_days), np.nan)
    mean = np.full((n_areas, n_days), np.nan)
    sd = np.full((n_areas, n_days), np.nan)
    first = baseline + lag
    if n_days <= first:
        return stat, mean, sd
    win = sliding_window_view(y, baseline, axis=1)[:, : n_days - first]
    m = win.mean(axis=2)
    s = np.maximum(win.std(axis=2, ddof=1), min_sigma)
    cur = y[:, first:]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (cur - m) / s
    z = np.where(s == 0, np.where(cur > m, np.inf, np.nan), z)
    stat[:, first:] = z
    mean[:, first:] = m
    sd[:, first:] = s
    return stat, mean, sd


def cusum(
    counts: npt.ArrayLike,
    expected: npt.ArrayLike,
    *,
    k: float = 0.5,
    h: float = 4.0,
    reset: bool = True,
) -> ChartResult:
    """Return a standardised Poisson CUSUM against expected counts, per area and day.

    Parameters
    ----------
    counts, expected
        Observed and expected counts, shape (n_areas, n_days).
    k
        Reference value (allowance) in standard deviations.
    h
        Decision interval: alarm when the sum reaches it.
    reset
        Restart the sum at 0 after an alarm (R's ``algo.cusum`` does not).
    """
    y = _as_matrix(counts)
    mu = _as_matrix(expected)
    if mu.shape != y.shape:
        msg = f"expected {mu.shape} does not match counts {y.shape}"
        raise InvalidInputError(msg)
    if k < 0 or h <= 0:
        msg = f"CUSUM needs k >= 0 and h > 0 (got k={k}, h={h})"
        raise InvalidInputError(msg)
    z = (y - mu) / np.sqrt(np.maximum(mu, 1e-9))
    s = np.zeros(y.shape[0])
    stat = np.empty_like(y)
    alarm = np.zeros(y.shape, dtype=bool)
    for t in range(y.shape[1]):
        s = np.maximum(0.0, s + z[:, t] - k)
        stat[:, t] = s
        alarm[:, t] = s >= h
        if reset:
            s = np.where(alarm[:, t], 0.0, s)
    # Count that would have taken the sum to h from yesterday's value.
    carried = np.where(alarm, 0, stat) if reset else stat
    prev = np.concatenate([np.zeros((y.shape[0], 1)), carried[:, :-1]], axis=1)
    upper = mu + (h + k - prev) * np.sqrt(np.maximum(mu, 1e-9))
    return ChartResult(method="CUSUM", statistic=stat, upperbound=upper, alarm=alarm, threshold=h)
