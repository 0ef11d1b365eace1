"""Fixtures shared by the whole suite."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from signoff import AsyncSignoff
    from signoff.server import BrokerConfig, BrokerThread


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """SDK tests run on both anyio backends."""
    return str(request.param)


def fast_broker_config(**changes: object) -> BrokerConfig:
    """Broker settings with short intervals, so stream tests take milliseconds."""
    from signoff.server import BrokerConfig

    settings: dict[str, object] = {
        "heartbeat_interval": 0.2,
        "approval_stream_lifetime": 30.0,
        "event_stream_lifetime": 30.0,
        "graceful_shutdown_timeout": 2.0,
    }
    settings.update(changes)
    return BrokerConfig().replace(**settings)


@pytest.fixture(scope="session")
def broker() -> Iterator[BrokerThread]:
    """One broker for the session: a real uvicorn on 127.0.0.1 over a temporary database."""
    from signoff.server import BrokerThread

    with BrokerThread(config=fast_broker_config()) as running:
        yield running


@dataclass(frozen=True)
class TenantInfo:
    """A tenant on a running broker: its id, an admin key and where the broker listens."""

    id: str
    admin_key: str
    base_url: str

    @property
    def headers(self) -> dict[str, str]:
        """Authorization headers with the admin key."""
        return {"Authorization": f"Bearer {self.admin_key}"}


def new_tenant(broker: BrokerThread) -> TenantInfo:
    """A fresh tenant (unique name) on ``broker``."""
    tenant_id, key = broker.create_tenant(f"test-{uuid.uuid4().hex[:12]}")
    return TenantInfo(id=tenant_id, admin_key=key, base_url=broker.base_url)


@pytest.fixture
def tenant(broker: BrokerThread) -> TenantInfo:
    """A fresh tenant on the session broker, so no test sees another's data."""
    return new_tenant(broker)


@pytest.fixture
def other_tenant(broker: BrokerThread) -> TenantInfo:
    """A second fresh tenant, for isolation tests."""
    return new_tenant(broker)


@pytest.fixture
def start_broker(tmp_path: object) -> Iterator[Callable[..., BrokerThread]]:
    """Start dedicated brokers (own settings, database or port); all are stopped afterwards.

    ``start_broker(db_path=None, port=0, **settings)`` returns a started `BrokerThread`.
    """
    from signoff.server import BrokerThread

    started: list[BrokerThread] = []

    def start(*, db_path: object = None, port: int = 0, **settings: object) -> BrokerThread:
        running = BrokerThread(
            db_path=db_path,  # type: ignore[arg-type]
            port=port,
            config=fast_broker_config(**settings),
        )
        running.start()
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture
async def client(tenant: TenantInfo) -> AsyncIterator[AsyncSignoff]:
    """An `AsyncSignoff` holding the tenant's admin key, closed afterwards."""
    from signoff import AsyncSignoff

    async with AsyncSignoff(tenant.admin_key, tenant.base_url) as opened:
        yield opened
