"""ASGI factory for multi-worker servers: ``uvicorn --factory watchfloor.web.asgi:build``."""

from __future__ import annotations

from fastapi import FastAPI

from watchfloor.settings import load_settings
from watchfloor.web.app import create_app

__all__ = ["build"]


def build() -> FastAPI:
    """Return the web app for the settings in the environment (one per worker process)."""
    return create_app(load_settings(), prepare_dashboard=True)
