"""An example connector plugin, as a third party would write one (loaded by the plugin tests
through a fake ``signoff.connectors`` entry point)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from signoff.models import ActionType
from signoff.server.connectors import (
    ActionFailed,
    Connector,
    ConnectorConfigError,
    ExecutionContext,
)


class ShoutConnector(Connector):
    """``shout.say``: upper-cases a message; ``shout.fail`` fails; ``shout.crash`` crashes."""

    name = "shout"

    def action_types(self, config: Mapping[str, Any]) -> list[ActionType]:
        text = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
        return [
            ActionType(name="say", input_schema=text, description="Shout the text."),
            ActionType(name="fail", input_schema={"type": "object"}),
            ActionType(name="crash", input_schema={"type": "object"}),
        ]

    def validate(self, config: Mapping[str, Any], secrets: Mapping[str, str]) -> None:
        if not isinstance(config.get("volume"), int):
            raise ConnectorConfigError("$.config.volume", "must be an integer")
        if "token" not in secrets:
            raise ConnectorConfigError("$.secrets.token", "is required")
        if config["volume"] < 0:  # a careless plugin, quoting a secret
            raise ConnectorConfigError(
                "$.config.volume", f"token {secrets['token']} cannot whisper below zero"
            )

    async def execute(
        self,
        action_type: str,
        input: Mapping[str, Any],
        *,
        config: Mapping[str, Any],
        secrets: Mapping[str, str],
        context: ExecutionContext,
    ) -> Any:
        if action_type == "fail":
            raise ActionFailed("too_quiet", "nobody heard it", {"volume": config["volume"]})
        if action_type == "crash":
            raise RuntimeError(f"token {secrets['token']} was refused")  # a careless plugin
        return {
            "said": str(input["text"]).upper() + "!" * config["volume"],
            "run": context.run_id,
            "key": context.idempotency_key,
            "tenant": context.tenant_id,
        }


class NotAConnector:
    """Registered by mistake: not a `Connector`."""
