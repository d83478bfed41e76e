"""End to end in Debian's chromium: login, map layers, declare, dispatch, public page."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tests.ops.conftest import PASSWORD, SMALL
from watchfloor.services import operations as ops
from watchfloor.services.auth import create_user
from watchfloor.settings import Settings, WebOptions
from watchfloor.storage.db import open_database, upgrade_database
from watchfloor.types import LONDON
from watchfloor.web.app import create_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LAYERS = (
    "roads-major",
    "roads-middle",
    "roads-minor",
    "sites-risk",
    "patrol-routes",
    "patrol-visits",
    "arv-bases",
    "arv-isochrones",
    "reports-heat",
    "reports-points",
    "tension-areas",
)


#: The room's clock: 23:30 in London on a Friday, so this shift is the night shift
#: (22:00-06:00), the one with the night-time economy open.
NIGHT = datetime(2026, 6, 19, 22, 30, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(region_settings: Settings) -> Iterator[str]:
    """The web app served by uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    upgrade_database(region_settings)
    database = open_database(region_settings)
    with database.session() as session:
        create_user(session, "duty", role="supervisor", password=PASSWORD)
    database.dispose()
    app = create_app(region_settings, options=WebOptions(rate_limit_per_minute=10_000))
    app.state.ops_room = ops.OperationsRoom(
        region_settings,
        store=ops.OpsStore(open_database(region_settings)),
        config=SMALL,
        clock=lambda: NIGHT,
    )
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)
    room = getattr(app.state, "ops_room", None)
    if room is not None:
        room.close()


@pytest.fixture
def page(server: str, browser: Any) -> Iterator[object]:
    context = browser.new_context(
        viewport={"width": 1366, "height": 850}, timezone_id="Europe/London"
    )
    yield context.new_page()
    context.close()


