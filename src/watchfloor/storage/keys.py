"""Encryption keys for reporter contact details and uploads (AES-256-GCM with key ids).

Keys come from ``WATCHFLOOR_REPORT_KEYS`` (``"kid1:BASE64KEY,kid2:BASE64KEY"``,
the first one current) or from the key file ``home/keys/report-keys.json``,
created on first use with owner-only permissions (0600, folder 0700). Rotation
adds a new current key and keeps the old ones for decryption until every
ciphertext has been re-encrypted (``watchfloor keys rotate``).

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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from watchfloor.errors import ConfigurationError

__all__ = ["KEY_FILE_NAME", "KeyRing", "load_keyring"]

log = logging.getLogger(__name__)

KEY_FILE_NAME = "report-keys.json"
_NONCE_BYTES = 12


@dataclass(frozen=True)
class KeyRing:
    """Encryption keys by id; ``current_id`` encrypts, every key decrypts."""

    keys: dict[str, bytes]
    current_id: str
    path: Path | None = None

    def encrypt(self, plaintext: bytes, *, aad: bytes) -> tuple[str, bytes]:
        """Return ``(key_id, nonce || ciphertext)`` of ``plaintext`` under the current key."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = AESGCM(self.keys[self.current_id]).encrypt(nonce, plaintext, aad)
        return self.current_id, nonce + sealed

    def decrypt(self, key_id: str, blob: bytes, *, aad: bytes) -> bytes:
        """Return the plaintext of ``blob`` encrypted under ``key_id``.

        Raises
        ------
        ConfigurationError
            When the key is missing or the ciphertext does not authenticate.
        """
        key = self.keys.get(key_id)
        if key is None:
            msg = f"encryption key {key_id!r} is missing; restore the key file or settings"
            raise ConfigurationError(msg)
        try:
            return AESGCM(key).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], aad)
        except InvalidTag:
            msg = "a stored ciphertext does not match its key; the data or key file is damaged"
            raise ConfigurationError(msg) from None

    def with_new_key(self) -> KeyRing:
        """Return this ring with a fresh random current key (old keys kept)."""
        key_id = "k" + datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(2)
        return KeyRing(
            keys={**self.keys, key_id: AESGCM.generate_key(bit_length=256)},
            current_id=key_id,
            path=self.path,
        )

    def without_keys_except_current(self) -> KeyRing:
        """Return this ring holding only its current key (after re-encryption)."""
        return KeyRing(
            keys={self.current_id: self.keys[self.current_id]},
            current_id=self.current_id,
            path=self.path,
        )

    def save(self) -> None:
        """Write the ring to its key file atomically, readable by the owner only.

        Raises
        ------
        ConfigurationError
            When the ring came from settings (it has no file to write).
        """
        if self.path is None:
            msg = "keys given by WATCHFLOOR_REPORT_KEYS cannot be rotated here; change the setting"
            raise ConfigurationError(msg)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.path.parent, 0o700)
        body = {
            "current": self.current_id,
            "keys": {kid: base64.b64encode(key).decode() for kid, key in self.keys.items()},
        }
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(body, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


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
    return KeyRing(keys=keys, current_id=order[0])


def load_keyring(home: Path, *, setting: str | None = None) -> KeyRing:
    """Return the report key ring from ``setting`` or the key file under ``home``.

    The key file is created (with one new key, mode 0600) when it does not exist.

    Raises
    ------
    ConfigurationError
        When the setting or key file is malformed or readable by others.
    """
    if setting:
        return _from_setting(setting)
    path = home / "keys" / KEY_FILE_NAME
    if not path.exists():
        ring = KeyRing(keys={}, current_id="", path=path).with_new_key()
        ring.save()
        log.info("created a new report encryption key file")
        return ring
    if path.stat().st_mode & 0o077:
        msg = f"{path} can be read by other users; run chmod 600 on it"
        raise ConfigurationError(msg)
    try:
        body = json.loads(path.read_text())
        keys = {kid: base64.b64decode(enc) for kid, enc in body["keys"].items()}
        current = str(body["current"])
    except (ValueError, KeyError, TypeError, AttributeError):
        msg = f"{path} is not a valid key file; restore it from backup"
        raise ConfigurationError(msg) from None
    if current not in keys:
        msg = f"{path} names a current key that it does not hold; restore it from backup"
        raise ConfigurationError(msg)
    return KeyRing(keys=keys, current_id=current, path=path)
