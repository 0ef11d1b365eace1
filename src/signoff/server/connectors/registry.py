"""The connectors a broker knows: the built-in ``echo`` and ``http``, plus every plugin
registered under the ``signoff.connectors`` entry-point group.

Plugins are found once, when the broker starts. A plugin that fails to load, or that takes a
built-in's name, is logged and skipped: a broken plugin must not stop the broker.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections import OrderedDict
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from ...models import ActionType
from ..redaction import redact
from ..schemas import schema_error
from ..store.base import ConnectionRecord
from .base import Connector, ConnectorConfigError
from .echo import EchoConnector
from .http import HttpConnector

__all__ = ["ENTRY_POINT_GROUP", "ConnectorRegistry", "discover"]

log = logging.getLogger("signoff.server")

ENTRY_POINT_GROUP = "signoff.connectors"
# A connector name starts the action names policies match (``<connector>.<action_type>``).
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,49}$")
_CACHED_CONNECTIONS = 1024


def discover() -> dict[str, type[Connector]]:
    """The connector classes installed plugins register, by entry-point name."""
    found: dict[str, type[Connector]] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry.load()
        except Exception:
            log.exception(
                "connector plugin %r (%s) failed to load; skipped", entry.name, entry.value
            )
            continue
        if not (isinstance(loaded, type) and issubclass(loaded, Connector)):
            log.error(
                "connector plugin %r (%s) is not a signoff.server.connectors.Connector; skipped",
                entry.name,
                entry.value,
            )
            continue
        found[entry.name] = loaded
    return found


class ConnectorRegistry:
    """One instance of each known connector, by name."""

    def __init__(self, connectors: Mapping[str, Connector] | None = None) -> None:
        self._connectors: dict[str, Connector] = dict(connectors or {})
        # connection id -> its action types by name. A connection's config never changes, so
        # its types are computed once (bounded: the oldest entry goes first).
        self._types: OrderedDict[str, dict[str, ActionType]] = OrderedDict()

    @classmethod
    def with_plugins(cls) -> ConnectorRegistry:
        """The built-ins plus every plugin that loads."""
        connectors: dict[str, Connector] = {"echo": EchoConnector(), "http": HttpConnector()}
        for name, connector_class in discover().items():
            if name in connectors or not _NAME.match(name):
                log.error("connector plugin name %r is taken or invalid; skipped", name)
                continue
            declared = getattr(connector_class, "name", name)
            if declared != name:
                log.warning(
                    "connector plugin %r declares the name %r; it is known as %r",
                    name,
                    declared,
                    name,
                )
            try:
                connectors[name] = connector_class()
            except Exception:
                log.exception("connector plugin %r failed to start; skipped", name)
        return cls(connectors)

    @property
    def names(self) -> list[str]:
        """Every connector's name, sorted."""
        return sorted(self._connectors)

    def get(self, name: str) -> Connector | None:
        """The connector of that name, if the broker has it."""
        return self._connectors.get(name)

    def validate(self, name: str, config: Mapping[str, Any], secrets: Mapping[str, str]) -> None:
        """Check a new connection: the connector exists, accepts the config and secrets, and
        offers action types whose schemas are valid. `ConnectorConfigError` names the field
        (secret values scrubbed from it, whatever the connector wrote)."""
        connector = self._connectors.get(name)
        if connector is None:
            raise ConnectorConfigError(
                "$.connector",
                f"unknown connector {name!r}; this broker has {', '.join(self.names)}",
            )
        try:
            connector.validate(config, secrets)
            types = connector.action_types(config)
        except ConnectorConfigError as exc:
            # The message goes back to the caller; a plugin that quotes a secret in it must
            # not leak it.
            raise ConnectorConfigError(
                redact(exc.path, secrets), redact(exc.message, secrets)
            ) from None
        except Exception as exc:
            # A plugin that trips over a config (a KeyError, say) is refusing it; its
            # traceback may quote a secret, so it is scrubbed before it is logged.
            text = redact(traceback.format_exc(), secrets)
            log.error("connector %r failed to check a config:\n%s", name, text)
            raise ConnectorConfigError(
                "$.config",
                f"the {name} connector could not read this config ({type(exc).__name__})",
            ) from None
        for action_type in types:
            problem = schema_error(action_type.input_schema)
            if problem is not None:
                raise ConnectorConfigError(
                    "$.config",
                    f"action type {action_type.name!r} has an invalid input_schema: {problem}",
                )

    def action_types(self, connection: ConnectionRecord) -> dict[str, ActionType] | None:
        """A connection's action types by name (None when its connector is not installed)."""
        found = self._types.get(connection.id)
        if found is not None:
            self._types.move_to_end(connection.id)
            return found
        connector = self._connectors.get(connection.connector)
        if connector is None:
            return None
        found = {t.name: t for t in connector.action_types(connection.config)}
        self._types[connection.id] = found
        if len(self._types) > _CACHED_CONNECTIONS:
            self._types.popitem(last=False)
        return found

    async def aclose(self) -> None:
        """Close every connector; a failure is logged, never raised."""
        for name, connector in self._connectors.items():
            try:
                await connector.aclose()
            except Exception:
                log.exception("connector %r failed to close", name)
