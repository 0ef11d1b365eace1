"""Start a task that outlives its caller, on asyncio or trio.

anyio only runs tasks inside task groups, but the wait hub's event-stream reader must outlive
the first ``wait()`` that needed it and serve every later one. Both backends have a native
way to run such a task: asyncio's ``create_task`` and trio's system tasks. The task itself
must never raise (a failing trio system task crashes the whole run), so callers catch
everything inside it and hand errors to whoever is waiting.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import sniffio

_running: set[Any] = set()  # strong references: asyncio keeps only weak ones to tasks


def spawn_background(fn: Callable[[], Awaitable[None]], *, name: str) -> None:
    """Run ``fn()`` as a detached task on the current event loop."""
    library = sniffio.current_async_library()
    if library == "asyncio":
        import asyncio

        async def run() -> None:
            await fn()

        task = asyncio.get_running_loop().create_task(run(), name=name)
        _running.add(task)
        task.add_done_callback(_running.discard)
    elif library == "trio":
        import trio

        trio.lowlevel.spawn_system_task(fn, name=name)
    else:  # pragma: no cover - anyio supports only these two
        raise RuntimeError(f"signoff does not support the {library!r} event loop")
