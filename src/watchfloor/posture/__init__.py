"""Posture: risk per site and time slot after a declared event, with the reasons kept.

See :mod:`watchfloor.posture.risk` for the model.
"""

from watchfloor.posture.result import Factor, Posture, RankedCell, Reason

__all__ = ["Factor", "Posture", "RankedCell", "Reason"]
