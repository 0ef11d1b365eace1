"""How long ``import signoff`` takes in a fresh interpreter, next to ``import httpx``.

Each statement runs in fresh processes, interleaved, several rounds. Two views:
wall time of ``python -c STMT`` minus that of ``python -c pass`` (what a user waits for),
and the cumulative time ``python -X importtime`` reports for the modules the statement
imports beyond interpreter startup. Target: ``import signoff`` at most 1.2x ``import httpx``.

    uv run python benchmarks/import_time.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

STATEMENTS = {
    "import httpx": "import httpx",
    "import signoff": "import signoff",
    "from signoff import AsyncSignoff": "from signoff import AsyncSignoff",
    # Building a client builds an httpx.AsyncClient, which imports httpcore (and trio, when
    # it is installed); the first resource then imports signoff.resources.
    "AsyncSignoff(...) + client.approvals": (
        "from signoff import AsyncSignoff; "
        "AsyncSignoff(api_key='k', _warn_unclosed=False).approvals"
    ),
}
BASELINE = "import httpx"
RUN_TIMEOUT = 30


def wall_seconds(statement: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], check=True, timeout=RUN_TIMEOUT)
    return time.perf_counter() - started


def top_level_imports(statement: str) -> dict[str, float]:
    """Cumulative microseconds per top-level import, as ``-X importtime`` reports them."""
    stderr = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        check=True,
        timeout=RUN_TIMEOUT,
    ).stderr
    imports: dict[str, float] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        if not name[1:].startswith(" "):  # nested imports are indented
            imports[name.strip()] = imports.get(name.strip(), 0.0) + float(cumulative)
    return imports


def main(rounds: int) -> None:
    walls: dict[str, list[float]] = {name: [] for name in ["pass", *STATEMENTS]}
    reported: dict[str, list[float]] = {name: [] for name in STATEMENTS}
    for _ in range(rounds):
        walls["pass"].append(wall_seconds("pass"))
        startup = top_level_imports("pass")
        for name, statement in STATEMENTS.items():
            walls[name].append(wall_seconds(statement))
            extra = top_level_imports(statement)
            reported[name].append(sum(us for mod, us in extra.items() if mod not in startup))
    startup_ms = statistics.median(walls["pass"]) * 1000
    rows = {
        name: (statistics.median(walls[name]) * 1000 - startup_ms, statistics.median(us) / 1000)
        for name, us in reported.items()
    }
    base_wall, base_reported = rows[BASELINE]
    print(f"fresh interpreter startup: {startup_ms:.1f} ms (subtracted); median of {rounds} runs")
    print(f"{'statement':<42}{'wall ms':>9}{'x httpx':>9}{'importtime ms':>15}{'x httpx':>9}")
    for name, (wall, importtime) in rows.items():
        print(
            f"{name:<42}{wall:>9.1f}{wall / base_wall:>9.2f}"
            f"{importtime:>15.1f}{importtime / base_reported:>9.2f}"
        )
    ratio = rows["import signoff"][0] / base_wall
    verdict = "meets" if ratio <= 1.2 else "MISSES"
    print(f"\nimport signoff is {ratio:.2f}x import httpx: {verdict} the 1.2x target")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    main(parser.parse_args().rounds)
