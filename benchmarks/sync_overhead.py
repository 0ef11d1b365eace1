"""What the blocking client costs per call over the async one.

`Signoff` runs an `AsyncSignoff` on a background event-loop thread; every call is one hop
onto that thread and back. This measures that hop on a cheap call (``approvals.get``)
against a minimal local HTTP server (so the server costs almost nothing and the client's
overhead dominates), sequentially, one call at a time:

- ``async``: ``await client.approvals.get(id)`` on an `AsyncSignoff` (the baseline);
- ``sync``: ``client.approvals.get(id)`` on a `Signoff`;
- ``asyncio.run per call``: what a naive sync wrapper does: a new event loop and a new
  `AsyncSignoff` (so a new connection) for every call;
- ``httpx.Client``: a plain synchronous GET with no SDK, for scale.

It also times the bare bridge on a call that does nothing (``LoopThread.call`` vs
``asyncio.run``). Reports medians of several rounds in microseconds per call, and the
sync-minus-async difference (the shim's cost). Run: ``uv run python benchmarks/sync_overhead.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from signoff import AsyncSignoff, Signoff
from signoff._loop_thread import LoopThread

HERE = Path(__file__).resolve().parent
KEY = "sgn_live_AAAAAAAAAAAA_" + "A" * 43
APPROVAL = "apr_01JD8Y3M5Q2W7E9R4T6Y8U0I1O"


def per_call_us(run: Callable[[int], None], calls: int) -> float:
    started = time.perf_counter()
    run(calls)
    return (time.perf_counter() - started) / calls * 1e6


def measure_async(url: str, calls: int) -> float:
    """Microseconds per ``await client.approvals.get()``, on a warm client."""

    async def run() -> float:
        async with AsyncSignoff(KEY, url) as client:
            await client.approvals.get(APPROVAL)  # warm: connection, decoders
            started = time.perf_counter()
            for _ in range(calls):
                await client.approvals.get(APPROVAL)
            return (time.perf_counter() - started) / calls * 1e6

    return asyncio.run(run())


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
        results: dict[str, list[float]] = {
            "async": [],
            "sync": [],
            "asyncio.run per call": [],
            "httpx.Client": [],
            "bridge: LoopThread.call(noop)": [],
            "bridge: asyncio.run(noop())": [],
        }
        sync_client = Signoff(KEY, url)
        sync_client.approvals.get(APPROVAL)
        http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"})
        http.get(f"/v1/approvals/{APPROVAL}")
        loop = LoopThread()

        async def noop() -> None:
            return None

        deadline = time.monotonic() + args.budget
        for round_ in range(args.rounds):
            if round_ and time.monotonic() > deadline:
                print(f"(time budget reached after {round_} rounds)")
                break
            results["async"].append(measure_async(url, args.calls))
            results["sync"].append(
                per_call_us(
                    lambda n: [sync_client.approvals.get(APPROVAL) for _ in range(n)], args.calls
                )
            )

            async def fresh_client_call() -> None:
                async with AsyncSignoff(KEY, url) as client:
                    await client.approvals.get(APPROVAL)

            results["asyncio.run per call"].append(
                per_call_us(
                    lambda n: [asyncio.run(fresh_client_call()) for _ in range(n)],
                    max(20, args.calls // 10),
                )
            )
            results["httpx.Client"].append(
                per_call_us(
                    lambda n: [http.get(f"/v1/approvals/{APPROVAL}") for _ in range(n)], args.calls
                )
            )
            results["bridge: LoopThread.call(noop)"].append(
                per_call_us(lambda n: [loop.call(noop) for _ in range(n)], args.calls * 2)
            )
            results["bridge: asyncio.run(noop())"].append(
                per_call_us(lambda n: [asyncio.run(noop()) for _ in range(n)], args.calls * 2)
            )
        sync_client.close()
        http.close()
        loop.close()
    finally:
        server.terminate()
        server.wait(timeout=10)

    medians = {name: statistics.median(values) for name, values in results.items() if values}
    base = medians["async"]
    rounds = len(results["async"])
    print(f"\nsequential calls, median of {rounds} rounds of {args.calls} (baseline: async)")
    print(f"{'variant':<32}{'us/call':>10}{'x async':>10}")
    for name, value in medians.items():
        print(f"{name:<32}{value:>10.0f}{value / base:>10.2f}")
    print(
        f"\nthe sync shim adds {medians['sync'] - base:.0f} us per call over AsyncSignoff; "
        f"a fresh asyncio.run per call costs {medians['asyncio.run per call'] - base:.0f} us more"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--budget", type=float, default=60.0, help="seconds, in all")
    main(parser.parse_args())
