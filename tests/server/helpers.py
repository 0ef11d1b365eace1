"""Test helpers for talking to a real broker: clients, keys and an SSE reader."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx

#: httpx (0.28) does not close its inner async generators when a streamed response is closed
#: before its end; trio's finalizer then reports them when they are garbage collected. The
#: connection itself is closed by ``async with client.stream(...)``: only the warning is noise.
HTTPX_STREAM_GC = (
    # httpx's and httpcore's generators are methods (Class.method); ours are plain functions.
    r"ignore:Exception ignored in. <async_generator object \w+\.\w+ at"
    ":pytest.PytestUnraisableExceptionWarning"
)

#: Generous next to the test intervals, short next to the suite's timeout.
TIMEOUT = httpx.Timeout(10.0)


def client(base_url: str, key: str | None) -> httpx.AsyncClient:
    """An HTTP client on the broker, authenticated with ``key`` (if any)."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(base_url=base_url, headers=headers, timeout=TIMEOUT)


async def mint_key(http: httpx.AsyncClient, *scopes: str, **extra: Any) -> str:
    """Create a key with ``scopes`` through the API (``http`` holds an admin key)."""
    response = await http.post(
        "/v1/api-keys", json={"name": "test", "scopes": list(scopes), **extra}
    )
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


async def create_approval(http: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    """Create an approval (action ``test.action`` unless given) and return its JSON."""
    response = await http.post("/v1/approvals", json={"action": "test.action", **fields})
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def assert_error(response: httpx.Response, status: int, type: str) -> dict[str, Any]:
    """Check an error response's status, contract shape and request id; return its error."""
    assert response.status_code == status, response.text
    assert response.headers.get("x-request-id")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"type", "message", "details"}
    assert body["error"]["type"] == type, body
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


@dataclass
class Frame:
    """One server-sent event (or a comment line, in ``comment``)."""

    event: str | None = None
    id: str | None = None
    data: str | None = None
    retry: int | None = None
    comment: str | None = None
    fields: list[str] = field(default_factory=list)


async def _lines(response: httpx.Response) -> AsyncIterator[str]:
    # Over aiter_raw, the innermost of httpx's iterators: closing it early closes everything
    # (closing aiter_lines leaves its inner generators to the garbage collector).
    buffer = ""
    async with aclosing(response.aiter_raw()) as chunks:
        async for chunk in chunks:
            buffer += chunk.decode()
            *complete, buffer = buffer.split("\n")
            for line in complete:
                yield line.removesuffix("\r")
    if buffer:
        yield buffer


async def frames(response: httpx.Response) -> AsyncIterator[Frame]:
    """The frames of an SSE response, comments included, as they arrive."""
    current = Frame()
    async with aclosing(_lines(response)) as lines:
        async for line in lines:
            if line == "":
                if current.fields:
                    yield current
                current = Frame()
                continue
            if line.startswith(":"):
                yield Frame(comment=line[1:].strip(), fields=["comment"])
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            current.fields.append(name)
            if name == "data":
                current.data = value if current.data is None else current.data + "\n" + value
            elif name == "event":
                current.event = value
            elif name == "id":
                current.id = value
            elif name == "retry":
                current.retry = int(value)
    if current.fields:
        yield current


@asynccontextmanager
async def sse(
    http: httpx.AsyncClient, url: str, **kwargs: Any
) -> AsyncIterator[tuple[httpx.Response, AsyncIterator[Frame]]]:
    """Open an SSE stream: the response and its frames, both closed on exit."""
    async with (
        http.stream("GET", url, **kwargs) as response,
        aclosing(frames(response)) as stream,
    ):
        yield response, stream


async def next_event(stream: AsyncIterator[Frame]) -> Frame:
    """The next frame that is not a heartbeat comment."""
    async for item in stream:
        if item.comment is None:
            return item
    raise AssertionError("the stream ended")


def key_id_of(token: str) -> str:
    """The id (``key_...``) of an API key token."""
    kid = token.removeprefix("sgn_live_").split("_")[0]
    return f"key_{kid}"


async def until_streams_open(broker: Any, token: str, count: int, timeout: float = 5.0) -> None:
    """Wait (bounded) until the broker holds ``count`` streams or long-polls of a key.

    The slot is taken before the handler first waits, so this tells a test that a long-poll
    is being held and a change made now must wake it.
    """
    slots = broker.broker.stream_slots
    key_id = key_id_of(token)
    with anyio.fail_after(timeout):
        while slots.open_count(key_id) < count:
            await anyio.sleep(0.005)
