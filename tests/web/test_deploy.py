"""Deployment behind a TLS proxy and on several processes: the real client, HTTPS, shared limits.

- A trusted proxy (``WATCHFLOOR_FORWARDED_ALLOW_IPS``) makes the forwarded scheme
  and client address the app's: HSTS and ``Secure`` cookies when the client came
  over HTTPS; rate limits per real client, with ``Retry-After``.
- Counters are shared by every process on one database (and on Redis).
- Migrations started by several processes at once run once (advisory lock).
- Through nginx from Debian's packages on loopback, TLS with a self-signed
  certificate made here, in front of two ``watchfloor serve`` processes on the
  local PostgreSQL: one client's flood gets 429 while another's report is stored.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.postgres import fresh_database
from tests.web._server import SECRET, Server, free_port
from watchfloor.settings import Settings, WebOptions
from watchfloor.storage.db import upgrade_database
from watchfloor.web.app import create_app
from watchfloor.web.ratelimit import (
    RateLimiter,
    RedisCounters,
    build_rate_limiter,
)

from .conftest import TestClient

REPORT = {
    "kind": "suspicious_item",
    "description": "A rucksack with wires showing left under a bench by the bus station",
    "place_text": "Oakham bus station",
}


def _limited_app(settings: Settings, limit: int):
    return create_app(settings, options=WebOptions(rate_limit_per_minute=limit))


def test_two_apps_on_one_database_share_the_counters(settings, monkeypatch):
    # Two apps stand for two processes of the service: 2 + 2 requests against a limit of 3.
    # Synced on every request here (the default lag is 0.2 s).
    monkeypatch.setenv("WATCHFLOOR_RATE_LIMIT_SYNC_S", "0")
    first, second = _limited_app(settings, 3), _limited_app(settings, 3)
    with TestClient(first) as a, TestClient(second) as b:
        codes = [c.post("/api/reports", json={"kind": "x"}).status_code for c in (a, b, a, b)]
    assert codes == [422, 422, 422, 429]


def test_429_names_what_was_limited_and_says_when_to_retry(settings):
    with TestClient(_limited_app(settings, 1)) as client:
        client.post("/api/reports", json={"kind": "x"})
        limited = client.post("/api/reports", json={"kind": "x"})
    assert limited.status_code == 429
    assert "too many reports" in limited.json()["detail"]
    assert 1 <= int(limited.headers["retry-after"]) <= 60


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_redis_counters_are_shared_between_limiters(settings):
    secret = secrets.token_bytes(32)  # a fresh secret: keys unseen by earlier runs
    options = WebOptions(
        rate_limit_per_minute=2, redis_url="redis://127.0.0.1:6379/0", rate_limit_sync_s=0
    )
    limiters = [
        build_rate_limiter(None, options, secret=secret)  # type: ignore[arg-type]
        for _ in range(2)
    ]
    assert all(isinstance(lim._store, RedisCounters) for lim in limiters)
    allowed = [lim.check("198.51.100.7").allowed for lim in (*limiters, *limiters)]
    assert allowed == [True, True, False, False]
    assert limiters[0].check("198.51.100.8").allowed
    assert limiters[0].check("198.51.100.7", bucket="login").allowed
    for limiter in limiters:
        limiter._store.close()  # type: ignore[attr-defined]


def test_an_unreachable_store_leaves_each_process_counting_alone():
    unreachable = RedisCounters(f"redis://127.0.0.1:{free_port()}/0")
    limiter = RateLimiter(limit=2, store=unreachable, secret=b"s" * 32, sync_s=0)
    # No error reaches the request; the limit still holds within this process.
    assert [limiter.check("192.0.2.1").allowed for _ in range(3)] == [True, True, False]
    assert limiter.check("192.0.2.2").allowed


def test_a_trusted_proxy_gives_the_real_client_and_https(tmp_path: Path):
    server = Server(
        tmp_path / "home",
        extra_env={
            "WATCHFLOOR_FORWARDED_ALLOW_IPS": "127.0.0.1",
            "WATCHFLOOR_RATE_LIMIT_PER_MINUTE": "3",
        },
    )
    server.start()
    try:
        https = {"x-forwarded-proto": "https"}
        page = httpx.get(server.url + "/", headers={**https, "x-forwarded-for": "203.0.113.9"})
        assert "max-age=" in page.headers["strict-transport-security"]
        cookies = page.headers.get_list("set-cookie")
        assert cookies
        assert all("; secure" in c.lower() for c in cookies)
        plain = httpx.get(server.url + "/", headers={"x-forwarded-for": "203.0.113.9"})
        assert "strict-transport-security" not in plain.headers
        flood = [
            httpx.post(
                server.url + "/api/reports",
                json={"kind": "x"},
                headers={**https, "x-forwarded-for": "203.0.113.5"},
            )
            for _ in range(4)
        ]
        assert [r.status_code for r in flood] == [422, 422, 422, 429]
        assert int(flood[-1].headers["retry-after"]) >= 1
        other = httpx.post(
            server.url + "/api/reports",
            json=REPORT,
            headers={**https, "x-forwarded-for": "203.0.113.6"},
        )
        assert other.status_code == 201
    finally:
        server.stop()


@pytest.fixture
def pg_database() -> Iterator[str]:
    with fresh_database("wf_deploy_") as url:
        yield url


@pytest.mark.slow
@pytest.mark.postgres
def test_migrations_started_at_once_by_four_processes_run_once(pg_database: str):
    code = (
        "from watchfloor.settings import Settings\n"
        "from watchfloor.storage.db import upgrade_database\n"
        f"upgrade_database(Settings(database_url={pg_database!r}))\n"
    )
    runs = [
        subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE) for _ in range(4)
    ]
    results = [(p.wait(timeout=300), p.stderr.read().decode()[-500:]) for p in runs]  # type: ignore[union-attr]
    for p in runs:
        p.stderr.close()  # type: ignore[union-attr]
    assert [code for code, _ in results] == [0, 0, 0, 0], results
    upgrade_database(Settings(database_url=pg_database))  # and once more: nothing to do


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509  # noqa: PLC0415 (only the nginx test needs it)
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415 (idem)
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415 (idem)
    from cryptography.x509.oid import NameOID  # noqa: PLC0415 (idem)

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


NGINX_CONF = """
worker_processes 1;
error_log {folder}/error.log warn;
pid {folder}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    client_max_body_size 30m;
    upstream watchfloor {{
        server 127.0.0.1:{port_a};
        server 127.0.0.1:{port_b};
    }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{
            proxy_pass http://watchfloor;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


def _nginx() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        pytest.skip(
            "nginx is not installed (scripts/install --dev installs Debian's nginx-light as root)"
        )
    return found


def _client_from(address: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address, verify=False)
    return httpx.Client(transport=transport, timeout=30.0)


@pytest.mark.slow
@pytest.mark.postgres
def test_through_nginx_to_two_processes_on_postgresql(tmp_path: Path, pg_database: str):
    nginx = _nginx()
    upgrade_database(Settings(database_url=pg_database, secret_key=SECRET))
    # Both hosts share the one key ring of the service (here through the setting).
    ring = "k1:" + base64.b64encode(secrets.token_bytes(32)).decode()
    env = {
        "WATCHFLOOR_REPORT_KEYS": ring,
        "WATCHFLOOR_DATABASE_URL": pg_database,
        "WATCHFLOOR_FORWARDED_ALLOW_IPS": "127.0.0.1",
        "WATCHFLOOR_RATE_LIMIT_PER_MINUTE": "5",
        # Synced on every request, so the count is exact (the default lag is 0.2 s).
        "WATCHFLOOR_RATE_LIMIT_SYNC_S": "0",
    }
    servers = [Server(tmp_path / f"host{i}" / "home", extra_env=env) for i in (1, 2)]
    folder = tmp_path / "nginx"
    folder.mkdir()
    cert, key = _self_signed(folder)
    port = free_port()
    conf = folder / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            folder=folder,
            port=port,
            port_a=servers[0].port,
            port_b=servers[1].port,
            cert=cert,
            key=key,
        )
    )
    proxy: subprocess.Popen[bytes] | None = None
    try:
        for server in servers:
            server.start()
        user = ["-g", "user root;"] if Path("/proc/self").stat().st_uid == 0 else []
        proxy = subprocess.Popen(
            [
                nginx,
                "-p",
                str(folder),
                "-c",
                str(conf),
                "-e",
                str(folder / "error.log"),
                "-g",
                "daemon off;",
                *user,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        base = f"https://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        with _client_from("127.0.0.2") as flooder, _client_from("127.0.0.3") as reporter:
            while True:
                try:
                    if flooder.get(base + "/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or proxy.poll() is not None:
                        raise
                    time.sleep(0.1)
            page = reporter.get(base + "/")
            assert page.status_code == 200
            assert "max-age=" in page.headers["strict-transport-security"]
            cookies = page.headers.get_list("set-cookie")
            assert cookies
            assert all("; secure" in c.lower() for c in cookies)
            # 5 a minute per client, counted in PostgreSQL by both processes behind nginx.
            codes = [
                flooder.post(base + "/api/reports", json={"kind": "x"}).status_code
                for _ in range(8)
            ]
            assert codes[:5] == [422] * 5
            assert codes[5:] == [429] * 3
            limited = flooder.post(base + "/api/reports", json={"kind": "x"})
            assert int(limited.headers["retry-after"]) >= 1
            stored = reporter.post(base + "/api/reports", json=REPORT)
            assert stored.status_code == 201, stored.text
    finally:
        if proxy is not None:
            proxy.terminate()
            try:
                proxy.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proxy.kill()
                proxy.wait()
            if proxy.stderr is not None:
                proxy.stderr.close()
        for server in servers:
            server.stop()
