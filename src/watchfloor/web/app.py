"""The web app factory: :func:`create_app` builds everything from one ``Settings``.

Nothing is built at import time. The six routers of :mod:`watchfloor.web.routes`
are included by plain imports (:func:`_include_routers`); the web options are
``settings.web``. Every domain error becomes a JSON problem (RFC 9457) with the
status of ``exc.http_status`` (or an HTML page for browser pages); request
validation errors become 422 with one message per field; nothing a client sends
can cause a 500. The database must have been migrated first
(:func:`watchfloor.storage.db.upgrade_database`; ``watchfloor serve`` does it).

The secret key (``WATCHFLOOR_SECRET_KEY``) must be at least 32 random
characters (:func:`watchfloor.web.security.secret_key_problem`). Demo mode
(``WATCHFLOOR_DEMO=1``) without one does not drop the requirement: it signs with
a random key made once in ``home/demo-secret-key`` (owner-only) and says so in
the log at every start, so every worker and restart agree. The request body
limit is ``WATCHFLOOR_MAX_REQUEST_BYTES`` raised to fit the photos the report
form allows (:func:`body_limit_bytes`). Swagger UI at ``/api/docs`` is served
from ``/static/vendor/swagger-ui`` (no CDN), within the app's own CSP; ``HEAD``
is answered as ``GET`` without the body.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from watchfloor.errors import ConfigurationError, WatchfloorError
from watchfloor.services.reports import deliver_outbox
from watchfloor.services.reports.forwarding import forward_auth
from watchfloor.settings import ReportingOptions, Settings, WebOptions
from watchfloor.storage.db import open_database
from watchfloor.web.ratelimit import install_rate_limits
from watchfloor.web.reporting import build_reporting, report_writer, stop_report_writer
from watchfloor.web.routes import admin, api, arv, ops, public, staff, staff_api
from watchfloor.web.security import (
    CSRF_COOKIE,
    ASGIApp,
    BodySizeLimitMiddleware,
    HeadAsGetMiddleware,
    Message,
    Receive,
    Scope,
    SecurityHeadersMiddleware,
    Send,
    is_cross_site,
    new_token,
    secret_key_problem,
)
from watchfloor.web.templating import make_templates, render

__all__ = ["DEMO_SECRET_FILE", "FORM_OVERHEAD_BYTES", "body_limit_bytes", "create_app"]

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"

#: Room in a form's body besides its photos (text fields, multipart headers).
FORM_OVERHEAD_BYTES = 1024 * 1024

#: The demo home's own secret key (created once, owner-only), see :func:`_secret_bytes`.
DEMO_SECRET_FILE = "demo-secret-key"  # noqa: S105 (a file name, not a secret)


def _problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def _wants_html(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return False
    return "text/html" in request.headers.get("accept", "")


_TITLES = {
    400: "Bad request",
    401: "Log in needed",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    422: "Something needs changing",
    429: "Too many requests",
    500: "Something went wrong on our side",
}


def _error_response(request: Request, status: int, detail: str, **extra: Any) -> Response:
    title = _TITLES.get(status, "Error")
    if _wants_html(request):
        if status == 401 and request.method == "GET":
            return RedirectResponse("/staff/login", status_code=303)
        context = {"title": title, "detail": detail, "status": status, **extra}
        return render(request, "error.html", context, status_code=status)
    return _problem(status, title, detail, **extra)


def _field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    errors = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ()) if part not in ("body", "query", "path")]
        message = str(err.get("msg", "is not valid"))
        if message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        field = ".".join(loc)
        if err.get("type") == "json_invalid":
            field, message = "body", "the request body is not valid JSON; check its syntax"
        match = re.match(r"^(\w+): (.*)$", message)
        if match and not field:
            field, message = match.group(1), match.group(2)
        errors.append({"field": field or "body", "message": message})
    return errors


def _install_error_handlers(app: FastAPI) -> None:
    async def on_domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, WatchfloorError)
        status = exc.http_status
        if status == 503:  # e.g. a report not stored just now: the client should retry
            return _error_response(request, status, str(exc))
        if status >= 500:
            log.error("request failed: %s", type(exc).__name__)
            return _error_response(request, status, "the service is not set up correctly")
        extra: dict[str, Any] = {}
        field = getattr(exc, "field", None)
        if isinstance(field, str):
            extra["errors"] = [{"field": field, "message": str(exc)}]
        return _error_response(request, status, str(exc), **extra)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = _field_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return _error_response(request, 422, detail, errors=errors)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "")
        if exc.status_code == 404:
            detail = "there is no page at this address"
        response = _error_response(request, exc.status_code, detail)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        # The type only: messages may quote report text or identity.
        log.error("unexpected %s on %s %s", type(exc).__name__, request.method, _route(request))
        return _error_response(request, 500, "please try again in a minute")

    app.add_exception_handler(WatchfloorError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)


def _route(request: Request) -> str:
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "(unmatched)"


class _CsrfCookieMiddleware:
    """Give every client a random ``wf_csrf`` cookie (the double-submit value)."""

    def __init__(self, app: ASGIApp, *, secure: bool | None) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        has_cookie = any(
            name == b"cookie" and CSRF_COOKIE.encode() + b"=" in value
            for name, value in scope.get("headers", [])
        )
        if has_cookie or _cross_site_scope(scope):
            # A link from another site: a SameSite=Strict cookie the browser holds was not
            # sent, and replacing it would spoil the forms open in its other tabs.
            await self.app(scope, receive, send)
            return
        value = new_token(24)
        scope.setdefault("state", {})["csrf_cookie"] = value
        secure = self.secure if self.secure is not None else scope.get("scheme") == "https"
        cookie = f"{CSRF_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict"
        if secure:
            cookie += "; Secure"

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie.encode())]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _cross_site_scope(scope: Scope) -> bool:
    headers = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in scope.get("headers", [])
        if name in (b"sec-fetch-site", b"origin", b"host")
    }
    return is_cross_site(headers)


class _TimingLogMiddleware:
    """Log method, route template, status and duration: never addresses or queries."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.DEBUG):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await self.app(scope, receive, tracking_send)
        route = getattr(scope.get("route"), "path", "(unmatched)")
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.debug("%s %s -> %d in %.1f ms", scope["method"], route, status, elapsed_ms)


