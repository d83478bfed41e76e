"""Detectors behind one signature, and the registry a stored scan loops over.

A detector is a function ``DetectInput -> list[Alert]``: it reads the counts
by area and period, the baseline expected counts, the periods' dates, the
areas' codes and names and the scan parameters from one frozen
:class:`DetectInput`, and returns its alerts with their reasons. The service
(:func:`watchfloor.services.tension.stored.run_scan`) builds the input once and calls
every entry of :data:`DETECTORS` in order, so the alerts come out detector by
detector and the random draws (``DetectInput.rng``) are taken in registry
order: a seeded scan gives the same alerts and p-values every time.

The registry, in order:

==========================  =================================================
name                        what it runs
==========================  =================================================
``space-time-permutation``  prospective space-time permutation scan (daily and
                            monthly), clusters at ``p <= alpha``
``poisson-baseline``        unconditional Poisson scan against the baseline
                            (daily; also a rise of the whole region), at
                            ``p <= alpha * BASELINE_SCAN_ALPHA_SHARE``
``ears-c2-cusum``           EARS C2 and a CUSUM against the baseline per area
                            on the last day (daily; one alert per area, EARS
                            C2 named first when both alarm)
``farrington``              the Farrington detector per area on the last month
                            (monthly, with at least a year of history)
==========================  =================================================

Adding a detector is one function, one registry entry and one test::

    def weekly_threshold(inp: DetectInput) -> list[Alert]:
        # an alert per area whose last 7 days hold over twice their baseline
        if inp.resolution != "day":
            return []
        t = inp.n_periods - 1
        obs = inp.counts[:, t - 6 :].sum(axis=1)
        mu = inp.expected[:, t - 6 :].sum(axis=1)
        return [
            area_alert(inp, "weekly-threshold", i, t, obs=obs[i], mean=mu[i], days=7)
            for i in np.flatnonzero(obs > 2 * mu)
        ]

    DETECTORS["weekly-threshold"] = weekly_threshold

and a test in ``tests/tension/`` that feeds it a hand-made :class:`DetectInput`
and checks its alerts (see ``test_tension_detect.py``, which also shows a
registered detector's alerts reaching ``run_scan``'s report).

Pure code like the rest of the package: no files, database, settings or clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cached_property
from typing import Literal

import numpy as np
from scipy.stats import poisson

from watchfloor.tension.alerts import Alert, reason_sentence
from watchfloor.tension.baseline import FarringtonResult, farrington, fit_daily_baseline
from watchfloor.tension.charts import cusum, ears
from watchfloor.tension.scan import ScanCluster, poisson_scan, space_time_permutation_scan
from watchfloor.types import FloatArray, IntArray

__all__ = [
    "BASELINE_SCAN_ALPHA_SHARE",
    "BASELINE_SCAN_MIN_DAILY",
    "DETECTORS",
    "Baseline",
    "DetectInput",
    "Detector",
    "add_months",
    "area_alert",
    "baseline_scan_status",
    "cluster_alert",
    "ears_c2_cusum",
    "farrington_monthly",
    "fit_baseline",
    "month_end",
    "poisson_baseline",
    "poisson_p",
    "space_time_permutation",
    "with_reason",
]

#: The unconditional Poisson scan alerts at ``alpha`` times this: its p-values assume
#: Poisson counts around the baseline, and real counts vary more (a county at its
#: normal level gave such an alert about one day in 20 at p <= 0.05 in the tests).
BASELINE_SCAN_ALPHA_SHARE = 0.2

#: Below this many incidents a day in the whole region over the training days the
#: baseline is too thin to say what is unusual (e.g. a monitor started days ago),
#: and the unconditional scan is not run; the report says so.
BASELINE_SCAN_MIN_DAILY = 1.0


def add_months(d: date, n: int) -> date:
    """Return the first day of the month ``n`` months after the month of ``d``."""
    m = d.month - 1 + n
    return date(d.year + m // 12, m % 12 + 1, 1)


def month_end(d: date) -> date:
    """Return the last day of the month of ``d`` (``d`` the first of its month)."""
    return add_months(d, 1) - timedelta(days=1)


@dataclass(frozen=True)
class DetectInput:
    """Everything a detector reads: counts, baseline, dates, areas and parameters.

    ``counts[i, t]`` is the (weighted) count of area ``i`` in period ``t``
    (days, or months from ``start``); ``expected`` the baseline of the same
    shape, NaN where there is none. ``max_periods`` is the longest scan window;
    the baseline was fitted on the ``train_periods`` periods before it.
    """

    counts: FloatArray
    expected: FloatArray
    resolution: Literal["day", "month"]
    start: date
    area_codes: tuple[str, ...]
    area_names: tuple[str, ...]
    distance_km: FloatArray
    kind_words: str
    """What was counted, in words, for the alerts ("" when it is a mix)."""
    max_periods: int
    max_share: float
    max_radius_km: float | None
    min_cases: int
    replicates: int
    alpha: float
    rng: np.random.Generator = field(repr=False)
    farrington: tuple[FarringtonResult, ...] = field(default=(), repr=False)
    """Monthly data: each area's Farrington fit, when the baseline made them."""

    @property
    def n_periods(self) -> int:
        """Number of periods (columns of ``counts``)."""
        return int(self.counts.shape[1])

    @property
    def train_periods(self) -> int:
        """Periods before the longest window (the baseline's training periods)."""
        return self.n_periods - self.max_periods

    @property
    def unit_days(self) -> float:
        """Days per period (30.44 for a month), for recurrence intervals."""
        return 1 if self.resolution == "day" else 30.44

    @cached_property
    def int_counts(self) -> IntArray:
        """The counts rounded to whole cases, as the scans take them."""
        return np.rint(self.counts).astype(np.int64)

    def span(self, first: int, last: int) -> tuple[str, str]:
        """Return the first and last day (ISO dates) of periods ``first..last``."""
        if self.resolution == "day":
            return (
                (self.start + timedelta(days=first)).isoformat(),
                (self.start + timedelta(days=last)).isoformat(),
            )
        return add_months(self.start, first).isoformat(), month_end(
            add_months(self.start, last)
        ).isoformat()


