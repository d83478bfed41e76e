"""Shared fixtures: the real-data folder and an isolated data home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


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
