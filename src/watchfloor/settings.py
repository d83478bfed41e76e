"""Settings, read once at the edge (CLI or web app) and passed down.

Every field comes from an environment variable with the prefix ``WATCHFLOOR_``
(``WATCHFLOOR_HOME``, ``WATCHFLOOR_DATA_DIR``, ``WATCHFLOOR_DATABASE_URL``,
``WATCHFLOOR_SECRET_KEY``, ``WATCHFLOOR_DEMO`` ...). The options of the
reporting service and of the web server are nested models of the one
:class:`Settings` (``settings.reporting``, ``settings.web``) whose variables keep
their flat names (``WATCHFLOOR_RETENTION_DAYS``, ``WATCHFLOOR_RATE_LIMIT_PER_MINUTE``).
Nothing here is built at import time: call :func:`load_settings`.

Part of the foundation: imports only :mod:`watchfloor.errors`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from watchfloor.errors import ConfigurationError

__all__ = ["DEFAULT_REGION", "ReportingOptions", "Settings", "WebOptions", "load_settings"]

DEFAULT_REGION = "rutland"


def _default_home() -> Path:
    return platformdirs.user_data_path("watchfloor", appauthor=False)


class ReportingOptions(BaseSettings):
    """Options of the reporting service, from ``WATCHFLOOR_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="WATCHFLOOR_", extra="ignore", frozen=True)

    report_keys: str | None = None
    """Encryption keys ``kid:BASE64,...`` (first current); default: key file in the home."""

    retention_days: int = Field(default=365, ge=1)
    """Closed reports are anonymised this many days after closing."""

    forward_url: str | None = None
    """Where counter-terrorism reports are POSTed (the regional CT unit's endpoint)."""

    forward_bearer_token: SecretStr | None = None
    """Sent as ``Authorization: Bearer ...`` with each forwarded report."""

    forward_hmac_key: SecretStr | None = None
    """Signs each forwarded body (``X-Watchfloor-Signature: t=TS,sha256=HMAC``)."""

    forward_stuck_after: int = Field(default=5, ge=1)
    """Failed attempts after which an outbox message is flagged stuck."""

    max_photo_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    max_photos: int = Field(default=3, ge=0)

    report_region: str | None = None
    """Region whose high-risk sites raise priority and are offered as "at or near"."""

    duplicate_window_h: float = Field(default=6.0, gt=0)
    duplicate_radius_m: float = Field(default=300.0, gt=0)
    duplicate_similarity: float = Field(default=0.45, gt=0, le=1)

    receipt_hash_memory_kib: int = Field(default=256, ge=8, le=1024 * 1024)
    """argon2id memory of the receipt-code hash, KiB (see docs/reports.md for the choice)."""

    receipt_hash_time_cost: int = Field(default=1, ge=1, le=10)
    """argon2id passes of the receipt-code hash."""


class WebOptions(BaseSettings):
    """Web-server options, read from ``WATCHFLOOR_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="WATCHFLOOR_", extra="ignore", frozen=True)

    max_request_bytes: int = 16 * 1024 * 1024
    """Largest request body accepted (photos included)."""

    rate_limit_per_minute: int = 60
    """Public submissions and logins allowed per client and minute."""

    secure_cookies: bool | None = None
    """Mark cookies Secure; default: when the request came over HTTPS."""

    forwarded_allow_ips: str | None = None
    """Proxies whose ``X-Forwarded-For``/``-Proto`` are believed (comma-separated IPs or
    networks, ``*`` for any); unset: none, the peer address is the client."""

    redis_url: str | None = None
    """``redis://[:PASSWORD@]HOST:PORT/DB`` of a Redis holding the rate-limit counters."""

    rate_limit_store: Literal["database", "redis", "memory"] | None = None
    """Where rate-limit counters live; default ``redis`` with a Redis URL, else ``database``."""

    rate_limit_sync_s: float = Field(default=0.2, ge=0, le=10)
    """How often a process adds its hits to the shared store (0: every request)."""


class Settings(BaseSettings):
    """Installation settings; see the module docstring for how they are read."""

    model_config = SettingsConfigDict(env_prefix="WATCHFLOOR_", extra="ignore", frozen=True)

    home: Path = Field(default_factory=_default_home)
    """Data home: regions, database, keys and caches live under it."""

    data_dir: Path | None = None
    """Folder of real public data (OSM extracts, crime CSVs, boundaries), read-only."""

    database_url: str | None = None
    """SQLAlchemy URL; default is SQLite (WAL) at ``home/watchfloor.db``."""

    secret_key: SecretStr | None = None
    """Signs sessions and CSRF tokens; required outside demo mode."""

    demo: bool = False
    """Demo mode: a default secret is allowed and demo data may be created."""

    geofabrik_base_url: str = "https://download.geofabrik.de/europe/united-kingdom/england"
    """Where ``region fetch`` downloads county extracts from."""

    log_level: str = "INFO"

    reporting: ReportingOptions = Field(default_factory=ReportingOptions)
    """Options of the public reporting service (flat ``WATCHFLOOR_*`` variables)."""

    web: WebOptions = Field(default_factory=WebOptions)
    """Options of the web server (flat ``WATCHFLOOR_*`` variables)."""

    @property
    def regions_dir(self) -> Path:
        """Folder holding one sub-folder per built region."""
        return self.home / "regions"

    @property
    def cache_dir(self) -> Path:
        """Folder for downloaded extracts and other re-creatable files."""
        return self.home / "cache"

    @property
    def resolved_database_url(self) -> str:
        """Database URL, defaulting to SQLite under the data home."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'watchfloor.db'}"


def load_settings() -> Settings:
    """Return settings read from the environment.

    Raises
    ------
    ConfigurationError
        When a ``WATCHFLOOR_*`` variable has a value of the wrong type.
    """
    try:
        return Settings()
    except ValidationError as exc:
        fields = ", ".join(
            "WATCHFLOOR_" + str(err["loc"][0]).upper() for err in exc.errors() if err["loc"]
        )
        msg = f"invalid setting(s) {fields}: check these environment variables"
        raise ConfigurationError(msg) from None