def _secret_bytes(settings: Settings) -> bytes:
    """Return the secret key: the setting (checked), or in demo mode the demo home's own.

    Demo mode without ``WATCHFLOOR_SECRET_KEY`` uses a random key kept in
    ``home/demo-secret-key`` (0600), made on its first start: every worker
    process and every restart signs with the same key, and the log says where
    it is. Outside demo mode the setting is required.
    """
    if settings.secret_key is not None:
        secret = settings.secret_key.get_secret_value()
        problem = secret_key_problem(secret)
        if problem is not None:
            raise ConfigurationError(problem)
        return secret.encode()
    if settings.demo:
        return _demo_secret(settings.home)
    msg = (
        "WATCHFLOOR_SECRET_KEY is not set; the web app will not start without it outside "
        "demo mode. Set it to a long random value, e.g. "
        'python -c "import secrets; print(secrets.token_urlsafe(32))"'
    )
    raise ConfigurationError(msg)


def _demo_secret(home: Path) -> bytes:
    """Return the demo home's secret key, made once (owner-only) on the first start."""
    path = home / DEMO_SECRET_FILE
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker made it first
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32))
    secret = path.read_text().strip()
    if secret_key_problem(secret) is not None:
        msg = f"{path} does not hold a good secret key; delete it to make a new one"
        raise ConfigurationError(msg)
    log.warning(
        "DEMO MODE: WATCHFLOOR_SECRET_KEY is not set; signing with the demo key in %s. "
        "Never put a demo home in front of the public.",
        path,
    )
    return secret.encode()


