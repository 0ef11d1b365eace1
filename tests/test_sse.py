"""Server-sent events: the WHATWG decoder, and an EventSource that reconnects."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import anyio
import pytest
from pytest_httpx import HTTPXMock

from _helpers import API_KEY, BASE_URL, make_client
from _scripted_server import Reply, Request, scripted_server
from signoff._sse import FIRST_RECONNECT_JITTER, EventSource, StreamUnavailableError
from signoff._sse_decoder import EventTooLargeError, ServerSentEvent, SSEDecoder
from signoff.client import AsyncSignoff
from signoff.errors import APIConnectionError, APIStatusError, APITimeoutError, NotFoundError

SAMPLE = (
    "\ufeff: a comment, then an event\r\n"
    "retry: 2500\r\n"
    "id: 1\r\n"
    "event: approval.snapshot\r\n"
    'data: {"status": "pending", "note": "café €5 🚀"}\r\n'
    "\r\n"
    "data: line one\n"
    "data:line two\n"
    "data\n"
    "\n"
    ": ping\r"
    "id: 3\r"
    "event: approval.approved\r"
    "data: done\r"
    "\r"
    "id\n"
    "data: after an id reset\n"
    "\n"
).encode()
SAMPLE_EVENTS = [
    ServerSentEvent(
        event="approval.snapshot",
        data='{"status": "pending", "note": "café €5 🚀"}',
        id="1",
        retry=2500,
    ),
    ServerSentEvent(data="line one\nline two\n", id="1"),
    ServerSentEvent(event="approval.approved", data="done", id="3"),
    ServerSentEvent(data="after an id reset", id=None),
]


def decode_chunks(*chunks: bytes, **options: int) -> tuple[list[ServerSentEvent], SSEDecoder]:
    decoder = SSEDecoder(**options)
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    return events, decoder


# -- the decoder ---------------------------------------------------------------------------


def test_the_sample_stream_decodes_to_its_events() -> None:
    events, decoder = decode_chunks(SAMPLE)
    assert events == SAMPLE_EVENTS
    assert decoder.retry == 2500
    assert decoder.comments == 2
    assert decoder.last_event_id == ""


@pytest.mark.parametrize("split", range(1, len(SAMPLE)))
def test_a_split_at_any_byte_gives_the_same_events(split: int) -> None:
    events, _ = decode_chunks(SAMPLE[:split], SAMPLE[split:])
    assert events == SAMPLE_EVENTS


def test_feeding_one_byte_at_a_time_gives_the_same_events() -> None:
    events, _ = decode_chunks(*(SAMPLE[i : i + 1] for i in range(len(SAMPLE))))
    assert events == SAMPLE_EVENTS


def test_a_crlf_split_across_chunks_is_one_line_end() -> None:
    events, _ = decode_chunks(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n")
    assert events == [ServerSentEvent(data="a\nb")]


def test_a_lone_cr_ends_a_line() -> None:
    events, _ = decode_chunks(b"data: a\rdata: b\r\r")
    assert events == [ServerSentEvent(data="a\nb")]


def test_comments_dispatch_nothing_but_are_counted() -> None:
    events, decoder = decode_chunks(b": ping\n\n: ping\n\n")
    assert events == []
    assert decoder.comments == 2


def test_the_id_persists_until_changed_and_ids_with_nul_are_ignored() -> None:
    events, decoder = decode_chunks(b"id: 7\ndata: a\n\ndata: b\n\nid: 8\x00\ndata: c\n\n")
    assert [e.id for e in events] == ["7", "7", "7"]
    assert decoder.last_event_id == "7"


def test_a_block_without_data_dispatches_nothing_but_moves_the_last_id() -> None:
    events, decoder = decode_chunks(b"id: 9\nevent: ready\n\n")
    assert events == []
    assert decoder.last_event_id == "9"


@pytest.mark.parametrize("value", [b"25x", b"-5", b"2.5", "\u00b2".encode(), b""])
def test_retry_takes_ascii_digits_only(value: bytes) -> None:
    _, decoder = decode_chunks(b"retry: " + value + b"\n\n")
    assert decoder.retry is None


def test_only_a_leading_bom_is_dropped() -> None:
    events, _ = decode_chunks(b"\xef\xbb", b"\xbfdata: a\n\n\xef\xbb\xbfdata: b\n\n")
    assert events == [ServerSentEvent(data="a")]  # the second field is named "\ufeffdata"


def test_an_event_cut_off_by_the_end_of_the_stream_is_not_dispatched() -> None:
    events, decoder = decode_chunks(b"id: 4\ndata: half")
    assert events == []
    assert decoder.last_event_id == ""


def test_an_event_over_the_size_cap_raises() -> None:
    decoder = SSEDecoder(max_event_size=1000)
    decoder.feed(b"data: " + b"x" * 600 + b"\n")
    with pytest.raises(EventTooLargeError, match="larger than 1000"):
        decoder.feed(b"data: " + b"x" * 600 + b"\n")


def test_a_line_over_the_size_cap_raises_before_it_ends() -> None:
    decoder = SSEDecoder(max_event_size=1000)
    decoder.feed(b"data: " + b"x" * 900)
    with pytest.raises(EventTooLargeError):
        decoder.feed(b"x" * 200)


def test_a_large_event_in_small_chunks_decodes_in_linear_time() -> None:
    body = b"data: " + b"x" * 900_000 + b"\n\n"
    decoder = SSEDecoder()
    started = time.perf_counter()
    events = [e for i in range(0, len(body), 64) for e in decoder.feed(body[i : i + 64])]
    assert time.perf_counter() - started < 5  # a quadratic join would take minutes
    assert len(events) == 1
    assert len(events[0].data) == 900_000


def test_event_data_decodes_into_a_model() -> None:
    event = ServerSentEvent(data='{"data": [], "next_cursor": null}')
    assert event.json() == {"data": [], "next_cursor": None}


# -- EventSource against a real server ----------------------------------------------------

anyio_mark = pytest.mark.anyio


def record_waits(source: EventSource) -> list[float]:
    """Make reconnection waits instant, and remember what they would have been."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await anyio.sleep(0)

    source._sleep = sleep  # type: ignore[method-assign]
    return waits


