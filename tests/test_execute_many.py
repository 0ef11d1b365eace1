"""``actions.execute_many`` / ``actions.as_completed`` against a fake broker: what only a fake
can stage (out-of-order completion, requests held open, failures on cue, 100,000 items)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import msgspec
import pytest
from pytest_httpx import HTTPXMock

from _helpers import BASE_URL, error_body, make_client
from signoff import (
    ActionRequest,
    ActionResult,
    ActionRun,
    APIResponseValidationError,
    AsyncSignoff,
    RequestValidationError,
    SignoffError,
    UnprocessableEntityError,
)
from signoff.models import ActionBatchItem

pytestmark = pytest.mark.anyio

NOW = "2026-11-21T10:04:12.123456Z"
Hook = Callable[[list[dict[str, Any]]], Awaitable[None]]


def item(n: int, **changes: Any) -> dict[str, Any]:
    """One echo action, numbered in its input."""
    return {"connection_id": "con_echo", "action_type": "echo", "input": {"n": n}, **changes}


def run_for(request: dict[str, Any], key: str) -> dict[str, Any]:
    """The run the broker's echo connection would answer for one request."""
    return {
        "id": f"run_{key}",
        "connection_id": request["connection_id"],
        "action_type": request["action_type"],
        "status": "succeeded",
        "version": 2,
        "created_at": NOW,
        "updated_at": NOW,
        "input": request["input"],
        "result": request["input"],
        "outcome": "allow",
    }


def answer(request: dict[str, Any], key: str) -> dict[str, Any]:
    """One batch item's answer: refused when its input asks for it, else a run."""
    if request["input"].get("refuse"):
        error = {"type": "validation_error", "message": "input.n is wrong", "details": None}
        return {"status_code": 422, "error": error}
    return {"status_code": 201, "run": run_for(request, key)}


class FakeBroker:
    """Answers the two action routes like the echo connector, and counts requests in flight.

    ``hook(items)`` runs inside each request before it is answered: a test uses it to hold a
    request open, fail it, or watch what arrives.
    """

    def __init__(self, hook: Hook | None = None) -> None:
        self.hook = hook
        self.in_flight = 0
        self.max_in_flight = 0
        self.batches: list[list[dict[str, Any]]] = []
        self.headers: list[httpx.Headers] = []

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            body = msgspec.json.decode(request.content)
            items = body["items"] if request.url.path.endswith("/batch") else [body]
            self.batches.append(items)
            self.headers.append(request.headers)
            # A few turns of the loop, so that concurrent requests really overlap.
            for _ in range(3):
                await anyio.lowlevel.checkpoint()
            if self.hook is not None:
                await self.hook(items)
            if request.url.path.endswith("/batch"):
                data = [answer(each, each["idempotency_key"]) for each in items]
                content = msgspec.json.encode({"data": data})
                return httpx.Response(200, content=content, headers={"X-Request-Id": "req_1"})
            one = answer(body, request.headers["idempotency-key"])
            if one["status_code"] != 201:
                return httpx.Response(422, content=error_body(**_error_args(one["error"])))
            return httpx.Response(201, content=msgspec.json.encode(one["run"]))
        finally:
            self.in_flight -= 1


def _error_args(error: dict[str, Any]) -> dict[str, Any]:
    return {"type_": error["type"], "message": error["message"]}


@asynccontextmanager
async def fake_client(
    broker: FakeBroker, *, max_concurrency: int = 64, max_retries: int = 0
) -> AsyncIterator[AsyncSignoff]:
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(broker.handle)) as http,
        make_client(
            http_client=http, max_concurrency=max_concurrency, max_retries=max_retries
        ) as client,
    ):
        yield client


# -- results ---------------------------------------------------------------------------------


async def test_every_item_gets_its_run_in_input_order() -> None:
    broker = FakeBroker()
    async with fake_client(broker) as client:
        results = await client.actions.execute_many([item(n) for n in range(250)])
    assert [r.input["n"] for r in results if isinstance(r, ActionRun)] == list(range(250))
    assert [len(batch) for batch in broker.batches] == [100, 100, 50]


