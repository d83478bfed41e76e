"""Parse YAML text into the posture's inputs: events, factor files and playbooks.

The posture package never opens files; callers (services) read them and pass
the text here. Every error names the source and what to change.
"""

from __future__ import annotations

from typing import Any

import yaml

from watchfloor.errors import InvalidInputError
from watchfloor.posture.config import Factors, factors_from_dict
from watchfloor.posture.event import Event, event_from_dict
from watchfloor.posture.playbooks import Playbook, playbook_from_dict

__all__ = ["event_from_yaml", "factors_from_yaml", "load_yaml", "playbook_from_yaml"]


def load_yaml(text: str, *, source: str) -> Any:
    """Return the document parsed from YAML text (safe loader).

    Raises
    ------
    InvalidInputError
        When the text is not valid YAML; the message gives the line.
    """
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        msg = f"{source}: {problem}{where}; fix the YAML syntax"
        raise InvalidInputError(msg) from None


def event_from_yaml(text: str, *, source: str = "event file") -> Event:
    """Return the validated event from the text of an event file."""
    data = load_yaml(text, source=source)
    if not isinstance(data, dict):
        msg = f"{source}: expected a mapping with keys kind, at, place, targeted_community, ..."
        raise InvalidInputError(msg)
    try:
        return event_from_dict(data)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{source}: {exc}") from None


def factors_from_yaml(text: str, *, source: str = "factor file") -> Factors:
    """Return the factors: the shipped defaults with this file's values merged over them."""
    data = load_yaml(text, source=source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        msg = f"{source}: the top level must be a mapping of factor keys"
        raise InvalidInputError(msg)
    try:
        return factors_from_dict(data)
    except InvalidInputError as exc:
        raise InvalidInputError(str(exc).replace("factor file", source, 1)) from None


def playbook_from_yaml(text: str, *, source: str = "playbook") -> Playbook:
    """Return the validated playbook from the text of a playbook file."""
    return playbook_from_dict(load_yaml(text, source=source), source=source)
