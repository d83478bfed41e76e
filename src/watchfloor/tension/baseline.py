"""Expected counts: a daily baseline, Farrington flexible for monthly/weekly series, event windows.

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

**Farrington flexible** (:func:`farrington`; Noufaily et al. 2013, with the
definitions of R's ``surveillance::farringtonFlexible``): for period *t* of a
monthly (52 for weekly) series, a quasi-Poisson GLM with a linear trend and a
10-level seasonal factor (the windows around the same period of the
``years_back`` earlier years, and the stretches between them in 9 blocks) is
fitted to all periods from ``years_back`` years back up to a few periods ago.
Reference points with Anscombe residuals above 2.58 are down-weighted by
:math:`s^{-2}` and the model refitted (past outbreaks); the trend is kept only
when significant at 5 % and the prediction stays within the reference data.
The threshold is on the 2/3-power scale,

.. math::

    U = \\left(\\mu_0^{2/3} + z_{1-\\alpha}
        \\sqrt{\\tfrac{4}{9} \\mu_0^{1/3} (\\phi + V/\\mu_0)}\\right)^{3/2},

with :math:`V` the variance of the prediction :math:`\\mu_0`,
or Noufaily's negative binomial quantile. Thresholds and alarms equal R's on
the national monthly series to 1e-14 (``benchmarks/bench_tension.py``).

**Event window** (:func:`event_window`): observed against expected in a window
after a declared event, with exact (Garwood) Poisson confidence limits on the
ratio and a one-sided Poisson p-value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.stats import chi2, nbinom, norm, poisson
from scipy.stats import t as student_t

from watchfloor.errors import InvalidInputError
from watchfloor.types import FloatArray, IntArray

__all__ = [
    "DailyBaseline",
    "EventWindowResult",
    "FarringtonResult",
    "daily_design",
    "event_window",
    "farrington",
    "fit_daily_baseline",
]

_POWERS = {"2/3": 2 / 3, "1/2": 0.5, "none": 1.0}


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
    """Expected value, threshold and alarm per period of a monthly or weekly series.

    Periods without a full reference (the first ``years_back * period + window``)
    are NaN / no alarm. ``upperbound`` is NaN, and there is no alarm, where fewer
    than ``min_cases`` were counted in the last ``min_cases_periods`` periods
    (R's ``limit54``).
    """

    expected: FloatArray
    upperbound: FloatArray
    alarm: npt.NDArray[np.bool_]
    trend_used: npt.NDArray[np.bool_]
    score: FloatArray
    """``(y - expected) / (upperbound - expected)``: an alarm is a score above 1."""
    p_value: FloatArray
    """Upper tail probability of the count under the fitted model."""
    dispersion: FloatArray
    """Quasi-Poisson dispersion used for the threshold (at least 1)."""


@dataclass(frozen=True)
class _GlmFit:
    beta: FloatArray
    mu: FloatArray
    cov_unscaled: FloatArray
    dispersion: float
    """Pearson estimate (not floored), as R's ``summary.glm``."""
    r_dispersion: float
    """What R's ``summary.glm`` reports once the down-weighting factors have
    replaced the IRLS weights: ``sum(w ((y - mu) / mu)^2) / df``."""
    df_residual: int
    hat: FloatArray
    converged: bool


def _quasipoisson_glm(x: FloatArray, y: FloatArray, w: FloatArray) -> _GlmFit:
    """Weighted quasi-Poisson log-linear GLM by IRLS, as R's ``glm.fit``.

    Starts from ``mu = y + 0.1``; stops when the relative change of the deviance
    is below 1e-8 (at most 25 iterations). As in R, the covariance, hat values
    and Pearson dispersion use the working weights of the last iteration (the
    fitted values before its update) with the final residuals.
    """
    q = x.shape[1]
    eta = np.log(y + 0.1)
    mu = np.exp(eta)
    dev_old = math.inf
    converged = False
    ridge = 1e-12 * np.eye(q)
    beta = np.zeros(q)
    ww = w * mu
    xtwx = x.T @ (ww[:, None] * x) + ridge
    for _ in range(25):
        z = eta + (y - mu) / mu
        ww = w * mu
        xtwx = x.T @ (ww[:, None] * x) + ridge
        beta = np.linalg.solve(xtwx, x.T @ (ww * z)).astype(np.float64)
        eta = np.clip(x @ beta, -30.0, 30.0)
        mu = np.exp(eta)
        with np.errstate(divide="ignore", invalid="ignore"):
            term = np.where(y > 0, y * np.log(y / mu), 0.0)
        dev = float(2 * np.sum(w * (term - (y - mu))))
        if abs(dev - dev_old) / (abs(dev) + 0.1) < 1e-8:
            converged = True
            break
        dev_old = dev
    cov_u = np.linalg.inv(xtwx).astype(np.float64)
    hat = ww * np.einsum("ip,pq,iq->i", x, cov_u, x)
    df_r = int(np.count_nonzero(w > 0)) - q
    res = (y - mu) / mu
    disp = float(np.sum(ww * res**2) / df_r) if df_r > 0 else math.nan
    r_disp = float(np.sum(w * res**2) / df_r) if df_r > 0 else math.nan
    return _GlmFit(beta, mu, cov_u, disp, r_disp, df_r, hat, converged)


def _fit_with_reweighting(
    x: FloatArray, y: FloatArray, *, reweight: bool, weights_threshold: float
) -> tuple[_GlmFit, float]:
    """Fit; down-weight points with Anscombe residuals above the threshold; refit.

    Returns the final fit and its dispersion floored at 1 (R's
    ``algo.farrington.fitGLM.flexible``).
    """
    fit = _quasipoisson_glm(x, y, np.ones_like(y))
    phi = max(fit.dispersion, 1.0)
    if reweight:
        with np.errstate(divide="ignore", invalid="ignore"):
            s = (1.5 * (y ** (2 / 3) * fit.mu ** (-1 / 6) - fit.mu**0.5)) / np.sqrt(
                phi * (1 - fit.hat)
            )
        big = s > weights_threshold
        inv_s2 = np.ones_like(s)
        inv_s2[big] = s[big] ** -2.0
        gamma = y.size / float(np.sum(inv_s2))
        omega = gamma * inv_s2
        fit = _quasipoisson_glm(x, y, omega)
        phi = max(fit.dispersion, 1.0)
    return fit, phi


def _season_blocks(
    t0: int, *, period: int, years_back: int, window: int, no_periods: int
) -> IntArray:
    """Seasonal level (1..no_periods, 0 = not used) of every period before and at ``t0``.

    As R's ``surveillance:::blocks``: level ``no_periods`` for the reference
    windows (``t0 - k * period +- window``, k = 1..years_back, and the current
    window); with ``no_periods > 1`` the stretch between two reference windows is
    split into ``no_periods - 1`` blocks of near-equal length (longer ones first),
    levels 1, 2, ...
    """
    level = np.zeros(t0 + 1, dtype=np.int64)
    level[t0 - window : t0 + 1] = no_periods
    for k in range(1, years_back + 1):
        ref = t0 - k * period
        level[ref - window : ref + window + 1] = no_periods
        if no_periods > 1:
            gap = (t0 - (k - 1) * period) - 2 * window - 1 - ref
            n_blocks = no_periods - 1
            lengths = np.full(n_blocks, gap // n_blocks)
            lengths[: gap % n_blocks] += 1
            edges = ref + window + 1 + np.concatenate([[0], np.cumsum(lengths)])
            for j in range(n_blocks):
                level[edges[j] : edges[j + 1]] = j + 1
    return level


def farrington(
    counts: npt.ArrayLike,
    *,
    period: int = 12,
    years_back: int = 3,
    window: int = 1,
    alpha: float = 0.01,
    start: int | None = None,
    no_periods: int = 10,
    past_periods_excluded: int | None = None,
    reweight: bool = True,
    weights_threshold: float = 2.58,
    trend: bool = True,
    p_threshold_trend: float = 0.05,
    min_cases: int = 5,
    min_cases_periods: int = 4,
    power: Literal["2/3", "1/2", "none"] = "2/3",
    threshold_method: Literal["delta", "nbPlugin", "muan"] = "delta",
    prediction_variance: Literal["r", "pearson"] = "r",
) -> FarringtonResult:
    """Return Farrington flexible expected values, thresholds and alarms for a series.

    The improved Farrington method of Noufaily et al. (2013), with the
    definitions of R's ``surveillance::farringtonFlexible`` (the argument names
    map to its control list: ``years_back`` = ``b``, ``window`` = ``w``,
    ``no_periods`` = ``noPeriods``, ``past_periods_excluded`` =
    ``pastWeeksNotIncluded``, ``weights_threshold`` = ``weightsThreshold``,
    ``p_threshold_trend`` = ``pThresholdTrend``, ``(min_cases,
    min_cases_periods)`` = ``limit54``, ``power`` = ``powertrans``,
    ``threshold_method`` = ``thresholdMethod``). For period *t*:

    1. Reference data: every period from ``t - years_back * period - window``
       to ``t - past_periods_excluded - 1``, with a seasonal factor of
       ``no_periods`` levels (the windows around the same period of earlier
       years are one level, the stretches between them are split into
       ``no_periods - 1`` blocks); ``no_periods = 1`` keeps only the windows
       (the original Farrington et al. 1996 design).
    2. A quasi-Poisson GLM ``log mu = a + b t + season`` is fitted; points with
       Anscombe residuals ``s > weights_threshold`` get weight ``gamma s^-2``
       (others ``gamma``, with the weights summing to the number of points) and
       the model is refitted (down-weighting of past outbreaks).
    3. The trend is kept if ``trend``, at least 3 years back, its t-test
       p-value is below ``p_threshold_trend`` and the prediction does not exceed
       the largest reference count; otherwise the model (with reweighting) is
       refitted without it.
    4. Threshold, ``delta`` (default): on the 2/3-power scale,
       ``U = (mu0^(2/3) + z_{1-alpha} sqrt(4/9 mu0^(1/3) (phi + se^2/mu0)))^(3/2)``
       with ``se`` the standard error of the prediction ``mu0`` and ``phi``
       the dispersion (at least 1). ``nbPlugin``: the negative binomial
       ``1 - alpha`` quantile with mean ``mu0`` and variance ``phi mu0``
       (Noufaily et al.'s proposal); ``muan``: the same with mean the
       ``1 - alpha`` quantile of the prediction on the log scale.
    5. Alarm when ``y_t > U`` (score above 1), ``y_t > 0`` and at least
       ``min_cases`` were counted in the last ``min_cases_periods`` periods.

    R's ``farringtonFlexible`` (surveillance 1.20-1.24) stores the
    down-weighting factors in the fitted model's ``weights`` slot before it
    predicts, so ``predict.glm`` and ``summary.glm`` then use the dispersion
    ``sum(omega ((y - mu)/mu)^2) / df`` (on counts in the thousands, about
    1/mu of the real one): the standard error of the prediction is nearly
    zero and the trend test nearly always significant. ``prediction_variance
    = "r"`` (default) reproduces this, so alarms are R's;
    ``"pearson"`` uses the quasi-Poisson dispersion for both, as Farrington et
    al. and Noufaily et al. intend (slightly higher thresholds). Without
    reweighting both are the same.

    Parameters
    ----------
    counts
        One series of monthly (``period=12``) or weekly (``period=52``) counts.
    period
        Periods per year.
    years_back
        Earlier years used as reference (R's ``b``).
    window
        Periods either side of the same period in earlier years (R's ``w``).
    alpha
        One-sided level of the threshold.
    start
        First index to evaluate (default: the first with a full reference).
    no_periods
        Levels of the seasonal factor (10 in Noufaily et al.; 1 for none).
    past_periods_excluded
        Most recent periods left out of the reference (default ``window``).
    reweight, weights_threshold
        Down-weight past outbreaks: points with Anscombe residuals above the threshold.
    trend, p_threshold_trend
        Fit a linear trend, kept when significant at this level.
    min_cases, min_cases_periods
        No alarm unless at least ``min_cases`` in the last ``min_cases_periods`` periods.
    power
        Power transform of the ``delta`` threshold ("2/3", "1/2" or "none").
    threshold_method
        "delta", "nbPlugin" or "muan" (see above).
    prediction_variance
        "r" (R's variance of the prediction and trend test) or "pearson" (see above).

    References
    ----------
    Farrington C.P., Andrews N.J., Beale A.D., Catchpole M.A. (1996). A
    statistical algorithm for the early detection of outbreaks of infectious
    disease. JRSS A 159, 547-563. Noufaily A., Enki D.G., Farrington C.P.,
    Garthwaite P., Andrews N.J., Charlett A. (2013). An improved algorithm for
    outbreak detection in multiple surveillance systems. Statistics in
    Medicine 32, 1206-1222.
    """
    y = np.asarray(counts, dtype=np.float64).ravel()
    if not np.isfinite(y).all() or (y < 0).any():
        msg = "counts must be finite and non-negative"
        raise InvalidInputError(msg)
    if years_back < 1 or window < 0 or period < 2 * window + 2:
        msg = (
            f"years_back {years_back}, window {window} and period {period} do not make a "
            "reference: give years_back >= 1 and a window shorter than half a year"
        )
        raise InvalidInputError(msg)
    if no_periods < 1 or (no_periods > 1 and period - 2 * window - 1 < no_periods - 1):
        msg = (
            f"{no_periods} seasonal levels do not fit in the {period - 2 * window - 1} "
            "periods between reference windows; lower no_periods"
        )
        raise InvalidInputError(msg)
    if not 0 < alpha < 1:
        msg = f"alpha {alpha} is outside (0, 1)"
        raise InvalidInputError(msg)
    if (
        power not in _POWERS
        or threshold_method not in {"delta", "nbPlugin", "muan"}
        or prediction_variance not in {"r", "pearson"}
    ):
        msg = (
            f"power {power!r}, threshold_method {threshold_method!r}, prediction_variance "
            f"{prediction_variance!r}: give power '2/3', '1/2' or 'none', threshold_method "
            "'delta', 'nbPlugin' or 'muan' and prediction_variance 'r' or 'pearson'"
        )
        raise InvalidInputError(msg)
    first = years_back * period + window
    if y.size <= first:
        msg = (
            f"a series of {y.size} periods is too short for {years_back} reference "
            f"years; give at least {first + 1} periods"
        )
        raise InvalidInputError(msg)
    excluded = window if past_periods_excluded is None else int(past_periods_excluded)

    def _disp(fit: _GlmFit) -> float:
        return fit.r_dispersion if reweight and prediction_variance == "r" else fit.dispersion

    n = y.size
    exp_, up, score, pval, disp = (np.full(n, np.nan) for _ in range(5))
    alarm = np.zeros(n, dtype=bool)
    trend_used = np.zeros(n, dtype=bool)
    z = float(norm.ppf(1 - alpha))
    for t0 in range(max(first, start or 0), n):
        level = _season_blocks(
            t0, period=period, years_back=years_back, window=window, no_periods=no_periods
        )
        level[max(0, t0 - excluded) :] = 0
        idx = np.flatnonzero(level)
        yy = y[idx]
        tt = idx.astype(np.float64)
        season = [
            (level[idx] == j).astype(np.float64)
            for j in range(1, no_periods)
            if (level[idx] == j).any()
        ]
        x_season = np.column_stack([np.ones_like(tt), *season])
        use_trend = False
        fit, phi = None, math.nan
        if trend:
            x = np.column_stack([x_season, tt])
            fit, phi = _fit_with_reweighting(
                x, yy, reweight=reweight, weights_threshold=weights_threshold
            )
            if fit.converged and fit.df_residual > 0:
                x0 = np.zeros(x.shape[1])
                x0[0], x0[-1] = 1.0, float(t0)
                se_b = math.sqrt(_disp(fit) * fit.cov_unscaled[-1, -1])
                p_trend = 2 * float(student_t.sf(abs(fit.beta[-1] / se_b), fit.df_residual))
                pred = math.exp(float(x0 @ fit.beta))
                use_trend = years_back >= 3 and p_trend < p_threshold_trend and pred <= yy.max()
        if not use_trend:
            x = x_season
            fit, phi = _fit_with_reweighting(
                x, yy, reweight=reweight, weights_threshold=weights_threshold
            )
        assert fit is not None
        if not fit.converged or fit.df_residual <= 0:
            continue
        x0 = np.zeros(x.shape[1])
        x0[0] = 1.0
        if use_trend:
            x0[-1] = float(t0)
        eta0 = float(x0 @ fit.beta)
        se_eta0 = math.sqrt(max(0.0, _disp(fit) * float(x0 @ fit.cov_unscaled @ x0)))
        mu0 = math.exp(eta0)
        if threshold_method == "delta":
            se_mu0 = se_eta0 * mu0
            tau = phi + se_mu0**2 / mu0
            e = _POWERS[power]
            se = math.sqrt(
                mu0 * tau if e == 1.0 else (tau / 4 if e == 0.5 else 4 / 9 * mu0 ** (1 / 3) * tau)
            )
            u = (mu0**e + z * se) ** (1 / e)
            p = float(norm.sf(y[t0] ** e, loc=mu0**e, scale=se))
        else:
            mq = mu0 if threshold_method == "nbPlugin" else math.exp(eta0 + z * se_eta0)
            if phi > 1:
                u = float(nbinom.ppf(1 - alpha, mq / (phi - 1), 1 / phi))
            else:
                u = float(poisson.ppf(1 - alpha, mq))
            if phi != 1:
                p = float(nbinom.sf(y[t0] - 1, mq / (phi - 1), 1 / phi))
            else:
                p = float(poisson.sf(y[t0] - 1, mq))
        exp_[t0], disp[t0], pval[t0] = mu0, phi, p
        trend_used[t0] = use_trend
        lo = max(0, t0 - min_cases_periods + 1)
        if y[lo : t0 + 1].sum() >= min_cases and math.isfinite(u):
            up[t0] = u
            score[t0] = (y[t0] - mu0) / (u - mu0) if u != mu0 else math.nan
            alarm[t0] = bool(score[t0] > 1) and y[t0] != 0
    return FarringtonResult(
        expected=exp_,
        upperbound=up,
        alarm=alarm,
        trend_used=trend_used,
        score=score,
        p_value=pval,
        dispersion=disp,
    )


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
