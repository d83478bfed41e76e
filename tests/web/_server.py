"""Run ``watchfloor serve`` in a subprocess for crash, privacy and browser tests."""

from __future__ import annotations

import os
import signal
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


_ZYGOTE = """
import importlib, os, sys
from watchfloor.settings import load_settings
from watchfloor.web.server import run_server  # import everything once, before forking

# The app imports its routers, and the operations room pulls in scipy and friends
# (seconds). Imported here once, so each forked start takes a fraction of that.
for module in ("uvicorn.loops.uvloop", "uvicorn.protocols.http.httptools_impl",
               "uvicorn.lifespan.on", "watchfloor.services.regions"):
    importlib.import_module(module)

for line in sys.stdin:
    port = int(line)
    pid = os.fork()
    if pid == 0:
        sys.stdin.close()
        run_server(load_settings(), port=port)
        os._exit(0)
    sys.stdout.write(f"{pid}\\n")
    sys.stdout.flush()
"""


class ForkingServer(Server):
    """A server whose processes are forked from a parent that has imported everything.

    Each :meth:`start` forks a fresh server process (what runs after ``watchfloor
    serve`` has parsed its arguments: migrations, then uvicorn); :meth:`kill` sends
    it SIGKILL. Restarts take a fraction of a second instead of a full import.
    """

    def __init__(self, home: Path, **kwargs: object) -> None:
        super().__init__(home, **kwargs)  # type: ignore[arg-type]
        log = self.log_path.open("ab")
        self.zygote = subprocess.Popen(
            [sys.executable, "-c", _ZYGOTE],
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        log.close()
        self.pid: int | None = None

    def start(self, *, verbose: bool = False, cli: bool = False, timeout_s: float = 90.0) -> None:
        assert self.zygote.stdin is not None
        assert self.zygote.stdout is not None
        self.zygote.stdin.write(f"{self.port}\n")
        self.zygote.stdin.flush()
        self.pid = int(self.zygote.stdout.readline())
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.02)
        msg = "server did not start in time"
        raise RuntimeError(msg)

    def kill(self) -> None:
        if self.pid is not None:
            os.kill(self.pid, signal.SIGKILL)
            self.pid = None

    def stop(self) -> None:
        if self.pid is not None:
            os.kill(self.pid, signal.SIGTERM)
            time.sleep(0.5)
            self.pid = None
        if self.zygote.stdin is not None:
            self.zygote.stdin.close()
        self.zygote.wait(timeout=30)
        if self.zygote.stdout is not None:
            self.zygote.stdout.close()