def test_operations_room_end_to_end(server: str, page: object, tmp_path: Path) -> None:
    p = page  # playwright Page
    p.goto(f"{server}/staff/login")  # type: ignore[attr-defined]
    p.fill("input[name=username]", "duty")  # type: ignore[attr-defined]
    p.fill("input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    p.click("button[type=submit]")  # type: ignore[attr-defined]
    p.wait_for_url("**/staff/queues**")  # type: ignore[attr-defined]

    started = time.perf_counter()
    p.goto(f"{server}/dashboard?region=rutland")  # type: ignore[attr-defined]
    p.wait_for_function("() => window.wfState && window.wfState.rendered === true", timeout=30_000)  # type: ignore[attr-defined]
    render_s = time.perf_counter() - started
    present = p.evaluate(  # type: ignore[attr-defined]
        "(ids) => ids.filter((id) => window.wfMap.getLayer(id) !== undefined)", list(LAYERS)
    )
    assert present == list(LAYERS)
    counts = p.evaluate("window.wfState.counts")  # type: ignore[attr-defined]
    assert counts["roads"] == 3  # major, middle and minor roads
    assert counts["sites"] > 100
    assert "No plan yet" in p.inner_text("#plan-status")  # type: ignore[attr-defined]

    # Raise the threat level: a first plan (patrols, ARVs) is computed and drawn.
    p.click("text=Change the threat level")  # type: ignore[attr-defined]
    p.select_option("#threat-form select[name=level]", "severe")  # type: ignore[attr-defined]
    p.click("#threat-form button[type=submit]")  # type: ignore[attr-defined]
    p.wait_for_function("() => Boolean(window.wfState.planId)", timeout=60_000)  # type: ignore[attr-defined]
    p.wait_for_selector("#plan-timing")  # type: ignore[attr-defined]
    assert "computed in" in p.inner_text("#plan-timing")  # type: ignore[attr-defined]
    assert p.inner_text("#threat-level") == "SEVERE"  # type: ignore[attr-defined]
    first_plan = p.evaluate("window.wfState.planId")  # type: ignore[attr-defined]
    first_status = p.inner_text("#plan-status")  # type: ignore[attr-defined]
    assert p.evaluate("window.wfState.counts.patrols") > 0  # type: ignore[attr-defined]

    # Declare an event from the dashboard: the patrol plan on screen is replaced.
    at = (NIGHT - timedelta(hours=2)).astimezone(LONDON).strftime("%Y-%m-%dT%H:%M")
    p.fill("#declare-form input[name=place]", "Finsbury Park, London")  # type: ignore[attr-defined]
    p.fill("#declare-form input[name=at]", at)  # type: ignore[attr-defined]
    p.fill("#declare-form input[name=targeted_community]", "muslim")  # type: ignore[attr-defined]
    p.select_option("#declare-form select[name=playbook]", "place-of-worship-attack")  # type: ignore[attr-defined]
    p.click("#declare-form button[type=submit]")  # type: ignore[attr-defined]
    p.wait_for_function("(id) => window.wfState.planId !== id", arg=first_plan, timeout=60_000)  # type: ignore[attr-defined]
    status = p.inner_text("#plan-status")  # type: ignore[attr-defined]
    assert status != first_status
    assert "event declared: vehicle_attack" in status
    # What is drawn is the new plan's patrols, unit by unit and visit by visit.
    drawn, served = p.evaluate(  # type: ignore[attr-defined]
        """async () => {
          const key = (fc) => fc.features.filter((f) => f.properties.type === "visit")
            .map((f) => f.properties.unit + " " + f.properties.site_id + " " + f.properties.arrive);
          const res = await fetch("/api/ops/rutland/patrols?shift=current");
          return [key(window.wfState.patrols), key(await res.json())];
        }"""
    )
    assert drawn == served
    assert p.locator("#units li").count() == 3  # type: ignore[attr-defined]

    # This is the night shift, and its visits are on the map: every visit the plan
    # has is drawn where the map shows it, and a Friday night after an attack has some.
    status = p.evaluate("window.wfState.status")  # type: ignore[attr-defined]
    assert status["plan"]["shift"]["label"].endswith("22:00-06:00")
    planned = sum(u["n_visits"] for u in status["units"])
    assert planned > 0
    p.wait_for_function("() => window.wfState.drawn === true", timeout=30_000)  # type: ignore[attr-defined]
    rendered = p.evaluate(  # type: ignore[attr-defined]
        """() => [...new Set(window.wfMap.queryRenderedFeatures({ layers: ["patrol-visits"] })
          .map((f) => [f.properties.unit, f.properties.site_id, f.properties.arrive].join(" ")))]"""
    )
    assert sorted(rendered) == sorted(set(drawn))
    assert len(drawn) == planned

    # The next shift (day, 06:00-14:00) draws its own visits when chosen.
    p.select_option("#shift-select", "next")  # type: ignore[attr-defined]
    p.wait_for_function(  # type: ignore[attr-defined]
        "() => window.wfState.status.plan.shift.label.endsWith('06:00-14:00')"
        " && window.wfState.planId && !window.wfState.loading",
        timeout=30_000,
    )
    drawn_next, served_next = p.evaluate(  # type: ignore[attr-defined]
        """async () => {
          const key = (fc) => fc.features.filter((f) => f.properties.type === "visit")
            .map((f) => f.properties.unit + " " + f.properties.site_id + " " + f.properties.arrive);
          const res = await fetch("/api/ops/rutland/patrols?shift=next");
          return [key(window.wfState.patrols), key(await res.json())];
        }"""
    )
    assert drawn_next == served_next
    assert drawn_next != drawn
    p.select_option("#shift-select", "current")  # type: ignore[attr-defined]
    p.wait_for_function(  # type: ignore[attr-defined]
        "() => window.wfState.status.plan.shift.label.endsWith('22:00-06:00')"
        " && window.wfState.planId && !window.wfState.loading",
        timeout=30_000,
    )

    # Click a point on the map: dispatch advice (or the reason there is none).
    # A point on a road near the first ARV base (clicks elsewhere may be off every road).
    x, y = p.evaluate(  # type: ignore[attr-defined]
        """() => {
          const f = window.wfMap.querySourceFeatures('roads')[0];
          const line = f.geometry.coordinates[0];
          const pt = window.wfMap.project(line[Math.floor(line.length / 2)]);
          return [pt.x, pt.y];
        }"""
    )
    p.click("#map", position={"x": x, "y": y})  # type: ignore[attr-defined]
    p.wait_for_function(  # type: ignore[attr-defined]
        "() => Boolean(document.querySelector('#dispatch-list, #dispatch .error'))",
        timeout=30_000,
    )
    has_arv = p.evaluate("window.wfState.counts['arv'] > 0")  # type: ignore[attr-defined]
    if has_arv:
        assert p.locator("#dispatch-list li").count() >= 1  # type: ignore[attr-defined]
    else:
        assert "no ARV placement" in p.inner_text("#dispatch")  # type: ignore[attr-defined]

    shot = tmp_path / "ops-dashboard.png"
    p.screenshot(path=str(shot), full_page=False)  # type: ignore[attr-defined]
    artifacts = Path("artifacts")
    artifacts.mkdir(exist_ok=True)
    shutil.copy(shot, artifacts / "ops-dashboard.png")
    assert shot.stat().st_size > 20_000
    print(f"dashboard rendered in {render_s:.2f} s; screenshot {shot}")

    # Publish the message of the day with one click; the public page shows it.
    p.click("text=Public message of the day")  # type: ignore[attr-defined]
    p.fill("textarea[name=text]", "Extra officers are at every place of worship today.")  # type: ignore[attr-defined]
    p.click("form[action='/dashboard/message'] button[type=submit]")  # type: ignore[attr-defined]
    p.wait_for_url("**/community?region=rutland")  # type: ignore[attr-defined]
    assert "Extra officers are at every place of worship today." in p.inner_text(  # type: ignore[attr-defined]
        "#community-message"
    )
