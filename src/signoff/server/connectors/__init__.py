"""Connectors: what a governed action runs. Built in: ``echo`` and ``http``; anything else is a
plugin.

A connection (``POST /v1/connections``) binds a connector to a config and secrets; an agent
then asks for ``POST /v1/actions {connection_id, action_type, input}``, the policies (or a
human) decide, and the broker calls the connector's `Connector.execute` itself. The agent never
sees the secrets.

Writing a plugin
----------------

Subclass `Connector`, and register the class under the ``signoff.connectors`` entry-point
group of your distribution; the entry point's name is the connector's name::

    # mypkg/tickets.py
    from signoff.models import ActionType
    from signoff.server.connectors import (
        ActionFailed, Connector, ConnectorConfigError, ExecutionContext,
    )

    class TicketsConnector(Connector):
        name = "tickets"

        def action_types(self, config):
            return [
                ActionType(
                    name="close",
                    description="Close a support ticket.",
                    input_schema={
                        "type": "object",
                        "properties": {"ticket_id": {"type": "string"}},
                        "required": ["ticket_id"],
                    },
                )
            ]

        def validate(self, config, secrets):
            if "api_token" not in secrets:
                raise ConnectorConfigError("$.secrets.api_token", "is required")

        async def execute(self, action_type, input, *, config, secrets, context):
            ok = await close_ticket(input["ticket_id"], token=secrets["api_token"],
                                    idempotency_key=context.idempotency_key)
            if not ok:
                raise ActionFailed("ticket_not_found", f"no ticket {input['ticket_id']}")
            return {"closed": input["ticket_id"]}

    # pyproject.toml
    [project.entry-points."signoff.connectors"]
    tickets = "mypkg.tickets:TicketsConnector"

Install the distribution next to the broker and restart it: ``POST /v1/connections
{"name": "support", "connector": "tickets", "secrets": {"api_token": "..."}}`` then works, and
policies match the action as ``tickets.close``.

The contract, in short:

- one instance per broker serves every connection of every tenant: keep per-connection
  state in ``config``, never on ``self``; `Connector.aclose` runs at shutdown;
- ``input`` reaching `Connector.execute` has passed the action type's JSON Schema;
- return a JSON-serialisable result, or raise `ActionFailed` (``type``, ``message``,
  ``details``); any other exception fails the run as ``connector_error``;
- a run may be executed more than once (a run a crash left ``running`` is run again at
  startup): pass ``context.idempotency_key`` (the run's id) to the target when it can
  deduplicate;
- never put a secret into a result, message or log line. The broker also replaces any
  secret value it finds in a result or error with ``[redacted]``, as a safety net.
"""

from __future__ import annotations

from .base import ActionFailed, Connector, ConnectorConfigError, ExecutionContext
from .registry import ENTRY_POINT_GROUP, ConnectorRegistry

__all__ = [
    "ActionFailed",
    "Connector",
    "ConnectorConfigError",
    "ExecutionContext",
    "ConnectorRegistry",
    "ENTRY_POINT_GROUP",
]
