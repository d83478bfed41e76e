"""Settings, read once at the edge (CLI or web app) and passed down.

Every field comes from an environment variable with the prefix ``WATCHFLOOR_``
(``WATCHFLOOR_HOME``, ``WATCHFLOOR_DATA_DIR``, ``WATCHFLOOR_DATABASE_URL``,
``WATCHFLOOR_SECRET_KEY``, ``WATCHFLOOR_DEMO`` ...). Nothing here is built at
import time: call :func:`load_settings`.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from watchfloor.errors import ConfigurationError

__all__ = ["DEFAULT_REGION", "Settings", "load_settings"]

DEFAULT_REGION = "rutland"


def _default_home() -> Path:
    return platformdirs.user_data_path("watchfloor", appauthor=False)


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
