"""Policy rules: which approvals a rule allows, denies or sends to a human.

Rules are tried by priority, highest first, ties oldest first (the order the store lists them
in). A rule matches when its action glob matches the action name (``*`` any run of
characters, ``?`` exactly one; nothing else is special) and every metadata condition equals
the request's value for that key. The first match decides; no match means a human decides.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..models import Policy

__all__ = ["Verdict", "compile_glob", "glob_matches", "matches", "evaluate"]


@dataclass(frozen=True)
class Verdict:
    """What the policies decided for one request, and which rule decided it (if any)."""

    effect: str
    policy: Policy | None = None


@functools.lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """A regular expression for a glob in which only ``*`` and ``?`` are special."""
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def glob_matches(pattern: str, name: str) -> bool:
    """True when the whole of ``name`` matches the glob (case-sensitive)."""
    return compile_glob(pattern).fullmatch(name) is not None


def _same(expected: Any, actual: Any) -> bool:
    # JSON true is not the number 1, although Python says True == 1.
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    return bool(expected == actual)


def matches(policy: Policy, action: str, metadata: Mapping[str, Any]) -> bool:
    """True when the rule applies to this action and metadata."""
    if not glob_matches(policy.action, action):
        return False
    return all(
        key in metadata and _same(value, metadata[key]) for key, value in policy.metadata.items()
    )


def evaluate(policies: Iterable[Policy], action: str, metadata: Mapping[str, Any]) -> Verdict:
    """The first rule (in evaluation order) that matches decides; none means a human must."""
    for policy in policies:
        if matches(policy, action, metadata):
            return Verdict(effect=str(policy.effect), policy=policy)
    return Verdict(effect="require_approval")
