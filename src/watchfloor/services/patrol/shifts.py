"""Shifts and pins as an operator types them: ISO 8601 intervals and ``UNIT:SITE:HH:MM-HH:MM``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from watchfloor.errors import InvalidInputError
from watchfloor.types import LONDON

__all__ = ["MAX_SHIFT_HOURS", "PinRequest", "parse_pin", "parse_shift"]

#: Longest shift a plan is made for.
MAX_SHIFT_HOURS = 24.0

_DATE_PREFIX = re.compile(r"^(\d{4}-\d{2}-\d{2})T")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=LONDON)


def parse_shift(text: str) -> tuple[datetime, datetime]:
    """Return the (start, end) of a shift given as an ISO 8601 interval.

    ``2026-06-19T06:00/14:00`` (end abbreviated: the missing date is the
    start's), ``2026-06-19T22:00/2026-06-20T06:00`` or a duration
    ``2026-06-19T06:00/PT8H``. Times without an offset are UK local time.

    Raises
    ------
    InvalidInputError
        When the text is not an interval, the shift ends before it starts or
        lasts more than 24 hours.
    """
    raw = text.strip()
    if raw.count("/") != 1:
        msg = (
            f"shift {text!r} is not an ISO 8601 interval such as 2026-06-19T06:00/14:00 "
            "or 2026-06-19T22:00/2026-06-20T06:00"
        )
        raise InvalidInputError(msg)
    left, right = (p.strip() for p in raw.split("/"))
    try:
        start = _aware(datetime.fromisoformat(left))
    except ValueError:
        msg = f"shift start {left!r} is not an ISO 8601 date-time such as 2026-06-19T06:00"
        raise InvalidInputError(msg) from None
    end: datetime
    duration = re.fullmatch(r"PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+)M)?", right.upper())
    if duration and right.upper() != "PT":
        hours = float(duration.group(1) or 0) + float(duration.group(2) or 0) / 60
        end = start + timedelta(hours=hours)
    else:
        full = right
        if not _DATE_PREFIX.match(right):
            date_part = _DATE_PREFIX.match(left)
            day = date_part.group(1) if date_part else left[:10]
            if re.fullmatch(r"\d{2}T.*", right):  # "20T06:00": another day, same month
                full = day[:8] + right
            elif re.fullmatch(r"\d{2}-\d{2}T.*", right):  # "06-20T06:00"
                full = day[:5] + right
            else:  # "14:00"
                full = f"{day}T{right}"
        try:
            end = datetime.fromisoformat(full)
        except ValueError:
            msg = f"shift end {right!r} is not a time such as 14:00 or 2026-06-20T06:00"
            raise InvalidInputError(msg) from None
        if end.tzinfo is None:
            end = end.replace(tzinfo=start.tzinfo)
    if end <= start:
        msg = (
            f"the shift ends ({end.isoformat()}) before it starts ({start.isoformat()}); "
            "to cross midnight write the end date in full, e.g. "
            "2026-06-19T22:00/2026-06-20T06:00"
        )
        raise InvalidInputError(msg)
    if end - start > timedelta(hours=MAX_SHIFT_HOURS):
        msg = f"the shift lasts {(end - start)} - more than {MAX_SHIFT_HOURS:.0f} hours"
        raise InvalidInputError(msg)
    return start, end


@dataclass(frozen=True)
class PinRequest:
    """A parsed ``UNIT:SITE:HH:MM-HH:MM`` override (site by id or name)."""

    unit_id: str
    site: str
    start_hhmm: str
    end_hhmm: str


_PIN = re.compile(r"^([^:]+):(.+):(\d{1,2}:\d{2})-(\d{1,2}:\d{2})$")


def parse_pin(text: str) -> PinRequest:
    """Return the pin parsed from ``UNIT:SITE:HH:MM-HH:MM`` (e.g. ``P03:n123:19:30-20:30``).

    Raises
    ------
    InvalidInputError
        When the text does not have that form.
    """
    match = _PIN.match(text.strip())
    if not match:
        msg = (
            f"pin {text!r} must read UNIT:SITE:HH:MM-HH:MM, e.g. P03:n123:19:30-20:30 "
            "(SITE is a site id or a site name)"
        )
        raise InvalidInputError(msg)
    unit, site, a, b = (g.strip() for g in match.groups())
    for hhmm in (a, b):
        h, m = map(int, hhmm.split(":"))
        if h > 23 or m > 59:
            msg = f"pin {text!r}: {hhmm} is not a time of day"
            raise InvalidInputError(msg)
    return PinRequest(unit_id=unit, site=site, start_hhmm=a, end_hhmm=b)
