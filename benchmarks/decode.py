"""Decoding one Approval and a Page[Approval] of 100: the SDK's msgspec models against
``json.loads`` (plain dicts) and pydantic v2 models of the same shape.

Median of several rounds of ``timeit``; prints us per call, us per object and the ratio to
the SDK's decoder measured in the same run.

    uv run python benchmarks/decode.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import enum
import json
import statistics
import timeit
from typing import Any

import pydantic

from signoff._wire import decoder_for
from signoff.models import Approval, Page

APPROVAL = {
    "id": "apr_01JD8Y3M5Q2W7E9R4T6Y8U0I1O",
    "status": "approved",
    "action": "payments.refund",
    "version": 2,
    "created_at": "2026-11-21T10:04:12.123456Z",
    "updated_at": "2026-11-21T10:06:40.902311Z",
    "summary": "Refund $42.00 to customer cus_9f2",
    "reason": "Customer reported a duplicate charge on order ord_5521",
    "function_name": "billing.refund",
    "arguments": {"amount": 4200, "currency": "usd", "customer": "cus_9f2", "order": "ord_5521"},
    "context": {"conversation": "conv_77", "turn": 14, "model": "agent-large"},
    "metadata": {"team": "billing", "risk": "low", "region": "eu-west"},
    "expires_at": "2026-11-22T10:04:12.123456Z",
    "callback_url": None,
    "dedup_key": "refund-ord_5521",
    "approver_group": "billing-leads",
    "policy_id": "pol_2",
    "requested_by": "key_71c",
    "decided_by": "key_a04",
    "decided_at": "2026-11-21T10:06:40.902311Z",
    "comment": "Duplicate confirmed in the ledger",
}
ONE = json.dumps(APPROVAL).encode()
PAGE = json.dumps(
    {"data": [{**APPROVAL, "id": f"apr_{i:026d}"} for i in range(100)], "next_cursor": "c_2"}
).encode()


class PStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class PApproval(pydantic.BaseModel):
    """The same fields and types as signoff.models.Approval."""

    model_config = pydantic.ConfigDict(frozen=True)

    id: str
    status: PStatus
    action: str
    version: int
    created_at: pydantic.AwareDatetime
    updated_at: pydantic.AwareDatetime
    summary: str | None = None
    reason: str | None = None
    function_name: str | None = None
    arguments: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] = pydantic.Field(default_factory=dict)
    expires_at: pydantic.AwareDatetime | None = None
    callback_url: str | None = None
    dedup_key: str | None = None
    approver_group: str | None = None
    policy_id: str | None = None
    requested_by: str | None = None
    decided_by: str | None = None
    decided_at: pydantic.AwareDatetime | None = None
    comment: str | None = None


class PPage(pydantic.BaseModel):
    data: list[PApproval]
    next_cursor: str | None = None


def cases() -> dict[str, dict[str, Any]]:
    one_decoder = decoder_for(Approval)
    page_decoder = decoder_for(Page[Approval])
    return {
        "one Approval": {
            "signoff (msgspec Struct)": lambda: one_decoder.decode(ONE),
            "json.loads -> dict": lambda: json.loads(ONE),
            "pydantic model_validate_json": lambda: PApproval.model_validate_json(ONE),
        },
        "Page[Approval] of 100": {
            "signoff (msgspec Struct)": lambda: page_decoder.decode(PAGE),
            "json.loads -> dict": lambda: json.loads(PAGE),
            "pydantic model_validate_json": lambda: PPage.model_validate_json(PAGE),
        },
    }


#: case -> (payload, calls per timing, objects per call)
SIZES = {"one Approval": (ONE, 5000, 1), "Page[Approval] of 100": (PAGE, 60, 100)}


def main(rounds: int) -> None:
    for case, functions in cases().items():
        payload, number, objects = SIZES[case]
        samples: dict[str, list[float]] = {name: [] for name in functions}
        for _ in range(rounds):  # interleaved, so a noisy moment hits every variant alike
            for name, function in functions.items():
                samples[name].append(min(timeit.repeat(function, number=number, repeat=1)))
        base = statistics.median(samples["signoff (msgspec Struct)"])
        print(f"\n{case} ({len(payload):,} bytes), median of {rounds} rounds")
        print(f"{'decoder':<32}{'us/call':>10}{'us/object':>11}{'x signoff':>11}")
        for name, times in samples.items():
            seconds = statistics.median(times)
            per_call = seconds / number * 1e6
            print(f"{name:<32}{per_call:>10.1f}{per_call / objects:>11.2f}{seconds / base:>11.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    main(parser.parse_args().rounds)
