"""EARS C1/C2/C3, CUSUM, the daily baseline, Farrington, event windows, alerts, levels."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchfloor.errors import InvalidInputError
from watchfloor.tension.alerts import (
    Alert,
    LiaisonNote,
    describe_recurrence,
    reason_sentence,
    tension_levels_from_alerts,
)
from watchfloor.tension.baseline import event_window, farrington, fit_daily_baseline
from watchfloor.tension.charts import cusum, ears

SERIES = [3, 4, 2, 5, 3, 4, 3, 2, 4, 3, 12, 3, 4]


def test_ears_c2_alarms_on_the_stated_series() -> None:
    # Day 10 (count 12): C2 baseline = days 1..7 = [4, 2, 5, 3, 4, 3, 2], mean 23/7,
    # sd (n-1) 1.112697, C2 = (12 - 3.285714) / 1.112697 = 7.8316 > 3.090 (alpha 0.001).
    # No other day has a positive C2 above the threshold; days 0..8 have no baseline.
    r = ears(SERIES, method="C2")
    assert np.flatnonzero(r.alarm[0]).tolist() == [10]
    assert r.statistic[0, 10] == pytest.approx(7.8316, abs=1e-4)
    assert np.isnan(r.statistic[0, :9]).all()
    assert r.threshold == pytest.approx(3.0902, abs=1e-4)
    assert r.upperbound[0, 10] == pytest.approx(23 / 7 + 3.0902323 * 1.1126973, abs=1e-4)


def test_ears_c1_and_c3() -> None:
    # C1 uses days t-7..t-1: at day 10 baseline [5, 3, 4, 3, 2, 4, 3], mean 24/7.
    c1 = ears(SERIES, method="C1")
    base = np.array([5, 3, 4, 3, 2, 4, 3], dtype=float)
    assert c1.statistic[0, 10] == pytest.approx((12 - base.mean()) / base.std(ddof=1))
    assert c1.alarm[0, 10]
    # C3 at day 10 = sum over days 8..10 of max(0, C2 - 1); days 8 has no C2 (NaN).
    c2 = ears(SERIES, method="C2").statistic[0]
    c3 = ears(SERIES, method="C3").statistic[0]
    assert c3[11] == pytest.approx(max(0, c2[9] - 1) + max(0, c2[10] - 1) + max(0, c2[11] - 1))


def test_ears_flat_baseline_and_bad_input() -> None:
    r = ears([[2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2]], method="C2")
    assert r.alarm[0, 10]
    assert not r.alarm[0, 11]  # equal to a flat mean: no alarm, as NaN in R
    with pytest.raises(InvalidInputError, match="C1, C2 or C3"):
        ears(SERIES, method="C4")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="non-negative"):
        ears([1, -1, 2])


def test_ears_is_vectorised_over_areas() -> None:
    rng = np.random.default_rng(1)
    y = rng.poisson(4, size=(50, 100))
    whole = ears(y, method="C2")
    one = ears(y[7], method="C2")
    np.testing.assert_array_equal(whole.alarm[7], one.alarm[0])


def test_cusum_accumulates_and_resets() -> None:
    # expected 4 (sd 2): z = (y - 4) / 2; with k = 0.5, h = 4 the sums are
    # day0 y=4: 0; day1 y=8: 1.5; day2 y=8: 3.0; day3 y=8: 4.5 > 4 -> alarm, reset.
    r = cusum([[4, 8, 8, 8, 4]], [[4, 4, 4, 4, 4]], k=0.5, h=4.0)
    assert r.statistic[0].tolist()[:4] == [0.0, 1.5, 3.0, 4.5]
    assert r.alarm[0].tolist() == [False, False, False, True, False]


def test_cusum_without_reset_as_r_algo_cusum() -> None:
    # R: algo.cusum(create.disProg(week = 1:8, observed = c(4, 4, 4, 4, 8, 8, 8, 4),
    #    state = rep(0, 8)), control = list(range = 5:8, k = 0.5, h = 3, m = 4))
    # gives cusum 1.5 3.0 4.5 4.0 and alarms 0 1 1 1: the sum reaching h is an
    # alarm and it is not reset.
    r = cusum([[8, 8, 8, 4]], [[4, 4, 4, 4]], k=0.5, h=3.0, reset=False)
    assert r.statistic[0].tolist() == [1.5, 3.0, 4.5, 4.0]
    assert r.alarm[0].tolist() == [False, True, True, True]


def test_daily_baseline_recovers_weekday_pattern() -> None:
    rng = np.random.default_rng(5)
    n_days = 364
    weekday = np.arange(n_days) % 7
    rate = np.where(weekday >= 5, 6.0, 3.0)
    y = rng.poisson(np.tile(rate, (20, 1)))
    fit = fit_daily_baseline(y, first_weekday=0, harmonics=1)
    assert fit.status == "ok"
    mean_we = fit.expected[:, weekday >= 5].mean()
    mean_wd = fit.expected[:, weekday < 5].mean()
    assert mean_we == pytest.approx(6.0, rel=0.05)
    assert mean_wd == pytest.approx(3.0, rel=0.05)
    with pytest.raises(InvalidInputError, match="training days"):
        fit_daily_baseline(y[:, :10], first_weekday=0)


def test_farrington_flags_a_doubling_not_the_usual_months() -> None:
    rng = np.random.default_rng(2)
    y = rng.poisson(100, size=48).astype(float)
    y[-1] = 200
    r = farrington(y, period=12, years_back=3, window=1, alpha=0.01)
    assert r.alarm[-1]
    assert r.alarm[37:-1].sum() <= 1
    assert np.isnan(r.expected[:37]).all()
    with pytest.raises(InvalidInputError, match="too short"):
        farrington(y[:20], years_back=3)


def test_event_window_garwood_limits() -> None:
    # Exact 95 % limits of a Poisson count of 10 are 4.7954 and 18.3904 (Garwood 1936).
    r = event_window([10.0], [4.0])
    assert r.ratio[0] == pytest.approx(2.5)
    assert r.ratio_lower[0] * 4 == pytest.approx(4.7954, abs=1e-4)
    assert r.ratio_upper[0] * 4 == pytest.approx(18.3904, abs=1e-4)
    assert r.p_value[0] == pytest.approx(0.008132, abs=1e-5)  # P(Y >= 10 | mean 4)
    zero = event_window([0.0], [2.0])
    assert zero.ratio_lower[0] == 0.0


def _alert(ri: float, codes: tuple[str, ...] = ("E1",)) -> Alert:
    return Alert(
        method="space-time-permutation",
        area_codes=codes,
        area_names=tuple(f"Area {c}" for c in codes),
        start="2017-06-13",
        end="2017-06-19",
        observed=14,
        expected=4.1,
        relative_risk=3.6,
        p_value=1 / ri,
        recurrence_days=ri,
        kind="hate",
    )


def test_reason_sentence_reads_like_the_issue() -> None:
    a = Alert(
        method="space-time-permutation",
        area_codes=("E05000001",),
        area_names=("Luton South",),
        start="2017-06-13",
        end="2017-06-19",
        observed=14,
        expected=4.1,
        relative_risk=3.6,
        p_value=1 / 1100,
        recurrence_days=1100,
        kind="hate",
    )
    assert reason_sentence(a) == (
        "Luton South: 14 hate incidents in 7 days against 4.1 expected; "
        "this happens by chance about once in 3 years"
    )
    # a baseline of almost nothing reads as such, not as "0.0 expected"
    thin = replace(a, observed=2, expected=0.036, start="2017-06-18")
    assert reason_sentence(thin).startswith(
        "Luton South: 2 hate incidents in 2 days against 0.036 expected;"
    )
    assert "against fewer than 0.01 expected" in reason_sentence(replace(a, expected=0.004))
    assert "against 1.0 expected" in reason_sentence(replace(a, expected=0.96))
    assert "against 0.94 expected" in reason_sentence(replace(a, expected=0.94))
    assert describe_recurrence(5) == "about once in 5 days"
    assert describe_recurrence(400) == "about once a year"


def test_level_mapping() -> None:
    codes = ["E1", "E2", "E3", "E4", "E5"]
    alerts = [_alert(400, ("E1",)), _alert(150, ("E2",)), _alert(30, ("E3",)), _alert(400, ("E5",))]
    notes = [
        LiaisonNote("E4", "2017-06-18", "graffiti", 4),
        LiaisonNote("E5", "2017-06-18", "leaflets", 5),
    ]
    lv = tension_levels_from_alerts(codes, alerts, notes)
    assert {c: lv[c].level for c in codes} == {"E1": 4, "E2": 3, "E3": 2, "E4": 3, "E5": 5}
    assert "leaflets" in lv["E5"].reason
    assert "about once a year" in lv["E1"].reason
    assert tension_levels_from_alerts(["X"], [], [])["X"].level == 1


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(1, 5000), max_size=4),
    st.lists(st.integers(1, 5), max_size=3),
)
def test_levels_stay_in_1_to_5_and_never_drop_with_more_evidence(
    ris: list[float], sev: list[int]
) -> None:
    alerts = [_alert(r) for r in ris]
    notes = [LiaisonNote("E1", "2017-06-18", "other", s) for s in sev]
    base = tension_levels_from_alerts(["E1"], alerts, notes)["E1"].level
    more = tension_levels_from_alerts(
        ["E1"], [*alerts, _alert(5000)], [*notes, LiaisonNote("E1", "2017-06-19", "other", 5)]
    )["E1"].level
    assert 1 <= base <= 5
    assert base <= more <= 5
    assert math.isfinite(base)
