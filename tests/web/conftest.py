"""Fixtures for the web tests: a migrated database and an app with a test client."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

with warnings.catch_warnings():
    # starlette's TestClient warns that it wants httpx2; httpx is what is installed.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

from watchfloor.settings import Settings
from watchfloor.storage.db import upgrade_database
from watchfloor.web.app import WebOptions, create_app

SECRET = "test-secret-key-0123456789abcdef"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a fresh SQLite data home and a secret key, migrated."""
    result = Settings(home=tmp_path / "home", secret_key=SECRET)
    upgrade_database(result)
    return result


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """A test client of the app for ``settings``."""
    app = create_app(settings, options=WebOptions(rate_limit_per_minute=10_000))
    with TestClient(app) as test_client:
        yield test_client
