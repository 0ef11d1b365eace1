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
import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import anyio

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
# How long, and for how many ids at most, a key id the store did not know is remembered.
_UNKNOWN_TTL = 5.0
_UNKNOWN_MAX = 10_000

log = logging.getLogger("signoff.server")


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
    """Checks bearer tokens against the store, with short caches of key records (and of ids
    no key has), and records when each key was last used without making a request wait."""

    def __init__(
        self,
        store: Store,
        *,
        pepper: str | None,
        cache_ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._pepper = pepper
        self._cache_ttl = cache_ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, ApiKeyRecord]] = {}
        #: Key ids the store had no key for, oldest first, with when that was read.
        self._unknown: OrderedDict[str, float] = OrderedDict()
        self._touched: dict[str, float] = {}
        #: last_used_at values waiting for `run` to write them, by key id.
        self._touches: dict[str, datetime] = {}
        self._touch_wanted: anyio.Event | None = None

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
        self._touch(record.id, now)
        return AuthContext(
            key_id=record.id, tenant_id=record.tenant_id, scopes=frozenset(record.scopes)
        )

    async def _record(self, key_id: str) -> ApiKeyRecord | None:
        now = self._clock()
        cached = self._cache.get(key_id)
        if cached is not None and now - cached[0] < self._cache_ttl:
            return cached[1]
        missed = self._unknown.get(key_id)
        if missed is not None and now - missed < _UNKNOWN_TTL:
            return None
        record = await self._store.get_api_key(key_id)
        if record is not None:
            self._cache[key_id] = (self._clock(), record)
            self._unknown.pop(key_id, None)
        else:
            # A flood of made-up tokens then costs one read per id and interval, not one per
            # request. Key ids are random, so no real key is created under a remembered one.
            self._unknown[key_id] = self._clock()
            self._unknown.move_to_end(key_id)
            while len(self._unknown) > _UNKNOWN_MAX:
                self._unknown.popitem(last=False)
        return record

    def _touch(self, key_id: str, now: datetime) -> None:
        """Have `run` record the key's use (at most every `_TOUCH_EVERY` seconds per key)."""
        last = self._touched.get(key_id)
        if last is not None and self._clock() - last < _TOUCH_EVERY:
            return
        self._touched[key_id] = self._clock()
        self._touches[key_id] = now
        if self._touch_wanted is not None:
            self._touch_wanted.set()

    async def run(self) -> None:
        """Write the recorded uses to the store in the background, until cancelled: a slow
        or failing write never holds up, or fails, the request that used the key."""
        while True:
            wanted = self._touch_wanted = anyio.Event()
            if not self._touches:
                await wanted.wait()
            touches, self._touches = self._touches, {}
            for key_id, used_at in touches.items():
                try:
                    await self._store.touch_api_key(key_id, used_at)
                except Exception:
                    log.warning(
                        "could not record the last use of API key %s", key_id, exc_info=True
                    )