def sse(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n\n").encode()


@pytest.fixture
async def client_for() -> AsyncIterator[Callable[[str], AsyncSignoff]]:
    clients: list[AsyncSignoff] = []

    def make(url: str) -> AsyncSignoff:
        clients.append(make_client(url))
        return clients[-1]

    yield make
    for client in clients:
        await client.aclose()


@anyio_mark
async def test_a_dropped_stream_reconnects_with_last_event_id_and_honours_retry(
    client_for: Callable[[str], AsyncSignoff],
) -> None:
    seen: list[dict[str, str]] = []

    async def handler(request: Request, reply: Reply) -> None:
        seen.append(request.headers)
        if len(seen) == 1:
            await reply.start_stream()
            await reply.chunk(
                b"retry: 10\n\n" + sse("id: 1", "data: one") + sse("id: 2", "data: two")
            )
            await reply.chunk(b"id: 3\ndata: cut of")  # then the connection dies mid-event
            await reply.drop()
        elif len(seen) == 2:
            await reply.send(503, b"busy")  # the reconnection fails once
        else:
            await reply.start_stream()
            await reply.chunk(sse("id: 3", "data: three") + sse("id: 4", "data: four"))
            await anyio.sleep_forever()

    async with scripted_server(handler) as url:
        source = client_for(url)._event_source("/v1/events/stream", params={"after": 0})
        waits = record_waits(source)
        with anyio.fail_after(5):
            async with source:
                events = [await anext(source) for _ in range(4)]
        assert [e.data for e in events] == ["one", "two", "three", "four"]
        assert [e.id for e in events] == ["1", "2", "3", "4"]
        assert source.last_event_id == "4"
        assert source.retry == 0.01
        assert len(waits) == 2
        # The first reconnection after a healthy stream is quick (jittered, at most 0.1 s);
        # after a failed one the client backs off from the server's retry: (10 ms).
        assert 0 <= waits[0] <= FIRST_RECONNECT_JITTER
        assert 0.01 <= waits[1] <= 0.0125
    first, second, third = seen
    assert "last-event-id" not in first
    assert second["last-event-id"] == "2"
    assert third["last-event-id"] == "2"
    assert first["accept"] == "text/event-stream"
    assert first["authorization"] == f"Bearer {API_KEY}"


@anyio_mark
async def test_the_first_connection_resumes_from_a_given_last_event_id(
    client_for: Callable[[str], AsyncSignoff],
) -> None:
    seen: list[dict[str, str]] = []

    async def handler(request: Request, reply: Reply) -> None:
        seen.append(request.headers)
        await reply.start_stream()
        await reply.chunk(sse("id: 42", "data: next"))
        await anyio.sleep_forever()

    async with scripted_server(handler) as url:
        source = client_for(url)._event_source("/v1/events/stream", last_event_id="41")
        with anyio.fail_after(5):
            async with source:
                assert (await anext(source)).id == "42"
    assert seen[0]["last-event-id"] == "41"


@anyio_mark
async def test_a_clean_end_without_reconnect_ends_the_iteration(
    client_for: Callable[[str], AsyncSignoff],
) -> None:
    async def handler(request: Request, reply: Reply) -> None:
        await reply.start_stream()
        await reply.chunk(sse("id: 1", "data: only"))
        await reply.end()

    async with scripted_server(handler) as url:
        source = client_for(url)._event_source("/v1/approvals/apr_1/events", reconnect=False)
        with anyio.fail_after(5):
            async with source:
                assert [e.data async for e in source] == ["only"]


@anyio_mark
async def test_a_drop_without_reconnect_raises(client_for: Callable[[str], AsyncSignoff]) -> None:
    async def handler(request: Request, reply: Reply) -> None:
        await reply.start_stream()
        await reply.chunk(b"data: half")
        await reply.drop()

    async with scripted_server(handler) as url:
        source = client_for(url)._event_source("/v1/events/stream", reconnect=False)
        with anyio.fail_after(5), pytest.raises(APIConnectionError):
            async with source:
                await anext(source)


@anyio_mark
async def test_a_silent_connection_times_out_and_reconnects(
    client_for: Callable[[str], AsyncSignoff],
) -> None:
    connections = 0

    async def handler(request: Request, reply: Reply) -> None:
        nonlocal connections
        connections += 1
        await reply.start_stream()
        if connections == 2:
            await reply.chunk(sse("data: alive"))
        await anyio.sleep_forever()

    async with scripted_server(handler) as url:
        client = client_for(url)
        source = client._event_source("/v1/events/stream", read_timeout=0.2)
        record_waits(source)
        with anyio.fail_after(5):
            async with source:
                assert (await anext(source)).data == "alive"
        quiet = client._event_source("/v1/events/stream", read_timeout=0.2, reconnect=False)
        with anyio.fail_after(5), pytest.raises(APITimeoutError):
            async with quiet:
                await anext(quiet)


@anyio_mark
async def test_retry_after_on_a_503_sets_the_reconnection_wait(
    client_for: Callable[[str], AsyncSignoff],
) -> None:
    connections = 0

    async def handler(request: Request, reply: Reply) -> None:
        nonlocal connections
        connections += 1
        if connections == 1:
            await reply.send(503, b"", headers={"Retry-After": "0.02"})
            return
        await reply.start_stream()
        await reply.chunk(sse("data: back"))
        await anyio.sleep_forever()

    async with scripted_server(handler) as url:
        source = client_for(url)._event_source("/v1/events/stream")
        waits = record_waits(source)
        with anyio.fail_after(5):
            async with source:
                assert (await anext(source)).data == "back"
    assert waits == [0.02]


@anyio_mark
async def test_cancelling_a_read_closes_the_connection_and_the_next_read_resumes(
    client_for: Callable[[str], AsyncSignoff],
) -> None:
    seen: list[dict[str, str]] = []
    first_connection_closed = anyio.Event()

    async def handler(request: Request, reply: Reply) -> None:
        seen.append(request.headers)
        await reply.start_stream()
        await reply.chunk(sse(f"id: {len(seen)}", f"data: {len(seen)}"))
        if len(seen) == 1:
            try:
                await reply.stream.receive()  # returns (or raises) once the client hangs up
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                pass
            first_connection_closed.set()
            return
        await anyio.sleep_forever()

    async with scripted_server(handler) as url:
        source = client_for(url)._event_source("/v1/events/stream")
        with anyio.fail_after(5):
            async with source:
                assert (await anext(source)).data == "1"
                with anyio.move_on_after(0.05):
                    await anext(source)  # nothing more comes: cancelled mid-read
                await first_connection_closed.wait()
                assert (await anext(source)).data == "2"
    assert seen[1]["last-event-id"] == "1"


@anyio_mark
async def test_an_oversized_event_is_raised_not_reconnected(
    client_for: Callable[[str], AsyncSignoff],
) -> None:
    connections = 0

    async def handler(request: Request, reply: Reply) -> None:
        nonlocal connections
        connections += 1
        await reply.start_stream()
        await reply.chunk(b"data: " + b"x" * 5000 + b"\n\n")
        await anyio.sleep_forever()

    async with scripted_server(handler) as url:
        client = client_for(url)
        source = EventSource(client._http, "/v1/events/stream", read_timeout=5, max_event_size=1000)
        with anyio.fail_after(5), pytest.raises(EventTooLargeError):
            async with source:
                await anext(source)
    assert connections == 1


@anyio_mark
async def test_streams_do_not_take_a_concurrency_slot(
    client_for: Callable[[str], AsyncSignoff],
) -> None:
    async def handler(request: Request, reply: Reply) -> None:
        if request.path.endswith("/stream"):
            await reply.start_stream()
            await reply.chunk(sse("data: open"))
            await anyio.sleep_forever()
        await reply.send(200, b'{"data": [], "next_cursor": null}')

    async with scripted_server(handler) as url:
        client = make_client(url, max_concurrency=1)
        async with client:
            sources = [client._event_source("/v1/events/stream") for _ in range(3)]
            with anyio.fail_after(5):
                for source in sources:
                    assert (await anext(source)).data == "open"
                response = await client.request("GET", "/v1/events")
                assert response.status_code == 200
                for source in sources:
                    await source.aclose()


# -- what cannot stream --------------------------------------------------------------------


@pytest.fixture
async def mock_client() -> AsyncIterator[AsyncSignoff]:
    async with make_client() as client:
        yield client


STREAM_URL = f"{BASE_URL}/v1/approvals/apr_1/events"


@anyio_mark
async def test_a_non_sse_content_type_raises_stream_unavailable(
    mock_client: AsyncSignoff, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=STREAM_URL, json={"id": "apr_1"})
    source = mock_client._event_source("/v1/approvals/apr_1/events")
    with pytest.raises(StreamUnavailableError) as caught:
        async with source:
            await anext(source)
    assert caught.value.content_type == "application/json"
    assert caught.value.status_code == 200
    assert isinstance(caught.value, APIConnectionError)


@anyio_mark
@pytest.mark.parametrize("status", [405, 406, 501])
async def test_statuses_that_mean_no_streaming_raise_stream_unavailable(
    mock_client: AsyncSignoff, httpx_mock: HTTPXMock, status: int
) -> None:
    httpx_mock.add_response(url=STREAM_URL, status_code=status)
    source = mock_client._event_source("/v1/approvals/apr_1/events")
    with pytest.raises(StreamUnavailableError) as caught:
        async with source:
            await anext(source)
    assert caught.value.status_code == status


@anyio_mark
@pytest.mark.parametrize(("status", "error_class"), [(404, NotFoundError), (410, APIStatusError)])
async def test_other_client_errors_raise_their_mapped_error(
    mock_client: AsyncSignoff, httpx_mock: HTTPXMock, status: int, error_class: type[Exception]
) -> None:
    httpx_mock.add_response(url=STREAM_URL, status_code=status)
    source = mock_client._event_source("/v1/approvals/apr_1/events")
    with pytest.raises(error_class) as caught:
        async with source:
            await anext(source)
    assert not isinstance(caught.value, StreamUnavailableError)
    assert len(httpx_mock.get_requests()) == 1
