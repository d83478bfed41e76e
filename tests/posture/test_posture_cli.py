"""`watchfloor posture` on the real Rutland region (2022 extract)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from watchfloor.cli.main import app
from watchfloor.storage.regions import Region

runner = CliRunner()

EVENT = """\
kind: vehicle attack
at: 2026-06-18T22:10:00+01:00
place: Finsbury Park Mosque, London
targeted_community: muslim
backlash_community: none
threat_level: severe
playbook: place-of-worship-attack
"""


@pytest.fixture
def rutland_home(rutland_region: Region, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = rutland_region.path.parent.parent
    monkeypatch.setenv("WATCHFLOOR_HOME", str(home))
    return home


def test_posture_show_json_on_rutland(rutland_home: Path, tmp_path: Path) -> None:
    event = tmp_path / "event.yaml"
    event.write_text(EVENT, encoding="utf-8")
    result = runner.invoke(
        app,
        [
            "-q",
            "posture",
            "show",
            "--region",
            "rutland",
            "--event",
            str(event),
            "--at",
            "2026-06-19T13:00",
            "--top",
            "10",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout.strip().splitlines()[-1])
    values = [rec["value"] for rec in doc["top"]]
    assert len(values) == 10
    assert values == sorted(values, reverse=True)
    posture = doc["posture"]
    n_sites = len(posture["site_id"])
    assert n_sites > 100  # Rutland 2022: 219 sites
    assert len(posture["slot_start"]) == 24
    assert posture["slot_start"][0] == "2026-06-19T12:00:00+00:00"  # 13:00 BST
    assert posture["playbook"] == "place-of-worship-attack v1"
    assert len(posture["reason_ptr"]) == n_sites * 24 + 1
    # Rutland has no mosque: the top sites are churches, crowded places and town
    # centres, each with its base value as the first reason.
    for rec in doc["top"]:
        assert rec["reasons"][0]["source"] == "base"
    # Every place of worship carries the "same kind of place as attacked" factor.
    kinds = {rec["kind"] for rec in doc["top"]}
    assert kinds <= {"place_of_worship", "crowded_place", "town_centre", "nte_zone", "school"}


def test_posture_show_table_and_playbooks(rutland_home: Path, tmp_path: Path) -> None:
    event = tmp_path / "event.yaml"
    event.write_text(EVENT, encoding="utf-8")
    result = runner.invoke(
        app,
        [
            "-q",
            "posture",
            "show",
            "--region",
            "rutland",
            "--event",
            str(event),
            "--at",
            "2026-06-19T13:00",
            "--hours",
            "8",
            "--slot",
            "30m",
            "--top",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "rutland: top 3 of" in result.stdout
    assert "base" in result.stdout
    listed = runner.invoke(app, ["posture", "playbooks", "--json"])
    assert listed.exit_code == 0
    names = {b["name"] for b in json.loads(listed.stdout)}
    assert "place-of-worship-attack" in names


def test_posture_show_bad_input_is_one_line(rutland_home: Path, tmp_path: Path) -> None:
    event = tmp_path / "event.yaml"
    event.write_text(EVENT.replace("severe", "extreme"), encoding="utf-8")
    result = runner.invoke(
        app,
        [
            "posture",
            "show",
            "--region",
            "rutland",
            "--event",
            str(event),
            "--at",
            "2026-06-19T13:00",
        ],
    )
    assert result.exit_code == 2
    assert "allowed values: low, moderate, substantial, severe, critical" in result.output
    assert "Traceback" not in result.output
    event.write_text(EVENT, encoding="utf-8")
    missing = runner.invoke(app, ["posture", "show", "--region", "nowhere", "--event", str(event)])
    assert missing.exit_code == 2
    assert "region 'nowhere' is not built" in missing.output


def test_posture_show_with_a_force_factor_file(rutland_home: Path, tmp_path: Path) -> None:
    event = tmp_path / "event.yaml"
    event.write_text(EVENT, encoding="utf-8")
    factors = tmp_path / "force.yaml"
    # A vigil at every railway station 12:00-14:00, x10: the station ranks first at 13:00.
    factors.write_text(
        "user_events:\n"
        "  - text: vigil\n"
        "    applies_to: {category: [station]}\n"
        "    start: 2026-06-19T12:00:00+01:00\n"
        "    end: 2026-06-19T14:00:00+01:00\n"
        "    multiplier: 10\n",
        encoding="utf-8",
    )
    args = [
        "-q",
        "posture",
        "show",
        "--region",
        "rutland",
        "--event",
        str(event),
        "--at",
        "2026-06-19T13:00",
        "--top",
        "1",
        "--json",
        "--factors",
        str(factors),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    top = json.loads(result.stdout.strip().splitlines()[-1])["top"][0]
    assert top["category"] == "station"
    assert "vigil Fri 19 Jun 12:00-14:00 x10.0" in [r["label"] for r in top["reasons"]]
    factors.write_text("event:\n  half_lfe_days: 2\n", encoding="utf-8")
    bad = runner.invoke(app, args)
    assert bad.exit_code == 2
    assert "unknown key 'event.half_lfe_days'; allowed keys: backlash_community" in bad.output
