"""watchfloor: an operations platform for a police force after a terror attack.

Protective patrols, armed response, public reports and community tension are
planned from one picture of a region: its roads with travel times and the
register of sites that need protecting.
"""

from watchfloor.errors import (
    ConfigurationError,
    InfeasibleError,
    IngestError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    WatchfloorError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigurationError",
    "InfeasibleError",
    "IngestError",
    "InvalidInputError",
    "NotFoundError",
    "PermissionDeniedError",
    "WatchfloorError",
    "__version__",
]
