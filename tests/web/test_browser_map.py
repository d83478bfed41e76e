"""The map on the report form, in Debian's chromium at phone size: pick a point, store it.

The server runs over the built Rutland region (``WATCHFLOOR_REPORT_REGION``):
the map shows its own roads from ``/report/map/roads.json`` with the locally
served MapLibre; nothing comes from outside.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import httpx
import pytest

from tests.web._server import Server
from watchfloor.storage.regions import Region

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def server(rutland_region: Region, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("browser-map") / "home"
    (home / "regions").mkdir(parents=True)
    # The shared built region is only read: linked into this server's data home.
    (home / "regions" / "rutland").symlink_to(rutland_region.path)
    srv = Server(home, extra_env={"WATCHFLOOR_REPORT_REGION": "rutland"})
    srv.start()
    yield srv
    srv.stop()


def test_pick_a_point_on_the_map_on_a_phone(server: Server, browser) -> None:
    bbox = httpx.get(server.url + "/report/map/roads.json", timeout=60).json()["bbox"]
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    outside: list[str] = []
    context.on(
        "request",
        lambda r: (
            None if r.url.startswith((server.url, "data:", "blob:")) else outside.append(r.url)
        ),
    )
    page = context.new_page()
    page.goto(server.url + "/report?kind=suspicious_behaviour")
    page.locator("#pick-map[data-ready='true']").wait_for(timeout=30_000)
    # The text alternatives stay on the page next to the map.
    assert page.get_by_label("Place or address").is_visible()
    assert page.get_by_label("Or: at or near").is_visible()

    # Keyboard: move the map east with the arrow keys, then use its middle.
    canvas = page.locator("#pick-map canvas")
    canvas.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.wait_for_timeout(600)  # the keyboard pan eases over 300 ms
    page.get_by_role("button", name="Use the middle of the map").focus()
    page.keyboard.press("Enter")
    keyboard_lon = float(page.locator("#lon").input_value())
    centre_lon = (bbox[0] + bbox[2]) / 2
    assert keyboard_lon > centre_lon + 0.001  # moved east of the first view's middle
    assert "Middle of the map used" in page.locator("#location-status").inner_text()

    # Touch: tap a point a quarter of the way in from the map's top-left corner.
    box = canvas.bounding_box()
    assert box is not None
    assert box["width"] <= PHONE["width"]
    canvas.tap(position={"x": box["width"] / 4, "y": box["height"] / 4})
    lon, lat = float(page.locator("#lon").input_value()), float(page.locator("#lat").input_value())
    assert lon < keyboard_lon  # west of the middle
    assert bbox[0] - 0.05 < lon < bbox[2] + 0.05
    assert bbox[1] - 0.05 < lat < bbox[3] + 0.05
    assert "Place picked on the map" in page.locator("#location-status").inner_text()

    page.get_by_label("What happened?").fill("Someone photographing the level crossing barriers")
    page.get_by_role("button", name="Send report").click()
    reference = page.locator("#reference").inner_text()
    context.close()
    assert not outside, f"requests left the server: {outside[:3]}"
    db = sqlite3.connect(server.home / "watchfloor.db")
    stored = db.execute("SELECT lon, lat FROM reports WHERE reference = ?", (reference,)).fetchone()
    db.close()
    assert stored == (lon, lat)


def test_without_javascript_there_is_no_map_and_the_form_works(server: Server, browser) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, java_script_enabled=False)
    page = context.new_page()
    page.goto(server.url + "/report?kind=suspicious_behaviour")
    assert not page.locator("#pick-map").is_visible()
    page.get_by_label("What happened?").fill("A van parked on the verge for three days")
    page.get_by_label("Place or address").fill("Barleythorpe Road, Oakham")
    page.get_by_role("button", name="Send report").click()
    assert page.locator("#reference").inner_text().startswith("WF")
    context.close()
