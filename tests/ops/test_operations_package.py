"""The shape of the operations package: plain imports, a frozen plan body, its JSON round trip."""

from __future__ import annotations

import ast
import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from watchfloor.services import operations as ops
from watchfloor.services.operations import views
from watchfloor.types import Role

PACKAGE = Path(ops.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_no_module_of_the_package_imports_importlib(path: Path) -> None:
    # The stages import the patrol and ARV services plainly, so mypy,
    # import-linter and a reader see the dependency.
    assert not any(m.split(".")[0] == "importlib" for m in _imported_modules(path))


def test_the_plan_body_is_a_frozen_dataclass() -> None:
    assert dataclasses.is_dataclass(ops.PlanBody)
    body = ops.PlanBody(region="rutland")
    with pytest.raises(dataclasses.FrozenInstanceError):
        body.region = "bedfordshire"  # type: ignore[misc]
    plan_fields = {f.name: f.type for f in dataclasses.fields(ops.Plan)}
    assert plan_fields["body"] in {ops.PlanBody, "PlanBody"}


def test_a_plan_body_survives_its_json_form() -> None:
    # A body as a re-plan leaves it: a ranked site, two shifts, ARV bases, posture frame.
    at = datetime(2026, 6, 19, 5, 0, tzinfo=UTC)
    visit = ops.Visit("a", "Church", at, at, 600.0, False, -0.7, 52.6)
    unit = ops.UnitPatrol(
        "P01", 0, "vehicle", "Oakham", (visit,), 300.0, "feasible", [[-0.7, 52.6]]
    )
    shifts = tuple(
        ops.ShiftPatrols(key, "Fri", at, at, 7, "optimal", 0.5, 3.2, {"site_id": "a"}, 0, (unit,))
        for key in ("current", "next")
    )
    base = ops.ArvBase("ARV1", "Oakham police station", "police_station", 12, -0.7, 52.6)
    body = ops.PlanBody(
        region="rutland",
        situation={"threat_level": "severe", "event": None},
        sites=(ops.RankedSite("a", "Church", "place_of_worship", "church", -0.7, 52.6, 12,
                              0.9, 1, at, ("why",)),),
        shifts=shifts,
        arv=ops.ArvCover("mexclp", "optimal", 0.0, 1.0, (base,), 900.0, 0.8, ("population",)),
        tension={"type": "FeatureCollection", "features": []},
        posture={"slot_minutes": 30},
        notes=("a note",),
    )  # fmt: skip
    data = views.plan_body_json(body)
    assert data["sites"][0]["peak_slot"] == "2026-06-19T05:00:00+00:00"
    assert data["shifts"][1]["units"][0]["visits"][0]["arrive"] == "2026-06-19T05:00:00+00:00"
    assert data["arv"]["bases"][0]["unit"] == "ARV1"
    assert views.plan_body_from_json(json.loads(json.dumps(data))) == body
    assert body.shift("next") == shifts[1]
    assert body.shift("later") is None
    assert body.threat_level == "severe"
    assert body.arv_bases == (base,)


def test_the_role_sets_are_spelt_with_the_one_vocabulary() -> None:
    assert frozenset(Role) == ops.OPS_ROLES
    assert ops.PLANNING_ROLES <= ops.OPS_ROLES
    assert ops.Actor("duty", frozenset({"supervisor"})).can_plan()
    assert not ops.Actor("analyst", frozenset({"ct_analyst"})).can_plan()


def test_a_public_message_has_a_json_form() -> None:
    at = datetime(2026, 6, 19, 12, 0, tzinfo=UTC)
    message = ops.PublicMessage("m1", "rutland", "We are here.", "duty", at, at)
    assert ops.message_json(message) == {
        "id": "m1",
        "region": "rutland",
        "text": "We are here.",
        "author": "duty",
        "created_at": "2026-06-19T12:00:00+00:00",
        "published_at": "2026-06-19T12:00:00+00:00",
    }


#: The package's modules in the order its front door lists them.
ORDER = ("situation", "plans", "views", "store", "stages", "state", "worker", "room", "panels")


def test_each_module_imports_only_those_listed_before_it() -> None:
    # So the package has no import cycle, and a reader knows where a new function goes.
    assert {p.stem for p in PACKAGE.glob("*.py")} == {*ORDER, "__init__"}
    prefix = "watchfloor.services.operations."
    for k, name in enumerate(ORDER):
        used = {
            m.removeprefix(prefix)
            for m in _imported_modules(PACKAGE / f"{name}.py")
            if m.startswith(prefix)
        }
        assert used <= set(ORDER[:k]), (name, used - set(ORDER[:k]))
