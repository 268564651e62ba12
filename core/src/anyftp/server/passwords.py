"""Password hashing for stored credentials: ``scrypt`` and ``pbkdf2_sha256`` via hashlib.

A stored password is either plain text (as in the seeds' ``User(login, password)``) or a
hash written by :func:`hash_password`::

    scrypt$<n>$<r>$<p>$<salt base64>$<hash base64>
    pbkdf2_sha256$<iterations>$<salt base64>$<hash base64>

:func:`verify_password` tells which form it holds by the prefix and always compares in
constant time. Hashing is deliberately slow; the server runs it in a worker thread.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

__all__ = ("hash_password", "verify_password", "is_hashed")

SCRYPT_PREFIX = "scrypt$"
PBKDF2_PREFIX = "pbkdf2_sha256$"

#: scrypt cost parameters: 16 MiB of memory and some tens of milliseconds per check.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
PBKDF2_ITERATIONS = 600_000


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def is_hashed(stored: str) -> bool:
    """Whether *stored* is in one of the hashed forms."""
    return stored.startswith((SCRYPT_PREFIX, PBKDF2_PREFIX))


def hash_password(
    password: str,
    *,
    method: str = "scrypt",
    salt: bytes | None = None,
    iterations: int = PBKDF2_ITERATIONS,
) -> str:
    """A stored form of *password* (``method`` is ``"scrypt"`` or ``"pbkdf2_sha256"``)."""
    salt = os.urandom(16) if salt is None else salt
    secret = password.encode("utf-8")
    if method == "scrypt":
        digest = hashlib.scrypt(
            secret, salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=64 * 1024 * 1024
        )
        return f"{SCRYPT_PREFIX}{SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"
    if method == "pbkdf2_sha256":
        digest = hashlib.pbkdf2_hmac("sha256", secret, salt, iterations)
        return f"{PBKDF2_PREFIX}{iterations}${_b64(salt)}${_b64(digest)}"
    raise ValueError(f"unknown password hash method {method!r}")


def verify_password(stored: str | None, given: str) -> bool:
    """Whether *given* matches *stored* (plain text or a hash from :func:`hash_password`).

    A malformed hash never matches.
    """
    if stored is None:
        return True
    secret = given.encode("utf-8")
    try:
        if stored.startswith(SCRYPT_PREFIX):
            n, r, p, salt, digest = stored[len(SCRYPT_PREFIX) :].split("$")
            expected = _unb64(digest)
            actual = hashlib.scrypt(
                secret,
                salt=_unb64(salt),
                n=int(n),
                r=int(r),
                p=int(p),
                dklen=len(expected),
                maxmem=256 * 1024 * 1024,
            )
            return hmac.compare_digest(actual, expected)
        if stored.startswith(PBKDF2_PREFIX):
            iterations, salt, digest = stored[len(PBKDF2_PREFIX) :].split("$")
            expected = _unb64(digest)
            actual = hashlib.pbkdf2_hmac(
                "sha256", secret, _unb64(salt), int(iterations), len(expected)
            )
            return hmac.compare_digest(actual, expected)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(stored.encode("utf-8"), secret)
