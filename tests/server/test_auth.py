"""`Authenticator`: recording a key's use never holds up or fails a request, and made-up key
ids cost one database read per interval, not one per request."""

from __future__ import annotations

import logging
from datetime import datetime

import anyio
import pytest

from signoff.server.auth import Authenticator, mint_key
from signoff.server.http import ApiError
from signoff.server.ids import utcnow
from signoff.server.store.base import ApiKeyRecord

pytestmark = pytest.mark.anyio


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class KeyStore:
    """The two store methods authentication uses, counting reads; ``touch`` is what a
    last-use write does (by default: record it)."""

    def __init__(self, *records: ApiKeyRecord) -> None:
        self.records = {record.id: record for record in records}
        self.reads: list[str] = []
        self.touched: list[str] = []
        self.touch = self._record_touch

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        self.reads.append(key_id)
        return self.records.get(key_id)

    async def touch_api_key(self, key_id: str, used_at: datetime) -> None:
        await self.touch(key_id)

    async def _record_touch(self, key_id: str) -> None:
        self.touched.append(key_id)


def _key(name: str = "agent") -> tuple[str, ApiKeyRecord]:
    minted = mint_key(name, ("approvals:read",), pepper=None)
    record = minted.record
    stored = ApiKeyRecord(
        id=record.id,
        tenant_id="tnt_1",
        name=record.name,
        scopes=record.scopes,
        secret_hash=record.secret_hash,
        prefix=record.prefix,
        created_at=utcnow(),
    )
    return minted.token, stored


def _bogus(kid: str) -> str:
    return f"Bearer sgn_live_{kid}_{'x' * 43}"


async def test_an_unknown_key_id_is_read_once_per_interval() -> None:
    store, clock = KeyStore(), Clock()
    auth = Authenticator(store, pepper=None, cache_ttl=60, clock=clock)  # type: ignore[arg-type]
    statuses = []
    for _ in range(3):
        with pytest.raises(ApiError) as refused:
            await auth.authenticate(_bogus("unknownkid01"))
        statuses.append(refused.value.status)
    reads_while_remembered = len(store.reads)
    clock.now += 6  # past the 5 s a miss is remembered
    with pytest.raises(ApiError):
        await auth.authenticate(_bogus("unknownkid01"))
    with pytest.raises(ApiError):
        await auth.authenticate(_bogus("unknownkid02"))  # another id is its own read
    assert statuses == [401, 401, 401]
    assert reads_while_remembered == 1
    assert store.reads == ["key_unknownkid01"] * 2 + ["key_unknownkid02"]


async def test_a_hanging_last_use_write_never_holds_up_a_request() -> None:
    token, record = _key()
    store = KeyStore(record)
    never = anyio.Event()

    async def hang(key_id: str) -> None:
        await never.wait()

    store.touch = hang
    auth = Authenticator(store, pepper=None, cache_ttl=60)  # type: ignore[arg-type]
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(auth.run)
            context = await auth.authenticate(f"Bearer {token}")
            tasks.cancel_scope.cancel()
    assert context.key_id == record.id


async def test_a_failing_last_use_write_is_logged_and_the_next_one_still_made(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="signoff.server")
    (first_token, first), (second_token, second) = _key("first"), _key("second")
    store = KeyStore(first, second)
    written = anyio.Event()

    async def fail_then_record(key_id: str) -> None:
        if key_id == first.id:
            raise RuntimeError("disk full")
        store.touched.append(key_id)
        written.set()

    store.touch = fail_then_record
    auth = Authenticator(store, pepper=None, cache_ttl=60)  # type: ignore[arg-type]
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(auth.run)
            await auth.authenticate(f"Bearer {first_token}")  # its write fails: no matter
            await auth.authenticate(f"Bearer {second_token}")
            await written.wait()
            tasks.cancel_scope.cancel()
    assert store.touched == [second.id]
    assert f"could not record the last use of API key {first.id}" in caplog.text
