"""The connector interface: what the broker needs from anything that can run an action.

See the package docstring (`signoff.server.connectors`) for how to write and register one.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ...models import ActionType

__all__ = ["Connector", "ConnectorConfigError", "ActionFailed", "ExecutionContext"]


class ConnectorConfigError(Exception):
    """A connection's config or secrets are not acceptable to its connector.

    ``path`` names the offending field of the ``POST /v1/connections`` body, e.g.
    ``$.config.base_url`` or ``$.secrets.bearer_token``; the broker answers 422 with it.
    Never put a secret's value in the message.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class ActionFailed(Exception):
    """An execution failed: the run becomes ``failed`` with ``error`` = {type, message, details}.

    ``type`` is a short machine-readable reason (``http_error``, ``timeout``, ...). Any other
    exception a connector raises fails the run too, as ``connector_error``, with only the
    exception's class name shown.
    """

    def __init__(self, type: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.type = type
        self.message = message
        self.details = details


@dataclass(frozen=True)
class ExecutionContext:
    """Who asked for this execution: the run, its tenant, and the key to deduplicate with.

    ``idempotency_key`` is the run's id: it is the same every time the run is executed (a
    run left ``running`` by a crash is executed again at startup), so a target that
    deduplicates on it sees the action once.
    """

    run_id: str
    tenant_id: str
    idempotency_key: str


class Connector(abc.ABC):
    """Something that can run actions: the broker makes one instance per connector and uses
    it for every connection of that connector (of every tenant), so keep no per-connection
    state on it.
    """

    #: The connector's name, as ``POST /v1/connections`` names it (``echo``, ``http``); it is
    #: also the first half of the action names policies match (``http.refund``). A plugin's
    #: entry point must carry the same name (the entry point's name is the one used).
    name: ClassVar[str]

    @abc.abstractmethod
    def action_types(self, config: Mapping[str, Any]) -> list[ActionType]:
        """The action types a connection with this (validated) config offers, each with the
        JSON Schema (draft 2020-12) its input must satisfy. Called often: keep it cheap."""

    def validate(self, config: Mapping[str, Any], secrets: Mapping[str, str]) -> None:
        """Check a new connection's config and secrets; raise `ConnectorConfigError` naming
        the field. The default accepts anything."""
        return

    @abc.abstractmethod
    async def execute(
        self,
        action_type: str,
        input: Mapping[str, Any],
        *,
        config: Mapping[str, Any],
        secrets: Mapping[str, str],
        context: ExecutionContext,
    ) -> Any:
        """Run one action and return its JSON-serialisable result; raise `ActionFailed` for a
        failure worth explaining. ``input`` has passed the action type's schema already."""

    async def aclose(self) -> None:
        """Release what the connector holds (connection pools); called at broker shutdown."""
        return
