"""The declared picture of a region: who acts, the event, the threat level, calendar, shifts.

A region's *situation* is what the duty inspector has told the system: the
declared event (what was attacked, where, when, which community), the
national threat level, calendar entries, and the tension alerts and report
clusters that arrived since. This module holds those values, the checks that
make them valid (times with a zone and between 1900 and 2100 once in UTC, text
without control characters, known threat levels, playbooks and event kinds)
and the three-shift pattern plans are made for. It imports the foundation, the
posture model and the stored-value checks of
:mod:`watchfloor.services.reports.schemas` (one definition of a storable date
and string for the whole service floor).

Shifts follow the common three-shift pattern of UK forces, 06:00-14:00,
14:00-22:00 and 22:00-06:00 local time (Europe/London).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from watchfloor.errors import FieldError, InvalidInputError
from watchfloor.posture import resolve_playbook
from watchfloor.posture.event import Event, event_from_dict
from watchfloor.services.posture import available_playbooks
from watchfloor.services.regions import RegionCache, region_view
from watchfloor.services.reports.schemas import control_character, stored_utc
from watchfloor.settings import Settings
from watchfloor.types import LONDON, Role, ThreatLevel

__all__ = [
    "ALERT_KINDS",
    "CROSS_REGION_ROLES",
    "OPS_ROLES",
    "PLANNING_ROLES",
    "PUBLISHING_ROLES",
    "SHIFT_STARTS_H",
    "SYSTEM",
    "Actor",
    "CalendarEntry",
    "EventDeclaration",
    "LogEntry",
    "PublicMessage",
    "Shift",
    "Situation",
    "aware_utc",
    "check_playbook",
    "check_threat_level",
    "event_from_payload",
    "event_payload",
    "iter_shifts",
    "new_id",
    "playbook_names",
    "region_data_time",
    "shift_at",
    "validate_event",
]

#: Local hours at which shifts start.
SHIFT_STARTS_H: tuple[int, ...] = (6, 14, 22)

#: Roles that may change the situation (declare, threat level, calendar, re-plan).
PLANNING_ROLES: frozenset[Role] = frozenset(
    {Role.PLANNER, Role.SUPERVISOR, Role.ADMIN, Role.REGIONAL_CT}
)

#: Roles that may publish the public message of the day.
PUBLISHING_ROLES: frozenset[Role] = frozenset({Role.SUPERVISOR, Role.PLANNER, Role.ADMIN})

#: Roles that see every region's alerts.
CROSS_REGION_ROLES: frozenset[Role] = frozenset({Role.REGIONAL_CT, Role.ADMIN})

#: Roles that use the operations room at all (every staff role).
OPS_ROLES: frozenset[Role] = frozenset(Role)

#: Situation-log kinds that are alerts (shown in the alerts panel, raising the posture).
ALERT_KINDS: frozenset[str] = frozenset({"tension_alert", "report_cluster"})

# An event clock may run a little ahead of ours; beyond this it is "in the future".
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Actor:
    """Who is acting: a staff user name, their roles and their home region (or None)."""

    name: str
    roles: frozenset[str]
    region: str | None = None

    def can_plan(self) -> bool:
        """Return True when the actor may change a situation."""
        return bool(self.roles & PLANNING_ROLES)


#: The room itself, recording alerts and failures.
SYSTEM = Actor("system", frozenset({Role.ADMIN}))


# What control_character finds on one line, and in text with lines (to drop it).
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_TEXT_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _refuse_controls(**fields: str | None) -> None:
    """Refuse a text field holding a control character (none belongs in the situation log)."""
    for field, value in fields.items():
        found = control_character(value) if value else None
        if found is not None:
            msg = f"{field}: contains the control character {found}; remove it and send again"
            raise FieldError(msg, field=field)


@dataclass(frozen=True)
class EventDeclaration:
    """A declared event: what happened, where, when and who is at risk."""

    kind: str
    place: str
    at: datetime
    targeted_community: str | None = None
    backlash_community: str | None = None
    threat_level: str | None = None
    playbook: str | None = None

    def __post_init__(self) -> None:
        _refuse_controls(
            kind=self.kind,
            place=self.place,
            targeted_community=self.targeted_community,
            backlash_community=self.backlash_community,
            threat_level=self.threat_level,
            playbook=self.playbook,
        )

    def summary(self) -> str:
        """Return one line for the timeline."""
        who = (
            f", targeting the {self.targeted_community} community"
            if self.targeted_community
            else ""
        )
        book = f" (playbook {self.playbook})" if self.playbook else ""
        return f"{self.kind} at {self.place}{who}{book}"


@dataclass(frozen=True)
class CalendarEntry:
    """A user-added calendar window (a match, a vigil, a festival at a site)."""

    name: str
    start: datetime
    end: datetime
    site_id: str | None = None
    weight: float = 1.5

    def __post_init__(self) -> None:
        _refuse_controls(name=self.name, site_id=self.site_id)


@dataclass(frozen=True)
class LogEntry:
    """One entry of the situation log, shown on the event timeline."""

    entry_id: str
    region: str
    kind: str
    summary: str
    payload: dict[str, Any]
    occurred_at: datetime
    recorded_at: datetime
    recorded_by: str


@dataclass(frozen=True)
class Situation:
    """Everything a plan is computed from, for one region."""

    region: str
    event: EventDeclaration | None = None
    event_id: str | None = None
    threat_level: str = ThreatLevel.SUBSTANTIAL.value
    calendar: tuple[CalendarEntry, ...] = ()
    alerts: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class PublicMessage:
    """A public reassurance message of one region, as published by staff."""

    id: str
    region: str
    text: str
    author: str
    created_at: datetime
    published_at: datetime | None

    def __post_init__(self) -> None:
        # Control characters are removed, not refused: a message is published text
        # (lines kept), and one stored before this check must still load.
        object.__setattr__(self, "text", _TEXT_CONTROLS.sub("", self.text))

    def as_dict(self) -> dict[str, Any]:
        """Return the message's fields by name (datetimes kept), as its table row takes them."""
        return {
            "id": self.id,
            "region": self.region,
            "text": self.text,
            "author": self.author,
            "created_at": self.created_at,
            "published_at": self.published_at,
        }


