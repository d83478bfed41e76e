"""Posture: risk per site and time slot after a declared event, with the reasons kept.

The model (factors, how they combine, how event factors decay) is described in
:mod:`watchfloor.posture.risk`; the factors and their defaults are in
``defaults.yaml``; playbooks in ``playbooks/*.yaml``.

A pure package: it imports only the foundation (:mod:`watchfloor.errors`,
:mod:`watchfloor.types`, :mod:`watchfloor.geo`) besides itself, with PyYAML and
pydantic to read and check its own YAML. It reads no files but its shipped
defaults and playbooks; a force's files are read by
:mod:`watchfloor.services.posture` and handed in as text.
"""

from watchfloor.posture.config import Factors, UserEvent, default_factors, factors_from_dict
from watchfloor.posture.event import (
    ATTACK_KINDS,
    COMMUNITIES,
    THREAT_LEVELS,
    Event,
    event_from_dict,
)
from watchfloor.posture.loader import event_from_yaml, factors_from_yaml, playbook_from_yaml
from watchfloor.posture.playbooks import Playbook, resolve_playbook, shipped_playbooks
from watchfloor.posture.result import Factor, Posture, RankedCell, Reason
from watchfloor.posture.risk import (
    SiteTable,
    TensionInput,
    TensionLevel,
    compute_posture,
    tension_by_area,
)

__all__ = [
    "ATTACK_KINDS",
    "COMMUNITIES",
    "THREAT_LEVELS",
    "Event",
    "Factor",
    "Factors",
    "Playbook",
    "Posture",
    "RankedCell",
    "Reason",
    "SiteTable",
    "TensionInput",
    "TensionLevel",
    "UserEvent",
    "compute_posture",
    "default_factors",
    "event_from_dict",
    "event_from_yaml",
    "factors_from_dict",
    "factors_from_yaml",
    "playbook_from_yaml",
    "resolve_playbook",
    "shipped_playbooks",
    "tension_by_area",
]
