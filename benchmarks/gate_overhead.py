"""What ``@require_approval`` adds to a call that a policy allows at once.

With an ``allow`` policy the gate makes one request (``approvals.create``) and never waits,
so its cost over a bare ``approvals.create`` of the same payload is the decorator's own
work: binding the arguments, making them JSON, building the summary, checking the outcome.
Both run sequentially against a real broker (``signoff serve`` in a subprocess, temporary
database); reports the median wall and client-CPU microseconds per call of several rounds
and the difference. Client CPU (``time.process_time``) is the steadier figure on a shared
machine: the broker runs in another process, so it counts only the client's own work.
Run: ``uv run python benchmarks/gate_overhead.py``.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import anyio

import signoff
from signoff import AsyncSignoff

LISTENING = re.compile(r"listening on (http://\S+)")


def start_broker(folder: str) -> tuple[subprocess.Popen[str], str, str]:
    key_file = os.path.join(folder, "admin.key")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "signoff",
            "serve",
            "--port",
            "0",
            "--db",
            os.path.join(folder, "bench.db"),
            "--admin-key-file",
            key_file,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    for line in process.stdout:
        match = LISTENING.search(line)
        if match:
            with open(key_file) as handle:
                return process, match.group(1), handle.read().strip()
        if time.monotonic() > deadline:
            break
    process.kill()
    raise RuntimeError("the broker did not start")


async def measure(
    url: str, key: str, calls: int, rounds: int, budget: float
) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {
        "bare approvals.create": [],
        "@require_approval": [],
        "bare approvals.create cpu": [],
        "@require_approval cpu": [],
    }
    async with AsyncSignoff(key, url) as client:
        await client.policies.create(action="bench.*", effect="allow")

        @signoff.require_approval(
            "bench.refund",
            summary=lambda amount, customer: f"Refund {amount} to {customer}",
            client=client,
        )
        async def refund(amount: int, customer: str, note: str = "none") -> None:
            return None

        async def bare() -> None:
            await client.approvals.create(
                action="bench.refund",
                summary="Refund 42 to ACME",
                function_name="__main__.refund",
                arguments={"amount": 42, "customer": "ACME", "note": "none"},
            )

        async def gated() -> None:
            await refund(42, "ACME")

        await bare()
        await gated()  # warm both paths
        deadline = time.monotonic() + budget
        for round_ in range(rounds):
            if round_ and time.monotonic() > deadline:
                print(f"(time budget reached after {round_} rounds)")
                break
            order = [("bare approvals.create", bare), ("@require_approval", gated)]
            for name, call in order if round_ % 2 == 0 else reversed(order):
                started, cpu = time.perf_counter(), time.process_time()
                for _ in range(calls):
                    await call()
                results[name].append((time.perf_counter() - started) / calls * 1e6)
                results[f"{name} cpu"].append((time.process_time() - cpu) / calls * 1e6)
    return results


def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        process, url, key = start_broker(folder)
        try:
            results = anyio.run(measure, url, key, args.calls, args.rounds, args.budget)
        finally:
            process.terminate()
            process.wait(timeout=20)
    median = {name: statistics.median(values) for name, values in results.items()}
    bare, gated = median["bare approvals.create"], median["@require_approval"]
    bare_cpu, gated_cpu = median["bare approvals.create cpu"], median["@require_approval cpu"]
    rounds = len(results["bare approvals.create"])
    print(f"\npolicy-allowed calls, sequential, median of {rounds} rounds of {args.calls}")
    print(f"{'variant':<26}{'wall us':>10}{'x bare':>9}{'client CPU us':>15}{'x bare':>9}")
    for name, wall, cpu in (
        ("bare approvals.create", bare, bare_cpu),
        ("@require_approval", gated, gated_cpu),
    ):
        print(f"{name:<26}{wall:>10.0f}{wall / bare:>9.2f}{cpu:>15.0f}{cpu / bare_cpu:>9.2f}")
    print(
        f"\nthe decorator adds {gated_cpu - bare_cpu:.0f} us of client CPU per call "
        f"({gated - bare:+.0f} us wall)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--budget", type=float, default=60.0, help="seconds, in all")
    main(parser.parse_args())