def body_limit_bytes(options: WebOptions, reporting: ReportingOptions) -> int:
    """Return the request body limit: the setting, raised to fit the photos the form allows.

    The form says "up to ``max_photos`` photos, each under ``max_photo_bytes``";
    a body holding that many must be accepted, with room for the text.
    """
    form_bytes = reporting.max_photos * reporting.max_photo_bytes + FORM_OVERHEAD_BYTES
    return max(options.max_request_bytes, form_bytes)


_DOCS_PAGE = """<!doctype html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>watchfloor API</title>
<link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/site/api-docs.js"></script>
</body>
</html>
"""


async def _forward_forever(app: FastAPI, *, interval_s: float = 2.0) -> None:
    """Deliver the forwarding outbox every ``interval_s`` while the server runs."""
    options = app.state.reporting.options
    with httpx.Client() as client:
        while True:
            try:
                await run_in_threadpool(
                    deliver_outbox,
                    app.state.db,
                    options.forward_url,
                    client=client,
                    stuck_after=options.forward_stuck_after,
                    auth=forward_auth(options),
                )
            except SQLAlchemyError as exc:
                log.warning("outbox: delivery pass failed (%s)", type(exc).__name__)
            await asyncio.sleep(interval_s)


def _include_routers(app: FastAPI) -> None:
    for module in (public, api, staff, staff_api, ops, arv, admin):
        app.include_router(module.router)


def _prepare_dashboard(app: FastAPI) -> None:
    """Open the operations room now; its regions' map layers are prepared in the background."""
    try:
        ops.room_for_app(app)
    except WatchfloorError as exc:  # shown again on the first dashboard request
        log.warning("operations room not prepared: %s", exc)


def create_app(
    settings: Settings, *, options: WebOptions | None = None, prepare_dashboard: bool = False
) -> FastAPI:
    """Return the watchfloor web app (public pages, staff pages, API) for ``settings``.

    The web options are ``settings.web``; ``options`` overrides them (tests use it
    to lift the rate limit). With ``prepare_dashboard`` (as ``watchfloor serve``
    does) the operations room is opened as the app starts and every region's map
    layers are prepared in the background, so the first dashboard visit does not
    wait for them.

    Raises
    ------
    ConfigurationError
        Without ``WATCHFLOOR_SECRET_KEY`` outside demo mode, with a short or guessable
        one, or for a bad database URL.
    """
    options = options or settings.web
    secret = _secret_bytes(settings)
    database = open_database(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = None
        if app.state.reporting.options.forward_url:
            task = asyncio.create_task(_forward_forever(app))
        # Started now: reports left unchecked for near-duplicates are linked at once.
        report_writer(app.state)
        if prepare_dashboard:
            await run_in_threadpool(_prepare_dashboard, app)
        yield
        if task is not None:
            task.cancel()
        await run_in_threadpool(stop_report_writer, app.state)
        database.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title="watchfloor",
        summary="Public reports, staff triage and the operations room.",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.options = options
    app.state.secret = secret
    app.state.db = database
    app.state.templates = make_templates()
    try:
        install_rate_limits(app, settings, options)
        app.state.reporting = build_reporting(settings, secret)
    except BaseException:  # refused to start (keys, settings): leave no connection open
        database.dispose()
        raise
    _install_error_handlers(app)
    _include_routers(app)
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        # Swagger UI from /static (no CDN): the app's own CSP allows it.
        return HTMLResponse(_DOCS_PAGE)

    # Outermost last: size limit first, then headers on every response.
    app.add_middleware(_TimingLogMiddleware)
    app.add_middleware(_CsrfCookieMiddleware, secure=options.secure_cookies)
    max_bytes = body_limit_bytes(options, settings.reporting)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=max_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(HeadAsGetMiddleware)

    log.info("web app ready (%d routes)", len(app.routes))
    return app
