"""Playbooks: a force's rehearsed plans, as readable and versioned YAML files.

A playbook says what to raise, by how much and for how long after an event,
which extra calendar windows to add, and which roles to brief::

    name: place-of-worship-attack
    version: 2
    title: Attack on a place of worship
    description: Reassurance patrols at places of worship of the community attacked ...
    duration_days: 7
    raise:
      - text: places of worship of the targeted community
        community: targeted          # targeted, backlash, or a community name
        multiplier: 1.5
      - text: all places of worship
        applies_to: {kind: [place_of_worship]}
        multiplier: 1.2
    windows:
      - text: evening prayers
        community: targeted
        applies_to: {kind: [place_of_worship]}
        start: "sunset"
        end: "sunset+120m"
        multiplier: 1.5
    brief_roles: [neighbourhood_officer, hate_crime_officer, planner]

Raises and windows apply from the event until ``duration_days`` after it. The
shipped playbooks are in ``watchfloor/posture/playbooks/*.yaml``; a force's own
files of the same name replace them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from watchfloor.errors import InvalidInputError
from watchfloor.posture.config import (
    WEEKDAYS,
    Selector,
    check_time,
    explain_validation_error,
)
from watchfloor.types import Role

__all__ = [
    "Playbook",
    "PlaybookRaise",
    "PlaybookWindow",
    "playbook_from_dict",
    "resolve_playbook",
    "shipped_playbooks",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlaybookRaise(_Model):
    """Raise matching sites by a multiplier while the playbook is in force."""

    text: str
    applies_to: Selector = Selector()
    community: str | None = None
    multiplier: float = Field(ge=0.0)


class PlaybookWindow(_Model):
    """An extra calendar window while the playbook is in force."""

    text: str
    applies_to: Selector = Selector()
    community: str | None = None
    days: tuple[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ...] = WEEKDAYS  # type: ignore[assignment]
    during: Literal["always", "ramadan", "school_term"] = "always"
    start: str
    end: str
    end_day_offset: int = Field(default=0, ge=0, le=7)
    multiplier: float = Field(ge=0.0)

    _v_time = field_validator("start", "end")(check_time)


class Playbook(_Model):
    """A versioned, rehearsed plan selectable by name in the event."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    version: int = Field(ge=1)
    title: str
    description: str = ""
    duration_days: float = Field(gt=0.0, le=60.0)
    half_life_days: float | None = Field(default=None, gt=0.0)
    raise_: tuple[PlaybookRaise, ...] = Field(default=(), alias="raise")
    windows: tuple[PlaybookWindow, ...] = ()
    brief_roles: tuple[str, ...] = ()

    @field_validator("brief_roles")
    @classmethod
    def _roles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        allowed = [role.value for role in Role]
        bad = [r for r in value if r not in allowed]
        if bad:
            msg = f"unknown role(s) {', '.join(bad)}; allowed: {', '.join(allowed)}"
            raise ValueError(msg)
        return value

    @property
    def label(self) -> str:
        """Return ``"name vN"``, as shown in the reasons."""
        return f"{self.name} v{self.version}"


def playbook_from_dict(data: Mapping[str, Any], *, source: str = "playbook") -> Playbook:
    """Return a validated playbook from a parsed YAML mapping.

    Raises
    ------
    InvalidInputError
        On unknown keys or values out of range; the message names them.
    """
    if not isinstance(data, Mapping):
        msg = f"{source}: a playbook must be a mapping (name, version, title, ...)"
        raise InvalidInputError(msg)
    try:
        return Playbook.model_validate(dict(data))
    except ValidationError as exc:
        raise InvalidInputError(
            explain_validation_error(exc, what=source, model=Playbook)
        ) from None


def shipped_playbooks() -> dict[str, Playbook]:
    """Return the playbooks shipped with watchfloor, by name."""
    out: dict[str, Playbook] = {}
    folder = resources.files("watchfloor.posture").joinpath("playbooks")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            book = playbook_from_dict(
                yaml.safe_load(entry.read_text("utf-8")), source=f"playbook {entry.name}"
            )
            out[book.name] = book
    return out


def resolve_playbook(name: str, available: Mapping[str, Playbook] | Iterable[Playbook]) -> Playbook:
    """Return the playbook called ``name``.

    Raises
    ------
    InvalidInputError
        When there is no such playbook; the message lists the available ones.
    """
    books = dict(available) if isinstance(available, Mapping) else {b.name: b for b in available}
    key = name.strip().lower().replace(" ", "-").replace("_", "-")
    if key in books:
        return books[key]
    msg = f"unknown playbook {name!r}; available playbooks: {', '.join(sorted(books)) or 'none'}"
    raise InvalidInputError(msg)
