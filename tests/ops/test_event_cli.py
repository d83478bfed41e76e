"""`watchfloor event` on the real Rutland region: change the threat level, list the timeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from watchfloor.cli.main import app
from watchfloor.storage.regions import Region

runner = CliRunner()


@pytest.fixture
def rutland_env(rutland_region: Region, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHFLOOR_HOME", str(rutland_region.path.parent.parent))
    monkeypatch.setenv("WATCHFLOOR_DATABASE_URL", f"sqlite:///{tmp_path / 'ops.db'}")


def test_threat_level_replans_and_the_timeline_lists_it(rutland_env: None) -> None:
    result = runner.invoke(app, ["event", "threat", "severe", "--region", "rutland", "--json"])
    assert result.exit_code == 0, result.output
    done = json.loads(result.stdout)
    assert done["job"]["status"] == "done"
    assert done["plan"]["plan_id"] == done["job"]["plan_id"]
    # The top sites come ranked from the plan body, 1 first.
    assert [s["rank"] for s in done["plan"]["top"]] == list(range(1, len(done["plan"]["top"]) + 1))
    listed = runner.invoke(app, ["event", "list", "--region", "rutland", "--json"])
    assert listed.exit_code == 0, listed.output
    timeline = json.loads(listed.stdout)
    assert timeline["threat_level"] == "severe"
    assert timeline["plan"]["plan_id"] == done["plan"]["plan_id"]
    assert [e["kind"] for e in timeline["timeline"]] == ["threat"]


def test_an_unknown_threat_level_is_refused_with_the_levels(rutland_env: None) -> None:
    result = runner.invoke(app, ["event", "threat", "purple", "--region", "rutland"])
    assert result.exit_code == 2
    assert "low, moderate, substantial, severe, critical" in result.output
