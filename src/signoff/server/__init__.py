"""The signoff broker: the self-hostable HTTP API the SDK speaks (`signoff[server]` extra).

```python
from signoff.server import BrokerThread

with BrokerThread() as broker:                 # a temporary database on 127.0.0.1
    tenant_id, admin_key = broker.create_tenant("acme")
    ...                                        # talk HTTP to broker.base_url
```

Names load on first use, so importing this package does not import Starlette or uvicorn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["BrokerConfig", "BrokerThread", "create_app", "serve"]

_LAZY = {
    "BrokerConfig": "signoff.server.config",
    "BrokerThread": "signoff.server.runner",
    "create_app": "signoff.server.app",
    "serve": "signoff.server.runner",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'signoff.server' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from .app import create_app as create_app
    from .config import BrokerConfig as BrokerConfig
    from .runner import BrokerThread as BrokerThread, serve as serve
