"""N concurrent ``approvals.wait()`` calls of one client, all decided at once.

The broker runs in its own process (``_broker.py``: ``signoff serve`` with the request log off,
on 127.0.0.1). For each N (100, 1,000 and 10,000 by default):

1. N + 1 pending approvals are created in bulk through the broker's control channel (the
   store function ``POST /v1/approvals`` uses, 2,000 per transaction: creating 10,000 over
   HTTP would take ~30 s at the broker's ~300 writes/s); the first is decided at once;
2. a fresh client process (``--child``) opens one ``AsyncSignoff``, waits on the decided one
   (warm-up: imports, the hub's stream, a pool connection), takes its RSS, then starts N
   ``approvals.wait(id)`` tasks and waits until every one is armed (registered, initial
   state read back, hub live). It then counts its established TCP connections to the broker
   port (its own socket inodes in ``/proc/net/tcp``), the broker's established connections
   on that port (the broker process's inodes) and the hub's ``connections_opened``;
3. the N approvals are decided, one way or another (``--modes``):

   - ``bulk``: all N in ONE transaction in the broker process (by the function
     ``POST /v1/approvals/{id}/decision`` uses; the commit wakes the event streams as an
     HTTP decision does). First decision = last decision = that commit;
   - ``tx``: one transaction per decision, back to back in the broker process (what N
     HTTP decisions do to the store, without the HTTP): N commits, N fsyncs;
   - ``http``: N ``POST .../decision`` calls from this (orchestrating) process, a separate
     ``AsyncSignoff(transport="aiohttp", max_concurrency=50)`` with 50 tasks: the real
     thing, slow for large N (``--http-max``, default 1,000);

4. every wait task records ``perf_counter()`` when ``wait()`` returns. The broker records
   the ``perf_counter()`` of each commit (CLOCK_MONOTONIC, shared by every process on the
   host), which gives: last commit -> all waits resumed, first commit -> all resumed, and
   first commit -> first resumed.

Memory is the client's RSS (``/proc/self/status``) after arming and its peak (VmHWM) over
the run, minus the RSS after the warm-up; ``--tracemalloc`` adds Python's traced peak (it
slows allocation, so timings of such a run are marked). Target: 10,000 waits on at most 2
connections, all resumed within 2 s of the last decision.

    uv run python benchmarks/many_waits.py [--sizes 100,1000,10000] [--modes bulk,http]
    uv run python benchmarks/many_waits.py --sizes 10000 --modes bulk,tx --rounds 3
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _broker import BrokerProcess, check_shared_clock, established_to

CHILD_TIMEOUT = 180.0  # seconds a client process may live
ARM_TIMEOUT = 120.0
RESUME_TIMEOUT = 60.0
HTTP_WORKERS = 50


# -- the client process ------------------------------------------------------------------------


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _armed_count(hub: Any) -> int:
    if hub._cursor is None:
        return 0
    return sum(1 for group in hub._waiters.values() for w in group if w.latest is not None)


async def child_main(args: argparse.Namespace) -> dict[str, Any]:
    import anyio

    from signoff import AsyncSignoff

    ids: list[str] = json.loads(Path(args.ids_file).read_text())
    warm, ids = ids[0], ids[1:]
    n = len(ids)
    resumed = [0.0] * n
    statuses: dict[str, int] = {}
    async with AsyncSignoff(base_url=args.url, transport=args.transport) as client:
        with anyio.fail_after(30):
            await client.approvals.wait(warm, timeout=30)
        gc.collect()
        if args.tracemalloc:
            import tracemalloc

            tracemalloc.start()
        rss_before = _status_kib("VmRSS")
        hub = client._wait_hub

        async def wait(index: int, approval_id: str) -> None:
            approval = await client.approvals.wait(approval_id, timeout=ARM_TIMEOUT)
            resumed[index] = time.perf_counter()
            statuses[approval.status] = statuses.get(approval.status, 0) + 1

        cpu0, started = time.process_time(), time.perf_counter()
        async with anyio.create_task_group() as tg:
            for index, approval_id in enumerate(ids):
                tg.start_soon(wait, index, approval_id)
            with anyio.fail_after(ARM_TIMEOUT):
                while _armed_count(hub) < n:
                    await anyio.sleep(0.05)
            armed_s, arm_cpu = time.perf_counter() - started, time.process_time() - cpu0
            rss_armed = _status_kib("VmRSS")
            traced_armed = 0
            if args.tracemalloc:
                traced_armed = tracemalloc.get_traced_memory()[0]
            armed = {
                "arm_seconds": armed_s,
                "arm_cpu": arm_cpu,
                "client_conns": established_to(args.port),
                "broker_conns": established_to(args.port, args.broker_pid, local=True),
                "hub_connections": hub.connections_opened,
                "read_requests": hub._readers["approval."].requests,
            }
            print(json.dumps({"armed": armed}), flush=True)
            cpu1 = time.process_time()
            with anyio.fail_after(RESUME_TIMEOUT):
                while sum(statuses.values()) < n:
                    await anyio.sleep(0.05)
            deliver_cpu = time.process_time() - cpu1
        result = {
            **armed,
            "first_resumed": min(resumed),
            "last_resumed": max(resumed),
            "median_resumed": statistics.median(resumed),
            "statuses": statuses,
            "rss_before_kib": rss_before,
            "rss_armed_kib": rss_armed,
            "hwm_kib": _status_kib("VmHWM"),
            "deliver_cpu": deliver_cpu,
            "client_conns_after": established_to(args.port),
            "hub_connections_after": hub.connections_opened,
        }
        if args.tracemalloc:
            result["traced_armed"] = traced_armed
            result["traced_peak"] = tracemalloc.get_traced_memory()[1]
    return result


def child(args: argparse.Namespace) -> None:
    import anyio

    result = anyio.run(child_main, args)
    print(json.dumps({"done": result}), flush=True)


# -- the orchestrating process -----------------------------------------------------------------


def _readline(process: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    got: list[str] = []
    reader = threading.Thread(
        target=lambda: got.append(process.stdout.readline()),  # type: ignore[union-attr]
        daemon=True,
    )
    reader.start()
    reader.join(timeout)
    if not got or not got[0]:
        raise RuntimeError(f"the client process said nothing within {timeout:.0f}s")
    message: dict[str, Any] = json.loads(got[0])
    return message


def decide_http(broker: BrokerProcess, ids: list[str]) -> dict[str, float]:
    import anyio

    from signoff import AsyncSignoff

    async def run() -> dict[str, float]:
        async with AsyncSignoff(
            broker.admin_key, broker.url, transport="aiohttp", max_concurrency=HTTP_WORKERS
        ) as decider:
            queue = list(reversed(ids))
            returned: list[float] = []

            async def worker() -> None:
                while queue:
                    await decider.approvals.approve(queue.pop())
                    returned.append(time.perf_counter())

            started = time.perf_counter()
            with anyio.fail_after(RESUME_TIMEOUT * 2):
                async with anyio.create_task_group() as tg:
                    for _ in range(HTTP_WORKERS):
                        tg.start_soon(worker)
            return {"started": started, "first_returned": min(returned), "ended": max(returned)}

    return anyio.run(run)


def one_run(broker: BrokerProcess, n: int, mode: str, args: argparse.Namespace) -> dict[str, Any]:
    ids = broker.call("create", n=n + 1)["ids"]
    broker.call("decide", ids=ids[:1])
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(ids, handle)
    command = [
        sys.executable,
        __file__,
        "--child",
        "--url",
        broker.url,
        "--port",
        str(broker.port),
        "--broker-pid",
        str(broker.pid),
        "--ids-file",
        handle.name,
        "--transport",
        args.transport,
    ]
    if args.tracemalloc:
        command.append("--tracemalloc")
    environment = {**os.environ, "SIGNOFF_API_KEY": broker.admin_key}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=environment)
    try:
        armed = _readline(process, ARM_TIMEOUT + 30)["armed"]
        broker.call("commits")  # forget earlier commits
        broker_cpu = broker.cpu_seconds()
        if mode == "http":
            decided = decide_http(broker, ids[1:])
            commits = broker.call("commits")["commits"]
        else:
            decided = broker.call("decide", ids=ids[1:], per_tx=1 if mode == "tx" else 0)
            commits = decided["commits"]
        done = _readline(process, RESUME_TIMEOUT + 30)["done"]
        broker_cpu = broker.cpu_seconds() - broker_cpu
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        os.unlink(handle.name)
    first_commit, last_commit = min(commits), max(commits)
    return {
        **armed,
        **done,
        "commits": len(commits),
        "decide_seconds": last_commit - decided["started"],
        "from_last": done["last_resumed"] - last_commit,
        "from_first": done["last_resumed"] - first_commit,
        "first_lag": done["first_resumed"] - first_commit,
        "broker_cpu": broker_cpu,
    }


def main(args: argparse.Namespace) -> None:
    check_shared_clock()
    sizes = [int(size) for size in args.sizes.split(",")]
    modes = args.modes.split(",")
    deadline = time.monotonic() + args.budget
    results: dict[tuple[int, str], list[dict[str, Any]]] = {}
    skipped: list[str] = []
    with BrokerProcess(lifetime=args.budget + 120) as broker:
        for round_ in range(args.rounds):
            for n in sizes:
                for mode in modes:
                    if mode == "http" and n > args.http_max:
                        continue
                    if time.monotonic() > deadline:
                        skipped.append(f"{n}/{mode} round {round_ + 1}")
                        continue
                    results.setdefault((n, mode), []).append(one_run(broker, n, mode, args))
    report(results, args)
    if skipped:
        print(f"(time budget reached; skipped {', '.join(skipped)})")


def report(results: dict[tuple[int, str], list[dict[str, Any]]], args: argparse.Namespace) -> None:
    def med(runs: list[dict[str, Any]], key: str) -> float:
        return float(statistics.median(run[key] for run in runs))

    rounds = max(len(runs) for runs in results.values())
    traced = " (tracemalloc on: timings slowed)" if args.tracemalloc else ""
    print(
        f"\nN concurrent approvals.wait() of one client, all decided at once; median of "
        f"{rounds} round(s){traced}; waiter transport {args.transport}"
    )
    print(
        f"{'N':>6} {'decided by':<10}{'conns':>6}{'broker':>7}{'hub':>4}{'reads':>6}"
        f"{'arm s':>7}{'decide s':>9}{'last->all':>10}{'first->all':>11}{'first->1st':>11}"
        f"{'RSS MiB':>8}{'KiB/wait':>9}"
    )
    for (n, mode), runs in sorted(results.items()):
        rss = med(runs, "rss_armed_kib") - med(runs, "rss_before_kib")
        print(
            f"{n:>6} {mode:<10}{med(runs, 'client_conns'):>6.0f}{med(runs, 'broker_conns'):>7.0f}"
            f"{med(runs, 'hub_connections'):>4.0f}{med(runs, 'read_requests'):>6.0f}"
            f"{med(runs, 'arm_seconds'):>7.2f}{med(runs, 'decide_seconds'):>9.3f}"
            f"{med(runs, 'from_last') * 1000:>8.0f}ms{med(runs, 'from_first') * 1000:>9.0f}ms"
            f"{med(runs, 'first_lag') * 1000:>9.0f}ms"
            f"{rss / 1024:>8.1f}{rss / n:>9.2f}"
        )
    print(
        "conns: the client's established TCP connections to the broker port while armed (both"
        " pools);\nbroker: the broker's established connections on its port; hub: event-stream"
        " connections\nopened; reads: initial-state requests (batched <= 100 ids); arm s: start"
        " to all waits armed;\ndecide s: first decision sent to last commit; last->all: last"
        " commit -> every wait returned;\nfirst->all: first commit -> every wait returned;"
        " first->1st: first commit -> first wait returned;\nRSS: client RSS when armed minus"
        " after the warm-up wait."
    )
    print(
        f"\n{'N':>6} {'decided by':<10}{'client CPU arm':>15}{'us/wait':>8}"
        f"{'client CPU deliver':>19}{'us/wait':>8}{'broker CPU':>11}{'us/wait':>8}"
        f"{'peak RSS MiB':>13}" + (f"{'traced MiB':>11}{'peak':>7}" if args.tracemalloc else "")
    )
    for (n, mode), runs in sorted(results.items()):
        hwm = med(runs, "hwm_kib") - med(runs, "rss_before_kib")
        line = (
            f"{n:>6} {mode:<10}{med(runs, 'arm_cpu'):>14.2f}s{med(runs, 'arm_cpu') / n * 1e6:>8.0f}"
            f"{med(runs, 'deliver_cpu'):>18.2f}s{med(runs, 'deliver_cpu') / n * 1e6:>8.0f}"
            f"{med(runs, 'broker_cpu'):>10.2f}s{med(runs, 'broker_cpu') / n * 1e6:>8.0f}"
            f"{hwm / 1024:>13.1f}"
        )
        if args.tracemalloc:
            line += (
                f"{med(runs, 'traced_armed') / 2**20:>11.1f}"
                f"{med(runs, 'traced_peak') / 2**20:>7.1f}"
            )
        print(line)
    print("(broker CPU: the broker process while deciding and delivering, 10 ms ticks)")
    largest = max(n for n, _ in results)
    for (n, mode), runs in sorted(results.items()):
        if n != largest:
            continue
        conns = max(run["client_conns"] for run in runs)
        worst = max(run["from_last"] for run in runs)
        bad = [run["statuses"] for run in runs if run["statuses"].get("approved", 0) != n]
        verdict = "met" if conns <= 2 and worst <= 2.0 and not bad else "NOT met"
        print(
            f"target ({n:,} waits on <= 2 connections, all resumed <= 2 s after the last "
            f"decision), decided by {mode}: {verdict} ({conns} connections, worst "
            f"{worst * 1000:.0f} ms)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100,1000,10000", help="comma-separated N")
    parser.add_argument("--modes", default="bulk,http", help="bulk, tx and/or http")
    parser.add_argument("--http-max", type=int, default=1000, help="largest N decided by http")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--transport", choices=["httpx", "aiohttp"], default="httpx")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--budget", type=float, default=150.0, help="seconds, in all")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--broker-pid", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--ids-file", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments)
    else:
        started = time.perf_counter()
        main(arguments)
        print(f"\n(took {time.perf_counter() - started:.0f}s)")
