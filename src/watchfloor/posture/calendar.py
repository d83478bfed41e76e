"""Calendar arithmetic for the posture: sunset, Ramadan, festivals and school terms.

Sources
-------
Sunset
    NOAA Global Monitoring Laboratory, *Solar Calculation Details* (the
    spreadsheet equations after Meeus, *Astronomical Algorithms*, 1991):
    apparent sunset is the moment the Sun's centre is 0.833 degrees below the
    horizon (refraction plus semi-diameter). Accurate to about one minute at
    British latitudes.
Islamic dates (Ramadan, Eid al-Fitr, Eid al-Adha)
    Tabulated from the Umm al-Qura calendar of Saudi Arabia for AH 1444-1452
    (Gregorian 2023-2030), as published in the month-start table of the
    ``hijridate`` project. Many British mosques follow local moon sighting
    and begin a day later; a force can override the dates in its factor file.
    Ramadan 1447 begins 2026-02-18, Ramadan 1448 begins 2027-02-08.
Jewish festivals
    Computed with the arithmetic Hebrew calendar (Dershowitz and Reingold,
    *Calendrical Calculations*, 3rd ed., ch. 8): Rosh Hashanah (1-2 Tishrei),
    Yom Kippur (10 Tishrei), Hanukkah (25 Kislev, eight days), Passover (15-16
    Nisan), Shavuot (6 Sivan).
Easter
    The anonymous Gregorian computus (Meeus); Good Friday is two days before.
Christmas
    Fixed: Christmas Eve evening and Christmas Day.
Diwali and Vaisakhi
    Not computed (they follow the Hindu lunisolar and Nanakshahi calendars):
    their dates are listed in ``defaults.yaml`` and can be replaced by a force.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import numpy.typing as npt

from watchfloor.errors import InvalidInputError
from watchfloor.types import LONDON, FloatArray

__all__ = [
    "LONDON",
    "computed_festival_dates",
    "easter_sunday",
    "hebrew_new_year",
    "is_school_holiday",
    "islamic_month_start",
    "ramadan",
    "sunset_utc",
]


# Umm al-Qura month starts as Reduced Julian Day numbers (JD - 2,400,000), one row
# per Hijri year, Muharram first. Source: the hijridate project's ummalqura table.
_UMM_AL_QURA_FIRST_YEAR = 1444
_UMM_AL_QURA_RJD: tuple[tuple[int, ...], ...] = (
    (59791, 59820, 59850, 59879, 59909, 59939, 59968, 59997, 60027, 60056, 60086, 60115),
    (60145, 60174, 60204, 60234, 60264, 60293, 60323, 60352, 60381, 60411, 60440, 60469),
    (60499, 60528, 60558, 60588, 60618, 60647, 60677, 60707, 60736, 60765, 60795, 60824),
    (60853, 60883, 60912, 60942, 60972, 61002, 61031, 61061, 61090, 61120, 61149, 61179),
    (61208, 61237, 61267, 61296, 61326, 61356, 61385, 61415, 61445, 61474, 61504, 61533),
    (61563, 61592, 61621, 61651, 61680, 61710, 61739, 61769, 61799, 61828, 61858, 61888),
    (61917, 61947, 61976, 62006, 62035, 62064, 62094, 62123, 62153, 62182, 62212, 62242),
    (62271, 62301, 62331, 62360, 62390, 62419, 62448, 62478, 62507, 62537, 62566, 62596),
    (62625, 62655, 62685, 62715, 62744, 62774, 62803, 62832, 62862, 62891, 62921, 62950),
)
# date.toordinal() of the civil day that begins at the given RJD + 0.5.
_RJD_TO_ORDINAL = 2_400_000 - 1_721_425

FIRST_YEAR = 2024
LAST_YEAR = 2030


def islamic_month_start(hijri_year: int, month: int) -> date:
    """Return the Gregorian date of the first day of a Hijri month (Umm al-Qura).

    Raises
    ------
    InvalidInputError
        When the month is outside the tabulated years AH 1444-1452.
    """
    row = hijri_year - _UMM_AL_QURA_FIRST_YEAR
    if not (0 <= row < len(_UMM_AL_QURA_RJD) and 1 <= month <= 12):
        msg = (
            f"Hijri month {hijri_year}-{month} is outside the tabulated Umm al-Qura years "
            f"{_UMM_AL_QURA_FIRST_YEAR}-{_UMM_AL_QURA_FIRST_YEAR + len(_UMM_AL_QURA_RJD) - 1}; "
            "give the dates in the factor file"
        )
        raise InvalidInputError(msg)
    return date.fromordinal(_UMM_AL_QURA_RJD[row][month - 1] + _RJD_TO_ORDINAL)


def _hijri_years_in(year: int) -> range:
    # A Gregorian year overlaps two or three Hijri years.
    first = int((year - 622) * 33 / 32) - 1
    return range(max(first, _UMM_AL_QURA_FIRST_YEAR), min(first + 4, 1453))


def ramadan(year: int) -> list[tuple[date, date]]:
    """Return the Ramadan periods (first day, last day inclusive) that start in a year."""
    out = []
    for hy in _hijri_years_in(year):
        start = islamic_month_start(hy, 9)
        if start.year == year:
            out.append((start, islamic_month_start(hy, 10) - timedelta(days=1)))
    return out


def _islamic_days(year: int, month: int, day: int, n_days: int) -> list[date]:
    out: list[date] = []
    for hy in _hijri_years_in(year):
        first = islamic_month_start(hy, month) + timedelta(days=day - 1)
        out.extend(first + timedelta(days=k) for k in range(n_days) if first.year == year)
    return out


# --- Hebrew calendar (Dershowitz & Reingold) -------------------------------------

_HEBREW_EPOCH = -1373427  # R.D. of 1 Tishrei AM 1 (Julian 7 October 3761 BCE)


def _hebrew_elapsed_days(year: int) -> int:
    months = (235 * year - 234) // 19
    parts = 12084 + 13753 * months
    days = 29 * months + parts // 25920
    return days + 1 if (3 * (days + 1)) % 7 < 3 else days


def _hebrew_year_length_correction(year: int) -> int:
    ny0, ny1, ny2 = (_hebrew_elapsed_days(y) for y in (year - 1, year, year + 1))
    if ny2 - ny1 == 356:
        return 2
    if ny1 - ny0 == 382:
        return 1
    return 0


def hebrew_new_year(hebrew_year: int) -> date:
    """Return the Gregorian date of 1 Tishrei (Rosh Hashanah) of a Hebrew year."""
    rd = (
        _HEBREW_EPOCH
        + _hebrew_elapsed_days(hebrew_year)
        + _hebrew_year_length_correction(hebrew_year)
    )
    return date.fromordinal(rd)


def _hebrew_festivals(year: int) -> dict[str, list[date]]:
    hy = year + 3761  # the Hebrew year that starts in the autumn of `year`
    rosh = hebrew_new_year(hy)
    year_length = (hebrew_new_year(hy + 1) - rosh).days
    heshvan = 30 if year_length in (355, 385) else 29
    kislev_25 = rosh + timedelta(days=30 + heshvan + 24)
    # 1 Nisan to 1 Tishrei is always 177 days.
    passover = hebrew_new_year(hy) - timedelta(days=163)
    return {
        "rosh_hashanah": [rosh, rosh + timedelta(days=1)],
        "yom_kippur": [rosh + timedelta(days=9)],
        "hanukkah": [kislev_25 + timedelta(days=k) for k in range(8)],
        "passover": [passover, passover + timedelta(days=1)],
        "shavuot": [passover + timedelta(days=50)],
    }


def easter_sunday(year: int) -> date:
    """Return the date of Western Easter Sunday (anonymous Gregorian computus)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month = (h + ell - 7 * m + 114) // 31
    day = (h + ell - 7 * m + 114) % 31 + 1
    return date(year, month, day)


