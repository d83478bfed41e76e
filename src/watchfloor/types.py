"""The one vocabulary of watchfloor: array aliases, the London zone and the fixed lists.

Part of the foundation (with :mod:`watchfloor.errors`, :mod:`watchfloor.geo` and
:mod:`watchfloor.settings`): it imports nothing else of watchfloor, and every
other package may import it. Each fixed list is spelt here once, as a
:class:`~enum.StrEnum` whose members compare equal to their strings, so a value
read from the database or a request (``"supervisor"``) and the member
(``Role.SUPERVISOR``) are interchangeable.
"""

from __future__ import annotations

from enum import StrEnum
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

__all__ = [
    "LONDON",
    "BoolArray",
    "FloatArray",
    "IntArray",
    "ReportKind",
    "ReportQueue",
    "ReportStatus",
    "Role",
    "ThreatLevel",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: The forces' clock: shifts, calendars, briefings and public times are London time.
LONDON = ZoneInfo("Europe/London")


class Role(StrEnum):
    """Staff roles. ``admin`` manages accounts and is not implied by any other role."""

    REVIEWER = "reviewer"
    CT_ANALYST = "ct_analyst"
    HATE_CRIME_OFFICER = "hate_crime_officer"
    NEIGHBOURHOOD_OFFICER = "neighbourhood_officer"
    PLANNER = "planner"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    REGIONAL_CT = "regional_ct"

    @property
    def label(self) -> str:
        """Return the role as people say it ("hate crime officer")."""
        return _ROLE_LABELS[self]


_ROLE_LABELS = {
    Role.REVIEWER: "reviewer",
    Role.CT_ANALYST: "counter-terrorism analyst",
    Role.HATE_CRIME_OFFICER: "hate crime officer",
    Role.NEIGHBOURHOOD_OFFICER: "neighbourhood officer",
    Role.PLANNER: "planner",
    Role.SUPERVISOR: "supervisor",
    Role.ADMIN: "administrator",
    Role.REGIONAL_CT: "regional counter-terrorism unit",
}


class ReportKind(StrEnum):
    """What a member of the public is reporting."""

    SUSPICIOUS_BEHAVIOUR = "suspicious_behaviour"
    SUSPICIOUS_ITEM = "suspicious_item"
    ONLINE_CONTENT = "online_content"
    HATE_INCIDENT = "hate_incident"
    PAST_INCIDENT = "past_incident"
    PREVENT_CONCERN = "prevent_concern"

    @property
    def label(self) -> str:
        """Return the kind as the public form asks it ("A suspicious item or vehicle")."""
        return _KIND_LABELS[self]


_KIND_LABELS = {
    ReportKind.SUSPICIOUS_BEHAVIOUR: "Suspicious behaviour",
    ReportKind.SUSPICIOUS_ITEM: "A suspicious item or vehicle",
    ReportKind.ONLINE_CONTENT: "Online extremist or terrorist content",
    ReportKind.HATE_INCIDENT: "A hate incident or hate crime",
    ReportKind.PAST_INCIDENT: "Information about something that has already happened",
    ReportKind.PREVENT_CONCERN: "Worried someone is being drawn into extremism",
}


class ReportQueue(StrEnum):
    """Queues that public reports are triaged into."""

    CT = "ct"
    HATE_CRIME = "hate_crime"
    NEIGHBOURHOOD = "neighbourhood"
    PREVENT = "prevent"

    @property
    def label(self) -> str:
        """Return the queue's name as staff read it ("Counter-terrorism")."""
        return _QUEUE_LABELS[self]


_QUEUE_LABELS = {
    ReportQueue.CT: "Counter-terrorism",
    ReportQueue.HATE_CRIME: "Hate crime",
    ReportQueue.NEIGHBOURHOOD: "Neighbourhood",
    ReportQueue.PREVENT: "Prevent",
}


class ReportStatus(StrEnum):
    """Where a report is in its life, in order."""

    NEW = "new"
    TRIAGED = "triaged"
    ASSIGNED = "assigned"
    ACTIONED = "actioned"
    CLOSED = "closed"


class ThreatLevel(StrEnum):
    """The UK national terrorism threat levels, lowest first."""

    LOW = "low"
    MODERATE = "moderate"
    SUBSTANTIAL = "substantial"
    SEVERE = "severe"
    CRITICAL = "critical"