Detector = Callable[[DetectInput], list[Alert]]
"""A detector: the alerts (with reasons) it raises on one :class:`DetectInput`."""


@dataclass(frozen=True)
class Baseline:
    """The baseline of a :class:`DetectInput`: expected counts and the fits behind them."""

    expected: FloatArray
    """(areas, periods) expected counts, NaN where there is none."""
    farrington: tuple[FarringtonResult, ...] = ()
    """Monthly data: each area's Farrington fit (its alarms too); empty for daily data."""


def fit_baseline(
    counts: FloatArray, *, resolution: Literal["day", "month"], start: date, max_periods: int
) -> Baseline:
    """Return the baseline (expected counts, NaN where none) for :class:`DetectInput`.

    Daily: the GLM baseline (day of week, trend and, with a year of training,
    season) fitted on the days before the longest window. Monthly: the
    Farrington fit of every area (none with under a year of history), fitted
    once here for both the expected counts and the Farrington detector.
    """
    n_periods = counts.shape[1]
    if resolution == "day":
        train = n_periods - max_periods
        base = fit_daily_baseline(
            counts,
            first_weekday=start.weekday(),
            train_days=train,
            harmonics=1 if train >= 365 else 0,
        )
        return Baseline(base.expected)
    expected = np.full_like(counts, np.nan)
    fits = _farrington_fits(counts)
    for i, fr in enumerate(fits):
        expected[i] = fr.expected
    return Baseline(expected, fits)


