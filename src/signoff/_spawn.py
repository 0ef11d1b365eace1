"""Start a task that outlives its caller, on asyncio or trio.

anyio only runs tasks inside task groups, but some work must outlive the call that started
it: the wait hub's event-stream reader serves every later ``wait()``, a paginator's prefetch
and ``as_completed``'s engine run between the caller's ``__anext__`` calls (a task group
held open across ``yield`` would be exited in the wrong task or scope: see
``_pagination``). Both backends have a native way to run such a task: asyncio's
``create_task`` and trio's system tasks. The task itself must never raise (a failing trio
system task crashes the whole run), so callers catch everything inside it and hand errors to
whoever is waiting.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import sniffio

__all__ = ["spawn_background", "spawn_detached"]

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


def spawn_detached(
    coroutine: Coroutine[Any, Any, None], on_done: Callable[[], None], *, name: str
) -> Callable[[], None]:
    """Run ``coroutine`` as a task owned by no task group and call ``on_done`` when it ends
    (even if cancelled before it started); returns a function that cancels it from any
    thread (a no-op once it has ended, or once its event loop has)."""
    if sniffio.current_async_library() == "trio":
        import trio

        token = trio.lowlevel.current_trio_token()
        scope = trio.CancelScope()

        async def in_scope() -> None:
            try:
                with scope:
                    await coroutine
            finally:
                on_done()

        trio.lowlevel.spawn_system_task(in_scope, name=name, context=contextvars.copy_context())

        def cancel_trio() -> None:
            try:
                if trio.lowlevel.current_trio_token() is token:
                    scope.cancel()
                    return
            except RuntimeError:
                pass  # another thread
            try:
                token.run_sync_soon(scope.cancel)
            except trio.RunFinishedError:
                pass

        return cancel_trio

    import asyncio

    loop = asyncio.get_running_loop()
    task = loop.create_task(coroutine, name=name)
    _running.add(task)
    task.add_done_callback(_running.discard)
    task.add_done_callback(lambda _: on_done())

    def cancel_asyncio() -> None:
        if task.done():
            return
        try:
            same_thread = asyncio.get_running_loop() is loop
        except RuntimeError:
            same_thread = False
        if same_thread:
            task.cancel()
            return
        try:
            loop.call_soon_threadsafe(task.cancel)
        except RuntimeError:
            pass  # the loop is closed, and the task with it

    return cancel_asyncio
