"""The audit trail: ``/v1/audit`` (the hash-chained entries and their verification) and a
run's evidence pack, ``/v1/actions/{run_id}/evidence``."""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response

from ...models import AuditEntry, AuditVerification, EvidencePack, Page
from ..audit import evidence_pack, verify_tenant
from ..http import ApiError, JSONResponse, query_int, query_list
from ..operation import Call, Operation, Param
from ..store.base import AuditFilter
from .actions import ID as RUN_ID
from .common import CURSOR, MAX_IDS, STANDARD_ERRORS, check_type_glob, page_response

__all__ = ["OPERATIONS"]

_SCOPES = ("audit:read",)


def _since(request: Request) -> datetime | None:
    raw = request.query_params.get("since")
    if not raw:
        return None
    try:
        since = datetime.fromisoformat(raw)
    except ValueError:
        since = None
    if since is None or since.tzinfo is None:
        raise ApiError(
            400,
            "invalid_request",
            f"since must be an RFC 3339 timestamp with a timezone, got {raw!r}",
            {"parameter": "since"},
        )
    return since


def _after(request: Request) -> int:
    raw = request.query_params.get("cursor")
    if raw is None or raw == "":
        return 0
    if not raw.isdigit() or len(raw) > 20:
        raise ApiError(
            400, "invalid_request", "cursor is not one this list issued", {"parameter": "cursor"}
        )
    return int(raw)


def _filters(request: Request) -> AuditFilter:
    type_glob = request.query_params.get("type") or None
    if type_glob is not None:
        check_type_glob(type_glob, parameter="type")
    subjects = list(dict.fromkeys(query_list(request, "subject_id")))
    if len(subjects) > MAX_IDS:
        raise ApiError(
            400,
            "invalid_request",
            f"at most {MAX_IDS} subject ids per request",
            {"parameter": "subject_id"},
        )
    return AuditFilter(since=_since(request), type=type_glob, subject_ids=tuple(subjects))


async def list_audit(call: Call) -> Response:
    """Audit entries in seq order, with their hashes."""
    request = call.request
    limit = query_int(request, "limit", default=100, minimum=1, maximum=1000)
    assert limit is not None
    entries = await call.broker.store.list_audit_entries(
        call.tenant_id, after=_after(request), limit=limit, filters=_filters(request)
    )
    # The cursor is the last seq returned: filtered-out entries before it are never re-read.
    next_cursor = str(entries[-1].seq) if len(entries) == limit else None
    return page_response(entries, next_cursor)


async def verify_audit(call: Call) -> Response:
    """Re-compute the tenant's chain and say whether (and where) it is broken."""
    return JSONResponse(await verify_tenant(call.broker.store, call.tenant_id))


async def get_evidence(call: Call) -> Response:
    """Everything needed to prove offline what happened to one run."""
    run_id = call.request.path_params["run_id"]
    evidence = await call.broker.store.get_run_evidence(call.tenant_id, run_id)
    return JSONResponse(evidence_pack(call.tenant_id, evidence))


OPERATIONS = (
    Operation(
        "GET",
        "/v1/audit",
        "List audit entries in seq order",
        list_audit,
        scopes=_SCOPES,
        responses={200: Page[AuditEntry]},
        errors=STANDARD_ERRORS,
        params=(
            Param(
                "since",
                "query",
                {"type": "string", "format": "date-time"},
                "Entries at or after this time.",
            ),
            Param("type", "query", {"type": "string"}, "Entry type; `action.*` style glob."),
            Param(
                "subject_id", "query", {"type": "string"}, "Entries about these ids (at most 100)."
            ),
            Param(
                "limit",
                "query",
                {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                "Entries per page (1-1000).",
            ),
            CURSOR,
        ),
    ),
    Operation(
        "GET",
        "/v1/audit/verify",
        "Verify the tenant's audit hash chain",
        verify_audit,
        scopes=_SCOPES,
        responses={200: AuditVerification},
        errors=STANDARD_ERRORS,
    ),
    Operation(
        "GET",
        "/v1/actions/{run_id}/evidence",
        "Get the evidence pack of an action run",
        get_evidence,
        scopes=_SCOPES,
        responses={200: EvidencePack},
        errors=STANDARD_ERRORS,
        params=(RUN_ID,),
    ),
)
