"""The ``echo`` connector: one action type, ``echo``, whose result is its input (demos, tests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...models import ActionType
from .base import Connector, ExecutionContext

__all__ = ["EchoConnector"]

_ECHO = ActionType(
    name="echo",
    input_schema={"type": "object"},
    description="Returns its input unchanged.",
)


class EchoConnector(Connector):
    """Runs nothing: the result is the input. No config, no secrets."""

    name = "echo"

    def action_types(self, config: Mapping[str, Any]) -> list[ActionType]:
        """The one action type, ``echo``."""
        return [_ECHO]

    async def execute(
        self,
        action_type: str,
        input: Mapping[str, Any],
        *,
        config: Mapping[str, Any],
        secrets: Mapping[str, str],
        context: ExecutionContext,
    ) -> Any:
        """The input, as the result."""
        return dict(input)
