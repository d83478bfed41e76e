"""The app factory: secret key rule, error mapping and security headers."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from watchfloor.errors import ConfigurationError
from watchfloor.settings import ReportingOptions, Settings, WebOptions
from watchfloor.web.app import DEMO_SECRET_FILE, create_app


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


@pytest.mark.parametrize(
    "weak",
    [
        "a" * 40,
        "abababababababababababababababab",
        "password" * 4,
        "0123456789abcdef",  # 16 characters
    ],
)
def test_refuses_a_guessable_secret_and_says_how_to_make_one(tmp_path: Path, weak: str) -> None:
    with pytest.raises(ConfigurationError, match=r"secrets\.token_urlsafe\(32\)"):
        create_app(Settings(home=tmp_path, secret_key=weak))


def test_demo_mode_keeps_its_own_secret_in_the_demo_home(tmp_path: Path, caplog) -> None:
    caplog.set_level("WARNING")
    first = create_app(Settings(home=tmp_path / "demo", demo=True))
    again = create_app(Settings(home=tmp_path / "demo", demo=True))
    key_file = tmp_path / "demo" / DEMO_SECRET_FILE
    assert first.state.secret == again.state.secret == key_file.read_text().encode()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "DEMO MODE" in caplog.text


def test_head_answers_like_get_without_a_body(client) -> None:
    for path in ("/", "/healthz", "/report?kind=suspicious_item", "/static/site/site.css"):
        get = client.get(path)
        head = client.head(path)
        assert head.status_code == get.status_code == 200, path
        assert head.content == b""
        assert head.headers["content-type"] == get.headers["content-type"]


def test_chunked_oversize_body_is_413(settings) -> None:
    small = ReportingOptions(max_photos=0)  # the limit: 1 MiB of text, no photos
    app = create_app(
        settings.model_copy(update={"reporting": small}),
        options=WebOptions(max_request_bytes=1000),
    )

    def chunks():  # no Content-Length: sent chunked, 2 MiB against a limit of 1 MiB
        for _ in range(32):
            yield b"x" * 65536

    with TestClient(app, raise_server_exceptions=False) as limited:
        response = limited.post(
            "/api/reports", content=chunks(), headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
    assert response.json()["status"] == 413


def test_api_docs_are_served_from_this_site(client) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    scripts = re.findall(r'<script src="([^"]+)"', page.text)
    assert scripts
    assert all(src.startswith("/static/") for src in scripts)
    assert "<script>" not in page.text  # nothing inline: the CSP would block it
    for src in scripts:
        assert client.get(src).status_code == 200
    assert client.get("/api/openapi.json").json()["info"]["title"] == "watchfloor"


def test_a_cross_site_arrival_does_not_replace_the_csrf_cookie(client) -> None:
    # The browser holds a SameSite=Strict cookie it did not send on a link from elsewhere:
    # a new one would spoil the staff forms open in its other tabs.
    arrival = client.get("/", headers={"sec-fetch-site": "cross-site"})
    assert "set-cookie" not in arrival.headers
    own = client.get("/", headers={"sec-fetch-site": "same-origin"})
    assert "SameSite=Strict" in own.headers["set-cookie"]


def test_chunked_oversize_form_is_an_html_413(settings) -> None:
    small = ReportingOptions(max_photos=0)  # the limit: 1 MiB of text, no photos
    app = create_app(
        settings.model_copy(update={"reporting": small}),
        options=WebOptions(max_request_bytes=1000),
    )
    boundary = b"wfboundary"

    def chunks():  # a multipart form without Content-Length, 2 MiB in all
        yield b"--" + boundary + b'\r\nContent-Disposition: form-data; name="description"\r\n\r\n'
        for _ in range(32):
            yield b"x" * 65536
        yield b"\r\n--" + boundary + b"--\r\n"

    with TestClient(app, raise_server_exceptions=False) as limited:
        response = limited.post(
            "/report",
            content=chunks(),
            headers={
                "content-type": "multipart/form-data; boundary=wfboundary",
                "accept": "text/html",
            },
        )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")
    assert "back button" in response.text
