"""The declared event: what was attacked, where, when, and who is at risk.

An event file (YAML) or API body has exactly these keys::

    kind: vehicle_attack            # vehicle_attack, stabbing, bombing, firearms,
                                    # arson, hostage, other ("vehicle attack" is fine)
    at: 2026-06-18T22:10:00+01:00   # ISO date-time WITH its UTC offset
    place: Finsbury Park Mosque, London   # text, or "lon,lat"
    targeted_community: muslim      # a community, or none
    backlash_community: none        # optional
    threat_level: severe            # low, moderate, substantial, severe, critical
    playbook: place-of-worship-attack   # optional, see watchfloor.posture.playbooks

Anything else is rejected with a message naming the key and the allowed values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from watchfloor.errors import InvalidInputError
from watchfloor.geo import parse_lonlat
from watchfloor.types import ThreatLevel

__all__ = [
    "ATTACK_KINDS",
    "COMMUNITIES",
    "EVENT_KEYS",
    "THREAT_LEVELS",
    "Event",
    "event_from_dict",
]

ATTACK_KINDS: tuple[str, ...] = (
    "vehicle_attack",
    "stabbing",
    "bombing",
    "firearms",
    "arson",
    "hostage",
    "other",
)
#: The national threat levels, lowest first: the values of :class:`watchfloor.types.ThreatLevel`.
THREAT_LEVELS: tuple[str, ...] = tuple(level.value for level in ThreatLevel)
COMMUNITIES: tuple[str, ...] = (
    "muslim",
    "jewish",
    "christian",
    "sikh",
    "hindu",
    "buddhist",
    "lgbt",
    "asian",
    "black",
    "eastern_european",
    "gypsy_traveller",
    "migrant",
)
EVENT_KEYS: tuple[str, ...] = (
    "kind",
    "at",
    "place",
    "targeted_community",
    "backlash_community",
    "threat_level",
    "playbook",
)
_REQUIRED = ("kind", "at", "place", "targeted_community", "threat_level")

_KIND_ALIASES = {
    "vehicle": "vehicle_attack",
    "vehicle_ramming": "vehicle_attack",
    "ramming": "vehicle_attack",
    "ramming_attack": "vehicle_attack",
    "knife": "stabbing",
    "knife_attack": "stabbing",
    "stab": "stabbing",
    "bomb": "bombing",
    "explosion": "bombing",
    "ied": "bombing",
    "shooting": "firearms",
    "firearm": "firearms",
    "gun": "firearms",
    "fire": "arson",
    "arson_attack": "arson",
    "hostage_taking": "hostage",
    "siege": "hostage",
}


def _norm(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


@dataclass(frozen=True)
class Event:
    """A declared event, validated.

    Attributes
    ----------
    kind : str
        One of :data:`ATTACK_KINDS`.
    at : datetime
        When it happened (timezone-aware).
    place : str
        The place as given (text or ``"lon,lat"``).
    place_lonlat : tuple of float or None
        ``(lon, lat)`` when ``place`` is a coordinate pair.
    targeted_community : str or None
        One of :data:`COMMUNITIES`, or None for ``none``.
    backlash_community : str or None
        As above.
    threat_level : str
        One of :data:`THREAT_LEVELS`.
    playbook : str or None
        Name of the playbook to apply.
    """

    kind: str
    at: datetime
    place: str
    targeted_community: str | None
    threat_level: str
    backlash_community: str | None = None
    playbook: str | None = None
    place_lonlat: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the event as the mapping an event file holds."""
        return {
            "kind": self.kind,
            "at": self.at.isoformat(),
            "place": self.place,
            "targeted_community": self.targeted_community or "none",
            "backlash_community": self.backlash_community or "none",
            "threat_level": self.threat_level,
            "playbook": self.playbook,
        }


