"""The institution's de-identification key: created on first use, stored sealed.

One 32-byte random key per institution (`DeidentificationKey`). UID replacements
(`HmacUidMap`), per-patient date offsets and pseudonyms derive from it, so a re-sent or
re-exported study maps to the same identifiers, and another institution's key gives unrelated
ones. The key is never logged, shown or exported.

Sealed = stored so that a database dump alone does not reveal it. The `cryptography` package is
not a dependency, so the seal is built from the standard library (hmac, hashlib), as
encrypt-then-MAC with HMAC-SHA256 as the pseudo-random function:

    key-encryption key  KEK = HMAC-SHA256(DEID_KEY_ENCRYPTION_KEY or SECRET_KEY, label)
    enc_key, mac_key, kek_id = HMAC(KEK, "enc"), HMAC(KEK, "mac"), HMAC(KEK, "id")[:8]
    keystream           = HMAC(enc_key, nonce || counter) for counter = 0, 1, ...
    ciphertext          = key XOR keystream
    tag                 = HMAC(mac_key, version || kek_id || institution id || nonce || ciphertext)
    sealed              = "deid-v1." + hex(kek_id) + "." + base64url(nonce || ciphertext || tag)

The 16-byte nonce is random per seal. The institution id is authenticated too, so a sealed key
copied onto another institution's row is refused. Unsealing checks the version, then which KEK
sealed it (a changed setting gives its own message), then the tag in constant time; any failure
raises DeidKeyError and nothing is exported.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import IntegrityError, transaction

from imaging.models import DeidentificationKey
from oncology.models import Institution

KEY_BYTES = 32
NONCE_BYTES = 16
TAG_BYTES = 32
KEK_ID_BYTES = 8
VERSION = "deid-v1"
_KEK_LABEL = b"oncoboard de-identification key-encryption key v1"
# DEID_KEY_ENCRYPTION_KEY is a secret like DJANGO_SECRET_KEY: long and random.
MIN_KEK_SETTING_CHARS = 32


class DeidKeyError(Exception):
    """The institution's key cannot be used. The message is safe to show and store: it names
    the cause and the remedy, never key material."""


def _kek_material() -> bytes:
    explicit = str(getattr(settings, "DEID_KEY_ENCRYPTION_KEY", "") or "")
    if explicit:
        if len(explicit) < MIN_KEK_SETTING_CHARS:
            raise DeidKeyError(
                f"DEID_KEY_ENCRYPTION_KEY is too short: use at least {MIN_KEK_SETTING_CHARS} "
                "random characters."
            )
        return explicit.encode()
    return str(settings.SECRET_KEY).encode()


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _subkeys() -> tuple[bytes, bytes, bytes]:
    kek = _hmac(_kek_material(), _KEK_LABEL)
    return _hmac(kek, b"enc"), _hmac(kek, b"mac"), _hmac(kek, b"id")[:KEK_ID_BYTES]


def _keystream(enc_key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (length + 31) // 32
    return b"".join(_hmac(enc_key, nonce + i.to_bytes(4, "big")) for i in range(blocks))[:length]


def _xor(data: bytes, stream: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, stream, strict=True))


def _tag(mac_key: bytes, kek_id: bytes, institution_id: int, nonce: bytes, ct: bytes) -> bytes:
    header = VERSION.encode() + kek_id + int(institution_id).to_bytes(8, "big")
    return _hmac(mac_key, header + nonce + ct)


def seal_key(key: bytes, *, institution_id: int) -> str:
    """The text stored in DeidentificationKey.sealed_key for `key`."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"a de-identification key has {KEY_BYTES} bytes")
    enc_key, mac_key, kek_id = _subkeys()
    nonce = secrets.token_bytes(NONCE_BYTES)
    ciphertext = _xor(key, _keystream(enc_key, nonce, len(key)))
    tag = _tag(mac_key, kek_id, institution_id, nonce, ciphertext)
    body = base64.urlsafe_b64encode(nonce + ciphertext + tag).decode("ascii")
    return f"{VERSION}.{kek_id.hex()}.{body}"


_TAMPERED = (
    "The institution's de-identification key failed its integrity check (the stored value was "
    "changed or copied from another institution); nothing was exported. An administrator must "
    "restore it from a backup: a new key would map UIDs, dates and pseudonyms differently."
)


def unseal_key(sealed: str, *, institution_id: int) -> bytes:
    """The key sealed in `sealed` for this institution, or DeidKeyError."""
    parts = str(sealed).split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise DeidKeyError(
            "The institution's de-identification key is stored in an unknown format; "
            "nothing was exported."
        )
    enc_key, mac_key, kek_id = _subkeys()
    try:
        stored_kek_id = bytes.fromhex(parts[1])
        raw = base64.urlsafe_b64decode(parts[2].encode("ascii"))
    except (ValueError, binascii.Error, UnicodeEncodeError) as exc:
        raise DeidKeyError(_TAMPERED) from exc
    if len(raw) != NONCE_BYTES + KEY_BYTES + TAG_BYTES:
        raise DeidKeyError(_TAMPERED)
    if not hmac.compare_digest(stored_kek_id, kek_id):
        raise DeidKeyError(
            "The institution's de-identification key was sealed under a different "
            "key-encryption key: DEID_KEY_ENCRYPTION_KEY (or, when it is unset, "
            "DJANGO_SECRET_KEY) changed. Restore the previous value; nothing was exported."
        )
    nonce, ciphertext, tag = (
        raw[:NONCE_BYTES],
        raw[NONCE_BYTES : NONCE_BYTES + KEY_BYTES],
        raw[NONCE_BYTES + KEY_BYTES :],
    )
    if not hmac.compare_digest(tag, _tag(mac_key, kek_id, institution_id, nonce, ciphertext)):
        raise DeidKeyError(_TAMPERED)
    return _xor(ciphertext, _keystream(enc_key, nonce, len(ciphertext)))


def _key_row_create(institution: Institution) -> DeidentificationKey:
    sealed = seal_key(secrets.token_bytes(KEY_BYTES), institution_id=institution.pk)
    try:
        # A savepoint: losing the race must not break the caller's transaction.
        with transaction.atomic():
            return DeidentificationKey.objects.create(institution=institution, sealed_key=sealed)
    except IntegrityError:
        # Another request created the institution's key first (the one-to-one column is
        # unique; PostgreSQL made this insert wait for that transaction to commit). Its key
        # wins; ours was never stored.
        return DeidentificationKey.objects.get(institution=institution)


def institution_deid_key(*, institution: Institution) -> bytes:
    """The institution's de-identification key, created on first use (race-safe).

    DeidKeyError when the stored key cannot be opened (tampered, another institution's, or a
    changed key-encryption setting)."""
    row = DeidentificationKey.objects.filter(institution=institution).first()
    if row is None:
        row = _key_row_create(institution)
    return unseal_key(row.sealed_key, institution_id=institution.pk)