async def test_ordered_false_returns_results_as_they_finish() -> None:
    first_batch_may_finish = anyio.Event()

    async def hold_the_first_batch(items: list[dict[str, Any]]) -> None:
        if items[0]["input"]["n"] == 0:
            await first_batch_may_finish.wait()

    def progress(done: int, total: int | None) -> None:
        if done == 10:  # the second batch has landed
            first_batch_may_finish.set()

    items = [item(n) for n in range(20)]
    for ordered, expected in [(True, list(range(20))), (False, [*range(10, 20), *range(10)])]:
        first_batch_may_finish = anyio.Event()
        async with fake_client(FakeBroker(hold_the_first_batch)) as client:
            results = await client.actions.execute_many(
                items, batch_size=10, ordered=ordered, on_progress=progress
            )
        assert [r.input["n"] for r in results if isinstance(r, ActionRun)] == expected


async def test_batch_size_one_posts_each_item_alone_with_its_key_as_the_header() -> None:
    broker = FakeBroker()
    async with fake_client(broker) as client:
        results = await client.actions.execute_many([item(n) for n in range(5)], batch_size=1)
    assert all(len(batch) == 1 and "idempotency_key" not in batch[0] for batch in broker.batches)
    keys = [headers["idempotency-key"] for headers in broker.headers]
    assert len(set(keys)) == 5
    assert sorted(r.id for r in results if isinstance(r, ActionRun)) == sorted(
        f"run_{key}" for key in keys
    )


async def test_a_refused_item_carries_its_error_and_the_others_succeed() -> None:
    items = [item(0), item(1, input={"refuse": True}), item(2)]
    for batch_size in (100, 1):
        async with fake_client(FakeBroker()) as client:
            results = await client.actions.execute_many(items, batch_size=batch_size)
        refused = results[1]
        assert isinstance(results[0], ActionRun)
        assert isinstance(results[2], ActionRun)
        assert isinstance(refused, UnprocessableEntityError)
        assert (refused.status_code, refused.type) == (422, "validation_error")
        assert refused.message == "input.n is wrong"


async def test_a_batch_item_answer_keeps_the_request_id() -> None:
    async with fake_client(FakeBroker()) as client:
        results = await client.actions.execute_many([item(0, input={"refuse": True})])
    assert isinstance(results[0], UnprocessableEntityError)
    assert results[0].request_id == "req_1"


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"action_type": "echo", "input": {}}, "connection_id"),
        (item(0, input=["not", "an", "object"]), r"\$\.input"),
        (item(0, colour="blue"), "colour"),
        (item(0, input={"when": object()}), "cannot be sent as JSON"),
        (item(0, idempotency_key=""), "idempotency_key"),
        ("echo", "must be an ActionRequest or a mapping, not str"),
        (ActionRequest(connection_id="", action_type="echo", input={}), "connection_id"),
    ],
)
async def test_an_invalid_item_is_its_own_failure_and_nothing_is_sent_for_it(
    bad: Any, match: str
) -> None:
    broker = FakeBroker()
    async with fake_client(broker) as client:
        results = await client.actions.execute_many([item(0), bad, item(2)])
    error = results[1]
    assert isinstance(error, RequestValidationError)
    assert isinstance(error, ValueError)
    assert error.index == 1
    assert error.args[0].startswith("item 1 ")
    assert re.search(match, str(error))
    assert [r.input["n"] for r in results if isinstance(r, ActionRun)] == [0, 2]
    assert sum(len(batch) for batch in broker.batches) == 2


async def test_requests_and_batch_items_are_accepted_as_well_as_dicts() -> None:
    items = [
        ActionRequest(connection_id="con_echo", action_type="echo", input={"n": 0}),
        ActionBatchItem(
            connection_id="con_echo", action_type="echo", input={"n": 1}, idempotency_key="mine"
        ),
        item(2, idempotency_key="also-mine", metadata={"team": "ops"}),
    ]
    broker = FakeBroker()
    async with fake_client(broker) as client:
        results = await client.actions.execute_many(items)
    sent = broker.batches[0]
    assert [each["idempotency_key"] for each in sent[1:]] == ["mine", "also-mine"]
    assert sent[2]["metadata"] == {"team": "ops"}
    assert [r.id for r in results[1:] if isinstance(r, ActionRun)] == ["run_mine", "run_also-mine"]


