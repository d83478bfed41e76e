"""Security primitives of the web app: tokens, CSRF, headers, size limits, rate limits.

- Passwords are hashed with argon2id (:mod:`watchfloor.services.auth`).
- Staff sessions are server-side: the cookie holds a random token, the database
  only its SHA-256.
- CSRF: a signed double-submit token. The ``wf_csrf`` cookie holds a random value;
  forms carry ``csrf_token`` (and scripts the ``X-CSRF-Token`` header) equal to the
  HMAC of that value under the secret key, which a cross-site page cannot compute.
- The anonymous public forms (report, receipt) need no cookie: a request whose
  fetch metadata (``Sec-Fetch-Site``, else ``Origin``) says it came from another
  site is refused (:func:`is_cross_site`), and each form carries a signed token
  (:func:`new_form_token`) naming a random form id, which is also the form's
  idempotency key. A cross-site navigation in another tab cannot spoil it.
- The receipt page after a form is sent (post-redirect-get) is addressed by the
  receipt sealed under the secret key (:func:`seal_for_url`), so a refresh
  shows it again without storing it anywhere.
- Rate limits are kept per client without storing addresses: the key is an HMAC
  of the address under a random salt that lives only in memory and is replaced
  every hour, so counters cannot be linked back to an address, not even by us.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import math
import secrets
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from watchfloor.errors import RequestTooLargeError

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "FORM_TOKEN_MAX_AGE_S",
    "MIN_SECRET_BITS",
    "MIN_SECRET_CHARS",
    "SESSION_COOKIE",
    "BodySizeLimitMiddleware",
    "HeadAsGetMiddleware",
    "SecurityHeadersMiddleware",
    "csrf_token_for",
    "csrf_token_is_valid",
    "form_token_id",
    "is_cross_site",
    "new_form_token",
    "new_token",
    "open_from_url",
    "seal_for_url",
    "secret_key_problem",
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


#: The shortest secret key accepted, and the least entropy estimated for it.
MIN_SECRET_CHARS = 32
MIN_SECRET_BITS = 128

_MAKE_A_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


def secret_key_problem(secret: str) -> str | None:
    """Return why ``secret`` is not fit to sign sessions and forms, or None when it is.

    The estimate is the length times log2 of the number of different
    characters: ``aaaa...`` or ``abab...`` score near nothing, a
    ``secrets.token_urlsafe(32)`` value about 200 bits.
    """
    if len(secret) < MIN_SECRET_CHARS:
        return (
            f"WATCHFLOOR_SECRET_KEY is too short ({len(secret)} characters); use at least "
            f"{MIN_SECRET_CHARS} random characters, made with {_MAKE_A_KEY}"
        )
    distinct = len(set(secret))
    bits = len(secret) * math.log2(distinct) if distinct > 1 else 0.0
    if bits < MIN_SECRET_BITS or distinct < 8:
        return (
            "WATCHFLOOR_SECRET_KEY is too easy to guess (it repeats a few characters); "
            f"replace it with a random one made with {_MAKE_A_KEY}"
        )
    return None


#: How long a public form's token stays good (a half-written report may wait hours).
FORM_TOKEN_MAX_AGE_S = 24 * 3600

_FORM_ID_HEX = 32
_ISSUED_HEX = 8
_FORM_MAC_HEX = 32


def _form_mac(secret: bytes, form_id: str, issued: str) -> str:
    message = b"public-form:" + form_id.encode() + b":" + issued.encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:_FORM_MAC_HEX]


def new_form_token(secret: bytes, *, now_s: float, form_id: str | None = None) -> str:
    """Return a signed token for one public form: its id, the time, and their HMAC (hex).

    ``form_id`` keeps the id of a form shown again (after an error) so that its
    idempotency key does not change; by default a new random id is drawn.
    """
    form_id = form_id or secrets.token_hex(_FORM_ID_HEX // 2)
    issued = f"{int(now_s) & 0xFFFFFFFF:0{_ISSUED_HEX}x}"
    return form_id + issued + _form_mac(secret, form_id, issued)


def form_token_id(
    secret: bytes, token: str, *, now_s: float, max_age_s: float = FORM_TOKEN_MAX_AGE_S
) -> str | None:
    """Return the form id of ``token`` when it is ours and younger than ``max_age_s``, else None."""
    if len(token) != _FORM_ID_HEX + _ISSUED_HEX + _FORM_MAC_HEX:
        return None
    form_id = token[:_FORM_ID_HEX]
    issued = token[_FORM_ID_HEX : _FORM_ID_HEX + _ISSUED_HEX]
    mac = token[_FORM_ID_HEX + _ISSUED_HEX :]
    if not hmac.compare_digest(_form_mac(secret, form_id, issued), mac):
        return None
    try:
        age_s = now_s - int(issued, 16)
    except ValueError:
        return None
    return form_id if -60 <= age_s <= max_age_s else None


def is_cross_site(headers: Mapping[str, str]) -> bool:
    """Return whether a request's fetch metadata says another site sent it.

    ``Sec-Fetch-Site`` decides when present (only ``same-origin`` and ``none``, a
    typed address or bookmark, are ours). Without it a non-null ``Origin`` must
    name the request's own ``Host``. Our own pages send ``Origin: null`` (their
    referrer policy is ``no-referrer``), and old clients send neither header:
    those are left to the form's signed token.
    """
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is None or origin == "null":
        return False
    return urlsplit(origin).netloc.lower() != headers.get("host", "").lower()


def _url_cipher(secret: bytes, purpose: bytes) -> AESGCM:
    key = HKDF(algorithm=SHA256(), length=32, salt=secret, info=b"url:" + purpose).derive(
        b"watchfloor"
    )
    return AESGCM(key)


def seal_for_url(secret: bytes, purpose: bytes, payload: bytes) -> str:
    """Return ``payload`` encrypted and authenticated under the secret key, URL-safe base64."""
    nonce = secrets.token_bytes(12)
    sealed = nonce + _url_cipher(secret, purpose).encrypt(nonce, payload, purpose)
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def open_from_url(secret: bytes, purpose: bytes, token: str) -> bytes | None:
    """Return the payload sealed by :func:`seal_for_url`, or None for anything else."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        return None
    if len(raw) < 12 + 16:
        return None
    try:
        return _url_cipher(secret, purpose).decrypt(raw[:12], raw[12:], purpose)
    except InvalidTag:
        return None


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


