"""Rule matching: globs with only ``*`` and ``?``, exact metadata, first match decides."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from signoff.models import Policy
from signoff.server.policy import evaluate, glob_matches


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("payments.*", "payments.refund", True),
        ("payments.*", "payments.", True),
        ("payments.*", "payment.refund", False),
        ("*", "anything.at/all", True),
        ("db.?rop", "db.drop", True),
        ("db.?rop", "db.ddrop", False),
        ("a[bc]", "ab", False),  # brackets are literal, unlike fnmatch
        ("a[bc]", "a[bc]", True),
        ("Payments.*", "payments.refund", False),  # case-sensitive
    ],
)
def test_glob(pattern: str, name: str, expected: bool) -> None:
    assert glob_matches(pattern, name) is expected


def _rule(id: str, action: str, effect: str, **metadata: object) -> Policy:
    return Policy(
        id=id,
        action=action,
        effect=effect,
        priority=0,  # type: ignore[arg-type]
        created_at=datetime.now(UTC),
        metadata=dict(metadata),
    )


def test_first_matching_rule_decides() -> None:
    rules = [_rule("p1", "x.*", "deny", env="prod"), _rule("p2", "x.*", "allow")]
    assert evaluate(rules, "x.y", {"env": "prod"}).policy == rules[0]
    assert evaluate(rules, "x.y", {"env": "dev"}).policy == rules[1]


def test_no_match_requires_approval() -> None:
    verdict = evaluate([_rule("p1", "x.*", "allow")], "y.z", {})
    assert (verdict.effect, verdict.policy) == ("require_approval", None)


@pytest.mark.parametrize(
    ("condition", "value", "expected"),
    [
        (True, True, True),
        (True, 1, False),
        (1, 1, True),
        (1, 1.0, True),
        ("1", 1, False),
        (None, None, True),
    ],
)
def test_metadata_is_compared_exactly(condition: object, value: object, expected: bool) -> None:
    rule = _rule("p1", "*", "allow", flag=condition)
    assert (evaluate([rule], "a", {"flag": value}).policy is rule) is expected


def test_a_missing_metadata_key_does_not_match_a_null_condition() -> None:
    rule = _rule("p1", "*", "allow", flag=None)
    assert evaluate([rule], "a", {}).policy is None