async def test_results_of_as_completed_carry_their_index_and_key() -> None:
    seen: list[ActionResult] = []
    async with fake_client(FakeBroker()) as client:
        items = [item(0), item(1, input={"refuse": True}), {"bad": 1}, item(3)]
        async with client.actions.as_completed(items, batch_size=2) as results:
            async for result in results:
                seen.append(result)
    by_index = {result.index: result for result in seen}
    assert sorted(by_index) == [0, 1, 2, 3]
    assert by_index[0].ok
    assert by_index[0].unwrap().input == {"n": 0}
    assert by_index[0].idempotency_key is not None
    assert by_index[0].run is not None
    assert by_index[0].run.id == f"run_{by_index[0].idempotency_key}"
    assert isinstance(by_index[1].error, UnprocessableEntityError)
    assert by_index[1].idempotency_key is not None  # sent, refused: safe to send again
    assert isinstance(by_index[2].error, RequestValidationError)
    assert by_index[2].idempotency_key is None  # never sent
    with pytest.raises(UnprocessableEntityError):
        by_index[1].unwrap()


# -- failures of whole calls and retries ----------------------------------------------------------


async def test_a_batch_call_that_fails_after_retries_fails_each_of_its_items() -> None:
    async def break_the_second_batch(items: list[dict[str, Any]]) -> None:
        if items[0]["input"]["n"] == 10:
            raise httpx.ConnectError("connection refused")

    async with fake_client(FakeBroker(break_the_second_batch), max_retries=2) as client:
        results = await client.actions.execute_many([item(n) for n in range(30)], batch_size=10)
    failed = results[10:20]
    assert all(isinstance(r, ActionRun) for r in results[:10] + results[20:])
    assert all(isinstance(r, SignoffError) and "connection refused" in str(r) for r in failed)


async def test_a_retried_batch_resends_the_same_item_keys(httpx_mock: HTTPXMock) -> None:
    url = f"{BASE_URL}/v1/actions/batch"
    httpx_mock.add_response(method="POST", url=url, status_code=503)

    def echo(request: httpx.Request) -> httpx.Response:
        items = json.loads(request.content)["items"]
        data = [answer(each, each["idempotency_key"]) for each in items]
        return httpx.Response(200, json={"data": data})

    httpx_mock.add_callback(echo, method="POST", url=url)
    async with make_client() as client:
        results = await client.actions.execute_many([item(n) for n in range(3)])
    first, second = (json.loads(r.content)["items"] for r in httpx_mock.get_requests())
    assert [each["idempotency_key"] for each in first] == [
        each["idempotency_key"] for each in second
    ]
    assert len({each["idempotency_key"] for each in first}) == 3
    assert all(isinstance(r, ActionRun) for r in results)


async def test_a_retried_single_action_resends_its_key(httpx_mock: HTTPXMock) -> None:
    url = f"{BASE_URL}/v1/actions"
    httpx_mock.add_exception(httpx.ReadError("reset"), method="POST", url=url)
    httpx_mock.add_response(method="POST", url=url, status_code=201, json=run_for(item(0), "k"))
    async with make_client() as client:
        results = await client.actions.execute_many([item(0)], batch_size=1)
    keys = [r.headers["idempotency-key"] for r in httpx_mock.get_requests()]
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert isinstance(results[0], ActionRun)


async def test_items_still_running_elsewhere_are_asked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("signoff._execute_many.IN_PROGRESS_WAIT", 0.001)
    busy_once: set[str] = set()

    class StillRunning(FakeBroker):
        async def handle(self, request: httpx.Request) -> httpx.Response:
            items = json.loads(request.content)["items"]
            self.batches.append(items)
            data = []
            for each in items:
                key = each["idempotency_key"]
                if each["input"]["n"] == 1 and key not in busy_once:
                    busy_once.add(key)
                    error = {"type": "idempotency_request_in_progress", "message": "running"}
                    data.append({"status_code": 409, "error": error})
                else:
                    data.append(answer(each, key))
            return httpx.Response(200, json={"data": data})

    broker = StillRunning()
    async with fake_client(broker, max_retries=2) as client:
        results = await client.actions.execute_many([item(n) for n in range(3)])
    assert all(isinstance(r, ActionRun) for r in results)
    assert [len(batch) for batch in broker.batches] == [3, 1]
    assert broker.batches[1][0]["idempotency_key"] == broker.batches[0][1]["idempotency_key"]


