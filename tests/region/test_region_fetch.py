"""`region fetch` against a local HTTP server standing in for Geofabrik."""

from __future__ import annotations

import hashlib
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from watchfloor.cli.main import app

runner = CliRunner()


class Mirror:
    """A folder served over HTTP on 127.0.0.1, recording the paths requested."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        mirror = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=str(root), **kwargs)

            def log_message(self, format: str, *args: Any) -> None:
                mirror.requests.append(self.path)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def publish(self, source: Path, name: str, *, md5: str | None = None) -> None:
        target = self.root / f"{name}-latest.osm.pbf"
        shutil.copyfile(source, target)
        digest = md5 or hashlib.md5(target.read_bytes()).hexdigest()
        (self.root / f"{name}-latest.osm.pbf.md5").write_text(f"{digest}  {target.name}\n")


@pytest.fixture
def mirror(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mirror]:
    root = tmp_path / "mirror"
    root.mkdir()
    server = Mirror(root)
    server.thread.start()
    monkeypatch.setenv("WATCHFLOOR_GEOFABRIK_BASE_URL", server.url)
    yield server
    server.server.shutdown()
    server.server.server_close()
    server.thread.join()


def test_fetch_downloads_checks_caches_and_builds(
    mirror: Mirror, home: Path, data_dir: Path
) -> None:
    mirror.publish(data_dir / "rutland-2022-07-20.osm.pbf", "rutland")
    result = runner.invoke(app, ["-q", "region", "fetch", "rutland", "--json"])
    assert result.exit_code == 0, result.stderr
    assert "/rutland-latest.osm.pbf.md5" in mirror.requests
    assert "/rutland-latest.osm.pbf" in mirror.requests
    cached = home / "cache" / "rutland-latest.osm.pbf"
    assert cached.read_bytes() == (data_dir / "rutland-2022-07-20.osm.pbf").read_bytes()
    info = runner.invoke(app, ["-q", "region", "info", "rutland", "--json"])
    assert '"osm_replication_timestamp": "2022-07-20T20:21:45Z"' in info.stdout
    # Second fetch: the cached file's MD5 matches, so only the .md5 is requested.
    mirror.requests.clear()
    again = runner.invoke(app, ["-q", "region", "fetch", "rutland", "--json"])
    assert again.exit_code == 0, again.stderr
    assert mirror.requests == ["/rutland-latest.osm.pbf.md5"]


def test_md5_mismatch_is_refused_and_nothing_is_kept(
    mirror: Mirror, home: Path, data_dir: Path
) -> None:
    mirror.publish(data_dir / "rutland-2018-02-27.osm.pbf", "rutland", md5="0" * 32)
    result = runner.invoke(app, ["-q", "region", "fetch", "rutland"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "MD5" in lines[0]
    assert not (home / "regions" / "rutland").exists()
    assert list((home / "cache").iterdir()) == []


def test_unknown_extract_is_not_found(mirror: Mirror, home: Path) -> None:
    result = runner.invoke(app, ["-q", "region", "fetch", "atlantis"])
    assert result.exit_code == 2
    assert "no extract at" in result.stderr
    assert "download.geofabrik.de" in result.stderr
