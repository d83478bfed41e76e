"""Encryption keys for reporter contact details and uploads (AES-256-GCM with key ids).

Keys come from ``WATCHFLOOR_REPORT_KEYS`` (``"kid1:BASE64KEY,kid2:BASE64KEY"``,
the first one current) or from the key file ``home/keys/report-keys.json``
(owner-only: 0600, folder 0700).

A key file is created only by ``watchfloor keys init``, or on first start when
the database holds no ciphertext at all: :func:`load_keyring` given the
database refuses to start, naming the key ids, when the database holds
ciphertext under keys the ring lacks (a second host without the shared key
file, a database restored without ``keys/``), instead of making a new key whose
data nobody else can open.

A ring loaded from the key file follows it: every use checks the file's stamp
(one ``stat``) and reloads it when ``watchfloor keys rotate`` replaced it, so a
running server encrypts under the new key at once, without a restart. Rotation
adds a new current key; an old key is removed from the file only when no row of
the database refers to it any more (:func:`key_ids_in_use`, by the key id
stored beside each ciphertext).

Each ciphertext is ``nonce (12 bytes) || AES-GCM(plaintext)``, authenticated with
associated data naming what it is (e.g. ``b"contact:42"``), so a ciphertext
cannot be moved to another row unnoticed.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, func, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from watchfloor.errors import ConfigurationError
from watchfloor.storage.db import Database
from watchfloor.storage.models import Report, ReportAttachment

__all__ = [
    "KEY_FILE_NAME",
    "KeyRing",
    "check_keyring",
    "key_file_path",
    "key_ids_in_use",
    "load_keyring",
    "new_keyring",
]

log = logging.getLogger(__name__)

KEY_FILE_NAME = "report-keys.json"
_NONCE_BYTES = 12

# What identifies one version of the key file: a replaced file has a new inode.
_Stamp = tuple[int, int, int]


@dataclass(frozen=True)
class _State:
    keys: Mapping[str, bytes]
    current_id: str
    stamp: _Stamp | None


def _stamp_of(path: Path) -> _Stamp | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class KeyRing:
    """Encryption keys by id; ``current_id`` encrypts, every key decrypts.

    A ring with a ``path`` follows its key file: when the file has been replaced
    since the ring read it (another process rotated the keys), the next use
    reloads it. A file that cannot be read then keeps the ring as it was (and
    logs a warning), so a damaged file never stops the service mid-flight.
    """

    __slots__ = ("_lock", "_state", "path")

    def __init__(
        self,
        keys: Mapping[str, bytes],
        current_id: str,
        path: Path | None = None,
        *,
        stamp: _Stamp | None = None,
    ) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._state = _State(keys=dict(keys), current_id=current_id, stamp=stamp)

    def _fresh(self) -> _State:
        state = self._state
        if self.path is None or state.stamp is None:
            return state
        stamp = _stamp_of(self.path)
        if stamp is None or stamp == state.stamp:
            return state
        with self._lock:
            if self._state.stamp == stamp:
                return self._state
            try:
                keys, current = _read_key_file(self.path)
            except ConfigurationError as exc:
                log.warning(
                    "key file changed but cannot be read (%s); keeping the loaded keys", exc
                )
                return self._state
            self._state = _State(keys=keys, current_id=current, stamp=stamp)
            log.info("reloaded the report key ring: current key %s, %d key(s)", current, len(keys))
            return self._state

    @property
    def keys(self) -> Mapping[str, bytes]:
        """Return the keys by id (as of the key file's latest version)."""
        return self._fresh().keys

    @property
    def current_id(self) -> str:
        """Return the id of the key that encrypts."""
        return self._fresh().current_id

    def encrypt(self, plaintext: bytes, *, aad: bytes) -> tuple[str, bytes]:
        """Return ``(key_id, nonce || ciphertext)`` of ``plaintext`` under the current key."""
        state = self._fresh()
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = AESGCM(state.keys[state.current_id]).encrypt(nonce, plaintext, aad)
        return state.current_id, nonce + sealed

    def decrypt(self, key_id: str, blob: bytes, *, aad: bytes) -> bytes:
        """Return the plaintext of ``blob`` encrypted under ``key_id``.

        Raises
        ------
        ConfigurationError
            When the key is missing or the ciphertext does not authenticate.
        """
        key = self._fresh().keys.get(key_id)
        if key is None:
            msg = (
                f"encryption key {key_id!r} is missing; restore the key file "
                "(home/keys/report-keys.json) or WATCHFLOOR_REPORT_KEYS from backup"
            )
            raise ConfigurationError(msg)
        try:
            return AESGCM(key).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], aad)
        except InvalidTag:
            msg = "a stored ciphertext does not match its key; the data or key file is damaged"
            raise ConfigurationError(msg) from None

    def with_new_key(self) -> KeyRing:
        """Return this ring with a fresh random current key (old keys kept), not saved."""
        state = self._fresh()
        key_id = "k" + datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(2)
        return KeyRing(
            {**state.keys, key_id: AESGCM.generate_key(bit_length=256)},
            key_id,
            self.path,
            stamp=state.stamp,
        )

    def keeping(self, key_ids: set[str]) -> KeyRing:
        """Return this ring holding only its current key and ``key_ids``, not saved."""
        state = self._fresh()
        kept = {kid: key for kid, key in state.keys.items() if kid in key_ids}
        kept[state.current_id] = state.keys[state.current_id]
        return KeyRing(kept, state.current_id, self.path, stamp=state.stamp)

    def without_keys_except_current(self) -> KeyRing:
        """Return this ring holding only its current key, not saved."""
        return self.keeping(set())

    def save(self, *, exclusive: bool = False) -> None:
        """Write the ring to its key file atomically, readable by the owner only.

        With ``exclusive`` an existing key file is never replaced.

        Raises
        ------
        ConfigurationError
            When the ring came from settings (it has no file to write), or with
            ``exclusive`` when the key file exists.
        """
        if self.path is None:
            msg = "keys given by WATCHFLOOR_REPORT_KEYS cannot be rotated here; change the setting"
            raise ConfigurationError(msg)
        with self._lock:
            state = self._state
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(self.path.parent, 0o700)
            body = {
                "current": state.current_id,
                "keys": {kid: base64.b64encode(key).decode() for kid, key in state.keys.items()},
            }
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(body, fh)
                fh.flush()
                os.fsync(fh.fileno())
            if exclusive:
                try:
                    os.link(tmp, self.path)
                except FileExistsError:
                    msg = f"{self.path} already exists; keep it (use 'watchfloor keys rotate')"
                    raise ConfigurationError(msg) from None
                finally:
                    tmp.unlink()
            else:
                os.replace(tmp, self.path)
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            self._state = _State(state.keys, state.current_id, _stamp_of(self.path))


