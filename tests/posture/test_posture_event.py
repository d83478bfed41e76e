"""The event file, the factor file and playbooks: parsing and bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from watchfloor.errors import InvalidInputError, NotFoundError
from watchfloor.posture import (
    event_from_dict,
    event_from_yaml,
    factors_from_yaml,
    playbook_from_yaml,
    resolve_playbook,
    shipped_playbooks,
)
from watchfloor.services.posture import load_event, parse_slot_minutes, posture_for_sites
from watchfloor.sites.register import SiteRegister

GOOD = """\
kind: vehicle attack
at: 2026-06-18T22:10:00+01:00
place: Finsbury Park Mosque, London
targeted_community: muslim
backlash_community: none
threat_level: severe
playbook: place-of-worship-attack
"""


def test_good_event_file() -> None:
    event = event_from_yaml(GOOD)
    assert event.kind == "vehicle_attack"
    assert event.at == datetime(2026, 6, 18, 21, 10, tzinfo=UTC)
    assert event.targeted_community == "muslim"
    assert event.backlash_community is None
    assert event.threat_level == "severe"
    assert event.playbook == "place-of-worship-attack"
    assert event.place_lonlat is None


@pytest.mark.parametrize(
    ("spelling", "kind"),
    [
        ("Vehicle Attack", "vehicle_attack"),
        ("vehicle-attack", "vehicle_attack"),
        ("ramming", "vehicle_attack"),
        ("knife attack", "stabbing"),
        ("Shooting", "firearms"),
    ],
)
def test_kind_spellings(spelling: str, kind: str) -> None:
    data = {**event_from_yaml(GOOD).to_dict(), "kind": spelling}
    assert event_from_dict(data).kind == kind


def test_place_as_lonlat() -> None:
    event = event_from_yaml(GOOD.replace("Finsbury Park Mosque, London", '"-0.7280,52.6700"'))
    assert event.place_lonlat == (-0.728, 52.67)


def test_unknown_key_is_named_with_the_allowed_keys() -> None:
    with pytest.raises(InvalidInputError, match=r"unknown event key\(s\) 'severity'.*kind, at"):
        event_from_yaml(GOOD + "severity: high\n")


def test_bad_threat_level_lists_the_levels() -> None:
    with pytest.raises(
        InvalidInputError,
        match="'threat_level' has 'extreme'; allowed values: low, moderate, substantial, severe",
    ):
        event_from_yaml(GOOD.replace("severe", "extreme"))


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"'at' .* has no UTC offset"):
        event_from_yaml(GOOD.replace("+01:00", ""))


def test_date_without_time_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="'at' is a date"):
        event_from_yaml(GOOD.replace("2026-06-18T22:10:00+01:00", "2026-06-18"))


def test_bad_kind_and_community() -> None:
    with pytest.raises(
        InvalidInputError, match="'kind' has 'riot'; allowed values: vehicle_attack"
    ):
        event_from_yaml(GOOD.replace("vehicle attack", "riot"))
    with pytest.raises(InvalidInputError, match=r"'targeted_community' has 'martians'.*none"):
        event_from_yaml(GOOD.replace("targeted_community: muslim", "targeted_community: martians"))


def test_missing_key_and_not_yaml() -> None:
    with pytest.raises(InvalidInputError, match=r"missing the key.*'threat_level'"):
        event_from_yaml(GOOD.replace("threat_level: severe\n", ""))
    with pytest.raises(InvalidInputError, match=r"event file: .*line"):
        event_from_yaml("kind: [unclosed\n")


def test_missing_event_file(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        load_event(tmp_path / "nope.yaml")


def test_factor_file_merges_and_rejects_unknown_keys() -> None:
    factors = factors_from_yaml("event:\n  half_life_days: 1.5\n")
    assert factors.event.half_life_days == 1.5
    assert factors.event.targeted_community == 3.0  # default kept
    with pytest.raises(
        InvalidInputError,
        match=r"unknown key 'calendar.friday_prayers.multipler'; allowed keys: applies_to",
    ):
        factors_from_yaml("calendar:\n  friday_prayers:\n    multipler: 2\n")
    with pytest.raises(InvalidInputError, match=r"threat_level.*allowed values"):
        factors_from_yaml("threat_level:\n  extreme: 2.0\n")
    with pytest.raises(InvalidInputError, match="half_life_days"):
        factors_from_yaml("event:\n  half_life_days: -1\n")


def test_shipped_playbooks_and_unknown_playbook() -> None:
    books = shipped_playbooks()
    assert set(books) == {
        "place-of-worship-attack",
        "crowded-place-attack",
        "night-time-economy-attack",
        "vehicle-attack-town-centre",
        "national-threat-critical",
    }
    assert all(b.version >= 1 for b in books.values())
    with pytest.raises(
        InvalidInputError, match="unknown playbook 'nope'; available playbooks: crowded"
    ):
        resolve_playbook("nope", books)


def test_unknown_playbook_named_in_event(hand_register: SiteRegister) -> None:
    event = event_from_yaml(GOOD.replace("place-of-worship-attack", "mosque-plan"))
    with pytest.raises(InvalidInputError, match="unknown playbook 'mosque-plan'; available"):
        posture_for_sites(hand_register, event, at=event.at + timedelta(hours=1))


def test_bad_playbook_file() -> None:
    text = "name: x\nversion: 1\ntitle: t\nduration_days: 3\nbrief_roles: [janitor]\n"
    with pytest.raises(InvalidInputError, match=r"unknown role.*janitor"):
        playbook_from_yaml(text)
    with pytest.raises(InvalidInputError, match="unknown key 'raises'"):
        playbook_from_yaml("name: x\nversion: 1\ntitle: t\nduration_days: 3\nraises: []\n")


def test_event_in_the_future_is_refused(hand_register: SiteRegister) -> None:
    event = event_from_yaml(GOOD)
    now = datetime(2026, 6, 18, 12, 0, tzinfo=UTC)
    with pytest.raises(InvalidInputError, match="in the future"):
        posture_for_sites(hand_register, event, at=now, now=now)


def test_slot_lengths() -> None:
    assert parse_slot_minutes("60m") == 60
    assert parse_slot_minutes("30") == 30
    assert parse_slot_minutes("1h") == 60
    with pytest.raises(InvalidInputError, match="slot length '7m' is not allowed"):
        parse_slot_minutes("7m")
