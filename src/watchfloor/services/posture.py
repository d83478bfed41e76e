"""Posture use-cases: read the event, factor and playbook files, compute the posture.

The files are read here (the posture package never opens files). A force's
own playbooks live in ``<home>/playbooks/*.yaml`` and replace shipped ones of
the same name.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from watchfloor.errors import InvalidInputError, NotFoundError
from watchfloor.posture import (
    Event,
    Factors,
    Playbook,
    Posture,
    SiteTable,
    UserEvent,
    compute_posture,
    default_factors,
    event_from_yaml,
    factors_from_yaml,
    playbook_from_yaml,
    resolve_playbook,
    shipped_playbooks,
)
from watchfloor.posture.risk import SLOT_MINUTES, TensionInput
from watchfloor.services.regions import RegionCache, region_view
from watchfloor.settings import Settings
from watchfloor.sites.register import SiteRegister
from watchfloor.types import LONDON

__all__ = [
    "PostureRun",
    "available_playbooks",
    "load_event",
    "load_factors",
    "parse_local_time",
    "parse_slot_minutes",
    "posture_for_region",
    "posture_for_sites",
    "ranked_records",
    "window_start",
]

log = logging.getLogger(__name__)

#: How far ahead of "now" an event may be dated (clock skew between machines).
_FUTURE_TOLERANCE = timedelta(minutes=10)


@dataclass(frozen=True, eq=False)
class PostureRun:
    """A computed posture with what it was computed from."""

    posture: Posture
    sites: SiteRegister
    event: Event | None
    at: datetime
    region: str


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        msg = f"{what} {str(path)!r} does not exist; check the path"
        raise NotFoundError(msg) from None
    except (OSError, UnicodeDecodeError) as exc:
        msg = (
            f"{what} {str(path)!r} cannot be read ({exc.__class__.__name__}); "
            "give a UTF-8 YAML file"
        )
        raise InvalidInputError(msg) from None


def load_event(path: Path) -> Event:
    """Return the validated event read from an event file (YAML)."""
    return event_from_yaml(_read(path, "event file"), source=f"event file {path.name}")


def load_factors(path: Path | None) -> Factors:
    """Return the factors: the shipped defaults, with a force's file merged over them."""
    if path is None:
        return default_factors()
    return factors_from_yaml(_read(path, "factor file"), source=f"factor file {path.name}")


def available_playbooks(settings: Settings | None = None) -> dict[str, Playbook]:
    """Return the playbooks by name: shipped ones, replaced by the force's own files."""
    books = shipped_playbooks()
    if settings is not None:
        folder = settings.home / "playbooks"
        if folder.is_dir():
            for path in sorted(folder.glob("*.yaml")):
                book = playbook_from_yaml(_read(path, "playbook"), source=f"playbook {path.name}")
                books[book.name] = book
    return books


def parse_local_time(text: str) -> datetime:
    """Return a timezone-aware time from ISO text; without an offset it is UK local time.

    Raises
    ------
    InvalidInputError
        When the text is not an ISO 8601 date-time.
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        msg = f"time {text!r} is not an ISO 8601 date-time such as 2026-06-19T13:00"
        raise InvalidInputError(msg) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=LONDON)
    return value


def parse_slot_minutes(text: str) -> int:
    """Return a slot length in minutes from ``"60m"``, ``"30m"``, ``"1h"`` or ``"30"``."""
    raw = text.strip().lower()
    try:
        if raw.endswith("h"):
            minutes = float(raw[:-1]) * 60
        else:
            minutes = float(raw.removesuffix("min").removesuffix("m"))
    except ValueError:
        minutes = math.nan
    if not math.isfinite(minutes) or int(minutes) != minutes or int(minutes) not in SLOT_MINUTES:
        allowed = ", ".join(f"{m}m" for m in SLOT_MINUTES)
        msg = f"slot length {text!r} is not allowed; use one of {allowed}"
        raise InvalidInputError(msg)
    return int(minutes)


def window_start(at: datetime, slot_minutes: int) -> datetime:
    """Return the start (UTC) of the slot containing ``at``, slots aligned to local midnight."""
    local = at.astimezone(LONDON)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    elapsed_min = (local - midnight).total_seconds() // 60
    start = midnight + timedelta(minutes=(elapsed_min // slot_minutes) * slot_minutes)
    return start.astimezone(UTC)


def posture_for_sites(
    sites: SiteTable,
    event: Event | None,
    *,
    at: datetime,
    hours: float = 24.0,
    slot_minutes: int = 60,
    factors: Factors | None = None,
    playbooks: Mapping[str, Playbook] | None = None,
    tension: Mapping[str, TensionInput] | None = None,
    threat_level: str | None = None,
    user_events: Sequence[UserEvent] = (),
    now: datetime | None = None,
) -> Posture:
    """Return the posture for ``hours`` from the slot containing ``at``.

    Parameters
    ----------
    sites
        Site register.
    event
        Declared event; its ``playbook`` is looked up in ``playbooks``.
    at
        A time in the first slot (timezone-aware).
    hours
        Length of the window (a day: 24, a shift: 8-10).
    slot_minutes
        Slot length in minutes.
    factors, tension, threat_level, user_events
        As :func:`watchfloor.posture.compute_posture`.
    playbooks
        Playbooks by name; the shipped ones when omitted.
    now
        The current time, to refuse an event dated in the future.

    Raises
    ------
    InvalidInputError
        On a window out of range, an event in the future or an unknown playbook.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        msg = f"time {at.isoformat()} has no UTC offset"
        raise InvalidInputError(msg)
    if not (math.isfinite(hours) and 0 < hours <= 7 * 24):
        msg = f"window of {hours} hours is out of range; give more than 0 and at most 168"
        raise InvalidInputError(msg)
    if event is not None and now is not None and event.at > now + _FUTURE_TOLERANCE:
        msg = (
            f"the event is dated {event.at.isoformat()}, in the future; "
            "check the date and the UTC offset in the event file"
        )
        raise InvalidInputError(msg)
    playbook = None
    if event is not None and event.playbook:
        books = playbooks if playbooks is not None else shipped_playbooks()
        playbook = resolve_playbook(event.playbook, books)
    n_slots = max(1, math.ceil(hours * 60 / slot_minutes))
    return compute_posture(
        sites,
        event,
        start=window_start(at, slot_minutes),
        n_slots=n_slots,
        slot_minutes=slot_minutes,
        factors=factors,
        playbook=playbook,
        tension=tension,
        threat_level=threat_level,
        user_events=user_events,
    )