def _from_setting(value: str) -> KeyRing:
    keys: dict[str, bytes] = {}
    order: list[str] = []
    for part in value.split(","):
        kid, _, encoded = part.strip().partition(":")
        try:
            key = base64.b64decode(encoded, validate=True)
        except ValueError:
            key = b""
        if not kid or len(key) != 32:
            msg = (
                "WATCHFLOOR_REPORT_KEYS must be 'kid:BASE64' pairs of 32-byte keys, comma-separated"
            )
            raise ConfigurationError(msg)
        keys[kid] = key
        order.append(kid)
    return KeyRing(keys, order[0])


def _read_key_file(path: Path) -> tuple[dict[str, bytes], str]:
    if path.stat().st_mode & 0o077:
        msg = f"{path} can be read by other users; run chmod 600 on it"
        raise ConfigurationError(msg)
    try:
        body = json.loads(path.read_text())
        keys = {str(kid): base64.b64decode(enc) for kid, enc in body["keys"].items()}
        current = str(body["current"])
    except (ValueError, KeyError, TypeError, AttributeError):
        msg = f"{path} is not a valid key file; restore it from backup"
        raise ConfigurationError(msg) from None
    if current not in keys or any(len(key) != 32 for key in keys.values()):
        msg = f"{path} names a current key that it does not hold; restore it from backup"
        raise ConfigurationError(msg)
    return keys, current