def _required_choice(key: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value is None:
        msg = f"event key {key!r} must be one of: {', '.join(allowed)} (got nothing)"
        raise InvalidInputError(msg)
    choice = _choice(key, value, allowed, none_ok=False)
    return choice if choice is not None else allowed[0]


def _choice(key: str, value: Any, allowed: tuple[str, ...], *, none_ok: bool) -> str | None:
    if value is None and none_ok:
        return None
    if not isinstance(value, str) or not value.strip():
        shown = ", ".join(allowed) + (", none" if none_ok else "")
        msg = f"event key {key!r} must be one of: {shown} (got {value!r})"
        raise InvalidInputError(msg)
    norm = _norm(value)
    if none_ok and norm in ("none", "no", "n/a", "na"):
        return None
    if key == "kind":
        norm = _KIND_ALIASES.get(norm, norm)
    if norm not in allowed:
        shown = ", ".join(allowed) + (", none" if none_ok else "")
        msg = f"event key {key!r} has {value!r}; allowed values: {shown}"
        raise InvalidInputError(msg)
    return norm


def _parse_at(value: Any) -> datetime:
    if isinstance(value, datetime):
        at = value
    elif isinstance(value, date):
        msg = (
            f"event key 'at' is a date ({value}); give a date-time with its offset, "
            f"e.g. {value}T22:10:00+01:00"
        )
        raise InvalidInputError(msg)
    elif isinstance(value, str):
        try:
            at = datetime.fromisoformat(value.strip())
        except ValueError:
            msg = (
                f"event key 'at' has {value!r}, which is not an ISO 8601 date-time "
                "such as 2026-06-18T22:10:00+01:00"
            )
            raise InvalidInputError(msg) from None
    else:
        msg = f"event key 'at' must be an ISO 8601 date-time with offset (got {value!r})"
        raise InvalidInputError(msg)
    if at.tzinfo is None or at.utcoffset() is None:
        msg = (
            f"event key 'at' ({at.isoformat()}) has no UTC offset; write it with one, "
            f"e.g. {at.isoformat()}+01:00 for British Summer Time or Z for UTC"
        )
        raise InvalidInputError(msg)
    return at


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Return the validated event from a mapping (a parsed event file or API body).

    Raises
    ------
    InvalidInputError
        On an unknown or missing key, or a value outside the allowed ones; the
        message names the key and what is allowed.
    """
    if not isinstance(data, Mapping):
        msg = f"an event must be a mapping with the keys {', '.join(EVENT_KEYS)}"
        raise InvalidInputError(msg)
    unknown = sorted(str(k) for k in data if k not in EVENT_KEYS)
    if unknown:
        msg = (
            f"unknown event key(s) {', '.join(map(repr, unknown))}; "
            f"allowed keys: {', '.join(EVENT_KEYS)}"
        )
        raise InvalidInputError(msg)
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        msg = (
            f"event is missing the key(s) {', '.join(map(repr, missing))}; "
            f"required: {', '.join(_REQUIRED)}"
        )
        raise InvalidInputError(msg)
    kind = _required_choice("kind", data["kind"], ATTACK_KINDS)
    threat = _required_choice("threat_level", data["threat_level"], THREAT_LEVELS)
    targeted = _choice("targeted_community", data["targeted_community"], COMMUNITIES, none_ok=True)
    backlash = _choice(
        "backlash_community", data.get("backlash_community"), COMMUNITIES, none_ok=True
    )
    place = data["place"]
    if not isinstance(place, str) or not place.strip():
        msg = "event key 'place' must be text (a place name) or 'lon,lat'"
        raise InvalidInputError(msg)
    place = place.strip()
    lonlat = None
    if re.fullmatch(r"\s*[-+]?\d+(\.\d+)?\s*,\s*[-+]?\d+(\.\d+)?\s*", place):
        lonlat = parse_lonlat(place, what="event key 'place'")
    playbook = data.get("playbook")
    if playbook is not None and (not isinstance(playbook, str) or not playbook.strip()):
        msg = "event key 'playbook' must be a playbook name (see `watchfloor posture playbooks`)"
        raise InvalidInputError(msg)
    return Event(
        kind=kind,
        at=_parse_at(data["at"]),
        place=place,
        place_lonlat=lonlat,
        targeted_community=targeted,
        backlash_community=backlash,
        threat_level=threat,
        playbook=playbook.strip() if isinstance(playbook, str) else None,
    )
