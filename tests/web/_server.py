"""Run ``watchfloor serve`` in a subprocess for crash, privacy and browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from watchfloor.services.auth import create_user
from watchfloor.settings import Settings
from watchfloor.storage.db import open_database

SECRET = "test-secret-key-0123456789abcdef"
PASSWORD = "correct horse battery staple"
WATCHFLOOR = str(Path(sys.executable).parent / "watchfloor")


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A ``watchfloor serve`` process with its own data home, log file and temp folder."""

    def __init__(
        self, home: Path, *, port: int | None = None, extra_env: dict[str, str] | None = None
    ):
        self.home = home
        self.port = port or free_port()
        self.log_path = home.parent / "server.log"
        self.tmp_dir = home.parent / "tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "WATCHFLOOR_HOME": str(home),
            "WATCHFLOOR_SECRET_KEY": SECRET,
            "WATCHFLOOR_RATE_LIMIT_PER_MINUTE": "1000000",
            "TMPDIR": str(self.tmp_dir),
            **(extra_env or {}),
        }
        if "WATCHFLOOR_DATABASE_URL" not in (extra_env or {}):
            self.env.pop("WATCHFLOOR_DATABASE_URL", None)
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, *, verbose: bool = False, cli: bool = False, timeout_s: float = 90.0) -> None:
        """Start the server and wait until it answers.

        ``cli=True`` runs ``watchfloor serve``; otherwise ``python -m watchfloor.web``,
        the same server code without loading every CLI command (starts faster).
        """
        flags = ["-v"] if verbose else []
        if cli:
            args = [WATCHFLOOR, *flags, "serve", "--port", str(self.port)]
        else:
            args = [sys.executable, "-m", "watchfloor.web", *flags, "--port", str(self.port)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                args, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log_path.read_text()[-2000:]
                msg = f"server exited with {self.process.returncode}: {tail}"
                raise RuntimeError(msg)
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        msg = "server did not start in time"
        raise RuntimeError(msg)

    def kill(self) -> None:
        """SIGKILL the server (no clean shutdown)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        """Stop the server politely, then by force."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def add_user(settings: Settings, username: str, role: str) -> None:
    """Create a staff account with the shared test password."""
    database = open_database(settings)
    try:
        with database.session() as session:
            create_user(session, username, role=role, password=PASSWORD)
    finally:
        database.dispose()