def key_file_path(home: Path) -> Path:
    """Return where the key file of the data home ``home`` lives."""
    return home / "keys" / KEY_FILE_NAME


def key_ids_in_use(conn: Connection) -> dict[str, int]:
    """Return how many stored ciphertexts each key id encrypts (contacts and photos).

    An unmigrated database (no report tables yet) holds none: ``{}``.
    """
    names = set(inspect(conn).get_table_names())
    counts: dict[str, int] = {}
    if Report.__tablename__ in names:
        rows = conn.execute(
            select(Report.contact_key_id, func.count())
            .where(Report.contact_ciphertext.is_not(None))
            .group_by(Report.contact_key_id)
        )
        for kid, n in rows:
            counts[kid] = counts.get(kid, 0) + int(n)
    if ReportAttachment.__tablename__ in names:
        rows = conn.execute(
            select(ReportAttachment.key_id, func.count()).group_by(ReportAttachment.key_id)
        )
        for kid, n in rows:
            counts[kid] = counts.get(kid, 0) + int(n)
    return counts


def _ids_in_database(database: Database) -> dict[str, int]:
    try:
        with database.engine.connect() as conn:
            return key_ids_in_use(conn)
    except SQLAlchemyError as exc:
        msg = (
            f"cannot read the database to check the encryption keys ({type(exc).__name__}); "
            "check WATCHFLOOR_DATABASE_URL and that the database server is running"
        )
        raise ConfigurationError(msg) from None


def check_keyring(ring: KeyRing, in_use: Mapping[str, int], *, source: str) -> None:
    """Refuse a ring that lacks a key the database's ciphertexts were encrypted under.

    Raises
    ------
    ConfigurationError
        Naming the missing key ids, how many items each encrypts, and what to do.
    """
    missing = sorted(kid for kid in in_use if kid not in ring.keys)
    if missing:
        listed = ", ".join(f"{kid} ({in_use[kid]} item(s))" for kid in missing)
        msg = (
            f"the database holds contact details or photos encrypted under key id(s) {listed} "
            f"that {source} does not hold. Restore the key file keys/{KEY_FILE_NAME} (or "
            "WATCHFLOOR_REPORT_KEYS) that goes with this database from backup; on several "
            "hosts, give every host the same key file. Starting without them would store "
            "data that the other keys' holders cannot open."
        )
        raise ConfigurationError(msg)


def new_keyring(home: Path) -> KeyRing:
    """Return a ring with one new random key, saved as the key file of ``home`` (mode 0600).

    Raises
    ------
    ConfigurationError
        When the key file already exists (keys are never replaced silently).
    """
    ring = KeyRing({}, "", key_file_path(home)).with_new_key()
    ring.save(exclusive=True)
    log.info("created a new report encryption key file")
    return ring


def load_keyring(
    home: Path, *, setting: str | None = None, database: Database | None = None
) -> KeyRing:
    """Return the report key ring from ``setting`` or the key file under ``home``.

    Given the ``database``, the ring is checked against it: every key id that
    encrypts a stored contact or photo must be in the ring, and a missing key
    file is created only when the database holds no ciphertext at all. Without
    it (a fresh data home: tests, the demo) a missing key file is created.

    Raises
    ------
    ConfigurationError
        When the setting or key file is malformed or readable by others, or the
        database holds ciphertext under key ids the ring lacks.
    """
    in_use = _ids_in_database(database) if database is not None else {}
    if setting:
        ring = _from_setting(setting)
        check_keyring(ring, in_use, source="WATCHFLOOR_REPORT_KEYS")
        return ring
    path = key_file_path(home)
    if not path.exists():
        if in_use:
            check_keyring(KeyRing({}, ""), in_use, source=f"the absent key file {path}")
        try:
            return new_keyring(home)
        except ConfigurationError:
            if not path.exists():
                raise
            # Another process of this service created it a moment ago: use theirs.
    stamp = _stamp_of(path)
    keys, current = _read_key_file(path)
    ring = KeyRing(keys, current, path, stamp=stamp)
    check_keyring(ring, in_use, source=f"the key file {path}")
    return ring
