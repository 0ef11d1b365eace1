"""Governed actions per second through ``execute_many``, batched and one by one, next to raw
httpx and raw aiohttp posting the same actions by hand.

The broker runs in its own process (``_broker.py``: ``signoff serve`` with the request log
off, on 127.0.0.1, SQLite in a temporary folder) with an ``echo`` connection and a policy
that allows ``echo.*``, so every action runs before its request is answered. This process is
only the client, so ``time.process_time()`` here is the client's CPU alone. Each variant runs
``--actions`` (2,000) echo actions at concurrency 50, after a warm-up of 100:

- ``sdk_batched``: ``execute_many(items, concurrency=50, batch_size=100)`` on
  ``AsyncSignoff(max_concurrency=50)``: 20 ``POST /v1/actions/batch`` calls;
- ``sdk_single``: ``execute_many(..., batch_size=1)``, mc=50: one ``POST /v1/actions`` each;
- ``..._mc4``: the same on ``AsyncSignoff()`` as shipped (``max_concurrency=4``, which
  ``execute_many`` never exceeds: 4 requests in flight, not 50);
- ``..._aiohttp``: the same on ``AsyncSignoff(transport="aiohttp", max_concurrency=50)``;
- ``raw_httpx``: ``httpx.AsyncClient()`` (default limits), 50 worker tasks POSTing one action
  each time (same body and headers, a fresh ``Idempotency-Key`` each), checking for 201;
- ``raw_aiohttp``: what one writes by hand: ``asyncio.gather`` of 2,000 POSTs on an
  ``aiohttp.ClientSession`` whose connector allows 50 connections.

Reported: actions/s, client CPU us per action, the broker's CPU us per action (its process,
10 ms ticks) and ratios. Each round runs every variant once, in rotated order, each with its
own API key (the broker allows 1,000 requests/s per key); the table shows medians over rounds,
ratios taken within a round. Every load is bounded by ``anyio.fail_after``; the whole run by
``--budget`` (rounds that would not fit are skipped).

    uv run python benchmarks/execute_many.py [--rounds 2] [--actions 2000] [--budget 360]
    uv run python benchmarks/execute_many.py --variants sdk_batched,sdk_single,raw_aiohttp
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _broker import BrokerProcess

VARIANTS = [
    "sdk_batched",
    "sdk_batched_mc4",
    "sdk_batched_aiohttp",
    "sdk_single",
    "sdk_single_mc4",
    "sdk_single_aiohttp",
    "raw_httpx",
    "raw_aiohttp",
]
LABELS = {
    "sdk_batched": "SDK execute_many, batches of 100",
    "sdk_batched_mc4": "  the same, client as shipped (mc=4)",
    "sdk_batched_aiohttp": "  the same, transport=aiohttp",
    "sdk_single": "SDK execute_many, batch_size=1",
    "sdk_single_mc4": "  the same, client as shipped (mc=4)",
    "sdk_single_aiohttp": "  the same, transport=aiohttp",
    "raw_httpx": "raw httpx, 50 workers, one by one",
    "raw_aiohttp": "raw aiohttp + asyncio.gather",
}
CONCURRENCY = 50
WARMUP = 100
LOAD_DEADLINE = 120.0  # seconds; a load that runs longer is abandoned
INPUT = {"amount": 4200, "currency": "usd", "customer": "cus_9f2", "order": "ord_5521"}

Run = Callable[[int], Awaitable[None]]


def bodies(connection_id: str, count: int) -> list[dict[str, Any]]:
    return [
        {"connection_id": connection_id, "action_type": "echo", "input": {**INPUT, "n": n}}
        for n in range(count)
    ]


def check(results: list[Any], count: int) -> None:
    from signoff import ActionRun, RunStatus

    ok = sum(isinstance(r, ActionRun) and r.status is RunStatus.SUCCEEDED for r in results)
    if ok != count:
        raise RuntimeError(f"{count - ok} of {count} actions did not succeed: {results[:3]}")


async def measure(
    name: str, url: str, key: str, connection_id: str, count: int
) -> dict[str, float]:
    """Warm up, then run ``count`` actions the way ``name`` does; client CPU and wall time."""
    import anyio

    async def timed(run: Run) -> dict[str, float]:
        with anyio.fail_after(LOAD_DEADLINE):
            await run(WARMUP)  # connections, decoders, imports, the key's first use
            cpu, wall = time.process_time(), time.perf_counter()
            await run(count)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        return {"aps": count / wall, "cpu_us": cpu / count * 1e6}

    if name.startswith("sdk"):
        from signoff import AsyncSignoff

        options: dict[str, Any] = {"max_concurrency": CONCURRENCY}
        if name.endswith("_mc4"):
            options = {}
        elif name.endswith("_aiohttp"):
            options["transport"] = "aiohttp"
        batch_size = 1 if name.startswith("sdk_single") else 100
        async with AsyncSignoff(key, url, **options) as client:

            async def run_sdk(n: int) -> None:
                results = await client.actions.execute_many(
                    bodies(connection_id, n), concurrency=CONCURRENCY, batch_size=batch_size
                )
                check(results, n)

            return await timed(run_sdk)

    import msgspec

    from signoff._http import USER_AGENT

    headers = {
        "Authorization": f"Bearer {key}",
        "User-Agent": USER_AGENT,
        "Accept": "application/json",
        "Content-Type": "application/json",
    }
    if name == "raw_httpx":
        import httpx

        async with httpx.AsyncClient(base_url=url) as http:

            async def run_httpx(n: int) -> None:
                pending = [msgspec.json.encode(body) for body in bodies(connection_id, n)]

                async def worker() -> None:
                    while pending:
                        response = await http.post(
                            "/v1/actions",
                            content=pending.pop(),
                            headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
                        )
                        if response.status_code != 201:
                            raise RuntimeError(f"{response.status_code}: {response.text[:200]}")

                async with anyio.create_task_group() as group:
                    for _ in range(CONCURRENCY):
                        group.start_soon(worker)

            return await timed(run_httpx)
    if name == "raw_aiohttp":
        import asyncio

        import aiohttp

        connector = aiohttp.TCPConnector(limit=CONCURRENCY)
        async with aiohttp.ClientSession(base_url=url, connector=connector) as session:

            async def post(body: dict[str, Any]) -> None:
                sent = {**headers, "Idempotency-Key": str(uuid.uuid4())}
                async with session.post("/v1/actions", json=body, headers=sent) as response:
                    await response.read()
                    if response.status != 201:
                        raise RuntimeError(f"{response.status}: {await response.text()}")

            async def run_aiohttp(n: int) -> None:
                await asyncio.gather(*(post(body) for body in bodies(connection_id, n)))

            return await timed(run_aiohttp)
    raise ValueError(name)


async def setup(url: str, admin_key: str) -> str:
    """The echo connection and the policy that lets every echo action run at once."""
    from signoff import AsyncSignoff

    async with AsyncSignoff(admin_key, url) as admin:
        connection = await admin.connections.create(name="echo", connector="echo")
        await admin.policies.create(action="echo.*", effect="allow")
    return connection.id


async def new_key(url: str, admin_key: str, name: str) -> str:
    from signoff import AsyncSignoff

    async with AsyncSignoff(admin_key, url) as admin:
        created = await admin.api_keys.create(name=name, scopes=["actions:execute"])
    return created.key


def rotated(items: list[str], by: int) -> list[str]:
    by %= len(items)
    return items[by:] + items[:by]


def run_round(
    broker: BrokerProcess, connection_id: str, variants: list[str], count: int, round_: int
) -> dict[str, dict[str, float]]:
    import anyio

    result: dict[str, dict[str, float]] = {}
    for name in rotated(variants, round_):
        key = anyio.run(new_key, broker.url, broker.admin_key, f"bench-{name}-{round_}")
        before = broker.cpu_seconds()
        result[name] = anyio.run(measure, name, broker.url, key, connection_id, count)
        # Broker CPU spans the warm-up too: reported per measured action, a slight overcount.
        result[name]["broker_us"] = (broker.cpu_seconds() - before) / (count + WARMUP) * 1e6
    return result


def main(args: argparse.Namespace) -> None:
    import anyio

    variants = [v for v in VARIANTS if v in args.variants.split(",")]
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    deadline = time.monotonic() + args.budget
    done, took = 0, 0.0
    with BrokerProcess(lifetime=args.budget + 120) as broker:
        connection_id = anyio.run(setup, broker.url, broker.admin_key)
        for round_ in range(args.rounds):
            if round_ and time.monotonic() + took > deadline:
                print(f"(time budget reached after {round_} of {args.rounds} rounds)")
                break
            started = time.monotonic()
            result = run_round(broker, connection_id, variants, args.actions, round_)
            for name in variants:
                rows[name].append(result[name])
            done, took = done + 1, time.monotonic() - started
    report(rows, variants, args.actions, done)


def report(
    rows: dict[str, list[dict[str, float]]], variants: list[str], count: int, rounds: int
) -> None:
    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in rows[name])

    def ratio(name: str, base: str, key: str) -> float:
        return statistics.median(
            a[key] / b[key] for a, b in zip(rows[name], rows[base], strict=True)
        )

    print(
        f"\n{count} echo actions at concurrency {CONCURRENCY}, broker in its own process "
        f"(request log off); median of {rounds} rounds"
    )
    print(
        f"{'client':<40}{'actions/s':>10}{'client CPU':>12}{'broker CPU':>12}"
        f"{'actions/s x':>13}{'CPU x':>8}"
    )
    print(f"{'':<40}{'':>10}{'us/action':>12}{'us/action':>12}{'raw httpx':>13}{'aiohttp':>8}")
    for name in variants:
        aps_x = ratio(name, "raw_httpx", "aps") if "raw_httpx" in rows else float("nan")
        cpu_x = ratio(name, "raw_aiohttp", "cpu_us") if "raw_aiohttp" in rows else float("nan")
        print(
            f"{LABELS[name]:<40}{med(name, 'aps'):>10.0f}{med(name, 'cpu_us'):>12.0f}"
            f"{med(name, 'broker_us'):>12.0f}{aps_x:>13.2f}{cpu_x:>8.2f}"
        )
    if {"sdk_batched", "sdk_single", "raw_httpx", "raw_aiohttp"} <= set(rows):
        print("\ntargets (medians of per-round ratios):")
        cpu = ratio("sdk_batched", "raw_aiohttp", "cpu_us")
        speed = ratio("sdk_batched", "sdk_single", "aps")
        lines = [
            ("batched client CPU per action / raw aiohttp's per request", f"{cpu:.2f}", "< 1"),
            ("batched actions/s / one-by-one actions/s (both mc=50)", f"{speed:.1f}x", ">= 5"),
        ]
        for name in ("sdk_single", "sdk_single_mc4", "sdk_single_aiohttp"):
            if name in rows:
                single = ratio(name, "raw_httpx", "aps")
                lines.append((f"{name} actions/s / raw httpx actions/s", f"{single:.2f}", ">= 1"))
        for text, value, goal in lines:
            print(f"  {text:<62}{value:>7}  ({goal})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--actions", type=int, default=2000)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--budget", type=float, default=360.0, help="seconds, in all")
    arguments = parser.parse_args()
    started = time.perf_counter()
    main(arguments)
    print(f"\n(took {time.perf_counter() - started:.0f}s)")