def _farrington_fits(counts: FloatArray) -> tuple[FarringtonResult, ...]:
    """Each area's Farrington fit on monthly counts (none with under a year of history)."""
    years_back = min(3, (counts.shape[1] - 2) // 12)
    if years_back < 1:
        return ()
    return tuple(
        farrington(counts[i], period=12, years_back=years_back, window=1, alpha=0.01)
        for i in range(counts.shape[0])
    )


def poisson_p(observed: int, expected: float) -> float:
    """Return the one-sided Poisson p-value of at least ``observed`` at mean ``expected``."""
    if expected <= 0:
        return 0.0 if observed > 0 else 1.0
    return float(poisson.sf(observed - 1, expected))


def with_reason(alert: Alert) -> Alert:
    """Return the alert with its plain-language reason filled in."""
    return replace(alert, reason=reason_sentence(alert))


def cluster_alert(method: str, c: ScanCluster, inp: DetectInput) -> Alert:
    """Return an alert (without its reason yet) for a scan cluster of ``method``."""
    s, e = inp.span(c.start_day, c.end_day)
    return Alert(
        method=method,
        area_codes=tuple(inp.area_codes[i] for i in c.locations),
        area_names=tuple(inp.area_names[i] for i in c.locations),
        start=s,
        end=e,
        observed=c.observed,
        expected=c.expected,
        relative_risk=c.relative_risk,
        p_value=c.p_value,
        recurrence_days=c.recurrence_days,
        kind=inp.kind_words,
        llr=c.llr,
    )


def area_alert(
    inp: DetectInput,
    method: str,
    i: int,
    t: int,
    *,
    mean: float,
    obs: float | None = None,
    days: int = 1,
    expected_floor: float = 0.0,
) -> Alert:
    """Return a single-area alert, with its reason, for area ``i`` up to period ``t``.

    ``obs`` defaults to the count of period ``t``; the window is the ``days``
    periods ending at ``t``. The alert's expected count is ``mean`` (at least
    ``expected_floor``); the relative risk and the Poisson p-value use ``mean``.
    """
    s, e = inp.span(t - days + 1, t)
    observed = round(float(inp.counts[i, t] if obs is None else obs))
    return with_reason(
        Alert(
            method=method,
            area_codes=(inp.area_codes[i],),
            area_names=(inp.area_names[i],),
            start=s,
            end=e,
            observed=observed,
            expected=max(mean, expected_floor),
            relative_risk=observed / mean if mean > 0 else math.inf,
            p_value=poisson_p(observed, mean),
            recurrence_days=math.nan,
            kind=inp.kind_words,
        )
    )


def space_time_permutation(inp: DetectInput) -> list[Alert]:
    """Return the clusters of the prospective space-time permutation scan at ``p <= alpha``."""
    counts = inp.int_counts
    if counts.sum() <= 0:
        return []
    loc_idx, per_idx = np.nonzero(counts)
    result = space_time_permutation_scan(
        loc_idx,
        per_idx,
        inp.distance_km,
        n_days=inp.n_periods,
        max_days=inp.max_periods,
        max_share=inp.max_share,
        max_radius_km=inp.max_radius_km,
        min_cases=inp.min_cases,
        replicates=inp.replicates,
        rng=inp.rng,
        case_count=counts[loc_idx, per_idx],
        analysis_interval_days=inp.unit_days,
    )
    return [
        with_reason(cluster_alert("space-time-permutation", c, inp))
        for c in result.clusters
        if c.p_value <= inp.alpha
    ]


def baseline_scan_status(inp: DetectInput) -> str:
    """Return whether the baseline scan runs on ``inp`` ("run, ...") or why not ("not run: ...")."""
    if inp.resolution != "day":
        return "not run: monthly data (Farrington per area instead)"
    train = inp.train_periods
    per_day = float(inp.counts[:, :train].sum()) / max(train, 1)
    if per_day < BASELINE_SCAN_MIN_DAILY:
        return (
            f"not run: {per_day:.2f} incidents a day over the {train} days before the "
            f"window, under {BASELINE_SCAN_MIN_DAILY:g}; too few to say what is unusual"
        )
    if inp.int_counts.sum() > 0 and inp.expected.sum() > 0:
        return f"run, alerts at p <= {inp.alpha * BASELINE_SCAN_ALPHA_SHARE:g}"
    return "not run: no incidents to scan"


def _baseline_reason(alert: Alert) -> str:
    """The usual reason, saying what the expected count is: the area's own usual pattern."""
    head, sep, tail = reason_sentence(alert).partition(" expected")
    return f"{head}{sep} for the day of week, time of year and trend{tail}"


def poisson_baseline(inp: DetectInput) -> list[Alert]:
    """Return the clusters of the unconditional Poisson scan against the daily baseline.

    The baseline was fitted on the days before the longest window; the expected
    counts are not rescaled to the observed total, so a rise of the whole region
    (which the permutation scan cannot see) is found too.
    """
    if not baseline_scan_status(inp).startswith("run"):
        return []
    result = poisson_scan(
        inp.int_counts,
        inp.expected,
        inp.distance_km,
        max_days=inp.max_periods,
        max_share=inp.max_share,
        max_radius_km=inp.max_radius_km,
        min_cases=inp.min_cases,
        replicates=inp.replicates,
        rng=inp.rng,
        conditional=False,
    )
    out = []
    for c in result.clusters:
        if not c.p_value <= inp.alpha * BASELINE_SCAN_ALPHA_SHARE:
            continue
        a = cluster_alert("poisson-baseline", c, inp)
        out.append(replace(a, reason=_baseline_reason(a)))
    return out


def ears_c2_cusum(inp: DetectInput) -> list[Alert]:
    """Return an alert per area where EARS C2 or the CUSUM alarms on the last day (daily data).

    One alert per area: "ears-c2" (against the mean of days t-9..t-3) when
    EARS C2 alarms, otherwise "cusum" (against the baseline).
    """
    if inp.resolution != "day":
        return []
    counts, expected, train = inp.counts, inp.expected, inp.train_periods
    c2 = ears(counts, method="C2")
    cs = cusum(counts[:, train:], expected[:, train:])
    last = inp.n_periods - 1
    out = []
    for i in np.flatnonzero(c2.alarm[:, last] | cs.alarm[:, -1]):
        method = "ears-c2" if c2.alarm[i, last] else "cusum"
        mean = (
            float(counts[i, last - 9 : last - 2].mean())
            if method == "ears-c2"
            else float(expected[i, last])
        )
        out.append(area_alert(inp, method, int(i), last, mean=mean, expected_floor=1e-9))
    return out


def farrington_monthly(inp: DetectInput) -> list[Alert]:
    """Return an alert per area where the Farrington detector alarms on the last month.

    Uses the fits of the input's baseline (:func:`fit_baseline`) when it has them.
    """
    if inp.resolution != "month":
        return []
    fits = inp.farrington or _farrington_fits(inp.counts)
    t = inp.n_periods - 1
    return [
        area_alert(inp, "farrington", i, t, mean=float(fr.expected[t]))
        for i, fr in enumerate(fits)
        if fr.alarm[t]
    ]


DETECTORS: dict[str, Detector] = {
    "space-time-permutation": space_time_permutation,
    "poisson-baseline": poisson_baseline,
    "ears-c2-cusum": ears_c2_cusum,
    "farrington": farrington_monthly,
}
"""Name -> detector, in the order a stored scan runs them (the order of its random draws)."""
