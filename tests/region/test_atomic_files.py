"""The one atomic-write helper (storage.files): whole files and folders or nothing."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from watchfloor.storage.files import (
    atomic_folder,
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_text_replaces_whole_file_with_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "plan.json"
    assert atomic_write_text(target, "one") == target
    assert target.read_text(encoding="utf-8") == "one"
    assert _mode(target) == 0o600  # owner only by default: plans and briefings
    atomic_write_bytes(target, b"two", mode=0o640)
    assert target.read_bytes() == b"two"
    assert _mode(target) == 0o640
    assert sorted(p.name for p in target.parent.iterdir()) == ["plan.json"]  # no temp left


def test_write_without_parents_refuses_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic_write_text(tmp_path / "nowhere" / "x.txt", "x", make_parents=False)


def test_atomic_path_keeps_the_old_file_when_the_writer_fails(tmp_path: Path) -> None:
    target = tmp_path / "map.png"
    target.write_bytes(b"old")

    def failing_writer() -> None:
        with atomic_path(target) as tmp:
            assert tmp.suffix == ".png"
            assert tmp.parent == tmp_path
            tmp.write_bytes(b"half")
            raise RuntimeError("the writer failed")

    with pytest.raises(RuntimeError, match="writer failed"):
        failing_writer()
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["map.png"]
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"


def test_atomic_folder_replaces_or_keeps_the_whole_folder(tmp_path: Path) -> None:
    target = tmp_path / "brief"
    with atomic_folder(target) as staging:
        (staging / "a.html").write_text("a", encoding="utf-8")
        assert not target.exists()
    assert [p.name for p in target.iterdir()] == ["a.html"]
    assert _mode(target) == 0o700

    def abandoned_write() -> None:
        with atomic_folder(target) as staging:
            (staging / "b.html").write_text("b", encoding="utf-8")
            raise ValueError("abandon")

    with pytest.raises(ValueError, match="abandon"):
        abandoned_write()
    assert [p.name for p in target.iterdir()] == ["a.html"]

    def refuse(folder: Path) -> None:
        assert (folder / "c.html").is_file()
        raise OSError("disk check failed")

    def refused_write() -> None:
        with atomic_folder(target, before_commit=refuse) as staging:
            (staging / "c.html").write_text("c", encoding="utf-8")

    with pytest.raises(OSError, match="disk check"):
        refused_write()
    assert [p.name for p in target.iterdir()] == ["a.html"]
    with atomic_folder(target) as staging:
        (staging / "d.html").write_text("d", encoding="utf-8")
    assert [p.name for p in target.iterdir()] == ["d.html"]
    assert [p.name for p in tmp_path.iterdir()] == ["brief"]  # nothing left beside it
