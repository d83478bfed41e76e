"""The posture's factor table: typed, validated, with the shipped defaults.

The factors live in one YAML file (``defaults.yaml`` in this package,
documented key by key). :func:`factors_from_dict` validates a mapping read
from a force's own file, merged over the defaults: mappings are merged key by
key, everything else is replaced; unknown keys are rejected with the allowed
ones named.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache
from importlib import resources
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from watchfloor.errors import ConfigurationError, InvalidInputError
from watchfloor.types import ThreatLevel

__all__ = [
    "WEEKDAYS",
    "CalendarRule",
    "EventFactors",
    "Factors",
    "Festival",
    "Selector",
    "UserEvent",
    "check_time",
    "default_factors",
    "defaults_dict",
    "explain_validation_error",
    "factors_from_dict",
    "merge_over",
]

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_TIME_RE = re.compile(r"^(?:(?P<hm>\d{1,2}:\d{2})|sunset(?:(?P<sign>[+-])(?P<mins>\d+)m)?)$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Selector(_Model):
    """Which sites a factor applies to: every field given must match one of its values."""

    kind: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    religion: tuple[str, ...] = ()
    denomination: tuple[str, ...] = ()
    site_id: tuple[str, ...] = ()

    def describe(self) -> str:
        """Return plain text naming the selected sites, e.g. ``"place_of_worship (muslim)"``."""
        parts = []
        if self.category:
            parts.append("/".join(self.category))
        elif self.kind:
            parts.append("/".join(self.kind))
        if self.religion:
            parts.append("(" + "/".join(self.religion) + ")")
        if self.denomination:
            parts.append("(" + "/".join(self.denomination) + ")")
        if self.site_id:
            parts.append("sites " + ", ".join(self.site_id))
        return " ".join(parts) or "all sites"


def check_time(value: str) -> str:
    """Return ``value`` when it is a rule time: ``HH:MM``, ``sunset`` or ``sunset+NNm``/``-NNm``.

    Raises
    ------
    ValueError
        Naming the accepted forms (pydantic turns it into a field error).
    """
    if not _TIME_RE.match(value):
        msg = f"time {value!r} is not HH:MM, 'sunset', or 'sunset+NNm' / 'sunset-NNm'"
        raise ValueError(msg)
    m = _TIME_RE.match(value)
    if m and m.group("hm"):
        hh, mm = (int(x) for x in value.split(":"))
        if hh > 23 or mm > 59:
            msg = f"time {value!r} is not a valid HH:MM"
            raise ValueError(msg)
    return value


class CalendarRule(_Model):
    """A weekly window (or a daily one during a period) that raises matching sites."""

    text: str
    applies_to: Selector
    days: tuple[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ...] = WEEKDAYS  # type: ignore[assignment]
    during: Literal["always", "ramadan", "school_term"] = "always"
    start: str
    end: str
    end_day_offset: int = Field(default=0, ge=0, le=7)
    multiplier: float = Field(ge=0.0)

    _v_start = field_validator("start", "end")(check_time)


class Festival(_Model):
    """A festival: whole-day windows on dates computed by a rule or listed."""

    text: str
    applies_to: Selector
    rule: str | None = None
    dates: tuple[date, ...] = ()
    day_offset: int = Field(default=0, ge=-1, le=1)
    start: str
    end: str
    multiplier: float = Field(ge=0.0)

    _v_start = field_validator("start", "end")(check_time)


class UserEvent(_Model):
    """A user-added event: a match, a march, a vigil, with its own multiplier."""

    text: str
    start: datetime
    end: datetime
    multiplier: float = Field(ge=0.0)
    site_id: str | None = None
    site_name: str | None = None
    applies_to: Selector | None = None

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            msg = f"{value.isoformat()} has no UTC offset; write it as e.g. 2026-06-20T15:00+01:00"
            raise ValueError(msg)
        return value


class PlaceWord(_Model):
    """Kind (and category or religion) of the place a word in the event's place names."""

    kind: str
    category: str = ""
    religion: str = ""


class EventFactors(_Model):
    """Multipliers the declared event adds, and how fast they decay."""

    half_life_days: float = Field(gt=0.0)
    targeted_community: float = Field(ge=0.0)
    backlash_community: float = Field(ge=0.0)
    same_category: float = Field(ge=0.0)
    same_kind: float = Field(ge=0.0)
    proximity: float = Field(ge=0.0)
    proximity_radius_m: float = Field(gt=0.0)
    modus_operandi: dict[str, dict[str, float]]
    place_words: dict[str, PlaceWord]


class BaseValue(_Model):
    """Base value of a site by kind, overridden by category."""

    kind: dict[str, float]
    category: dict[str, float]
    default: float = Field(ge=0.0)