class HeadAsGetMiddleware:
    """Answer ``HEAD`` as the same ``GET`` would, without the body (RFC 9110, 9.3.2)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        scope = {**scope, "method": "GET"}

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        await self.app(scope, receive, headers_only)


_TOO_LARGE_PAGE = """<!doctype html>
<html lang="en-GB">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Your report was not sent \u2013 watchfloor</title>
<link rel="stylesheet" href="/static/site/site.css"></head>
<body>
<div class="emergency" role="alert"><strong>In an emergency, or if you are in danger now, call
999.</strong> If you cannot speak, call 999 and press 55 when asked.</div>
<main id="main">
<h1>Your report was not sent: it is too large</h1>
<p>Everything sent at once must be under {limit_mb} MB, photos included.</p>
<p><strong>Go back with your browser's back button</strong>: what you typed is still in the form.
Choose fewer or smaller photos (a screenshot or a photo sent at a smaller size works), then
send it again.</p>
<p><a href="/">Go to the start</a></p>
</main>
</body>
</html>
"""


def _wants_page(scope: Scope) -> bool:
    """Return whether the request is a browser's page request (not the JSON API)."""
    if str(scope.get("path", "")).startswith("/api/"):
        return False
    accept = _header(scope, b"accept")
    return b"text/html" in accept or b"multipart/form-data" in _header(scope, b"content-type")


def _header(scope: Scope, wanted: bytes) -> bytes:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return bytes(value)
    return b""


class BodySizeLimitMiddleware:
    """Refuse request bodies above ``max_bytes`` with 413, by header and while streaming.

    A body sent without ``Content-Length`` (chunked) is counted as it arrives;
    once over the limit, whatever the app would answer (FastAPI turns a body it
    could not read into 400) is replaced by the 413. Browser pages get an HTML
    page that says the limit and that the text is still in the form (back
    button); the API gets a JSON problem.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _reject(self, scope: Scope, send: Send) -> None:
        if _wants_page(scope):
            limit_mb = f"{self.max_bytes / (1024 * 1024):.0f}"
            body = _TOO_LARGE_PAGE.format(limit_mb=limit_mb).encode()
            content_type = b"text/html; charset=utf-8"
        else:
            body = (
                b'{"type":"about:blank","title":"Request too large","status":413,'
                b'"detail":"the request body is larger than '
                + str(self.max_bytes).encode()
                + b' bytes; send smaller photos or fewer of them"}'
            )
            content_type = b"application/problem+json"
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", content_type),
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
        declared_header = _header(scope, b"content-length")
        if declared_header:
            try:
                declared = int(declared_header)
            except ValueError:
                declared = self.max_bytes + 1
            if declared > self.max_bytes:
                await self._reject(scope, send)
                return
        received = 0
        started = exceeded = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise RequestTooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app's own answer to a body it could not read: the 413 replaces it
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(RequestTooLargeError):
            await self.app(scope, limited_receive, guarded_send)
        if exceeded and not started:
            await self._reject(scope, send)
