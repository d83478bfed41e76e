"""Alerts in words a duty inspector reads, and a tension level per area.

Tension level (1-5) of an area, from its alerts and the community liaison
notes of the last ``note_days`` days:

====  ==========  =========================================================
lvl   name        when
====  ==========  =========================================================
1     normal      no alert, no liaison note of severity 3 or more
2     watch       a single-area control-chart alarm (EARS C2 / CUSUM), or a
                  scan cluster recurring more often than every 100 days, or
                  a liaison note of severity 3
3     elevated    a scan cluster with a recurrence interval of 100 days or
                  more, or a liaison note of severity 4
4     high        a scan cluster with a recurrence interval of a year or
                  more, or a liaison note of severity 5
5     severe      level 4 from the data *and* a liaison note of severity 4
                  or 5 (or level 4 from notes and a cluster of 100+ days):
                  the numbers and the community say the same thing
====  ==========  =========================================================

Formally: ``data = 4 if RI >= 365 else 3 if RI >= 100 else 2 if any alarm
else 1``; ``notes = {5: 4, 4: 3, 3: 2}.get(max severity, 1)``; ``level =
max(data, notes)``, plus one (capped at 5) when both are at least 3.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

__all__ = [
    "Alert",
    "LiaisonNote",
    "TensionLevel",
    "describe_recurrence",
    "reason_sentence",
    "tension_levels_from_alerts",
]


@dataclass(frozen=True)
class Alert:
    """A rise in incidents in one area or a cluster of neighbouring areas."""

    method: str
    """"space-time-permutation", "poisson", "poisson-baseline", "ears-c2", "cusum", "farrington"."""
    area_codes: tuple[str, ...]
    area_names: tuple[str, ...]
    start: str
    """First day of the window (ISO date)."""
    end: str
    """Last day of the window (ISO date, inclusive)."""
    observed: int
    expected: float
    relative_risk: float
    p_value: float
    recurrence_days: float
    kind: str = "tension"
    """What was counted, in words ("hate", "public order", ...)."""
    llr: float = math.nan
    reason: str = field(default="")

    @property
    def days(self) -> int:
        """Length of the window in days."""
        return (date.fromisoformat(self.end) - date.fromisoformat(self.start)).days + 1


@dataclass(frozen=True)
class LiaisonNote:
    """A community liaison note, as the level mapping needs it."""

    area_code: str
    day: str
    indicator: str
    severity: int
    text: str = ""


@dataclass(frozen=True)
class TensionLevel:
    """Level 1-5 of an area and the reason for it, in one sentence."""

    area_code: str
    level: int
    reason: str


def describe_recurrence(days: float) -> str:
    """Return "about once in 3 years" style words for a recurrence interval in days."""
    if not math.isfinite(days):
        return "a chance the replicates cannot put a figure on"
    if days >= 730:
        return f"about once in {round(days / 365.25):d} years"
    if days >= 300:
        return "about once a year"
    if days >= 60:
        return f"about once in {round(days / 30.44):d} months"
    if days >= 14:
        return f"about once in {round(days / 7):d} weeks"
    if days >= 1.5:
        return f"about once in {round(days):d} days"
    return "about every day"


def _expected_words(expected: float) -> str:
    """An expected count as a reader takes it: '4.1', '0.36', 'fewer than 0.01'."""
    if expected >= 0.95:
        return f"{expected:.1f}"
    if expected >= 0.01:
        return f"{expected:.2g}"
    return "fewer than 0.01"


def reason_sentence(alert: Alert) -> str:
    """Return the one-sentence reason of an alert.

    Example: "Luton South: 14 hate incidents in 7 days against 4.1 expected;
    this happens by chance about once in 3 years".
    """
    names = list(alert.area_names) or list(alert.area_codes)
    place = names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} nearby areas"
    days = alert.days
    span = "1 day" if days == 1 else f"{days} days"
    incidents = "incident" if alert.observed == 1 else "incidents"
    kind = f"{alert.kind} " if alert.kind else ""
    head = (
        f"{place}: {alert.observed} {kind}{incidents} in {span} "
        f"against {_expected_words(alert.expected)} expected"
    )
    if math.isfinite(alert.recurrence_days):
        return f"{head}; this happens by chance {describe_recurrence(alert.recurrence_days)}"
    if math.isfinite(alert.p_value):
        return f"{head}; a rise this size has a chance of {alert.p_value:.2g} ({alert.method})"
    return f"{head} ({alert.method})"


def _alert_level(alert: Alert) -> int:
    ri = alert.recurrence_days
    return 4 if ri >= 365 else 3 if ri >= 100 else 2


def _data_level(alerts: Sequence[Alert]) -> tuple[int, Alert | None]:
    if not alerts:
        return 1, None
    which = max(
        alerts,
        key=lambda a: (
            _alert_level(a),
            a.recurrence_days if math.isfinite(a.recurrence_days) else 0.0,
        ),
    )
    return _alert_level(which), which


def tension_levels_from_alerts(
    area_codes: Iterable[str],
    alerts: Sequence[Alert],
    notes: Sequence[LiaisonNote] = (),
    *,
    area_names: Mapping[str, str] | None = None,
) -> dict[str, TensionLevel]:
    """Return the tension level of every area under the mapping in the module docstring.

    Parameters
    ----------
    area_codes
        All areas to report (areas without alerts or notes get level 1).
    alerts
        Current alerts; an alert counts for every area it covers.
    notes
        Liaison notes already restricted to the recent period.
    area_names
        Display names by code.
    """
    names = dict(area_names or {})
    by_area: dict[str, list[Alert]] = {}
    for a in alerts:
        for code in a.area_codes:
            by_area.setdefault(code, []).append(a)
    worst_note: dict[str, LiaisonNote] = {}
    for n in notes:
        cur = worst_note.get(n.area_code)
        if cur is None or n.severity > cur.severity:
            worst_note[n.area_code] = n
    out: dict[str, TensionLevel] = {}
    for code in area_codes:
        data, alert = _data_level(by_area.get(code, []))
        note = worst_note.get(code)
        note_level = {5: 4, 4: 3, 3: 2}.get(note.severity, 1) if note else 1
        level = max(data, note_level)
        if data >= 3 and note_level >= 3:
            level = min(5, level + 1)
        parts: list[str] = []
        if alert is not None and data > 1:
            parts.append(alert.reason or reason_sentence(alert))
        if note is not None and note_level > 1:
            parts.append(
                f"liaison note {note.day}: {note.indicator}, severity {note.severity} of 5"
            )
        if not parts:
            parts.append(f"{names.get(code, code)}: incidents within the normal range")
        out[code] = TensionLevel(area_code=code, level=level, reason="; ".join(parts))
    return out
