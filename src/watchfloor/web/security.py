"""Security primitives of the web app: tokens, CSRF, headers, size limits, rate limits.

- Passwords are hashed with argon2id (:mod:`watchfloor.services.auth`).
- Staff sessions are server-side: the cookie holds a random token, the database
  only its SHA-256.
- CSRF: a signed double-submit token. The ``wf_csrf`` cookie holds a random value;
  forms carry ``csrf_token`` (and scripts the ``X-CSRF-Token`` header) equal to the
  HMAC of that value under the secret key, which a cross-site page cannot compute.
- Rate limits are kept per client without storing addresses: the key is an HMAC
  of the address under a random salt that lives only in memory and is replaced
  every hour, so counters cannot be linked back to an address, not even by us.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from watchfloor.errors import RequestTooLargeError

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "BodySizeLimitMiddleware",
    "RateLimiter",
    "SecurityHeadersMiddleware",
    "csrf_token_for",
    "csrf_token_is_valid",
    "new_token",
    "token_digest",
]

SESSION_COOKIE = "wf_session"
CSRF_COOKIE = "wf_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def new_token(n_bytes: int = 32) -> str:
    """Return a URL-safe random token of ``n_bytes`` bytes of OS entropy."""
    return secrets.token_urlsafe(n_bytes)


def token_digest(token: str) -> str:
    """Return the hex SHA-256 of ``token`` (what is stored instead of the token)."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token_for(secret: bytes, cookie_value: str) -> str:
    """Return the CSRF form token that matches the ``wf_csrf`` cookie value."""
    return hmac.new(secret, b"csrf:" + cookie_value.encode(), hashlib.sha256).hexdigest()


def csrf_token_is_valid(secret: bytes, cookie_value: str | None, token: str | None) -> bool:
    """Return whether ``token`` is the CSRF token of ``cookie_value`` (constant time)."""
    if not cookie_value or not token:
        return False
    return hmac.compare_digest(csrf_token_for(secret, cookie_value), token)


class RateLimiter:
    """Fixed-window request counters per client, keyed by a salted HMAC of the address.

    Parameters
    ----------
    limit : int
        Requests allowed per client and window.
    window_s : float
        Length of a window in seconds.
    salt_lifetime_s : float
        How long one random salt is used before it is replaced (and every
        counter forgotten).
    """

    def __init__(
        self, *, limit: int, window_s: float = 60.0, salt_lifetime_s: float = 3600.0
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.salt_lifetime_s = salt_lifetime_s
        self._lock = threading.Lock()
        self._salt = secrets.token_bytes(32)
        self._salt_born = time.monotonic()
        self._counts: dict[bytes, tuple[int, int]] = {}

    def client_key(self, address: str) -> bytes:
        """Return the opaque key of ``address`` under the current salt."""
        return hmac.new(self._salt, address.encode(), hashlib.sha256).digest()[:16]

    def hit(self, address: str) -> bool:
        """Count one request of ``address``; return whether it is within the limit."""
        now = time.monotonic()
        window = int(now // self.window_s)
        with self._lock:
            if now - self._salt_born > self.salt_lifetime_s:
                self._salt = secrets.token_bytes(32)
                self._salt_born = now
                self._counts.clear()
            key = self.client_key(address)
            seen_window, count = self._counts.get(key, (window, 0))
            if seen_window != window:
                count = 0
                if len(self._counts) > 100_000:
                    self._counts = {k: v for k, v in self._counts.items() if v[0] == window}
            count += 1
            self._counts[key] = (window, count)
            return count <= self.limit


def _csp() -> str:
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


class SecurityHeadersMiddleware:
    """Add CSP (no inline scripts), HSTS on HTTPS, nosniff, framing and referrer headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._headers = [
            (b"content-security-policy", _csp().encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=(self)"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(self._headers)
                if https:
                    headers.append(
                        (b"strict-transport-security", b"max-age=63072000; includeSubDomains")
                    )
                if not any(name == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodySizeLimitMiddleware:
    """Refuse request bodies above ``max_bytes`` with 413, by header and while streaming."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _reject(self, send: Send) -> None:
        body = (
            b'{"type":"about:blank","title":"Request too large","status":413,'
            b'"detail":"the request body is larger than '
            + str(self.max_bytes).encode()
            + b' bytes; send smaller photos or fewer of them"}'
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.max_bytes + 1
                if declared > self.max_bytes:
                    await self._reject(send)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise RequestTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except RequestTooLargeError:
            if not started:
                await self._reject(send)
