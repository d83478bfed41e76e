"""Census population tables for demand: LSOA (or any area) code -> residents."""

from __future__ import annotations

import csv
import gzip
import io
import logging
from pathlib import Path

from watchfloor.errors import IngestError

__all__ = ["read_population_csv"]

log = logging.getLogger(__name__)

_CODE_FIELDS = ("LSOA Code", "LSOA11CD", "LSOA21CD", "mnemonic", "code", "geography code")
_VALUE_FIELDS = ("total", "Persons", "All usual residents", "population", "residents")


def _open(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def read_population_csv(
    path: str | Path, *, code_field: str | None = None, value_field: str | None = None
) -> dict[str, float]:
    """Return residents by area code from a census CSV (``.csv`` or ``.csv.gz``).

    The code and count columns are found by name (census 2011 "LSOA Code" /
    "Persons", census 2021 TS001 "mnemonic" / "total", ...) unless given; counts
    may carry thousands commas. When a name appears in several columns the first
    is used (census 2011's first "Persons" column is all usual residents).

    Raises
    ------
    IngestError
        When the file is missing, a column cannot be found, or a count is not a number.
    """
    p = Path(path)
    if not p.is_file():
        msg = f"population file {p} does not exist"
        raise IngestError(msg)
    try:
        with _open(p) as fh:
            reader = csv.reader(fh)
            header = next(reader, [])
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        msg = f"cannot read population file {p}: {exc}"
        raise IngestError(msg) from None

    def column(wanted: str | None, names: tuple[str, ...], what: str) -> int:
        options = (wanted,) if wanted else names
        for name in options:
            for i, h in enumerate(header):
                if h.strip().lower() == name.lower():
                    return i
        msg = (
            f"{p.name}: no {what} column (looked for {', '.join(options)}); "
            f"columns are {', '.join(h for h in header if h)}"
        )
        raise IngestError(msg)

    ci = column(code_field, _CODE_FIELDS, "area code")
    vi = column(value_field, _VALUE_FIELDS, "population count")
    out: dict[str, float] = {}
    bad: list[int] = []
    for n, row in enumerate(rows, start=2):
        if len(row) <= max(ci, vi):
            bad.append(n)
            continue
        try:
            out[row[ci].strip()] = float(row[vi].replace(",", "").strip())
        except ValueError:
            bad.append(n)
    if bad:
        msg = f"{p.name}: population is not a number on rows {bad[:5]}; fix those rows"
        raise IngestError(msg)
    log.info("read population of %d areas from %s", len(out), p.name)
    return out
