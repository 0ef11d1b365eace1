"""API keys: the token format, hashing, and authenticating a request's bearer token.

A token is ``sgn_live_<kid>_<secret>``: ``kid`` (12 base62 characters) names the key and is
public (the key's id is ``key_<kid>``); ``secret`` is 256 random bits in base62. Only a hash of
the secret is stored: SHA-256, or HMAC-SHA256 keyed with the configured pepper so that a copy
of the database alone cannot confirm a key. A fast hash is right for a 256-bit secret; a slow
KDF would only add latency to every request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from .http import ApiError
from .ids import base62, utcnow
from .store.base import ApiKeyRecord, NewApiKey, Store

__all__ = [
    "AuthContext",
    "Authenticator",
    "MintedKey",
    "mint_key",
    "hash_secret",
    "has_scope",
    "TOKEN_PREFIX",
]

TOKEN_PREFIX = "sgn_live_"
_TOKEN = re.compile(r"^sgn_live_([0-9A-Za-z]{12})_([0-9A-Za-z]{43})$")
# last_used_at is written at most this often per key (each write takes the single writer).
_TOUCH_EVERY = 60.0


@dataclass(frozen=True)
class AuthContext:
    """Who is calling: the key, its tenant and its scopes."""

    key_id: str
    tenant_id: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        """True when the key holds ``scope`` (``admin`` holds every scope)."""
        return has_scope(self.scopes, scope)


def has_scope(scopes: frozenset[str] | set[str], scope: str) -> bool:
    """True when ``scopes`` grant ``scope``."""
    return "admin" in scopes or scope in scopes


@dataclass(frozen=True)
class MintedKey:
    """A new key: the token (shown once) and what is stored."""

    token: str
    record: NewApiKey


def hash_secret(secret: str, pepper: str | None) -> str:
    """The stored hash of a key's secret (hex)."""
    if pepper:
        return hmac.new(pepper.encode(), secret.encode(), hashlib.sha256).hexdigest()
    return hashlib.sha256(secret.encode()).hexdigest()


def mint_key(
    name: str, scopes: tuple[str, ...], *, pepper: str | None, expires_at: datetime | None = None
) -> MintedKey:
    """Generate a key: a fresh id and a 256-bit secret, of which only the hash is kept."""
    kid = base62(secrets.token_bytes(9), 12)
    secret = base62(secrets.token_bytes(32), 43)
    return MintedKey(
        token=f"{TOKEN_PREFIX}{kid}_{secret}",
        record=NewApiKey(
            id=f"key_{kid}",
            name=name,
            scopes=scopes,
            secret_hash=hash_secret(secret, pepper),
            prefix=f"{TOKEN_PREFIX}{kid}",
            expires_at=expires_at,
        ),
    )


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


class Authenticator:
    """Checks bearer tokens against the store, with a short cache of key records."""

    def __init__(self, store: Store, *, pepper: str | None, cache_ttl: float) -> None:
        self._store = store
        self._pepper = pepper
        self._cache_ttl = cache_ttl
        self._cache: dict[str, tuple[float, ApiKeyRecord]] = {}
        self._touched: dict[str, float] = {}

    def forget(self, key_id: str) -> None:
        """Drop a key from the cache (after revoking it, so it stops working at once)."""
        self._cache.pop(key_id, None)

    async def authenticate(self, authorization: str | None) -> AuthContext:
        """The caller of a request with this ``Authorization`` header; 401 if there is none."""
        if not authorization:
            raise _unauthorized("no API key: send 'Authorization: Bearer sgn_live_...'")
        scheme, _, token = authorization.partition(" ")
        match = _TOKEN.match(token.strip()) if scheme.lower() == "bearer" else None
        if match is None:
            raise _unauthorized("malformed API key: expected 'Bearer sgn_live_<id>_<secret>'")
        kid, secret = match.groups()
        record = await self._record(f"key_{kid}")
        if record is None or not hmac.compare_digest(
            record.secret_hash, hash_secret(secret, self._pepper)
        ):
            raise _unauthorized("unknown API key")
        now = utcnow()
        if record.revoked_at is not None:
            raise _unauthorized(f"API key {record.id} was revoked")
        if record.expires_at is not None and record.expires_at <= now:
            raise _unauthorized(f"API key {record.id} expired at {record.expires_at.isoformat()}")
        await self._touch(record.id, now)
        return AuthContext(
            key_id=record.id, tenant_id=record.tenant_id, scopes=frozenset(record.scopes)
        )

    async def _record(self, key_id: str) -> ApiKeyRecord | None:
        cached = self._cache.get(key_id)
        if cached is not None and time.monotonic() - cached[0] < self._cache_ttl:
            return cached[1]
        record = await self._store.get_api_key(key_id)
        if record is not None:
            self._cache[key_id] = (time.monotonic(), record)
        return record

    async def _touch(self, key_id: str, now: datetime) -> None:
        last = self._touched.get(key_id)
        if last is not None and time.monotonic() - last < _TOUCH_EVERY:
            return
        self._touched[key_id] = time.monotonic()
        await self._store.touch_api_key(key_id, now)
