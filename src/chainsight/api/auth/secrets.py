"""Passwords (argon2) and tokens (random, kept only as a sha256 digest)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TOKEN_PREFIX = "cs_"


def password_hasher(*, time_cost: int = 3, memory_kib: int = 65536,
                    parallelism: int = 4) -> PasswordHasher:
    """An argon2id hasher with these costs (the defaults are argon2-cffi's own)."""
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def hash_password(hasher: PasswordHasher, password: str) -> str:
    """The argon2id hash of a password (salted; encodes its own parameters)."""
    return hasher.hash(password)


def verify_password(hasher: PasswordHasher, stored: str, password: str) -> bool:
    """Whether ``password`` matches the stored hash; False for a damaged hash too."""
    try:
        return hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    """A new secret token: 256 random bits, URL-safe, with a recognisable prefix."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What is stored of a token: its sha256. Tokens are random, so no salt or slow hash
    is needed, and the digest can be looked up directly."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two strings."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
