"""`embedded()`: a broker in this process, on SQLite, and a client for it; zero configuration.

```python
async with signoff.embedded() as client:           # a temporary database
    approval = await client.approvals.create(action="db.delete")

with signoff.Signoff.embedded("dev.db") as client:  # the blocking twin, a database that stays
    ...
```

The broker listens on 127.0.0.1 on a free port (``client.base_url``), so other processes on
this machine (``signoff approve`` in another terminal, say) can use it while the block runs.
The client holds an admin key minted for this session and revoked when it ends; on an
existing database the data is all there. Needs the broker: ``pip install 'signoff[server]'``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import anyio

from .errors import SignoffError

if TYPE_CHECKING:
    from .client import AsyncSignoff
    from .server import BrokerThread
    from .sync import Signoff

__all__ = ["embedded", "embedded_sync"]

KEY_NAME = "embedded session"


@contextlib.asynccontextmanager
async def embedded(
    path: str | os.PathLike[str] | None = None, **client_options: Any
) -> AsyncIterator[AsyncSignoff]:
    """Start a broker in-process (SQLite at ``path``, a temporary file when None) and yield an
    `AsyncSignoff` with an admin key for its default tenant. ``client_options`` go to the client.
    """
    from .client import AsyncSignoff

    broker = _broker(path)
    await anyio.to_thread.run_sync(broker.start)
    try:
        key = await anyio.to_thread.run_sync(_session_key, broker)
        async with AsyncSignoff(key, broker.base_url, **client_options) as client:
            try:
                yield client
            finally:
                with anyio.CancelScope(shield=True):
                    await _revoke(client, key)
    finally:
        await anyio.to_thread.run_sync(broker.stop)


@contextlib.contextmanager
def embedded_sync(
    path: str | os.PathLike[str] | None = None, **client_options: Any
) -> Iterator[Signoff]:
    """The blocking twin of `embedded`, yielding a `Signoff` (also ``Signoff.embedded()``)."""
    from .sync import Signoff

    broker = _broker(path)
    broker.start()
    try:
        key = _session_key(broker)
        with Signoff(key, broker.base_url, **client_options) as client:
            try:
                yield client
            finally:
                client._loop.call(_revoke, client.async_client, key)
    finally:
        broker.stop()


def _broker(path: str | os.PathLike[str] | None) -> BrokerThread:
    try:
        from .server import BrokerConfig, BrokerThread
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise SignoffError(
            "signoff.embedded() runs the broker in this process and needs its extra: "
            "pip install 'signoff[server]'"
        ) from exc
    # Request logs would interleave with the program's own output; the broker still logs
    # warnings and errors.
    return BrokerThread(db_path=path, config=BrokerConfig(log_requests=False))


def _session_key(broker: BrokerThread) -> str:
    """The admin key for this session: the bootstrap key of a new database, else a new one."""
    return broker.bootstrap() or broker.ensure_admin_key(KEY_NAME)


async def _revoke(client: AsyncSignoff, key: str) -> None:
    """Revoke the session's key, so it is worth nothing once the block ends."""
    key_id = "key_" + key.split("_")[2]
    with contextlib.suppress(SignoffError):
        await client.api_keys.revoke(key_id)
