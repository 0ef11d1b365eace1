"""Policies: rules that allow, deny or require a human, matched before anyone is asked."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from ._base import JSONObject, Metadata, Model, OpenEnum, RequestModel, Timestamp

__all__ = ["PolicyEffect", "Policy", "PolicyCreate"]


class PolicyEffect(OpenEnum):
    """What a matching rule does."""

    ALLOW = "allow"
    DENY = "deny"
    REQUIRE_APPROVAL = "require_approval"


class Policy(Model):
    """A rule: when ``action`` (a glob such as ``payments.*``) and every ``metadata`` condition
    match, ``effect`` applies. Rules are tried by ``priority``, highest first; ties go to the
    oldest rule. When no rule matches, a human must approve.
    """

    id: str
    action: str
    effect: PolicyEffect
    priority: int
    created_at: Timestamp
    name: str | None = None
    metadata: JSONObject = msgspec.field(default_factory=dict)
    approver_group: str | None = None
    expires_in: int | None = None


class PolicyCreate(RequestModel):
    """Body of ``POST /v1/policies``.

    ``expires_in`` (seconds) applies to approvals this rule requires: they expire that long
    after creation unless the request asks for less.
    """

    action: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    effect: Literal["allow", "deny", "require_approval"]
    priority: Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)] = 0
    name: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    metadata: Metadata | None = None
    approver_group: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    expires_in: Annotated[int, msgspec.Meta(ge=1, le=30 * 86400)] | None = None
