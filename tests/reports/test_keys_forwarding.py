"""Forwarding credentials: https only (http to loopback for tests), bearer token, HMAC signature.

Before the fix forwarding accepted a plain ``http://`` address anywhere and sent
no authentication, so reports crossed the network readable and a receiver could
not tell them from forgeries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import httpx
import pytest

from watchfloor.errors import ConfigurationError
from watchfloor.services import reports as svc
from watchfloor.services.reports.forwarding import (
    SIGNATURE_HEADER,
    ForwardAuth,
    check_forward_url,
)
from watchfloor.settings import ReportingOptions, Settings
from watchfloor.storage.db import Database
from watchfloor.storage.keys import KeyRing
from watchfloor.storage.models import utc_now
from watchfloor.web.reporting import build_reporting

SECRET = b"test-secret-key-0123456789abcdef"
TOKEN = "forward-token-7d1f9a"
HMAC_KEY = b"shared-hmac-key-0123456789abcdef"


class _Receiver(BaseHTTPRequestHandler):
    """Accepts a message only with the right bearer token and a valid signature."""

    received: ClassVar[list[dict[str, object]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        stamp, _, mac = self.headers.get(SIGNATURE_HEADER, "").partition(",sha256=")
        expected = hmac.new(
            HMAC_KEY, stamp.removeprefix("t=").encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_response(401)
        elif not hmac.compare_digest(mac, expected):
            self.send_response(403)
        else:
            type(self).received.append(json.loads(body))
            self.send_response(202)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/reports"
    server.shutdown()
    server.server_close()


def _ct_report(database: Database, keyring: KeyRing) -> None:
    data = svc.ReportCreate.model_validate(
        {
            "kind": "suspicious_item",
            "description": "An unattended rucksack by the station entrance for an hour",
            "lon": -0.7270,
            "lat": 52.6700,
        }
    )
    svc.submit_report(
        database,
        data,
        keyring=keyring,
        secret=SECRET,
        options=ReportingOptions(forward_url="http://127.0.0.1:9/"),
    )


def test_messages_carry_a_token_and_a_signature_the_receiver_checks(
    database: Database, keyring: KeyRing, receiver: str
) -> None:
    _ct_report(database, keyring)
    start = utc_now()
    with httpx.Client() as client:
        unsigned = svc.deliver_outbox(database, receiver, client=client, now=start)
        assert (unsigned.sent, unsigned.failed) == (0, 1)
        wrong = ForwardAuth(bearer_token=TOKEN, hmac_key=b"not the shared key")
        later = start + timedelta(minutes=5)
        refused = svc.deliver_outbox(database, receiver, client=client, auth=wrong, now=later)
        assert (refused.sent, refused.failed) == (0, 1)
        auth = ForwardAuth(bearer_token=TOKEN, hmac_key=HMAC_KEY)
        sent = svc.deliver_outbox(
            database, receiver, client=client, auth=auth, now=later + timedelta(minutes=5)
        )
    assert (sent.sent, sent.failed) == (1, 0)
    assert _Receiver.received[0]["kind"] == "suspicious_item"
    assert "receipt" not in json.dumps(_Receiver.received[0])


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://ct-unit.example.police.uk/reports", True),
        ("http://127.0.0.1:8080/in", True),
        ("http://[::1]:8080/in", True),
        ("http://localhost/in", True),
        ("http://ct-unit.example.police.uk/reports", False),
        ("http://10.0.0.5/reports", False),
        ("ftp://ct-unit.example.police.uk/", False),
        ("not a url", False),
    ],
)
def test_plain_http_is_refused_off_this_machine(url: str, ok: bool) -> None:
    if ok:
        assert check_forward_url(url) == url
    else:
        with pytest.raises(ConfigurationError, match="WATCHFLOOR_FORWARD_URL"):
            check_forward_url(url)


def test_a_server_with_a_plain_http_forward_url_refuses_to_start(
    settings: Settings, database: Database
) -> None:
    bad = settings.model_copy(
        update={"reporting": ReportingOptions(forward_url="http://ct-unit.example/reports")}
    )
    with pytest.raises(ConfigurationError, match="plain http"):
        build_reporting(bad, SECRET, database=database)
    with pytest.raises(ConfigurationError, match="plain http"), httpx.Client() as client:
        svc.deliver_outbox(database, "http://ct-unit.example/reports", client=client)


def test_forwarding_credentials_come_from_the_reporting_settings(monkeypatch) -> None:
    from watchfloor.services.reports.forwarding import forward_auth  # noqa: PLC0415 (this test only)
    from watchfloor.settings import load_settings  # noqa: PLC0415 (this test only)

    assert forward_auth(load_settings().reporting) is None
    monkeypatch.setenv("WATCHFLOOR_FORWARD_BEARER_TOKEN", "t0ken")
    monkeypatch.setenv("WATCHFLOOR_FORWARD_HMAC_KEY", "k3y")
    auth = forward_auth(load_settings().reporting)
    assert auth is not None
    headers = auth.headers(b"{}", timestamp=1)
    assert headers["Authorization"] == "Bearer t0ken"
    assert headers["X-Watchfloor-Signature"].startswith("t=1,sha256=")
    assert "t0ken" not in repr(load_settings())  # secrets stay out of logs
