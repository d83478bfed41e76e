"""``python -m watchfloor.web [--host H] [--port P]``: the same as ``watchfloor serve``."""

from __future__ import annotations

import argparse
import logging
import sys

from watchfloor.errors import WatchfloorError
from watchfloor.settings import load_settings
from watchfloor.web.server import run_server


def main() -> int:
    """Parse the arguments and serve; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m watchfloor.web")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        run_server(load_settings(), host=args.host, port=args.port, workers=args.workers)
    except WatchfloorError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
