"""Action input schemas: only local references, never a fetch."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from signoff.server.schemas import schema_error, validate_input


@pytest.fixture
def counting_server() -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body = b'{"type": "object"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_remote_ref_is_refused_when_the_schema_is_accepted(
    counting_server: tuple[str, list[str]],
) -> None:
    url, hits = counting_server
    problem = schema_error({"$ref": f"{url}/internal/metadata"})
    assert problem is not None
    assert "only local references" in problem
    assert hits == []


def test_a_remote_ref_is_never_fetched_when_validating(
    counting_server: tuple[str, list[str]],
) -> None:
    url, hits = counting_server
    schema = {"type": "object", "properties": {"x": {"$ref": f"{url}/evil"}}}
    for _ in range(3):
        error = validate_input(schema, {"x": 1})
        assert error is not None
        assert "cannot be applied" in error.message
    assert hits == []


def test_local_references_still_work() -> None:
    schema = {
        "type": "object",
        "properties": {"amount": {"$ref": "#/$defs/positive"}},
        "$defs": {"positive": {"type": "integer", "minimum": 1}},
    }
    assert schema_error(schema) is None
    assert validate_input(schema, {"amount": 5}) is None
    error = validate_input(schema, {"amount": 0})
    assert error is not None
    assert error.path == "$.input.amount"
