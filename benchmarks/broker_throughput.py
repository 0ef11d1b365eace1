"""Approvals created per second through the SDK, next to raw httpx sending the same POSTs.

The broker runs in its own process (``_broker.py``: ``signoff serve`` with the request log off,
on 127.0.0.1, SQLite with ``synchronous=FULL``); this process is the client. Each variant
creates a fixed number of approvals (``--requests``, 1,000) from 50 worker tasks pulling from
a shared counter, after 100 warm-up requests:

- ``sdk``: ``client.approvals.create(...)``, ``AsyncSignoff`` as shipped (httpx,
  ``max_concurrency=4``: at most 4 of the 50 tasks' requests in flight);
- ``sdk_mc50``: the same with ``max_concurrency=50``;
- ``sdk_aiohttp``: ``AsyncSignoff(transport="aiohttp", max_concurrency=50)``;
- ``raw_httpx``: ``httpx.AsyncClient()`` (default limits) POSTing the same JSON body with the
  same headers (Authorization, User-Agent, Accept, Content-Type and a fresh uuid4
  ``Idempotency-Key`` per request, as the SDK sends), checking for 201; the baseline.

Reported per variant: approvals/s, client CPU us per request (``time.process_time`` of this
process), the broker's CPU us per request (``/proc/<pid>/stat``, 10 ms ticks, split into its
event-loop thread and its other threads, which run the SQLite transactions) and the ratios
to raw httpx. Each round runs every variant once, in rotated order; the table shows medians
over rounds, ratios taken within a round. Each variant uses its own API key (the broker
allows 1,000 requests/s per key), so no run meets the rate limit. Every load loop is bounded
by ``anyio.fail_after``; the whole run by ``--budget``.

    uv run python benchmarks/broker_throughput.py [--rounds 2] [--requests 1000]
    uv run python benchmarks/broker_throughput.py --rounds 3 --requests 2000 --budget 300
    uv run python benchmarks/broker_throughput.py --request-log   # as `signoff serve` logs
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _broker import BrokerProcess

VARIANTS = ["sdk", "sdk_mc50", "sdk_aiohttp", "raw_httpx"]
LABELS = {
    "sdk": "SDK approvals.create (httpx, mc=4)",
    "sdk_mc50": "SDK approvals.create (httpx, mc=50)",
    "sdk_aiohttp": "SDK approvals.create (aiohttp, mc=50)",
    "raw_httpx": "raw httpx.AsyncClient POST",
}
WORKERS = 50
WARMUP = 100
LOAD_DEADLINE = 60.0  # seconds; a load loop that runs longer is abandoned
ARGUMENTS = {"amount": 4200, "currency": "usd", "customer": "cus_9f2", "order": "ord_5521"}
METADATA = {"team": "billing", "risk": "low"}

Send = Callable[[], Awaitable[object]]


@asynccontextmanager
async def variant(name: str, url: str, key: str) -> AsyncIterator[Send]:
    """A function creating one approval the way ``name`` does."""
    from signoff import AsyncSignoff

    fields: dict[str, Any] = {
        "action": "payments.refund",
        "summary": "Refund $42.00 to customer cus_9f2",
        "function_name": "billing.refund",
        "arguments": ARGUMENTS,
        "metadata": METADATA,
    }
    if name.startswith("sdk"):
        options: dict[str, Any] = {}
        if name == "sdk_aiohttp":
            options = {"transport": "aiohttp", "max_concurrency": WORKERS}
        elif name == "sdk_mc50":
            options = {"max_concurrency": WORKERS}
        async with AsyncSignoff(key, url, **options) as client:
            yield lambda: client.approvals.create(**fields)
    elif name == "raw_httpx":
        import httpx

        from signoff._http import USER_AGENT
        from signoff._wire import encode_json
        from signoff.models import ApprovalCreate

        body = encode_json(ApprovalCreate(**fields))
        headers = {
            "Authorization": f"Bearer {key}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        async with httpx.AsyncClient(base_url=url) as http:

            async def send_httpx() -> None:
                response = await http.post(
                    "/v1/approvals",
                    content=body,
                    headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
                )
                if response.status_code != 201:
                    raise RuntimeError(f"{response.status_code}: {response.text[:200]}")

            yield send_httpx
    else:
        raise ValueError(name)


async def load(send: Send, requests: int) -> None:
    """Make ``requests`` calls from WORKERS tasks; bounded by LOAD_DEADLINE."""
    import anyio

    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await send()

    with anyio.fail_after(LOAD_DEADLINE):
        async with anyio.create_task_group() as group:
            for _ in range(WORKERS):
                group.start_soon(worker)


async def new_key(url: str, admin_key: str, name: str) -> str:
    from signoff import AsyncSignoff

    async with AsyncSignoff(admin_key, url) as admin:
        created = await admin.api_keys.create(name=name, scopes=["approvals:write"])
    return created.key


async def measure(name: str, broker: BrokerProcess, requests: int) -> dict[str, float]:
    key = await new_key(broker.url, broker.admin_key, f"bench-{name}-{uuid.uuid4().hex[:6]}")
    async with variant(name, broker.url, key) as send:
        await load(send, WARMUP)  # connections, decoders, imports, the key's first use
        threads = broker.thread_cpu()
        cpu, wall = time.process_time(), time.perf_counter()
        await load(send, requests)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        after = broker.thread_cpu()
    loop = after.get("event loop", 0.0) - threads.get("event loop", 0.0)
    total = sum(after.values()) - sum(threads.values())
    return {
        "rps": requests / wall,
        "cpu_us": cpu / requests * 1e6,
        "broker_us": total / requests * 1e6,
        "broker_loop_us": loop / requests * 1e6,
        "broker_other_us": (total - loop) / requests * 1e6,
    }


def rotated(items: list[str], by: int) -> list[str]:
    by %= len(items)
    return items[by:] + items[:by]


def main(args: argparse.Namespace) -> None:
    import anyio

    variants = args.variants.split(",")
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    ratios: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    deadline = time.monotonic() + args.budget
    done, took = 0, 0.0
    with BrokerProcess(request_log=args.request_log, lifetime=args.budget + 120) as broker:
        for round_ in range(args.rounds):
            if round_ and time.monotonic() + took > deadline:
                print(f"(time budget reached after {round_} of {args.rounds} rounds)")
                break
            started = time.monotonic()
            result = {}
            for name in rotated(variants, round_):
                result[name] = anyio.run(measure, name, broker, args.requests)
            base = result.get("raw_httpx")
            for name in variants:
                rows[name].append(result[name])
                if base is not None:
                    ratios[name].append(
                        (result[name]["rps"] / base["rps"], result[name]["cpu_us"] / base["cpu_us"])
                    )
            done, took = done + 1, time.monotonic() - started
    log = "on (as `signoff serve` ships)" if args.request_log else "off"
    print(
        f"\n{args.requests} x POST /v1/approvals, {WORKERS} worker tasks, broker in its own "
        f"process (request log {log}); median of {done} rounds; baseline raw httpx"
    )
    print(
        f"{'client':<40}{'approvals/s':>12}{'client CPU':>11}{'broker CPU':>11}"
        f"{'(loop':>7}{'+ other)':>9}{'req/s x':>9}{'CPU x':>7}"
    )
    print(f"{'':<40}{'':>12}{'us/req':>11}{'us/req':>11}{'':>16}{'raw':>9}{'raw':>7}")
    for name in variants:

        def med(key: str, name: str = name) -> float:
            return statistics.median(r[key] for r in rows[name])

        rps_x = statistics.median(r[0] for r in ratios[name]) if ratios[name] else float("nan")
        cpu_x = statistics.median(r[1] for r in ratios[name]) if ratios[name] else float("nan")
        print(
            f"{LABELS[name]:<40}{med('rps'):>12.0f}{med('cpu_us'):>11.0f}{med('broker_us'):>11.0f}"
            f"{med('broker_loop_us'):>7.0f}{med('broker_other_us'):>9.0f}"
            f"{rps_x:>9.2f}{cpu_x:>7.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--request-log", action="store_true", help="broker logs every request")
    parser.add_argument("--budget", type=float, default=75.0, help="seconds, in all")
    arguments = parser.parse_args()
    started = time.perf_counter()
    main(arguments)
    print(f"\n(took {time.perf_counter() - started:.0f}s)")