async def test_a_batch_answer_of_the_wrong_length_fails_its_items() -> None:
    class Short(FakeBroker):
        async def handle(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, json={"data": []})

    async with fake_client(Short()) as client:
        results = await client.actions.execute_many([item(0), item(1)])
    assert all(isinstance(r, APIResponseValidationError) for r in results)


async def test_fail_fast_raises_the_first_failure_and_cancels_the_rest() -> None:
    never = anyio.Event()

    async def hold_all_but_the_refused(items: list[dict[str, Any]]) -> None:
        if not any(each["input"].get("refuse") for each in items):
            await never.wait()

    broker = FakeBroker(hold_all_but_the_refused)
    items = [item(n) for n in range(40)] + [item(40, input={"refuse": True})]
    async with fake_client(broker) as client:
        with anyio.fail_after(5), pytest.raises(UnprocessableEntityError) as caught:
            await client.actions.execute_many(items, batch_size=10, fail_fast=True)
    assert "item 40" in " ".join(caught.value.__notes__)
    assert broker.in_flight == 0  # the held requests were cancelled, not left running


async def test_without_fail_fast_nothing_is_raised_for_failed_items() -> None:
    async with fake_client(FakeBroker()) as client:
        results = await client.actions.execute_many(
            [item(0, input={"refuse": True}), {"nothing": "valid"}]
        )
    assert [type(r) for r in results] == [UnprocessableEntityError, RequestValidationError]


# -- bounds ---------------------------------------------------------------------------------------


def fill_up_to(count: int) -> tuple[FakeBroker, anyio.Event]:
    """A broker that holds its first requests until ``count`` are in flight at once, so a test
    sees the bound reached (or hangs if it cannot be) and any excess counted."""
    reached = anyio.Event()

    async def hold(items: list[dict[str, Any]]) -> None:
        if broker.in_flight >= count:
            reached.set()
        await reached.wait()

    broker = FakeBroker(hold)
    return broker, reached


async def test_concurrency_is_never_exceeded() -> None:
    broker, _ = fill_up_to(7)
    async with fake_client(broker) as client:
        with anyio.fail_after(10):
            results = await client.actions.execute_many(
                [item(n) for n in range(2000)], concurrency=7, batch_size=10
            )
    assert len(results) == 2000
    assert broker.max_in_flight == 7  # reached, never passed


async def test_concurrency_never_exceeds_the_clients_own_limit() -> None:
    broker, _ = fill_up_to(3)
    async with fake_client(broker, max_concurrency=3) as client:
        with anyio.fail_after(10):
            await client.actions.execute_many([item(n) for n in range(500)], batch_size=5)
    assert broker.max_in_flight == 3


async def test_one_request_at_a_time_with_bad_items_between_still_gets_through() -> None:
    items = [item(n) if n % 3 else {"bad": n} for n in range(50)]
    async with fake_client(FakeBroker()) as client:
        with anyio.fail_after(5):
            results = await client.actions.execute_many(items, concurrency=1, batch_size=4)
    assert [isinstance(r, ActionRun) for r in results] == [bool(n % 3) for n in range(50)]


async def test_memory_stays_bounded_for_100000_lazily_produced_items() -> None:
    concurrency, batch_size = 8, 100
    produced = done = 0
    ahead: list[int] = []

    def items() -> Iterator[dict[str, Any]]:
        nonlocal produced
        for n in range(100_000):
            ahead.append(produced - done)
            produced += 1
            yield item(n)

    def progress(count: int, total: int | None) -> None:
        nonlocal done
        done = count
        assert total is None  # a generator has no len()

    count = 0
    async with fake_client(FakeBroker()) as client:
        stream = client.actions.as_completed(
            items(), concurrency=concurrency, batch_size=batch_size, on_progress=progress
        )
        async with stream as results:
            async for _ in results:
                count += 1
    assert count == produced == 100_000
    # Consumed progressively: never more items taken than the window ahead of completions.
    assert max(ahead) <= concurrency * batch_size
    assert max(ahead) >= batch_size  # and it did run ahead, batching


