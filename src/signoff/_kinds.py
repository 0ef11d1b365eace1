"""What can be waited on: approvals and action runs, each a versioned snapshot that ends in
a terminal state, with the event types and the route that carry it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from ._wire import decoder_for
from .models import ActionRun, Approval

__all__ = ["ACTION_RUNS", "APPROVALS", "EVENT_TYPES", "KINDS", "Kind", "S", "Snapshot"]


class Snapshot(Protocol):
    """What can be waited on: a versioned state that eventually becomes terminal."""

    @property
    def id(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def is_terminal(self) -> bool: ...


S = TypeVar("S", bound=Snapshot)


@dataclass(frozen=True)
class Kind(Generic[S]):
    """A kind of waitable subject: its events' type prefix, its model and its list route."""

    event_prefix: str
    model: type[S]
    path: str

    def decode(self, data: bytes | str) -> S:
        """A snapshot of this kind from its JSON."""
        decoded: S = decoder_for(self.model).decode(data)
        return decoded


APPROVALS: Kind[Approval] = Kind("approval.", Approval, "/v1/approvals")
ACTION_RUNS: Kind[ActionRun] = Kind("action.", ActionRun, "/v1/actions")
#: Every kind, and the event types that carry their changes.
KINDS = (APPROVALS, ACTION_RUNS)
EVENT_TYPES = ",".join(f"{kind.event_prefix}*" for kind in KINDS)
