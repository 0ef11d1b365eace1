"""Decoding is forward-compatible: new fields are ignored, new enum values stay visible."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from _helpers import approval
from signoff._wire import decode_json, decoder_for
from signoff.errors import APIResponseValidationError
from signoff.models import Approval, ApprovalStatus, Event, EventType, Page, PolicyEffect


def decode(body: object, type_: type) -> object:
    return decode_json(json.dumps(body).encode(), type_, what="the test body")


def test_an_approval_decodes_with_timestamps_and_status() -> None:
    result = decode(approval(), Approval)
    assert isinstance(result, Approval)
    assert result.status is ApprovalStatus.PENDING
    assert result.created_at == datetime(2026, 11, 21, 10, 4, 12, 123456, tzinfo=UTC)


def test_unknown_fields_are_ignored() -> None:
    result = decode(approval(risk_score=0.7, reviewers=["a"]), Approval)
    assert isinstance(result, Approval)
    assert result.id == "apr_1"


def test_an_unknown_approval_status_decodes_and_stays_visible() -> None:
    result = decode(approval(status="escalated"), Approval)
    assert isinstance(result, Approval)
    assert result.status.value == "escalated"
    assert result.status == "escalated"
    assert result.status.is_known is False
    assert result.is_terminal is False  # waiting on a status we do not know fails closed


def test_a_known_status_says_so() -> None:
    assert ApprovalStatus("approved").is_known is True
    assert PolicyEffect("require_approval").is_known is True


def test_an_unknown_event_type_decodes_and_stays_visible() -> None:
    body = {
        "id": "evt_1",
        "seq": 12,
        "type": "approval.escalated",
        "subject_id": "apr_1",
        "created_at": "2026-11-21T10:04:12Z",
        "data": approval(status="escalated"),
    }
    event = decode(body, Event)
    assert isinstance(event, Event)
    assert event.type == "approval.escalated"
    assert event.type not in vars(EventType).values()
    assert event.data_as(Approval).status.value == "escalated"


def test_a_page_of_approvals_decodes() -> None:
    page = decode(
        {"data": [approval(id="apr_1"), approval(id="apr_2")], "next_cursor": "c2"}, Page[Approval]
    )
    assert isinstance(page, Page)
    assert [a.id for a in page.data] == ["apr_1", "apr_2"]
    assert page.next_cursor == "c2"


def test_a_timestamp_without_a_timezone_is_rejected() -> None:
    with pytest.raises(APIResponseValidationError, match="created_at"):
        decode(approval(created_at="2026-11-21T10:04:12"), Approval)


def test_decoders_are_built_once_per_type() -> None:
    assert decoder_for(Page[Approval]) is decoder_for(Page[Approval])
    assert decoder_for(Approval) is not decoder_for(Page[Approval])


def test_secrets_stay_out_of_reprs() -> None:
    from datetime import UTC, datetime

    from signoff.models import ApiKeyCreated, ConnectionCreate

    created = ApiKeyCreated(
        id="key_1",
        name="agent",
        scopes=["admin"],
        created_at=datetime.now(UTC),
        key="sgn_live_x_s3cret",
    )
    assert "s3cret" not in repr(created)
    assert "s3cret" not in str(created)
    connection = ConnectionCreate(name="pay", connector="http", secrets={"bearer_token": "s3cret"})
    assert "s3cret" not in repr(connection)
    assert "bearer_token" in repr(connection)
