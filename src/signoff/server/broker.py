"""`Broker`: the running broker's parts, shared by every request (``app.state.broker``)."""

from __future__ import annotations

from .auth import Authenticator
from .config import BrokerConfig
from .connectors.registry import ConnectorRegistry
from .executor import Executor
from .expiry import ExpirySweeper
from .hub import Hub
from .ratelimit import RateLimiter, StreamSlots
from .store.base import Store

__all__ = ["Broker"]


class Broker:
    """Config, store, wake-up hub, authenticator, limits, the expiry sweeper, the connectors
    and the executor that runs actions through them."""

    def __init__(
        self, config: BrokerConfig, store: Store, connectors: ConnectorRegistry | None = None
    ) -> None:
        self.config = config
        self.store = store
        self.hub = Hub()
        self.auth = Authenticator(store, pepper=config.key_pepper, cache_ttl=config.key_cache_ttl)
        self.rate_limiter = RateLimiter(config.rate_limit_per_second, config.rate_limit_burst)
        self.stream_slots = StreamSlots(config.max_open_streams_per_key)
        self.sweeper = ExpirySweeper(
            store,
            self.hub,
            sweep_interval=config.sweep_interval,
            idempotency_sweep_interval=min(3600.0, config.idempotency_ttl),
        )
        self.connectors = connectors or ConnectorRegistry.with_plugins()
        self.executor = Executor(
            store,
            self.connectors,
            concurrency=config.max_concurrent_actions,
            timeout=config.action_timeout,
        )

    def begin_shutdown(self) -> None:
        """End every stream and long-poll now (called before the server waits for them)."""
        self.hub.close()