@dataclass(frozen=True)
class Shift:
    """A shift window (UTC datetimes) with its label."""

    label: str
    start: datetime
    end: datetime


def _wall_to_utc(wall: datetime) -> datetime:
    """The UTC instant of a London wall-clock hour (aware datetimes add in wall time)."""
    return datetime(wall.year, wall.month, wall.day, wall.hour, tzinfo=LONDON).astimezone(UTC)


def _london_hour(moment: datetime) -> datetime:
    return moment.astimezone(LONDON).replace(minute=0, second=0, microsecond=0)


def shift_at(moment: datetime) -> Shift:
    """Return the shift that contains ``moment`` (three shifts a day, London time).

    Shifts run from one local start (06:00, 14:00, 22:00) to the next, so the
    night shift of a clock change is 7 hours (March) or 9 hours (October) long
    and every moment lies in exactly one shift.
    """
    local = moment.astimezone(LONDON)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    starts = [day + timedelta(hours=h) for h in (SHIFT_STARTS_H[-1] - 24, *SHIFT_STARTS_H)]
    start_utc = max(u for u in map(_wall_to_utc, starts) if u <= moment)
    start = _london_hour(start_utc)
    end_utc = _wall_to_utc(start + timedelta(hours=8))
    label = f"{start:%a %d %b %H:%M}-{_london_hour(end_utc):%H:%M}"
    return Shift(label=label, start=start_utc, end=end_utc)