class Occupancy(_Model):
    """Usual occupancy by local hour (24 values), by kind, overridden by category."""

    kind: dict[str, tuple[float, ...]]
    category: dict[str, tuple[float, ...]]

    @field_validator("kind", "category")
    @classmethod
    def _24(cls, value: dict[str, tuple[float, ...]]) -> dict[str, tuple[float, ...]]:
        for key, row in value.items():
            if len(row) != 24 or min(row) < 0.0:
                msg = f"occupancy of {key!r} must be 24 numbers >= 0 (hours 0..23)"
                raise ValueError(msg)
        return value


class School(_Model):
    """School holidays: fixed MM-DD ranges plus Easter +- easter_days."""

    holidays: tuple[tuple[str, str], ...]
    easter_days: int = Field(ge=0, le=30)

    @field_validator("holidays")
    @classmethod
    def _mmdd(cls, value: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
        for pair in value:
            for item in pair:
                if not re.fullmatch(r"(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])", item):
                    msg = f"school holiday bound {item!r} is not MM-DD"
                    raise ValueError(msg)
        return value


class Tension(_Model):
    """Multiplier per community-tension level 1..5."""

    level_multiplier: dict[int, float]

    @field_validator("level_multiplier")
    @classmethod
    def _levels(cls, value: dict[int, float]) -> dict[int, float]:
        if sorted(value) != [1, 2, 3, 4, 5]:
            msg = "tension.level_multiplier needs exactly the levels 1, 2, 3, 4, 5"
            raise ValueError(msg)
        return value


class Factors(_Model):
    """Every factor of the posture model (see ``defaults.yaml`` for their meaning)."""

    timezone: Literal["Europe/London"] = "Europe/London"
    base_value: BaseValue
    occupancy: Occupancy
    threat_level: dict[ThreatLevel, float]
    event: EventFactors
    communities: dict[str, Selector]
    calendar: dict[str, CalendarRule]
    school: School
    festivals: dict[str, Festival]
    tension: Tension
    user_events: tuple[UserEvent, ...] = ()


def merge_over(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``override`` merged in: mappings key by key, the rest replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_over(out[key], value)
        else:
            out[key] = value
    return out


def _model_in(annotation: Any) -> type[BaseModel] | None:
    # The pydantic model inside an annotation such as `Model`, `Model | None`,
    # `dict[str, Model]` or `tuple[Model, ...]`.
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in reversed(get_args(annotation)):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _allowed_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str] | None:
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if current is None:
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            # a key of a dict[str, Model] or an index of a tuple[Model, ...]
            continue
        current = _model_in(field.annotation)
    return sorted(current.model_fields) if current is not None else None


def explain_validation_error(exc: ValidationError, *, what: str, model: type[BaseModel]) -> str:
    """Return one message naming each bad key and, for unknown keys, the allowed ones."""
    lines = []
    for err in exc.errors()[:5]:
        loc = tuple(p for p in err["loc"] if p != "[key]")  # a mapping's bad key
        key = ".".join(str(p) for p in loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc)
            hint = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
            lines.append(f"unknown key {key!r}{hint}")
        elif err["type"] == "missing":
            lines.append(f"missing key {key!r}")
        elif err["type"] in ("literal_error", "enum"):
            expected = err.get("ctx", {}).get("expected", "")
            lines.append(f"{key}: {err['input']!r} is not allowed; allowed values: {expected}")
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
            lines.append(f"{key}: {msg}")
    more = len(exc.errors()) - len(lines)
    tail = f" (and {more} more)" if more > 0 else ""
    return f"{what}: " + "; ".join(lines) + tail


@lru_cache(maxsize=1)
def _parsed_defaults() -> dict[str, Any]:
    text = resources.files("watchfloor.posture").joinpath("defaults.yaml").read_text("utf-8")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(text, Loader=loader)  # noqa: S506 (a safe loader, C or Python)
    if not isinstance(data, dict):
        msg = "the shipped posture defaults are not a mapping; reinstall watchfloor"
        raise ConfigurationError(msg)
    return data


def defaults_dict() -> dict[str, Any]:
    """Return the shipped defaults as a plain mapping (parsed ``defaults.yaml``)."""
    return copy.deepcopy(_parsed_defaults())


def factors_from_dict(override: Mapping[str, Any] | None = None) -> Factors:
    """Return the factors: the shipped defaults with ``override`` merged over them.

    Raises
    ------
    InvalidInputError
        When a key is unknown or a value is out of range (the message names them).
    """
    if override is not None and not isinstance(override, Mapping):
        msg = "factor file: the top level must be a mapping of keys to values"
        raise InvalidInputError(msg)
    data = merge_over(defaults_dict(), override or {})
    try:
        return Factors.model_validate(data)
    except ValidationError as exc:
        raise InvalidInputError(
            explain_validation_error(exc, what="factor file", model=Factors)
        ) from None


@lru_cache(maxsize=1)
def default_factors() -> Factors:
    """Return the shipped default factors (frozen, parsed once)."""
    return factors_from_dict(None)
