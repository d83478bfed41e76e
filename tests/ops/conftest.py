"""Fixtures of the operations-room tests: the built Rutland region with a private database."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

with warnings.catch_warnings():
    # starlette's TestClient warns that it wants httpx2; httpx is what is installed.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

from watchfloor.services import operations as ops
from watchfloor.services.auth import create_user, start_session
from watchfloor.settings import Settings, WebOptions
from watchfloor.storage.db import open_database, upgrade_database
from watchfloor.storage.regions import Region
from watchfloor.web.app import create_app
from watchfloor.web.security import CSRF_COOKIE, SESSION_COOKIE, csrf_token_for

SECRET = "ops-test-secret-key-0123456789abcdef"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def region_settings(rutland_region: Region, tmp_path: Path) -> Settings:
    """Settings whose data home holds the built Rutland region, with a private database."""
    home = rutland_region.path.parent.parent
    return Settings(home=home, database_url=f"sqlite:///{tmp_path / 'ops.db'}", secret_key=SECRET)


@pytest.fixture
def app_client(region_settings: Settings) -> Iterator[TestClient]:
    """A test client of the whole web app over the Rutland region (not logged in)."""
    upgrade_database(region_settings)
    app = create_app(region_settings, options=WebOptions(rate_limit_per_minute=10_000))
    app.state.ops_room = small_room(region_settings)
    with TestClient(app) as client:
        yield client
    room = getattr(app.state, "ops_room", None)
    if room is not None:
        room.close()


#: A small force, so that each re-plan in the tests takes about a second.
SMALL = ops.RoomConfig(patrol_units=3, arv_units=2, game_sites=12, time_limit_s=10.0)


def small_room(settings: Settings) -> ops.OperationsRoom:
    """The operations room of ``settings`` with a small force, backed by its database."""
    return ops.OperationsRoom(settings, store=ops.OpsStore(open_database(settings)), config=SMALL)


def log_in(client: TestClient, settings: Settings, username: str, role: str) -> None:
    """Create a staff user, start a session and give the client its cookies and CSRF header."""
    database = open_database(settings)
    try:
        with database.session() as session:
            user = create_user(session, username, role=role, password=PASSWORD)
            token = start_session(session, user)
    finally:
        database.dispose()
    client.cookies.set(SESSION_COOKIE, token)
    client.cookies.set(CSRF_COOKIE, "csrf-cookie-value")
    client.headers["X-CSRF-Token"] = csrf_token_for(SECRET.encode(), "csrf-cookie-value")
