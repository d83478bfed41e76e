"""Incidents from data.police.uk street-level CSVs and from a plain incidents CSV.

data.police.uk publishes one CSV per force and month (columns ``Crime ID,
Month, Reported by, Falls within, Longitude, Latitude, Location, LSOA code,
LSOA name, Crime type, Last outcome category, Context``). Crime types are
mapped to tension groups (:data:`DEFAULT_GROUPS`: public order, violence,
criminal damage, anti-social behaviour); other types are counted and left
out. Rows without a location are counted and reported. Every row is dated to
the first day of its month (``resolution = "month"``).

A plain incidents CSV (``occurred_at, lon, lat, kind[, weight]``) carries any
other source at day resolution.

Any error names the file, the columns or the row numbers (1 = header line) at
fault; nothing is returned half-read.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from watchfloor.errors import IngestError

__all__ = [
    "DEFAULT_GROUPS",
    "Incidents",
    "read_incidents_csv",
    "read_street_crime",
    "sniff_kind",
]

log = logging.getLogger(__name__)

DEFAULT_GROUPS: dict[str, str] = {
    "Public order": "public_order",
    "Violence and sexual offences": "violence",
    "Criminal damage and arson": "criminal_damage",
    "Anti-social behaviour": "asb",
}
"""data.police.uk crime type -> tension group (others are left out)."""

_POLICEUK_REQUIRED = ("Month", "Longitude", "Latitude", "Crime type")
_INCIDENTS_REQUIRED = ("occurred_at", "lon", "lat", "kind")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Incidents:
    """Incidents as parallel arrays, with the counts of what was left out."""

    day: npt.NDArray[np.datetime64]
    """Day of each incident (datetime64[D]); first of the month for monthly data."""
    lon: npt.NDArray[np.float64]
    lat: npt.NDArray[np.float64]
    kind: tuple[str, ...]
    weight: npt.NDArray[np.float64]
    resolution: Literal["day", "month"]
    rows_read: int
    rows_no_location: int
    rows_other_kind: int
    files: tuple[str, ...] = ()
    kinds_left_out: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.day.size)


def _open_text(path: Path) -> io.TextIOBase:
    try:
        if path.suffix == ".gz":
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
        return io.TextIOWrapper(path.open("rb"), encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        msg = f"{path} does not exist"
        raise IngestError(msg) from None
    except OSError as exc:
        msg = f"cannot open {path}: {exc.strerror or exc}"
        raise IngestError(msg) from None


def _read_rows(path: Path, required: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    fh = _open_text(path)
    try:
        with fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                msg = f"{path.name} is empty; expected a header with {', '.join(required)}"
                raise IngestError(msg)
            header = [h.strip() for h in header]
            missing = [c for c in required if c not in header]
            if missing:
                msg = (
                    f"{path.name} lacks column(s) {', '.join(missing)}; "
                    f"found {', '.join(header) or 'none'}"
                )
                raise IngestError(msg)
            rows = list(reader)
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError, csv.Error) as exc:
        msg = f"{path.name} is not a readable CSV ({exc.__class__.__name__})"
        raise IngestError(msg) from None
    return header, rows


def sniff_kind(path: str | Path) -> Literal["policeuk", "incidents"]:
    """Return which CSV format a file has, from its header.

    Raises
    ------
    IngestError
        When the header fits neither format.
    """
    p = Path(path)
    fh = _open_text(p)
    try:
        with fh:
            header = [h.strip() for h in next(csv.reader(fh), [])]
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError, csv.Error) as exc:
        msg = f"{p.name} is not a readable CSV ({exc.__class__.__name__})"
        raise IngestError(msg) from None
    if all(c in header for c in _POLICEUK_REQUIRED):
        return "policeuk"
    if all(c in header for c in _INCIDENTS_REQUIRED):
        return "incidents"
    msg = (
        f"{p.name} is neither a data.police.uk street-level CSV (needs "
        f"{', '.join(_POLICEUK_REQUIRED)}) nor an incidents CSV (needs "
        f"{', '.join(_INCIDENTS_REQUIRED)}); found {', '.join(header) or 'no header'}"
    )
    raise IngestError(msg)


def _rows_message(path: Path, what: str, bad: list[tuple[int, str]]) -> str:
    shown = ", ".join(f"row {r} ({v!r})" for r, v in bad[:5])
    more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
    return f"{path.name}: {len(bad)} {what}: {shown}{more}"


def read_street_crime(
    paths: str | Path | Iterable[str | Path],
    *,
    groups: Mapping[str, str] | None = None,
) -> Incidents:
    """Return the tension-relevant incidents of data.police.uk street-level CSVs.

    Parameters
    ----------
    paths
        One or many ``.csv`` / ``.csv.gz`` files (one per month, or joined).
    groups
        Crime type -> group; :data:`DEFAULT_GROUPS` by default. Types not in
        the mapping are counted in ``rows_other_kind`` and left out.

    Raises
    ------
    IngestError
        Missing columns, unparseable months (with row numbers) or coordinates
        that are not numbers.
    """
    mapping = dict(DEFAULT_GROUPS if groups is None else groups)
    files = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    if not files:
        msg = "no street-level crime files given"
        raise IngestError(msg)
    days: list[date] = []
    lons: list[float] = []
    lats: list[float] = []
    kinds: list[str] = []
    rows_read = no_loc = other = 0
    left_out: dict[str, int] = {}
    for path in files:
        header, rows = _read_rows(path, _POLICEUK_REQUIRED)
        i_m, i_x, i_y, i_t = (header.index(c) for c in _POLICEUK_REQUIRED)
        bad_month: list[tuple[int, str]] = []
        bad_xy: list[tuple[int, str]] = []
        for n, raw in enumerate(rows, start=2):
            if not any(cell.strip() for cell in raw):
                continue
            rows_read += 1
            row = raw + [""] * (len(header) - len(raw))
            m = _MONTH.match(row[i_m].strip())
            if m is None or not 1 <= int(m.group(2)) <= 12:
                bad_month.append((n, row[i_m]))
                continue
            ctype = row[i_t].strip()
            group = mapping.get(ctype)
            if group is None:
                other += 1
                left_out[ctype] = left_out.get(ctype, 0) + 1
                continue
            sx, sy = row[i_x].strip(), row[i_y].strip()
            if not sx or not sy:
                no_loc += 1
                continue
            try:
                x, y = float(sx), float(sy)
            except ValueError:
                bad_xy.append((n, f"{sx},{sy}"))
                continue
            if not (-180 <= x <= 180 and -90 <= y <= 90):
                bad_xy.append((n, f"{sx},{sy}"))
                continue
            days.append(date(int(m.group(1)), int(m.group(2)), 1))
            lons.append(x)
            lats.append(y)
            kinds.append(group)
        if bad_month:
            msg = _rows_message(path, "rows with a Month that is not YYYY-MM", bad_month)
            raise IngestError(msg)
        if bad_xy:
            msg = _rows_message(path, "rows with coordinates that are not lon/lat", bad_xy)
            raise IngestError(msg)
    log.info(
        "read %d street-level rows from %d file(s): %d kept, %d without location, "
        "%d of other crime types",
        rows_read, len(files), len(days), no_loc, other,
    )  # fmt: skip
    return Incidents(
        day=np.array(days, dtype="datetime64[D]"),
        lon=np.array(lons, dtype=np.float64),
        lat=np.array(lats, dtype=np.float64),
        kind=tuple(kinds),
        weight=np.ones(len(days)),
        resolution="month",
        rows_read=rows_read,
        rows_no_location=no_loc,
        rows_other_kind=other,
        files=tuple(p.name for p in files),
        kinds_left_out=left_out,
    )


def _parse_day(text: str) -> date | None:
    s = text.strip()
    if not s:
        return None
    try:
        if len(s) == 10:
            return date.fromisoformat(s)
        return datetime.fromisoformat(s.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def read_incidents_csv(path: str | Path) -> Incidents:
    """Return incidents from a CSV with ``occurred_at, lon, lat, kind`` (+ ``weight``).

    ``occurred_at`` is an ISO date or date-time; rows without coordinates are
    counted in ``rows_no_location``.

    Raises
    ------
    IngestError
        Missing columns, unparseable dates, coordinates or weights (with row numbers).
    """
    p = Path(path)
    header, rows = _read_rows(p, _INCIDENTS_REQUIRED)
    i_t, i_x, i_y, i_k = (header.index(c) for c in _INCIDENTS_REQUIRED)
    i_w = header.index("weight") if "weight" in header else -1
    days: list[date] = []
    lons: list[float] = []
    lats: list[float] = []
    kinds: list[str] = []
    weights: list[float] = []
    bad_t: list[tuple[int, str]] = []
    bad_v: list[tuple[int, str]] = []
    rows_read = no_loc = 0
    for n, raw in enumerate(rows, start=2):
        if not any(cell.strip() for cell in raw):
            continue
        rows_read += 1
        row = raw + [""] * (len(header) - len(raw))
        d = _parse_day(row[i_t])
        if d is None:
            bad_t.append((n, row[i_t]))
            continue
        sx, sy = row[i_x].strip(), row[i_y].strip()
        if not sx or not sy:
            no_loc += 1
            continue
        try:
            x, y = float(sx), float(sy)
            w = float(row[i_w]) if i_w >= 0 and row[i_w].strip() else 1.0
        except ValueError:
            bad_v.append((n, ",".join(row)))
            continue
        if not (-180 <= x <= 180 and -90 <= y <= 90) or not w >= 0:
            bad_v.append((n, ",".join(row)))
            continue
        days.append(d)
        lons.append(x)
        lats.append(y)
        kinds.append(row[i_k].strip() or "incident")
        weights.append(w)
    if bad_t:
        msg = _rows_message(p, "rows whose occurred_at is not an ISO date or date-time", bad_t)
        raise IngestError(msg)
    if bad_v:
        msg = _rows_message(p, "rows with bad lon/lat/weight", bad_v)
        raise IngestError(msg)
    log.info("read %d incidents from %s (%d without location)", len(days), p.name, no_loc)
    return Incidents(
        day=np.array(days, dtype="datetime64[D]"),
        lon=np.array(lons, dtype=np.float64),
        lat=np.array(lats, dtype=np.float64),
        kind=tuple(kinds),
        weight=np.array(weights, dtype=np.float64),
        resolution="day",
        rows_read=rows_read,
        rows_no_location=no_loc,
        rows_other_kind=0,
        files=(p.name,),
    )