# -- cancellation, inputs, callbacks ------------------------------------------------------------


async def test_cancelling_the_caller_cancels_every_request_in_flight() -> None:
    all_in_flight = anyio.Event()
    broker = FakeBroker()

    async def hang(items: list[dict[str, Any]]) -> None:
        if broker.in_flight == 4:
            all_in_flight.set()
        await anyio.sleep_forever()

    broker.hook = hang
    async with fake_client(broker) as client:
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(
                    lambda: client.actions.execute_many(
                        [item(n) for n in range(1000)], concurrency=4, batch_size=10
                    )
                )
                await all_in_flight.wait()
                tg.cancel_scope.cancel()
    assert broker.in_flight == 0
    assert len(broker.batches) == 4  # nothing new was started after the cancel


async def test_leaving_as_completed_early_cancels_the_rest() -> None:
    never = anyio.Event()
    broker = FakeBroker()

    async def hold_after_the_first(items: list[dict[str, Any]]) -> None:
        if items[0]["input"]["n"] != 0:
            await never.wait()

    broker.hook = hold_after_the_first
    async with fake_client(broker) as client:
        with anyio.fail_after(5):
            async with client.actions.as_completed(
                [item(n) for n in range(100)], batch_size=10, concurrency=4
            ) as results:
                async for result in results:
                    assert result.index < 10
                    break
    assert broker.in_flight == 0


async def test_as_completed_raises_the_first_failure_with_fail_fast() -> None:
    async with fake_client(FakeBroker()) as client:
        items = [item(0), item(1, input={"refuse": True})]
        stream = client.actions.as_completed(items, fail_fast=True)
        async with stream:
            with pytest.raises(UnprocessableEntityError):
                _ = [result async for result in stream]


async def test_an_async_iterable_is_read_lazily_too() -> None:
    async def items() -> AsyncIterator[dict[str, Any]]:
        for n in range(25):
            await anyio.lowlevel.checkpoint()
            yield item(n)

    async with fake_client(FakeBroker()) as client:
        results = await client.actions.execute_many(items(), batch_size=10)
    assert [r.input["n"] for r in results if isinstance(r, ActionRun)] == list(range(25))


async def test_on_progress_counts_results_against_the_total() -> None:
    calls: list[tuple[int, int | None]] = []
    async with fake_client(FakeBroker()) as client:
        await client.actions.execute_many(
            [item(n) for n in range(5)], batch_size=2, on_progress=lambda d, t: calls.append((d, t))
        )
    assert calls == [(n, 5) for n in range(1, 6)]


async def test_a_failing_callback_or_input_stops_everything_and_is_raised_as_is() -> None:
    def broken_progress(done: int, total: int | None) -> None:
        raise RuntimeError("progress bar broke")

    def broken_items() -> Iterator[dict[str, Any]]:
        yield item(0)
        raise LookupError("the source broke")

    async with fake_client(FakeBroker()) as client:
        with pytest.raises(RuntimeError, match="progress bar broke"):
            await client.actions.execute_many([item(0)], on_progress=broken_progress)
        with pytest.raises(LookupError, match="the source broke"):
            await client.actions.execute_many(broken_items())


async def test_bad_options_are_refused_before_anything_is_sent() -> None:
    async with fake_client(FakeBroker()) as client:
        for options, error in [
            ({"concurrency": 0}, ValueError),
            ({"batch_size": 101}, ValueError),
            ({"batch_size": 2.5}, TypeError),
        ]:
            with pytest.raises(error):
                await client.actions.execute_many([item(0)], **options)
        for items in [item(0), "echo", 42]:
            with pytest.raises(TypeError, match="iterable"):
                await client.actions.execute_many(items)  # type: ignore[arg-type]
            with pytest.raises(TypeError, match="iterable"):
                client.actions.as_completed(items)  # type: ignore[arg-type]


async def test_an_empty_input_makes_no_request() -> None:
    broker = FakeBroker()
    async with fake_client(broker) as client:
        assert await client.actions.execute_many([]) == []
    assert broker.batches == []
