"""watchfloor: an operations platform for a police force after a terror attack.

Protective patrols, armed response, public reports and community tension are
planned from one picture of a region: its roads with travel times and the
register of sites that need protecting.

The packages, bottom to top (each may import only those below it; import-linter
keeps the order, ``tests/test_architecture.py`` keeps out cycles)::

    errors types geo settings highs   the foundation: one exception tree, one vocabulary
    placement patrol tension posture  pure solvers: arrays in, frozen results out
    roads sites traveltime            models and the travel-time engine
    storage ingest                    adapters: the database, region files, source files
    services                          use-cases by capability
    web cli                           the edges: parse, call one service, answer

The top-level namespace re-exports only the exception tree and the version.
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
