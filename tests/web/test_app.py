"""The app factory: secret key rule, error mapping and security headers."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from watchfloor.errors import ConfigurationError
from watchfloor.settings import Settings, WebOptions
from watchfloor.web.app import create_app


def test_refuses_to_start_without_a_secret_outside_demo_mode(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="WATCHFLOOR_SECRET_KEY is not set"):
        create_app(Settings(home=tmp_path))


def test_refuses_a_short_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="too short"):
        create_app(Settings(home=tmp_path, secret_key="short"))


def test_demo_mode_starts_without_a_secret(tmp_path: Path) -> None:
    app = create_app(Settings(home=tmp_path, demo=True))
    assert app.title == "watchfloor"


def test_unknown_api_path_is_a_json_problem(client) -> None:
    response = client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_unknown_page_is_an_html_page_with_the_999_line_first(client) -> None:
    response = client.get("/no-such-page", headers={"accept": "text/html"})
    assert response.status_code == 404
    body = response.text
    assert body.index("call 999") < body.index("<main")


def test_security_headers(client) -> None:
    response = client.get("/healthz")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    # Plain HTTP in tests: no HSTS; the CSRF cookie is HttpOnly and SameSite=Strict.
    assert "strict-transport-security" not in response.headers
    assert "SameSite=Strict" in response.headers["set-cookie"]


def test_hsts_on_https(client) -> None:
    response = client.get("https://testserver/healthz")
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_oversize_body_is_413(client) -> None:
    response = client.post(
        "/api/anything", content=b"x" * 100, headers={"content-length": str(10**9)}
    )
    assert response.status_code == 413


def test_rate_limit_per_client_without_keeping_the_address(settings) -> None:
    # The web options come from the settings (settings.web).
    app = create_app(settings.model_copy(update={"web": WebOptions(rate_limit_per_minute=2)}))
    with TestClient(app) as limited:
        codes = [limited.post("/api/reports", json={"kind": "x"}).status_code for _ in range(3)]
    assert codes == [422, 422, 429]
    limiter = app.state.rate_limiter
    # Counters are keyed by a salted HMAC of the address ("testclient"), never the address.
    assert limiter._counts
    assert all(b"testclient" not in key and len(key) == 16 for key in limiter._counts)
    assert limiter.client_key("testclient") in limiter._counts