def iter_shifts(now: datetime, n: int = 2) -> Iterator[Shift]:
    """Yield the shift containing ``now`` and the ``n - 1`` that follow it."""
    shift = shift_at(now)
    for _ in range(n):
        yield shift
        shift = shift_at(shift.end + timedelta(seconds=1))


def new_id() -> str:
    """Return a new random identifier (32 hex digits) for a log entry, job, plan or message."""
    return uuid.uuid4().hex


def aware_utc(moment: datetime, what: str) -> datetime:
    """Return ``moment`` in UTC.

    Raises
    ------
    InvalidInputError
        When ``moment`` has no time zone, or is not between 1900 and 2100 once
        in UTC (year 1 with ``+14:00`` overflows); ``what`` names it in the message.
    """
    if moment.tzinfo is None:
        msg = f"{what} {moment.isoformat()} has no time zone; write it with an offset, e.g. +01:00"
        raise InvalidInputError(msg)
    try:
        return stored_utc(moment, field=what)
    except FieldError as exc:
        raise InvalidInputError(str(exc)) from None


def check_threat_level(level: str) -> str:
    """Return the threat level ``level`` in its canonical (lower-case) spelling.

    Raises
    ------
    InvalidInputError
        When it is not one of the national threat levels.
    """
    value = level.strip().lower()
    if value not in set(ThreatLevel):
        msg = f"unknown threat level {level!r}; use one of {', '.join(ThreatLevel)}"
        raise InvalidInputError(msg)
    return value


def event_payload(event: EventDeclaration) -> dict[str, Any]:
    """Return a declared event as the JSON-ready payload of its log entry."""
    return {
        "kind": event.kind,
        "place": event.place,
        "at": event.at.isoformat(),
        "targeted_community": event.targeted_community,
        "backlash_community": event.backlash_community,
        "threat_level": event.threat_level,
        "playbook": event.playbook,
    }


def event_from_payload(p: dict[str, Any]) -> EventDeclaration:
    """Return the declared event stored as a log entry's payload (see :func:`event_payload`).

    A place stored before control characters were refused is read without them,
    so that an old log entry never stops a room from starting.
    """
    return EventDeclaration(
        kind=p["kind"],
        place=_CONTROLS.sub("", p["place"]),
        at=datetime.fromisoformat(p["at"]),
        targeted_community=p.get("targeted_community"),
        backlash_community=p.get("backlash_community"),
        threat_level=p.get("threat_level"),
        playbook=p.get("playbook"),
    )


def region_data_time(
    settings: Settings, name: str, *, regions: RegionCache | None = None
) -> datetime | None:
    """Return when the region's map data was captured (OSM timestamp), or None.

    ``regions`` is the region cache to read through (the process's own unless given).

    Raises
    ------
    NotFoundError
        When the region is not built.
    """
    meta = region_view(settings, name, regions=regions).region.meta
    stamp = str(meta.get("osm_replication_timestamp") or "")
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- events and playbooks ----------------------------------------------------------------


def playbook_names(settings: Settings) -> list[str]:
    """Return the names of the playbooks a planner can choose (shipped and the force's own)."""
    return sorted(available_playbooks(settings))


def check_playbook(settings: Settings, name: str) -> str:
    """Return the canonical name of playbook ``name``.

    Raises
    ------
    InvalidInputError
        When there is no such playbook (the message lists the available ones).
    """
    return resolve_playbook(name, available_playbooks(settings)).name


def validate_event(event: EventDeclaration, threat_level: str) -> Event:
    """Return the posture model's validated event.

    Raises
    ------
    InvalidInputError
        For an unknown kind or community (the message names the allowed values).
    """
    return event_from_dict(
        {
            "kind": event.kind,
            "at": event.at.isoformat(),
            "place": event.place,
            "targeted_community": event.targeted_community or "none",
            "backlash_community": event.backlash_community or "none",
            "threat_level": event.threat_level or threat_level,
            "playbook": event.playbook,
        }
    )