def posture_for_region(
    region: str,
    event_path: Path | None,
    *,
    settings: Settings,
    at: datetime,
    hours: float = 24.0,
    slot_minutes: int = 60,
    factors_path: Path | None = None,
    tension: Mapping[str, TensionInput] | None = None,
    with_tension: bool = False,
    now: datetime | None = None,
    regions: RegionCache | None = None,
) -> PostureRun:
    """Return the posture of a built region for an event file (and a factor file).

    With ``with_tension`` and no ``tension`` given, the stored tension levels of
    the region (alerts of the latest scan and recent liaison notes) are used.
    The region is read through ``regions`` (the process's region picture
    unless given), so a plan that also needs the region does not read it again.

    Raises
    ------
    NotFoundError
        When the region is not built or a file does not exist.
    InvalidInputError
        When a file's content is not valid (the message names the key).
    """
    event = load_event(event_path) if event_path is not None else None
    factors = load_factors(factors_path)
    books = available_playbooks(settings)
    built = region_view(settings, region, regions=regions).region
    if tension is None and with_tension:
        from watchfloor.services.tension.levels import tension_levels  # noqa: PLC0415 (pulls in the database and statistics stacks: only for stored tension levels)

        tension = tension_levels(settings, region, sites=built.sites)
        log.info("tension levels for %d sites of region %s", len(tension), region)
    posture = posture_for_sites(
        built.sites,
        event,
        at=at,
        hours=hours,
        slot_minutes=slot_minutes,
        factors=factors,
        playbooks=books,
        tension=tension,
        now=now,
    )
    log.info("posture for region %s: %d sites, %d slots", region, posture.n_sites, posture.n_slots)
    return PostureRun(posture=posture, sites=built.sites, event=event, at=at, region=region)


def ranked_records(run: PostureRun, n: int, *, at: datetime | None) -> list[dict[str, Any]]:
    """Return the top ``n`` sites as JSON-ready dicts with names and reasons."""
    index = {s: i for i, s in enumerate(run.sites.site_id)}
    out = []
    for rank, cell in enumerate(run.posture.top(n, at=at), start=1):
        i = index[cell.site_id]
        out.append(
            {
                "rank": rank,
                "site_id": cell.site_id,
                "name": run.sites.name[i],
                "kind": run.sites.kind[i],
                "category": run.sites.category[i],
                "religion": run.sites.religion[i],
                "lon": float(run.sites.lon[i]),
                "lat": float(run.sites.lat[i]),
                "slot_start": cell.slot_start.isoformat(),
                "value": round(cell.value, 6),
                "reasons": [
                    {
                        "id": r.factor_id,
                        "source": r.source,
                        "text": r.text,
                        "multiplier": round(r.multiplier, 6),
                        "label": str(r),
                    }
                    for r in cell.reasons
                ],
            }
        )
    return out
