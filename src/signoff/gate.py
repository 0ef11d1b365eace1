"""`require_approval`: run a function only once a human (or a policy) has approved the call.

```python
@signoff.require_approval("payments.refund",
                          summary=lambda amount, customer: f"Refund {amount} to {customer}",
                          timeout=300, metadata={"team": "billing"}, redact=["card"])
async def refund(amount: int, customer: str, card: str) -> None: ...
```

Each call sends the action, the function's qualified name and its arguments (minus the
redacted ones) to the broker, waits for the decision and runs the function only on
``approved``. Every other outcome raises, and so does a broker that cannot be reached: the
gate fails closed.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

import anyio
import msgspec
import sniffio

from .errors import (
    ApprovalCancelled,
    ApprovalDenied,
    ApprovalError,
    ApprovalExpired,
    ApprovalTimeout,
    ConflictError,
)
from .models import Approval, ApprovalStatus, MetadataValue

if TYPE_CHECKING:
    from .client import AsyncSignoff
    from .sync import Signoff

__all__ = ["require_approval"]

log = logging.getLogger("signoff")

F = TypeVar("F", bound=Callable[..., Any])

REDACTED = "[redacted]"
_CANCEL_TIMEOUT = 10.0  # how long a timed-out gate tries to withdraw its request


def require_approval(
    action: str,
    *,
    summary: str | Callable[..., str] | None = None,
    reason: str | Callable[..., str] | None = None,
    timeout: float | None = 300.0,
    metadata: Mapping[str, MetadataValue] | None = None,
    redact: Iterable[str] = (),
    expires_in: float | None = None,
    client: AsyncSignoff | Signoff | Callable[[], AsyncSignoff | Signoff] | None = None,
) -> Callable[[F], F]:
    """Gate a function (sync or async, plain or a method) on an approval for ``action``.

    ``summary`` and ``reason`` are strings, or callables given the call's arguments by name
    (they may take just the ones they need). ``timeout`` bounds the wait for a decision in
    seconds; when it runs out the request is withdrawn on the broker and `ApprovalTimeout` is
    raised. ``redact`` names arguments whose values are never sent. ``client`` is an
    `AsyncSignoff` (async functions), a `Signoff` (either kind), or a callable returning one;
    by default a client is built from ``SIGNOFF_API_KEY`` / ``SIGNOFF_BASE_URL``.

    Outcomes: approved → the function runs and its result is returned; denied →
    `ApprovalDenied`; expired → `ApprovalExpired`; cancelled → `ApprovalCancelled`; no
    decision in time → `ApprovalTimeout`; broker unreachable → the connection error. In every
    case but approved the function does not run.
    """
    if timeout is not None and timeout <= 0:
        raise ValueError(f"timeout must be positive or None, got {timeout!r}")
    redacted = frozenset([redact] if isinstance(redact, str) else redact)
    fixed_metadata = dict(metadata) if metadata else None

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)
        unknown = redacted - signature.parameters.keys()
        if unknown:
            raise ValueError(
                f"redact names {sorted(unknown)} that are not parameters of {fn.__qualname__}"
            )
        gate = _Gate(
            fn=fn,
            signature=signature,
            action=action,
            summary=summary,
            reason=reason,
            timeout=timeout,
            metadata=fixed_metadata,
            redact=redacted,
            expires_in=expires_in,
            client=client,
        )
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_gated(*args: Any, **kwargs: Any) -> Any:
                await gate.check_async(args, kwargs)
                return await fn(*args, **kwargs)

            return cast(F, async_gated)

        @functools.wraps(fn)
        def gated(*args: Any, **kwargs: Any) -> Any:
            gate.check_sync(args, kwargs)
            return fn(*args, **kwargs)

        return cast(F, gated)

    return decorate


class _Gate:
    """Everything one decorated function needs to ask for, and await, a decision."""

    def __init__(
        self,
        *,
        fn: Callable[..., Any],
        signature: inspect.Signature,
        action: str,
        summary: str | Callable[..., str] | None,
        reason: str | Callable[..., str] | None,
        timeout: float | None,
        metadata: dict[str, MetadataValue] | None,
        redact: frozenset[str],
        expires_in: float | None,
        client: Any,
    ) -> None:
        self.fn = fn
        self.signature = signature
        self.action = action
        self.summary = summary
        self.reason = reason
        self.timeout = timeout
        self.metadata = metadata
        self.redact = redact
        self.expires_in = expires_in
        self.client = client
        self.function_name = f"{fn.__module__}.{fn.__qualname__}"
        params = list(signature.parameters)
        # A method's receiver says nothing useful to an approver.
        self.skip = params[0] if params and params[0] in ("self", "cls") else None

    # -- building the request ----------------------------------------------------------------

    def request(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The ``approvals.create`` arguments describing this call."""
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        named = {k: v for k, v in bound.arguments.items() if k != self.skip}
        sent = {k: (REDACTED if k in self.redact else v) for k, v in named.items()}
        return {
            "action": self.action,
            "summary": _text(self.summary, named),
            "reason": _text(self.reason, named),
            "function_name": self.function_name,
            "arguments": _jsonable(sent),
            "metadata": self.metadata,
            "expires_in": self.expires_in,
        }

    # -- async functions ---------------------------------------------------------------------

    async def check_async(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        client = self._client()
        if isinstance(client, _sync_client_type()):
            # Its loop is another thread's: waiting on it from here would pin a worker thread
            # for the whole wait and could not withdraw the request when this call is
            # cancelled. An AsyncSignoff waits on this loop.
            raise TypeError(
                f"{self.function_name} is an async function, so its client must be a "
                "signoff.AsyncSignoff, not a (blocking) signoff.Signoff"
            )
        approval = await self._settle(cast("AsyncSignoff", client), self.request(args, kwargs))
        _raise_unless_approved(approval)

    async def _settle(self, client: AsyncSignoff, request: dict[str, Any]) -> Approval:
        """Ask, then wait for the outcome; withdraw the request if the wait ends without one.

        Sync functions run this too, on their client's loop thread: there is one copy.
        """
        from ._waits import APPROVALS, WaitTimedOut

        approval = await client.approvals.create(**request)
        if approval.is_terminal:
            return approval
        try:
            return await client._wait_hub.wait(
                APPROVALS, approval.id, self.timeout, initial=approval
            )
        except WaitTimedOut as exc:
            return await self._withdraw(client, exc.latest or approval, timed_out=True)
        except BaseException:
            # Cancelled (or failed) while waiting: withdraw the request so nobody decides a
            # call that will never run, then let the original error continue. A failure to
            # withdraw must not replace it (a cancellation must stay a cancellation).
            with anyio.CancelScope(shield=True), anyio.move_on_after(_CANCEL_TIMEOUT):
                try:
                    await self._withdraw(client, approval, timed_out=False)
                except Exception as exc:
                    log.debug("could not withdraw approval %s: %s", approval.id, exc)
            raise

    async def _withdraw(
        self, client: AsyncSignoff, approval: Approval, *, timed_out: bool
    ) -> Approval:
        try:
            withdrawn = await client.approvals.cancel(approval.id, comment=_WITHDRAWN)
        except ConflictError:
            # Decided in the meantime: the broker's record is the truth, so honour it.
            return await client.approvals.get(approval.id)
        if timed_out:
            raise ApprovalTimeout(
                withdrawn,
                f"no decision on approval {approval.id} for {approval.action!r} within "
                f"{self.timeout:g} s; the request was withdrawn and {self.function_name} did "
                "not run",
            )
        return withdrawn

    # -- sync functions ----------------------------------------------------------------------

    def check_sync(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        _refuse_inside_event_loop(self.function_name)
        client = self._client()
        if not isinstance(client, _sync_client_type()):
            raise TypeError(
                f"{self.function_name} is a sync function, so its client must be a "
                "signoff.Signoff, not an AsyncSignoff"
            )
        sync_client = cast("Signoff", client)
        request = self.request(args, kwargs)
        # One hop onto the client's loop runs the same steps as an async gate; Ctrl-C
        # cancels them there, which withdraws the request.
        approval = sync_client._loop.call(self._settle, sync_client.async_client, request)
        _raise_unless_approved(approval)

    # -- clients -----------------------------------------------------------------------------

    def _client(self) -> Any:
        source = self.client
        if source is None:
            return _default_client(async_=inspect.iscoroutinefunction(self.fn))
        if callable(source) and not hasattr(source, "approvals"):
            return source()
        return source


_WITHDRAWN = "withdrawn: the caller stopped waiting for a decision"


def _raise_unless_approved(approval: Approval) -> None:
    if approval.status is ApprovalStatus.APPROVED:
        return
    error: type[ApprovalError] = {
        ApprovalStatus.DENIED: ApprovalDenied,
        ApprovalStatus.EXPIRED: ApprovalExpired,
        ApprovalStatus.CANCELLED: ApprovalCancelled,
    }.get(approval.status, ApprovalError)
    raise error(approval)


def _text(value: str | Callable[..., str] | None, named: dict[str, Any]) -> str | None:
    """A summary or reason: the string itself, or the callable applied to the arguments."""
    if value is None or isinstance(value, str):
        return value
    parameters = inspect.signature(value).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return str(value(**named))
    accepted = {p.name for p in parameters}
    return str(value(**{k: v for k, v in named.items() if k in accepted}))


_JSONABLE = msgspec.json.Encoder(enc_hook=repr)


def _jsonable(arguments: dict[str, Any]) -> dict[str, Any]:
    """Arguments as plain JSON: values msgspec cannot encode become their ``repr``."""
    result: dict[str, Any] = msgspec.json.decode(_JSONABLE.encode(arguments))
    return result


def _refuse_inside_event_loop(name: str) -> None:
    try:
        library = sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return
    raise RuntimeError(
        f"{name} is gated by signoff.require_approval and was called from a running "
        f"{library} event loop: waiting for a human here would freeze the loop. Make the "
        "function async, or call it with anyio.to_thread.run_sync / asyncio.to_thread."
    )


def _sync_client_type() -> type[Any]:
    from .sync import Signoff

    return Signoff


# -- default clients -------------------------------------------------------------------------

_default_lock = threading.Lock()
_default_sync: Signoff | None = None
_default_async: weakref.WeakKeyDictionary[object, AsyncSignoff] = weakref.WeakKeyDictionary()


def _default_client(*, async_: bool) -> AsyncSignoff | Signoff:
    """A client from the environment: one per event loop for async code, one per process else."""
    global _default_sync
    if not async_:
        with _default_lock:
            # Rebuilt after os.fork(): the parent's loop thread does not exist in a child.
            if _default_sync is None or _default_sync._loop.closed:
                from .sync import Signoff

                _default_sync = Signoff()
            return _default_sync
    loop = _current_loop()
    client = _default_async.get(loop)
    if client is None:
        from .client import AsyncSignoff

        client = AsyncSignoff()
        client._warn_unclosed = False  # lives as long as its loop; nobody else can close it
        _default_async[loop] = client
    return client


def _current_loop() -> object:
    if sniffio.current_async_library() == "trio":
        import trio

        return trio.lowlevel.current_root_task()
    import asyncio

    return asyncio.get_running_loop()
