"""Server-side rendering: the Jinja2 environment and :func:`render`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from watchfloor.web.deps import csrf_token

__all__ = ["TEMPLATES_DIR", "make_templates", "render"]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def make_templates() -> Jinja2Templates:
    """Return the Jinja2 templates of the web app (autoescaped HTML)."""
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    templates.env.globals["emergency_line"] = "999"
    return templates


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> Response:
    """Return ``template`` rendered with ``context`` plus the CSRF token and the staff user."""
    templates: Jinja2Templates = request.app.state.templates
    full = {
        "csrf_token": csrf_token(request),
        "staff_user": getattr(request.state, "staff_user", None),
        **(context or {}),
    }
    return templates.TemplateResponse(request, template, full, status_code=status_code)
