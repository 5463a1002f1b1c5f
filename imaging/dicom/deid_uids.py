"""Replacement identifiers for de-identification that stay stable across instances and
re-sends: UID maps (PS3.15 E.1.1 note 3), the per-patient date offset and the pseudonym.

Pure library (no Django). The Django app persists either an `InMemoryUidMap`'s dictionary or,
simpler, one secret key per institution for `HmacUidMap` and the two derive_* functions.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Protocol

from pydicom.uid import generate_uid


class UidMap(Protocol):
    """Maps an original UID to its replacement; the same input always gives the same output
    within the map's scope (PS3.15 E.1.1 note 3: replaced UIDs stay consistent)."""

    def get_or_create(self, original_uid: str) -> str: ...


def normalise_uid(uid: str) -> str:
    # UI values are padded with NUL to an even length; the padding is not part of the UID.
    return str(uid).strip().rstrip("\x00").strip()


class InMemoryUidMap:
    """Random replacements ("2.25." + a random UUID integer), remembered in a dict.

    Consistent within one map object; persist `as_dict()` (for example per institution) to keep
    a re-send consistent, and pass it back as `initial`."""

    def __init__(self, initial: dict[str, str] | None = None) -> None:
        self._map: dict[str, str] = dict(initial or {})

    def get_or_create(self, original_uid: str) -> str:
        key = normalise_uid(original_uid)
        new = self._map.get(key)
        if new is None:
            new = str(generate_uid(prefix=None))
            self._map[key] = new
        return new

    def as_dict(self) -> dict[str, str]:
        return dict(self._map)


class HmacUidMap:
    """Deterministic replacements without storage: "2.25." followed by the first 128 bits of
    HMAC-SHA256(key, original UID) as a decimal integer.

    PS3.5 B.2 allows a UID under the 2.25 root built from a 128-bit integer; at most 39 digits
    keep it within the 64-character limit. The same key maps a re-send identically; without the
    key the original UID cannot be recovered or confirmed by a dictionary attack."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the UID map key needs at least 16 bytes")
        self._key = bytes(key)

    def get_or_create(self, original_uid: str) -> str:
        message = b"uid\x00" + normalise_uid(original_uid).encode("ascii", "replace")
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return "2.25." + str(int.from_bytes(digest[:16], "big"))


def derive_date_offset_days(key: bytes, patient_key: str, *, max_days: int = 3650) -> int:
    """A stable per-patient date shift in days, in [-max_days, -1]: dates only move into the
    past, so a shifted date is never in the future. `patient_key` is the institution's own
    patient identifier (never stored in the output)."""
    if max_days < 1:
        raise ValueError("max_days must be positive")
    digest = hmac.new(key, b"date-offset\x00" + patient_key.encode(), hashlib.sha256).digest()
    return -(int.from_bytes(digest[:8], "big") % max_days + 1)


def derive_pseudonym(key: bytes, patient_key: str, *, prefix: str = "ANON-") -> str:
    """A stable pseudonym for Patient ID and Patient's Name: prefix + 16 hex digits of an HMAC."""
    digest = hmac.new(key, b"pseudonym\x00" + patient_key.encode(), hashlib.sha256).hexdigest()
    return prefix + digest[:16].upper()