COMPUTED_FESTIVALS: tuple[str, ...] = (
    "ramadan",
    "eid_al_fitr",
    "eid_al_adha",
    "christmas",
    "good_friday",
    "easter",
    "rosh_hashanah",
    "yom_kippur",
    "hanukkah",
    "passover",
    "shavuot",
)


def computed_festival_dates(rule: str, year: int) -> list[date]:
    """Return the local dates of a computed festival in a Gregorian year.

    Parameters
    ----------
    rule
        One of :data:`COMPUTED_FESTIVALS`.
    year
        Gregorian year; Islamic festivals are tabulated for 2023-2030.
    """
    if rule == "ramadan":
        days: list[date] = []
        for first, last in ramadan(year):
            days.extend(first + timedelta(days=k) for k in range((last - first).days + 1))
        return days
    if rule == "eid_al_fitr":
        return _islamic_days(year, 10, 1, 1)
    if rule == "eid_al_adha":
        return _islamic_days(year, 12, 10, 1)
    if rule == "christmas":
        return [date(year, 12, 24), date(year, 12, 25)]
    if rule == "easter":
        return [easter_sunday(year)]
    if rule == "good_friday":
        return [easter_sunday(year) - timedelta(days=2)]
    hebrew = _hebrew_festivals(year)
    if rule in hebrew:
        return hebrew[rule]
    msg = f"unknown festival rule {rule!r}; allowed: {', '.join(COMPUTED_FESTIVALS)}"
    raise InvalidInputError(msg)


