"""Expected counts: a daily baseline, a Farrington-style monthly/weekly detector, event windows.

**Daily baseline** (:func:`fit_daily_baseline`): for every area a quasi-Poisson
log-linear model

.. math::

    \\log \\mu_{zt} = \\beta_{z0} + \\beta_{z1} t
        + \\sum_{j=1}^{6} \\gamma_{zj}\\,[\\mathrm{dow}(t) = j]
        + \\sum_{h=1}^{H} (a_{zh} \\sin(2\\pi h t/365.25) + b_{zh} \\cos(2\\pi h t/365.25))

fitted by iteratively reweighted least squares, all areas at once (batched
normal equations). A small ridge on the coefficients keeps areas with few or
no incidents finite. Dispersion is Pearson's :math:`\\phi = \\sum (y-\\mu)^2/\\mu
/ (n - p)` per area, at least 1.

**Farrington flexible (simplified)** (:func:`farrington`): for period *t* of a
monthly (52 for weekly) series the reference values are the same period and
``window`` periods either side in each of the ``years_back`` earlier years
(Farrington et al. 1996; Noufaily et al. 2013). A quasi-Poisson GLM with a
linear trend is fitted to them; the trend is kept only when significant at
5 % and the prediction stays within the range of the reference data.
Reference points with Anscombe residuals above 2.58 are down-weighted by
:math:`s^{-2}` and the model refitted once. The threshold is Farrington's
upper limit on the 2/3-power scale,

.. math::

    U = \\mu_0 \\left(1 + \\tfrac{2}{3} z_{1-\\alpha}
        \\sqrt{\\phi\\mu_0 + \\mathrm{Var}(\\hat\\mu_0)}/\\mu_0\\right)^{3/2}.

**Event window** (:func:`event_window`): observed against expected in a window
after a declared event, with exact (Garwood) Poisson confidence limits on the
ratio and a one-sided Poisson p-value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import chi2, norm, poisson
from scipy.stats import t as student_t

from watchfloor.errors import InvalidInputError

__all__ = [
    "DailyBaseline",
    "EventWindowResult",
    "FarringtonResult",
    "daily_design",
    "event_window",
    "farrington",
    "fit_daily_baseline",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DailyBaseline:
    """Expected counts per area and day, with the fitted dispersion."""

    status: str
    expected: FloatArray
    """(n_areas, n_days): fitted on the training days, predicted on all."""
    dispersion: FloatArray
    """Pearson dispersion per area (at least 1)."""
    coefficients: FloatArray
    iterations: int


def daily_design(
    n_days: int, *, first_weekday: int, harmonics: int = 1, with_trend: bool = True
) -> FloatArray:
    """Return the design matrix (days x terms): intercept, trend, weekday, harmonics.

    Parameters
    ----------
    n_days
        Number of days.
    first_weekday
        Weekday of day 0 (Monday = 0).
    harmonics
        Annual sine/cosine pairs.
    with_trend
        Include a linear trend (per year).
    """
    t = np.arange(n_days, dtype=np.float64)
    cols = [np.ones(n_days)]
    if with_trend:
        cols.append((t - t.mean()) / 365.25)
    dow = (t.astype(np.int64) + first_weekday) % 7
    cols.extend((dow == j).astype(np.float64) for j in range(1, 7))
    for h in range(1, harmonics + 1):
        ang = 2 * np.pi * h * t / 365.25
        cols.extend([np.sin(ang), np.cos(ang)])
    return np.column_stack(cols)


def fit_daily_baseline(
    counts: npt.ArrayLike,
    *,
    first_weekday: int,
    train_days: int | None = None,
    harmonics: int = 1,
    ridge: float = 1e-3,
    max_iter: int = 25,
    tol: float = 1e-8,
) -> DailyBaseline:
    """Return expected daily counts per area from a quasi-Poisson GLM fit by IRLS.

    Parameters
    ----------
    counts
        (n_areas, n_days) daily counts.
    first_weekday
        Weekday of the first day (Monday = 0).
    train_days
        Fit on the first ``train_days`` days only (exclude the days being
        tested); predict on all. Default: all days.
    harmonics
        Annual harmonics (seasonality); 0 for none. Use 0 with under a year of data.
    ridge
        L2 penalty on all but the intercept, for numerical stability.
    max_iter, tol
        IRLS stopping rule (relative change of the deviance).
    """
    y = np.asarray(counts, dtype=np.float64)
    if y.ndim != 2 or not np.isfinite(y).all() or (y < 0).any():
        msg = "counts must be a finite, non-negative (areas x days) matrix"
        raise InvalidInputError(msg)
    n_areas, n_days = y.shape
    n_train = n_days if train_days is None else int(train_days)
    x_all = daily_design(n_days, first_weekday=first_weekday, harmonics=harmonics)
    p = x_all.shape[1]
    if not p + 7 <= n_train <= n_days:
        msg = (
            f"{n_train} training days cannot fit a baseline with {p} terms; "
            f"give at least {p + 7} days of history"
        )
        raise InvalidInputError(msg)
    x = x_all[:n_train]
    yt = y[:, :n_train]
    pen = np.full(p, ridge)
    pen[0] = 0.0
    rate = yt.mean(axis=1)
    beta = np.zeros((n_areas, p))
    beta[:, 0] = np.log(np.maximum(rate, 0.5 / n_train))
    dev_old = np.inf
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (iterations are reported)
        eta = beta @ x.T
        mu = np.exp(np.clip(eta, -30, 30))
        z = eta + (yt - mu) / mu
        # Batched normal equations through BLAS (einsum over three operands is not).
        xtwx = np.matmul(x.T[None], mu[:, :, None] * x[None]) + np.diag(pen)[None]
        xtwz = (mu * z) @ x
        beta = np.linalg.solve(xtwx, xtwz[..., None])[..., 0]
        mu = np.exp(np.clip(beta @ x.T, -30, 30))
        with np.errstate(divide="ignore", invalid="ignore"):
            term = np.where(yt > 0, yt * np.log(yt / mu), 0.0)
        dev = float(2 * np.sum(term - (yt - mu)))
        if abs(dev_old - dev) <= tol * (abs(dev) + 0.1):
            break
        dev_old = dev
    mu_train = np.exp(np.clip(beta @ x.T, -30, 30))
    phi = np.sum((yt - mu_train) ** 2 / np.maximum(mu_train, 1e-12), axis=1) / max(1, n_train - p)
    expected = np.exp(np.clip(beta @ x_all.T, -30, 30))
    return DailyBaseline(
        status="ok" if it < max_iter else "iteration_limit",
        expected=expected,
        dispersion=np.maximum(phi, 1.0),
        coefficients=beta,
        iterations=it,
    )


@dataclass(frozen=True)
class FarringtonResult:
    """Expected value, threshold and alarm per period of a monthly or weekly series."""

    expected: FloatArray
    upperbound: FloatArray
    alarm: npt.NDArray[np.bool_]
    trend_used: npt.NDArray[np.bool_]


def _qp_fit(
    t: FloatArray, y: FloatArray, w: FloatArray, with_trend: bool
) -> tuple[FloatArray, FloatArray, float]:
    """Weighted quasi-Poisson GLM on (1, t): coefficients, covariance, dispersion."""
    x = np.column_stack([np.ones_like(t), t]) if with_trend else np.ones((t.size, 1))
    beta = np.zeros(x.shape[1])
    beta[0] = math.log(max(float(np.average(y, weights=w)), 0.5))
    for _ in range(50):
        mu = np.exp(x @ beta)
        z = x @ beta + (y - mu) / mu
        ww = w * mu
        xtwx = x.T @ (ww[:, None] * x) + 1e-9 * np.eye(x.shape[1])
        new = np.linalg.solve(xtwx, x.T @ (ww * z))
        if np.max(np.abs(new - beta)) < 1e-10:
            beta = new
            break
        beta = new
    mu = np.exp(x @ beta)
    dof = max(1, int(np.count_nonzero(w > 0)) - x.shape[1])
    phi = max(1.0, float(np.sum(w * (y - mu) ** 2 / mu) / dof))
    ww = w * mu
    cov = phi * np.linalg.inv(x.T @ (ww[:, None] * x) + 1e-9 * np.eye(x.shape[1]))
    return beta, cov, phi


def farrington(
    counts: npt.ArrayLike,
    *,
    period: int = 12,
    years_back: int = 3,
    window: int = 1,
    alpha: float = 0.01,
    start: int | None = None,
) -> FarringtonResult:
    """Return Farrington-style expected values, thresholds and alarms for a series.

    Parameters
    ----------
    counts
        One series of monthly (``period=12``) or weekly (``period=52``) counts.
    period
        Periods per year.
    years_back
        Earlier years used as reference.
    window
        Periods either side of the same period in earlier years.
    alpha
        One-sided level of the threshold.
    start
        First index to evaluate (default: the first with a full reference).
    """
    y = np.asarray(counts, dtype=np.float64).ravel()
    if not np.isfinite(y).all() or (y < 0).any():
        msg = "counts must be finite and non-negative"
        raise InvalidInputError(msg)
    first = years_back * period + window
    if y.size <= first:
        msg = (
            f"a series of {y.size} periods is too short for {years_back} reference "
            f"years; give at least {first + 1} periods"
        )
        raise InvalidInputError(msg)
    n = y.size
    exp_ = np.full(n, np.nan)
    up = np.full(n, np.nan)
    alarm = np.zeros(n, dtype=bool)
    trend = np.zeros(n, dtype=bool)
    z = float(norm.ppf(1 - alpha))
    for t0 in range(max(first, start or 0), n):
        idx = np.array(
            [
                t0 - k * period + j
                for k in range(1, years_back + 1)
                for j in range(-window, window + 1)
            ]
        )
        idx = idx[(idx >= 0) & (idx < t0)]
        ty = idx.astype(np.float64)
        yy = y[idx]
        w = np.ones_like(yy)
        use_trend = True
        for _reweight in range(2):
            beta, cov, phi = _qp_fit(ty, yy, w, with_trend=True)
            tstat = beta[1] / math.sqrt(cov[1, 1]) if cov[1, 1] > 0 else 0.0
            pval = 2 * float(student_t.sf(abs(tstat), max(1, idx.size - 2)))
            pred = math.exp(beta[0] + beta[1] * t0)
            use_trend = pval < 0.05 and pred <= yy.max()
            if not use_trend:
                beta, cov, phi = _qp_fit(ty, yy, w, with_trend=False)
            x = np.column_stack([np.ones_like(ty), ty]) if use_trend else np.ones((ty.size, 1))
            mu = np.exp(x @ beta)
            # Anscombe residuals; outbreaks in the reference are down-weighted once.
            s = (1.5 * (yy ** (2 / 3) - mu ** (2 / 3)) / mu ** (1 / 6)) / math.sqrt(phi)
            if _reweight == 0 and (s > 2.58).any():
                w = np.where(s > 2.58, 1.0 / s**2, 1.0)
                w = w * (w.size / w.sum())
            else:
                break
        x0 = np.array([1.0, float(t0)]) if use_trend else np.array([1.0])
        mu0 = math.exp(float(x0 @ beta))
        var_mu0 = mu0**2 * float(x0 @ cov @ x0)
        u = mu0 * (1 + (2 / 3) * z * math.sqrt(phi * mu0 + var_mu0) / mu0) ** 1.5
        exp_[t0], up[t0] = mu0, u
        alarm[t0] = y[t0] > u
        trend[t0] = use_trend
    return FarringtonResult(expected=exp_, upperbound=up, alarm=alarm, trend_used=trend)


@dataclass(frozen=True)
class EventWindowResult:
    """Observed against expected per area in the window after an event."""

    observed: FloatArray
    expected: FloatArray
    ratio: FloatArray
    ratio_lower: FloatArray
    ratio_upper: FloatArray
    p_value: FloatArray
    """One-sided: P(Y >= observed) for Y ~ Poisson(expected)."""


def event_window(
    observed: npt.ArrayLike, expected: npt.ArrayLike, *, confidence: float = 0.95
) -> EventWindowResult:
    """Return ratios with exact (Garwood) confidence limits and Poisson p-values.

    Parameters
    ----------
    observed
        Counts per area in the window.
    expected
        Expected counts per area in the same window (from a baseline).
    confidence
        Two-sided confidence level of the limits.
    """
    o = np.asarray(observed, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if o.shape != e.shape or (o < 0).any() or (e <= 0).any():
        msg = "observed and expected must have one shape; expected counts must be positive"
        raise InvalidInputError(msg)
    a = 1 - confidence
    lo = np.where(o > 0, chi2.ppf(a / 2, 2 * o) / 2, 0.0)
    hi = chi2.ppf(1 - a / 2, 2 * o + 2) / 2
    p = poisson.sf(o - 1, e)
    return EventWindowResult(
        observed=o,
        expected=e,
        ratio=o / e,
        ratio_lower=lo / e,
        ratio_upper=hi / e,
        p_value=np.asarray(p, dtype=np.float64),
    )
