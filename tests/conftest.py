"""Shared fixtures: the real-data folder, an isolated data home and Debian's chromium."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from watchfloor.storage.regions import Region


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder of real public data (``WATCHFLOOR_DATA_DIR``); skips when absent."""
    value = os.environ.get("WATCHFLOOR_DATA_DIR")
    if not value or not Path(value).is_dir():
        pytest.skip("WATCHFLOOR_DATA_DIR is not set to the shared data folder")
    return Path(value)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data home, set as ``WATCHFLOOR_HOME`` for code that reads settings."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("WATCHFLOOR_HOME", str(path))
    return path


@pytest.fixture(scope="session")
def rutland_region(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Region:
    """The 2022 Rutland extract built once into a temporary data home (read-only: don't modify)."""
    from watchfloor.services.regions import build_region  # noqa: PLC0415 (lazy: optional)
    from watchfloor.settings import Settings  # noqa: PLC0415

    home = tmp_path_factory.mktemp("rutland-home")
    settings = Settings(home=home, data_dir=data_dir)
    return build_region(data_dir / "rutland-2022-07-20.osm.pbf", name="rutland", settings=settings)


#: Debian's chromium (Playwright cannot download its own here) and its headless flags.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Debian chromium for a module's browser tests; skips when not installed.

    Module scope, not session: Playwright's sync API keeps an asyncio loop running
    in this thread while it is open, and later tests call ``asyncio.run``.
    """
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (bash scripts/install --dev installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
