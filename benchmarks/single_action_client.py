"""The SDK's one-by-one action path against raw httpx, client side only, at 50 in flight.

`execute_many.py` runs against a real broker, which on a 2-vCPU machine is itself the
bottleneck for single actions, so its one-by-one rows mostly measure the broker. This script
isolates the client: the same 2,000 ``POST /v1/actions`` go to a minimal local server that
answers every request at once with a fixed action run (``_rawserver.py --body run``), from

- ``raw httpx``: 50 workers posting with one ``httpx.AsyncClient`` (the baseline);
- ``SDK execute``: 50 workers calling ``client.actions.execute`` (``max_concurrency=50``);
- ``SDK execute_many``: ``execute_many(batch_size=1, concurrency=50)`` (``max_concurrency=50``).

Each variant runs in a fresh process per round, in rotated order; medians of the rounds, and
ratios to raw httpx taken within each round. Run:
``uv run python benchmarks/single_action_client.py [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
KEY = "sgn_live_AAAAAAAAAAAA_" + "A" * 43
WORKERS = 50
VARIANTS = ["raw httpx", "SDK execute", "SDK execute_many"]


async def workers(count: int, send: Callable[[int], Awaitable[object]]) -> None:
    """``count`` sends from `WORKERS` tasks pulling from one counter."""
    next_item = iter(range(count))

    async def worker() -> None:
        for index in next_item:
            await send(index)

    async with asyncio.TaskGroup() as tasks:
        for _ in range(WORKERS):
            tasks.create_task(worker())


async def measure(variant: str, url: str, count: int) -> dict[str, float]:
    import httpx

    from signoff import AsyncSignoff

    body = {"connection_id": "con_1", "action_type": "echo"}
    async with (
        httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {KEY}"}) as http,
        AsyncSignoff(KEY, url, max_concurrency=WORKERS) as client,
    ):

        async def raw(i: int) -> None:
            response = await http.post("/v1/actions", json={**body, "input": {"i": i}})
            response.raise_for_status()

        async def sdk(i: int) -> None:
            await client.actions.execute(**body, input={"i": i})

        async def run(n: int) -> None:
            if variant == "raw httpx":
                await workers(n, raw)
            elif variant == "SDK execute":
                await workers(n, sdk)
            else:
                items = [{**body, "input": {"i": i}} for i in range(n)]
                results = await client.actions.execute_many(
                    items, concurrency=WORKERS, batch_size=1
                )
                assert not any(isinstance(r, Exception) for r in results)

        await run(200)  # warm: connections, decoders, imports
        cpu, wall = time.process_time(), time.perf_counter()
        await run(count)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"rps": count / wall, "cpu_us": cpu / count * 1e6}


def main(args: argparse.Namespace) -> None:
    server = subprocess.Popen(
        [sys.executable, str(HERE / "_rawserver.py"), "--body", "run", "--lifetime", "600"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    rows: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    ratios: dict[str, list[tuple[float, float]]] = {v: [] for v in VARIANTS}
    try:
        assert server.stdout is not None
        url = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        deadline = time.monotonic() + args.budget
        for round_ in range(args.rounds):
            if round_ and time.monotonic() > deadline:
                print(f"(time budget reached after {round_} rounds)")
                break
            results = {}
            for variant in VARIANTS[round_ % 3 :] + VARIANTS[: round_ % 3]:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", variant, "--url", url,
                     "--actions", str(args.actions)],
                    capture_output=True, text=True, timeout=300, check=True,
                )  # fmt: skip
                results[variant] = json.loads(out.stdout)
            base = results["raw httpx"]
            for variant, result in results.items():
                rows[variant].append(result)
                ratios[variant].append(
                    (result["rps"] / base["rps"], result["cpu_us"] / base["cpu_us"])
                )
    finally:
        server.terminate()
        server.wait(timeout=10)
    rounds = len(rows["raw httpx"])
    print(
        f"\n{args.actions} POST /v1/actions one by one, {WORKERS} in flight, fixed-response "
        f"server; median of {rounds} rounds (baseline: raw httpx)"
    )
    print(f"{'client':<22}{'actions/s':>11}{'CPU us/action':>15}{'actions/s x':>13}{'CPU x':>8}")
    for variant in VARIANTS:
        rps = statistics.median(r["rps"] for r in rows[variant])
        cpu = statistics.median(r["cpu_us"] for r in rows[variant])
        rps_x = statistics.median(r[0] for r in ratios[variant])
        cpu_x = statistics.median(r[1] for r in ratios[variant])
        print(f"{variant:<22}{rps:>11.0f}{cpu:>15.0f}{rps_x:>13.2f}{cpu_x:>8.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--actions", type=int, default=2000)
    parser.add_argument("--budget", type=float, default=90.0, help="seconds, in all")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        print(json.dumps(asyncio.run(measure(arguments.child, arguments.url, arguments.actions))))
    else:
        main(arguments)