# --- Sunset (NOAA) -----------------------------------------------------------------


def _sunset_minutes_utc(
    day: date, lon: FloatArray, lat: FloatArray, t_min: FloatArray
) -> FloatArray:
    # Julian day at UTC midnight of `day` plus the trial time of day.
    jd = day.toordinal() + 1_721_424.5 + t_min / 1440.0
    t = (jd - 2_451_545.0) / 36_525.0
    l0 = np.mod(280.46646 + t * (36_000.76983 + t * 0.0003032), 360.0)
    m = np.radians(357.52911 + t * (35_999.05029 - 0.0001537 * t))
    e = 0.016708634 - t * (0.000042037 + 0.0000001267 * t)
    c = (
        np.sin(m) * (1.914602 - t * (0.004817 + 0.000014 * t))
        + np.sin(2 * m) * (0.019993 - 0.000101 * t)
        + np.sin(3 * m) * 0.000289
    )
    omega = np.radians(125.04 - 1934.136 * t)
    app_long = np.radians(l0 + c - 0.00569 - 0.00478 * np.sin(omega))
    obliq0 = 23.0 + (26.0 + (21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))) / 60.0) / 60.0
    obliq = np.radians(obliq0 + 0.00256 * np.cos(omega))
    decl = np.arcsin(np.sin(obliq) * np.sin(app_long))
    y = np.tan(obliq / 2.0) ** 2
    l0r = np.radians(l0)
    eq_time_min = 4.0 * np.degrees(
        y * np.sin(2 * l0r)
        - 2 * e * np.sin(m)
        + 4 * e * y * np.sin(m) * np.cos(2 * l0r)
        - 0.5 * y * y * np.sin(4 * l0r)
        - 1.25 * e * e * np.sin(2 * m)
    )
    phi = np.radians(lat)
    cos_ha = np.cos(np.radians(90.833)) / (np.cos(phi) * np.cos(decl)) - np.tan(phi) * np.tan(decl)
    if np.any(np.abs(cos_ha) > 1.0):
        msg = f"the Sun does not set on {day.isoformat()} at one of the given latitudes"
        raise InvalidInputError(msg)
    ha_deg = np.degrees(np.arccos(cos_ha))
    noon_min = 720.0 - 4.0 * lon - eq_time_min
    return np.asarray(noon_min + 4.0 * ha_deg, dtype=np.float64)


def sunset_utc(day: date, lon: npt.ArrayLike, lat: npt.ArrayLike) -> FloatArray:
    """Return sunset times on a local date as UTC POSIX seconds, one per point.

    Parameters
    ----------
    day
        The calendar date (sunset on that date at the points, which lie within a
        few hours of Greenwich).
    lon, lat
        WGS84 degrees (scalars or arrays of one shape).
    """
    lon_a = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    lat_a = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    # Two passes: the solar position is re-evaluated at the first estimate.
    t_min = np.full(lon_a.shape, 1080.0)
    for _ in range(2):
        t_min = _sunset_minutes_utc(day, lon_a, lat_a, t_min)
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    return np.asarray(midnight + 60.0 * t_min, dtype=np.float64)


# --- School terms --------------------------------------------------------------------


def is_school_holiday(day: date, holidays: list[tuple[str, str]], *, easter_days: int) -> bool:
    """Return whether a date falls in a school holiday.

    Parameters
    ----------
    day
        Local date.
    holidays
        Fixed holidays as ``("MM-DD", "MM-DD")`` ranges, inclusive; a range
        whose end precedes its start wraps over the new year.
    easter_days
        Half-width in days of the Easter holiday around Easter Sunday.
    """
    if day.weekday() >= 5:
        return True
    if abs((day - easter_sunday(day.year)).days) <= easter_days:
        return True
    key = f"{day.month:02d}-{day.day:02d}"
    for first, last in holidays:
        if first <= last:
            if first <= key <= last:
                return True
        elif key >= first or key <= last:
            return True
    return False
