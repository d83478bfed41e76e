"""Farrington flexible (Noufaily et al. 2013) against R's surveillance::farringtonFlexible."""

from __future__ import annotations

import numpy as np
import pytest

from watchfloor.errors import InvalidInputError
from watchfloor.tension.baseline import farrington

# round(60 + 15 sin(2 pi t / 12) + 0.4 t + 5 cos(2 pi t / 5)), t = 0..59, with
# an outbreak (x3) at t = 37 in the reference and a doubling at t = 59.
SERIES = np.array(
    [65, 69, 70, 72, 76, 74, 64, 51, 46, 50, 56, 58, 61, 69, 80, 86, 81, 70, 63, 62,
     60, 55, 52, 58, 71, 83, 85, 82, 80, 81, 77, 66, 56, 54, 62, 72, 76, 234, 84, 92,
     94, 85, 73, 66, 66, 68, 67, 67, 75, 89, 98, 97, 90, 85, 83, 79, 71, 64, 66, 156],
    dtype=float,
)  # fmt: skip

# R 4.2, surveillance 1.20.3 (printed to 6 decimals):
#   s <- sts(observed = matrix(y, ncol = 1), frequency = 12, start = c(2015, 1))
#   r <- farringtonFlexible(s, control = list(b = 3, w = 1, alpha = 0.01, noPeriods = 10))
#   upperbound(r), r@control$expected, alarms(r), r@control$trend  (periods 55..59)
R_NOPERIODS_10 = {
    "upperbound": [94.468920, 89.035700, 87.994296, 91.030795, 97.383851],
    "expected": [73.601728, 68.832946, 67.921446, 70.582929, 76.168452],
}
R_NOPERIODS_1 = {
    "upperbound": [92.045366, 80.562719, 78.904947, 80.824446, 86.553205],
    "expected": [71.427020, 61.444444, 60.000000, 61.666667, 66.666667],
}
# The same with reweight = FALSE (noPeriods = 10): the outbreak at t = 37 stays in.
R_NO_REWEIGHT = [112.979945, 107.094117, 105.312791, 107.979307, 115.185430]
# alarms(r) over periods 37..59 (both noPeriods): TRUE at 37 and at 59 only.
# r@control$trend over 37..59, noPeriods = 10: 1 everywhere except period 38.


def test_matches_r_farrington_flexible_with_ten_seasonal_levels() -> None:
    r = farrington(SERIES, period=12, years_back=3, window=1, alpha=0.01, no_periods=10)
    np.testing.assert_allclose(r.upperbound[55:], R_NOPERIODS_10["upperbound"], rtol=1e-7)
    np.testing.assert_allclose(r.expected[55:], R_NOPERIODS_10["expected"], rtol=1e-7)
    assert np.flatnonzero(r.alarm).tolist() == [37, 59]
    assert r.trend_used[37:].tolist() == [True, False] + [True] * 21
    assert np.isnan(r.expected[:37]).all()
    assert not r.alarm[:37].any()


def test_matches_r_original_design_and_without_reweighting() -> None:
    r1 = farrington(SERIES, period=12, years_back=3, window=1, alpha=0.01, no_periods=1)
    np.testing.assert_allclose(r1.upperbound[55:], R_NOPERIODS_1["upperbound"], rtol=1e-7)
    np.testing.assert_allclose(r1.expected[55:], R_NOPERIODS_1["expected"], rtol=1e-7)
    assert np.flatnonzero(r1.alarm).tolist() == [37, 59]
    r0 = farrington(SERIES, years_back=3, window=1, alpha=0.01, reweight=False)
    np.testing.assert_allclose(r0.upperbound[55:], R_NO_REWEIGHT, rtol=1e-7)


def test_past_outbreak_is_downweighted() -> None:
    # The x3 month at t = 37 is in the reference of t = 49 (one year later):
    # down-weighting it keeps the threshold near the usual level.
    with_rw = farrington(SERIES, years_back=3, window=1, alpha=0.01)
    without = farrington(SERIES, years_back=3, window=1, alpha=0.01, reweight=False)
    assert with_rw.upperbound[49] < without.upperbound[49] - 10


def test_pearson_prediction_variance_only_widens_the_threshold() -> None:
    r = farrington(SERIES, years_back=3, window=1, alpha=0.01, trend=False)
    p = farrington(
        SERIES, years_back=3, window=1, alpha=0.01, trend=False, prediction_variance="pearson"
    )
    ok = ~np.isnan(r.upperbound)
    np.testing.assert_allclose(r.expected[ok], p.expected[ok])
    assert (p.upperbound[ok] >= r.upperbound[ok] - 1e-9).all()
    assert (p.upperbound[ok] > r.upperbound[ok] + 0.1).any()


def test_negative_binomial_threshold_is_an_integer_quantile() -> None:
    r = farrington(SERIES, years_back=3, window=1, alpha=0.01, threshold_method="nbPlugin")
    ok = ~np.isnan(r.upperbound)
    assert ok.sum() == 23
    np.testing.assert_array_equal(r.upperbound[ok], np.round(r.upperbound[ok]))
    assert r.alarm[59]


def test_too_few_cases_never_alarm() -> None:
    y = np.zeros(48)
    y[-1] = 3  # fewer than 5 cases in the last 4 months: no threshold, no alarm
    r = farrington(y, years_back=3, window=1)
    assert not r.alarm.any()
    assert np.isnan(r.upperbound[-1])


def test_bad_input() -> None:
    with pytest.raises(InvalidInputError, match="too short"):
        farrington(SERIES[:30], years_back=3)
    with pytest.raises(InvalidInputError, match="non-negative"):
        farrington(-SERIES)
    with pytest.raises(InvalidInputError, match="seasonal levels"):
        farrington(SERIES, window=4, no_periods=10)
    with pytest.raises(InvalidInputError, match="threshold_method"):
        farrington(SERIES, threshold_method="quantile")  # type: ignore[arg-type]
