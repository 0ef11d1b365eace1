"""Broker settings: one dataclass, every limit and interval in one place."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

__all__ = ["BrokerConfig"]


@dataclass(frozen=True, kw_only=True)
class BrokerConfig:
    """Everything the broker can be tuned with; the defaults are the documented limits.

    Durations are seconds. Tests shrink the intervals (heartbeats, lifetimes) to keep runs short.
    """

    db_path: str | os.PathLike[str] = "signoff.db"
    host: str = "127.0.0.1"
    port: int = 8700
    #: A comment line is sent on a stream after this much silence.
    heartbeat_interval: float = 15.0
    #: Streams end after this long; clients reconnect, so reconnecting is always exercised.
    approval_stream_lifetime: float = 300.0
    event_stream_lifetime: float = 600.0
    #: The longest a long-poll (``wait=``) is held.
    max_wait: float = 25.0
    #: Expiry of a pending approval when neither the request nor a policy sets one.
    default_expires_in: int = 86_400
    #: How far back an event cursor may point (older ones are answered 410).
    replay_window: float = 7 * 86_400.0
    max_body_size: int = 1024 * 1024
    #: Per API key: sustained requests a second and the burst allowed above it.
    rate_limit_per_second: float = 1000.0
    rate_limit_burst: int = 2000
    #: Per API key: SSE streams and long-polls open at once.
    max_open_streams_per_key: int = 200
    #: Optional secret mixed into key hashes (HMAC), so a stolen database cannot confirm keys.
    key_pepper: str | None = None
    #: How long a verified key record is trusted before it is read again (revocation in
    #: this process is immediate; this bounds it for other processes).
    key_cache_ttl: float = 5.0
    idempotency_ttl: float = 86_400.0
    #: The expiry sweeper wakes at least this often even when nothing is due (a backstop).
    sweep_interval: float = 60.0
    #: Action executions at once (inline and in the background); more wait their turn.
    max_concurrent_actions: int = 16
    #: The longest one execution may take before its run fails with ``timeout`` (connectors
    #: may stop sooner: ``http`` after its own timeout of at most 25 s).
    action_timeout: float = 60.0
    #: How long a shutdown waits for requests in flight once streams have been told to end:
    #: long enough for an action executing inline to finish (so a deploy never runs one
    #: twice); with nothing executing, shutdown is immediate.
    graceful_shutdown_timeout: float = 65.0
    #: Write one INFO line per request on the ``signoff.server`` logger.
    log_requests: bool = True

    def replace(self, **changes: object) -> BrokerConfig:
        """A copy with some settings changed."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
