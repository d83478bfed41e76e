"""Calendar arithmetic: sunset, Ramadan, festivals, school terms."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from watchfloor.errors import InvalidInputError
from watchfloor.posture.calendar import (
    LONDON,
    computed_festival_dates,
    easter_sunday,
    is_school_holiday,
    islamic_month_start,
    ramadan,
    sunset_utc,
)

LONDON_LON, LONDON_LAT = -0.1278, 51.5074


@pytest.mark.parametrize(
    ("day", "published"),
    [
        # Published sunset for London (HM Nautical Almanac Office tables, also
        # timeanddate.com): 21:21 BST at the June solstice, 15:53 GMT at the
        # December one, 18:12 GMT on 20 March 2026 (near the equinox).
        (date(2026, 6, 21), datetime(2026, 6, 21, 21, 21, tzinfo=LONDON)),
        (date(2026, 12, 21), datetime(2026, 12, 21, 15, 53, tzinfo=LONDON)),
        (date(2026, 3, 20), datetime(2026, 3, 20, 18, 12, tzinfo=LONDON)),
    ],
)
def test_sunset_in_london_within_two_minutes_of_published(day: date, published: datetime) -> None:
    got = float(sunset_utc(day, LONDON_LON, LONDON_LAT)[0])
    assert abs(got - published.timestamp()) <= 120.0


def test_sunset_is_later_further_west_on_the_same_day() -> None:
    # 1 degree of longitude is 4 minutes of solar time.
    east, west = sunset_utc(date(2026, 6, 19), [-0.5, -1.5], [52.67, 52.67])
    assert west - east == pytest.approx(240.0, abs=20.0)


def test_ramadan_2026_and_2027_umm_al_qura() -> None:
    # Umm al-Qura: 1 Ramadan 1447 = 18 Feb 2026, Eid al-Fitr 20 Mar 2026;
    # 1 Ramadan 1448 = 8 Feb 2027, Eid al-Fitr 9 Mar 2027.
    assert ramadan(2026) == [(date(2026, 2, 18), date(2026, 3, 19))]
    assert ramadan(2027) == [(date(2027, 2, 8), date(2027, 3, 8))]
    assert computed_festival_dates("eid_al_fitr", 2026) == [date(2026, 3, 20)]
    assert computed_festival_dates("eid_al_fitr", 2027) == [date(2027, 3, 9)]
    assert computed_festival_dates("eid_al_adha", 2026) == [date(2026, 5, 27)]
    # 2030 holds two Ramadans (January and December).
    assert len(ramadan(2030)) == 2


def test_islamic_month_outside_table_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="outside the tabulated"):
        islamic_month_start(1460, 9)


def test_hebrew_festivals_match_published_dates() -> None:
    # Rosh Hashanah 5785 began 3 Oct 2024, 5786 on 23 Sep 2025, 5787 on 12 Sep 2026;
    # Yom Kippur 2025 was 2 Oct; Hanukkah 2025 began (25 Kislev) on 15 Dec;
    # Passover 2025 (15 Nisan) on 13 Apr.
    assert computed_festival_dates("rosh_hashanah", 2024)[0] == date(2024, 10, 3)
    assert computed_festival_dates("rosh_hashanah", 2025)[0] == date(2025, 9, 23)
    assert computed_festival_dates("rosh_hashanah", 2026)[0] == date(2026, 9, 12)
    assert computed_festival_dates("yom_kippur", 2025) == [date(2025, 10, 2)]
    assert computed_festival_dates("hanukkah", 2025)[0] == date(2025, 12, 15)
    assert len(computed_festival_dates("hanukkah", 2025)) == 8
    assert computed_festival_dates("passover", 2025)[0] == date(2025, 4, 13)


def test_easter() -> None:
    assert easter_sunday(2024) == date(2024, 3, 31)
    assert easter_sunday(2025) == date(2025, 4, 20)
    assert easter_sunday(2026) == date(2026, 4, 5)
    assert computed_festival_dates("good_friday", 2026) == [date(2026, 4, 3)]


def test_unknown_festival_rule() -> None:
    with pytest.raises(InvalidInputError, match="unknown festival rule 'diwali'"):
        computed_festival_dates("diwali", 2026)


def test_school_holidays() -> None:
    holidays = [("07-23", "09-02"), ("12-20", "01-04")]
    assert not is_school_holiday(date(2026, 6, 19), holidays, easter_days=8)  # a Friday in term
    assert is_school_holiday(date(2026, 6, 20), holidays, easter_days=8)  # Saturday
    assert is_school_holiday(date(2026, 8, 3), holidays, easter_days=8)  # summer
    assert is_school_holiday(date(2027, 1, 4), holidays, easter_days=8)  # wraps the new year
    assert is_school_holiday(date(2026, 4, 7), holidays, easter_days=8)  # Easter Tuesday
