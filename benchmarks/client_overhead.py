"""What the SDK costs per request, next to raw httpx and raw aiohttp doing the same GETs.

2,000 GETs at concurrency 50 (50 worker tasks) against a minimal keep-alive server on
127.0.0.1 (``_rawserver.py``, a subprocess); the SDK decodes each body into an `Approval`,
the raw clients read it. Reports requests/s and client CPU us per request
(``time.process_time``): median of several rounds, each round a fresh process running every
variant in rotated order, ratios taken within a round against raw httpx.

Then the sweep used to pick ``DEFAULT_MAX_CONCURRENCY``: the SDK with 50 workers and
``max_concurrency`` from 1 to 50. The whole script keeps to a time budget (``--budget``,
50 s), skipping rounds that would not fit; for a steadier sweep run it alone:

    uv run python benchmarks/client_overhead.py [--rounds 3]
    uv run python benchmarks/client_overhead.py --rounds 0 --sweep-rounds 4 \
        --sweep-requests 600 --budget 150
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
PATH = "/v1/approvals/apr_01JD8Y3M5Q2W7E9R4T6Y8U0I1O"
VARIANTS = ["sdk", "sdk_aiohttp", "raw_httpx", "raw_aiohttp"]
SWEEP = [1, 2, 4, 6, 8, 10, 16, 50]
SWEEP_AIOHTTP = [6, 50]
BUDGET = 50.0  # seconds for the whole script; rounds that would not fit are skipped
SWEEP_RESERVE = 8.0  # seconds of the budget kept for the sweep
WORKERS = 50
LOAD_DEADLINE = 20.0  # seconds; a load loop that runs longer is abandoned
CHILD_TIMEOUT = 90.0

Send = Callable[[], Awaitable[object]]


# -- the measuring process -----------------------------------------------------------------


@asynccontextmanager
async def variant(name: str, url: str, max_concurrency: int | None) -> AsyncIterator[Send]:
    """A function making one request the way ``name`` does."""
    if name.startswith("sdk"):
        from signoff.client import AsyncSignoff
        from signoff.models import Approval

        options: dict[str, Any] = {"transport": "aiohttp" if name == "sdk_aiohttp" else "httpx"}
        if max_concurrency is not None:
            options["max_concurrency"] = max_concurrency
        async with AsyncSignoff(api_key="sgn_bench", base_url=url, **options) as client:
            yield lambda: client._get(PATH, cast_to=Approval)
    elif name == "raw_httpx":
        import httpx

        async with httpx.AsyncClient(base_url=url) as http:

            async def send_httpx() -> None:
                response = await http.get(PATH)
                response.raise_for_status()

            yield send_httpx
    elif name == "raw_aiohttp":
        import aiohttp

        async with aiohttp.ClientSession(base_url=url) as session:

            async def send_aiohttp() -> None:
                async with session.get(PATH) as response:
                    response.raise_for_status()
                    await response.read()

            yield send_aiohttp
    else:
        raise ValueError(name)


async def load(send: Send, requests: int, workers: int) -> None:
    """Make ``requests`` requests from ``workers`` tasks; bounded by LOAD_DEADLINE."""
    import anyio

    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await send()

    with anyio.fail_after(LOAD_DEADLINE):
        async with anyio.create_task_group() as group:
            for _ in range(workers):
                group.start_soon(worker)


async def measure(
    name: str, url: str, requests: int, max_concurrency: int | None
) -> dict[str, float]:
    async with variant(name, url, max_concurrency) as send:
        await load(send, 100, WORKERS)  # warm-up: connections, decoders, imports
        cpu, wall = time.process_time(), time.perf_counter()
        await load(send, requests, WORKERS)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"rps": requests / wall, "cpu_us": cpu / requests * 1e6}


def child(args: argparse.Namespace) -> None:
    import asyncio

    results = {}
    for job in json.loads(args.jobs):
        name, concurrency = job["variant"], job.get("max_concurrency")
        key = name if concurrency is None else f"{name}@{concurrency}"
        results[key] = asyncio.run(measure(name, args.url, job["requests"], concurrency))
    print(json.dumps(results))


# -- the orchestrating process ---------------------------------------------------------------


def run_child(url: str, jobs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", "--url", url, "--jobs", json.dumps(jobs)],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=True,
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def rotated(items: list[str], by: int) -> list[str]:
    by %= len(items)
    return items[by:] + items[:by]


def main(args: argparse.Namespace) -> None:
    server = subprocess.Popen(
        [sys.executable, str(HERE / "_rawserver.py"), "--lifetime", "300"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        deadline = time.monotonic() + args.budget
        if args.rounds:
            compare(url, args.rounds, args.requests, deadline)
        if args.sweep_rounds:
            sweep(url, args.sweep_rounds, args.sweep_requests, deadline)
    finally:
        server.terminate()
        server.wait(timeout=10)


def compare(url: str, rounds: int, requests: int, deadline: float) -> None:
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
    ratios: dict[str, list[tuple[float, float]]] = {name: [] for name in VARIANTS}
    took = 0.0
    for round_ in range(rounds):
        if round_ and time.monotonic() + took > deadline - SWEEP_RESERVE:
            print(f"(time budget reached after {round_} of {rounds} rounds)")
            rounds = round_
            break
        started = time.monotonic()
        jobs = [{"variant": v, "requests": requests} for v in rotated(VARIANTS, round_)]
        result = run_child(url, jobs)
        base = result["raw_httpx"]
        for name in VARIANTS:
            rows[name].append(result[name])
            ratios[name].append(
                (result[name]["rps"] / base["rps"], result[name]["cpu_us"] / base["cpu_us"])
            )
        took = time.monotonic() - started
    print(f"\n{requests} GETs, {WORKERS} workers, median of {rounds} rounds (baseline: raw httpx)")
    print(f"{'client':<34}{'req/s':>9}{'CPU us/req':>12}{'req/s x':>10}{'CPU x':>8}")
    labels = {
        "sdk": "signoff AsyncSignoff (httpx)",
        "sdk_aiohttp": "signoff AsyncSignoff (aiohttp)",
        "raw_httpx": "raw httpx.AsyncClient (defaults)",
        "raw_aiohttp": "raw aiohttp.ClientSession",
    }
    for name in VARIANTS:
        rps = statistics.median(r["rps"] for r in rows[name])
        cpu = statistics.median(r["cpu_us"] for r in rows[name])
        rps_x = statistics.median(r[0] for r in ratios[name])
        cpu_x = statistics.median(r[1] for r in ratios[name])
        print(f"{labels[name]:<34}{rps:>9.0f}{cpu:>12.0f}{rps_x:>10.2f}{cpu_x:>8.2f}")


def sweep(url: str, rounds: int, requests: int, deadline: float) -> None:
    points = [("sdk", c) for c in SWEEP] + [("sdk_aiohttp", c) for c in SWEEP_AIOHTTP]
    results: dict[tuple[str, int], list[dict[str, float]]] = {p: [] for p in points}
    done, took = 0, 0.0
    for round_ in range(rounds):
        if round_ and time.monotonic() + took > deadline:
            break
        started = time.monotonic()
        order = points[round_ % len(points) :] + points[: round_ % len(points)]
        jobs = [{"variant": v, "max_concurrency": c, "requests": requests} for v, c in order]
        result = run_child(url, jobs)
        for v, c in points:
            results[(v, c)].append(result[f"{v}@{c}"])
        done, took = done + 1, time.monotonic() - started
    print(
        f"\nmax_concurrency sweep: {WORKERS} workers, {requests} GETs per point, "
        f"median of {done} rounds"
    )
    print(f"{'transport':>10}{'max_concurrency':>17}{'req/s':>9}{'CPU us/req':>12}")
    for v, c in points:
        rps = statistics.median(r["rps"] for r in results[(v, c)])
        cpu = statistics.median(r["cpu_us"] for r in results[(v, c)])
        transport = "aiohttp" if v == "sdk_aiohttp" else "httpx"
        print(f"{transport:>10}{c:>17}{rps:>9.0f}{cpu:>12.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--sweep-rounds", type=int, default=1)
    parser.add_argument("--sweep-requests", type=int, default=200)
    parser.add_argument("--budget", type=float, default=BUDGET, help="seconds, in all")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--jobs", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments)
    else:
        started = time.perf_counter()
        main(arguments)
        print(f"\n(took {time.perf_counter() - started:.0f}s)")
