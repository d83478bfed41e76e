"""Privacy: after a load run against ``watchfloor serve``, no client address or user agent
is in any log, database or temporary file, and a canary typed into the contact details
(and hidden in a photo) is nowhere in the raw database or files on disk."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from tests.web._server import Server

CLIENT_ADDRESS = "127.0.0.3"  # the load comes from here; the server listens on 127.0.0.1
USER_AGENT = "CanaryBrowser/9.1 (privacy-ua-7f3c)"
CANARY = "Ottoline Wrexham-Quist 07700 900417"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def _all_bytes(folder: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in folder.rglob("*") if p.is_file()]


@pytest.mark.slow
def test_no_address_user_agent_or_canary_at_rest(tmp_path: Path) -> None:
    server = Server(tmp_path / "home")
    server.start(verbose=True, cli=True)
    photo = base64.b64encode(PNG + CANARY.encode()).decode()
    transport = httpx.HTTPTransport(local_address=CLIENT_ADDRESS)
    headers = {"user-agent": USER_AGENT}
    try:
        with httpx.Client(base_url=server.url, transport=transport, headers=headers) as client:
            for i in range(40):
                body = {
                    "kind": "hate_incident",
                    "description": f"shouted abuse at worshippers leaving prayers, case {i}",
                    "place_text": "Mill Street",
                    "protected_characteristic": "religion",
                    "victim_or_witness": "witness",
                    "anonymous": False,
                    "contact": {
                        "name": CANARY,
                        "phone": "07700 900417",
                        "email": "canary@example.org",
                    },
                    "photos": [{"data_base64": photo}] if i % 10 == 0 else [],
                }
                response = client.post("/api/reports", json=body)
                assert response.status_code == 201, response.text
            # Some bad input and pages too, so error paths write their logs.
            assert client.post("/api/reports", json={"kind": "x"}).status_code == 422
            assert client.get("/report?kind=hate_incident").status_code == 200
            assert client.get("/nowhere").status_code == 404
    finally:
        server.stop()
    files = (
        _all_bytes(server.home)
        + _all_bytes(server.tmp_dir)
        + [(server.log_path, server.log_path.read_bytes())]
    )
    assert any(p.name == "watchfloor.db" for p, _ in files)
    assert b"report received" in server.log_path.read_bytes()  # the log is really there
    for path, data in files:
        for needle in (CLIENT_ADDRESS, USER_AGENT, "CanaryBrowser", CANARY, "canary@example.org"):
            assert needle.encode() not in data, f"{needle!r} found in {path.name}"
