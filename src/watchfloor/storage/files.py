"""Atomic file and folder writes: a reader sees the old content or the new, never half of it.

Every file the services write for people or other programs (plans, GeoJSON,
maps, briefings, region folders) goes through here. A file is written to a
temporary file in the same folder, flushed to disk (``fsync``), given its
permissions and renamed over the target with :func:`os.replace` (atomic on
POSIX and Windows within one file system); the folder entry is then synced
too. A folder is filled in a temporary sibling and renamed into place; an
existing folder is moved aside first and removed afterwards, so there is a
moment without the target but never a half-written one.

Imports only the standard library.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = [
    "FILE_MODE",
    "FOLDER_MODE",
    "atomic_folder",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "replace_folder",
]

#: Permissions of the files written: owner only. They hold police plans, patrol
#: routes and briefings (OFFICIAL-SENSITIVE); share them by copying, not by mode.
FILE_MODE = 0o600
#: Permissions of the folders written (region folders, briefing folders): owner only.
FOLDER_MODE = 0o700


def _sync_folder(folder: Path) -> None:
    """Flush a folder's entries to disk (so a rename survives a power cut); POSIX only."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a folder; the rename still happened
        pass
    finally:
        os.close(fd)


def _prepare(path: Path, *, make_parents: bool) -> Path:
    path = Path(path)
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def atomic_path(path: Path, *, mode: int = FILE_MODE, make_parents: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on a clean exit it replaces ``path`` atomically.

    For writers that want a file name rather than bytes (``savefig``,
    ``np.savez``): write the file at the yielded path. It keeps ``path``'s
    suffix so such writers pick the right format. On an exception the
    temporary file is removed and ``path`` is left as it was.

    Parameters
    ----------
    path
        The target file.
    mode
        Permissions of the written file (default owner only, ``0o600``).
    make_parents
        Create missing parent folders.
    """
    path = _prepare(path, make_parents=make_parents)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        tmp.chmod(mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def atomic_write_bytes(
    path: Path, data: bytes, *, mode: int = FILE_MODE, make_parents: bool = True
) -> Path:
    """Return ``path`` after writing ``data`` to it atomically.

    Parameters
    ----------
    path
        The target file; replaced only when the new content is complete on disk.
    data
        The content.
    mode
        Permissions of the written file (default owner only, ``0o600``).
    make_parents
        Create missing parent folders.
    """
    with atomic_path(path, mode=mode, make_parents=make_parents) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(
    path: Path,
    text: str,
    *,
    encoding: str = "utf-8",
    mode: int = FILE_MODE,
    make_parents: bool = True,
) -> Path:
    """Return ``path`` after writing ``text`` to it atomically (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode(encoding), mode=mode, make_parents=make_parents)


def replace_folder(staging: Path, target: Path) -> Path:
    """Return ``target`` after renaming the complete folder ``staging`` to it.

    An existing ``target`` is moved aside, replaced, and then removed.
    ``staging`` must be a sibling of ``target`` (same file system).
    """
    old: Path | None = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        old.rmdir()
        target.rename(old)
    try:
        staging.rename(target)
    except BaseException:
        if old is not None:  # put the previous folder back
            old.rename(target)
        raise
    _sync_folder(target.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target


@contextlib.contextmanager
def atomic_folder(
    target: Path,
    *,
    mode: int = FOLDER_MODE,
    before_commit: Callable[[Path], None] | None = None,
) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``target``; on a clean exit it becomes ``target``.

    Parameters
    ----------
    target
        The folder to write (replaced if it exists).
    mode
        Permissions of the folder.
    before_commit
        Called with the filled temporary folder just before the rename; may
        raise to abandon the write.

    On an exception the temporary folder is removed and ``target`` is left
    as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    try:
        yield staging
        if before_commit is not None:
            before_commit(staging)
        staging.chmod(mode)
        replace_folder(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
