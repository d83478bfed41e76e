"""The posture result: a value per site and time slot, with the reasons kept.

A :class:`Posture` is what the patrol game reads as the attacker's payoff
(``value[i, j]`` for site ``i`` in slot ``j``) and what a planner reads to see
why a site ranks where it does. Reasons are stored compactly, in CSR form over
the cells (``cell = i * n_slots + j``): ``reason_ptr[cell]:reason_ptr[cell + 1]``
index ``reason_factor`` (rows of the factor table ``factors``) and
``reason_multiplier`` (the multiplier that factor applied in that cell). The
first reason of every cell is its base value, so the product of a cell's
reason multipliers is exactly ``value[i, j]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from watchfloor.errors import InvalidInputError
from watchfloor.types import FloatArray, IntArray

__all__ = ["Factor", "Posture", "RankedCell", "Reason", "format_multiplier"]

FactorSource = Literal["base", "occupancy", "threat", "event", "calendar", "tension", "playbook"]


@dataclass(frozen=True)
class Factor:
    """One row of a posture's factor table.

    Attributes
    ----------
    factor_id : str
        Stable identifier, e.g. ``"calendar:friday_prayers"`` or
        ``"event:targeted_community:day1"``.
    source : str
        Which part of the model produced it: ``base``, ``occupancy``,
        ``threat``, ``event``, ``calendar``, ``tension`` or ``playbook``.
    text : str
        Plain-language description without the multiplier, e.g.
        ``"Friday prayers 12:30-14:30"``.
    """

    factor_id: str
    source: FactorSource
    text: str


@dataclass(frozen=True)
class Reason:
    """A factor as applied to one site-slot: its text and its multiplier."""

    factor_id: str
    source: FactorSource
    text: str
    multiplier: float

    def __str__(self) -> str:
        if self.source == "base":
            return f"{self.text}: base {format_multiplier(self.multiplier)}"
        return f"{self.text} x{format_multiplier(self.multiplier)}"


def format_multiplier(value: float) -> str:
    """Return a multiplier as short text: ``2.0``, ``2.5``, ``1.41``."""
    text = f"{value:.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


@dataclass(frozen=True)
class RankedCell:
    """One site-slot in a ranking, with its value and reasons."""

    site_index: int
    site_id: str
    slot_index: int
    slot_start: datetime
    value: float
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, eq=False)
class Posture:
    """Risk value per site and time slot, with the factors that produced each value.

    Attributes
    ----------
    status : str
        ``"ok"``; ``"no_sites"`` when the register was empty (``value`` then has
        zero rows).
    site_id : tuple of str
        Site identifiers, one per row of ``value``.
    slot_start : tuple of datetime
        Start of each slot (timezone-aware, UTC), one per column of ``value``.
    slot_minutes : int
        Length of every slot.
    value : float64[n_sites, n_slots]
        The attacker's payoff for a successful attack on site ``i`` in slot
        ``j`` (dimensionless; a site of base value 1 at an ordinary time under a
        ``substantial`` threat level scores 1). Read-only.
    factors : tuple of Factor
        The factor table that ``reason_factor`` indexes.
    reason_ptr : int64[n_sites * n_slots + 1]
        CSR pointers of each cell's reasons.
    reason_factor : int32[n_reasons]
        Factor-table row of each reason.
    reason_multiplier : float64[n_reasons]
        Multiplier of each reason in its cell (the base value for ``base``).
    threat_level : str
        National threat level used.
    playbook : str
        ``"name vN"`` of the playbook applied, or ``""``.
    brief_roles : tuple of str
        Roles the playbook says to brief.
    """

    status: Literal["ok", "no_sites"]
    site_id: tuple[str, ...]
    slot_start: tuple[datetime, ...]
    slot_minutes: int
    value: FloatArray
    factors: tuple[Factor, ...]
    reason_ptr: IntArray
    reason_factor: npt.NDArray[np.int32]
    reason_multiplier: FloatArray
    threat_level: str = "substantial"
    playbook: str = ""
    brief_roles: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n_sites, n_slots = len(self.site_id), len(self.slot_start)
        if self.value.shape != (n_sites, n_slots):
            msg = f"value has shape {self.value.shape}, expected ({n_sites}, {n_slots})"
            raise InvalidInputError(msg)
        if self.reason_ptr.shape != (n_sites * n_slots + 1,):
            msg = "reason_ptr must have one entry per cell plus one"
            raise InvalidInputError(msg)
        for arr in (self.value, self.reason_ptr, self.reason_factor, self.reason_multiplier):
            arr.setflags(write=False)

    @property
    def n_sites(self) -> int:
        """Return the number of sites (rows)."""
        return len(self.site_id)

    @property
    def n_slots(self) -> int:
        """Return the number of time slots (columns)."""
        return len(self.slot_start)

    @property
    def slot_end(self) -> datetime:
        """Return the end of the last slot (UTC)."""
        if not self.slot_start:
            msg = "the posture has no slots"
            raise InvalidInputError(msg)
        return self.slot_start[-1] + timedelta(minutes=self.slot_minutes)

    def slot_index(self, at: datetime) -> int:
        """Return the index of the slot that contains ``at`` (timezone-aware).

        Raises
        ------
        InvalidInputError
            When ``at`` is naive or outside the posture's window.
        """
        if at.tzinfo is None or at.utcoffset() is None:
            msg = f"time {at.isoformat()} has no UTC offset; give one, e.g. +01:00"
            raise InvalidInputError(msg)
        if not self.slot_start:
            msg = "the posture has no slots"
            raise InvalidInputError(msg)
        offset_s = (at.astimezone(UTC) - self.slot_start[0]).total_seconds()
        j = math.floor(offset_s / (60 * self.slot_minutes))
        if not 0 <= j < self.n_slots:
            msg = (
                f"time {at.isoformat()} is outside the posture window "
                f"{self.slot_start[0].isoformat()} to {self.slot_end.isoformat()}; "
                "compute a posture for a window that contains it"
            )
            raise InvalidInputError(msg)
        return j

    def reasons(self, site_index: int, slot_index: int) -> tuple[Reason, ...]:
        """Return the reasons (factor text and multiplier) of one site-slot, base first."""
        cell = site_index * self.n_slots + slot_index
        lo, hi = int(self.reason_ptr[cell]), int(self.reason_ptr[cell + 1])
        out = []
        for k in range(lo, hi):
            factor = self.factors[int(self.reason_factor[k])]
            multiplier = float(self.reason_multiplier[k])
            out.append(Reason(factor.factor_id, factor.source, factor.text, multiplier))
        return tuple(out)

    def top(self, n: int, *, at: datetime | None = None) -> list[RankedCell]:
        """Return the ``n`` highest-valued sites, best first.

        Parameters
        ----------
        n
            How many sites to return (at most ``n_sites``).
        at
            A time inside the window: rank the sites in the slot containing it.
            When omitted, each site is ranked by its highest slot.
        """
        if n < 0:
            msg = f"n must be zero or more, got {n}"
            raise InvalidInputError(msg)
        if self.n_sites == 0 or self.n_slots == 0:
            return []
        if at is not None:
            j = self.slot_index(at)
            slots = np.full(self.n_sites, j, dtype=np.int64)
        else:
            slots = np.argmax(self.value, axis=1).astype(np.int64)
        best = self.value[np.arange(self.n_sites), slots]
        # Highest value first; ties by site id so the order is reproducible.
        order = sorted(range(self.n_sites), key=lambda i: (-best[i], self.site_id[i]))[:n]
        return [
            RankedCell(
                site_index=i,
                site_id=self.site_id[i],
                slot_index=int(slots[i]),
                slot_start=self.slot_start[int(slots[i])],
                value=float(best[i]),
                reasons=self.reasons(i, int(slots[i])),
            )
            for i in order
        ]

    def to_dict(self, *, with_reasons: bool = True) -> dict[str, Any]:
        """Return a JSON-ready dict: sites, slots, values and (optionally) reasons.

        Reasons keep their compact CSR form: the reasons of cell
        ``i * n_slots + j`` are ``reason_factor[reason_ptr[c]:reason_ptr[c + 1]]``
        (rows of ``factors``) with the parallel ``reason_multiplier``.
        """
        doc: dict[str, Any] = {
            "status": self.status,
            "threat_level": self.threat_level,
            "playbook": self.playbook,
            "brief_roles": list(self.brief_roles),
            "slot_minutes": self.slot_minutes,
            "site_id": list(self.site_id),
            "slot_start": [s.isoformat() for s in self.slot_start],
            "value": self.value.round(6).tolist(),
        }
        if with_reasons:
            doc["factors"] = [
                {"id": f.factor_id, "source": f.source, "text": f.text} for f in self.factors
            ]
            doc["reason_ptr"] = self.reason_ptr.tolist()
            doc["reason_factor"] = self.reason_factor.tolist()
            doc["reason_multiplier"] = np.round(self.reason_multiplier, 6).tolist()
        return doc
