"""The public surface of watchfloor.posture is pinned."""

from __future__ import annotations

import watchfloor.posture


def test_public_surface_is_pinned() -> None:
    assert sorted(watchfloor.posture.__all__) == sorted(
        [
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
    )
    for name in watchfloor.posture.__all__:
        assert getattr(watchfloor.posture, name) is not None
