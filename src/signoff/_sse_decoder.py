"""The server-sent-events wire format, decoded incrementally (WHATWG HTML, "event stream
interpretation").

Bytes may be split anywhere, including inside a CRLF pair or a multi-byte UTF-8 character.
Lines end in CR, LF or CRLF; a leading BOM is dropped; ``:`` lines are comments; ``id``
persists from event to event (an id containing NUL is ignored); ``retry`` takes only ASCII
digits; a blank line dispatches the event, but only if it carried ``data``; an event cut off
by the end of the stream is discarded. One event (or one line) larger than
``max_event_size`` characters raises `EventTooLargeError` instead of growing without bound.
Partial lines are kept as a list of pieces and joined once, so a large event costs linear
time however finely it is chunked.
"""

from __future__ import annotations

import codecs
import re
from typing import Any, TypeVar

import msgspec

from ._wire import decode_json
from .errors import APIResponseValidationError

__all__ = ["DEFAULT_MAX_EVENT_SIZE", "EventTooLargeError", "SSEDecoder", "ServerSentEvent"]

T = TypeVar("T")

DEFAULT_MAX_EVENT_SIZE = 1024 * 1024

_LINE_END = re.compile(r"\r\n|\r|\n")


class EventTooLargeError(APIResponseValidationError):
    """One server-sent event was larger than the decoder's ``max_event_size``."""


class ServerSentEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One dispatched event. ``id`` is the stream's last event id when it was dispatched;
    ``retry`` is set when the event's own block carried a ``retry:`` field (milliseconds)."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None

    def json(self) -> Any:
        """``data`` parsed as JSON, untyped."""
        return msgspec.json.decode(self.data)

    def data_as(self, cast_to: type[T]) -> T:
        """``data`` decoded into a model, e.g. ``event.data_as(Approval)``."""
        return decode_json(
            self.data, cast_to, what=f"the data of event {self.event!r} (id {self.id!r})"
        )


class SSEDecoder:
    """Turns chunks of bytes into `ServerSentEvent` objects; one decoder per connection."""

    def __init__(
        self, *, max_event_size: int = DEFAULT_MAX_EVENT_SIZE, last_event_id: str = ""
    ) -> None:
        self.max_event_size = max_event_size
        #: The stream's last event id, updated at each dispatch; seed it on reconnection.
        self.last_event_id = last_event_id
        #: The latest ``retry:`` value (milliseconds), or None.
        self.retry: int | None = None
        #: Comment lines seen: the server's heartbeats.
        self.comments = 0
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._at_start = True
        self._after_cr = False
        self._line: list[str] = []
        self._line_size = 0
        self._id = last_event_id
        self._event = ""
        self._data: list[str] = []
        self._data_size = 0
        self._event_retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode one chunk; returns the events it completed (often none)."""
        text = self._utf8.decode(chunk)
        if not text:
            return []
        if self._at_start:
            self._at_start = False
            if text[0] == "\ufeff":
                text = text[1:]
        if self._after_cr:
            self._after_cr = False
            if text[:1] == "\n":  # the LF of a CRLF split across chunks
                text = text[1:]
        events: list[ServerSentEvent] = []
        start = 0
        for match in _LINE_END.finditer(text):
            if self._line:
                self._line.append(text[start : match.start()])
                line = "".join(self._line)
                self._line.clear()
                self._line_size = 0
            else:
                line = text[start : match.start()]
            start = match.end()
            if start == len(text) and match.group() == "\r":
                self._after_cr = True
            self._process(line, events)
        if start < len(text):
            rest = text[start:]
            self._line_size += len(rest)
            if self._line_size > self.max_event_size:
                self._too_large("a line")
            self._line.append(rest)
        return events

    def _process(self, line: str, events: list[ServerSentEvent]) -> None:
        if not line:
            self._dispatch(events)
            return
        if len(line) > self.max_event_size:
            self._too_large("a line")
        if line[0] == ":":
            self.comments += 1
            return
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data_size += len(value) + 1
            if self._data_size > self.max_event_size:
                self._too_large("an event")
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry = self._event_retry = int(value)
        # Any other field is ignored, as the spec requires.

    def _dispatch(self, events: list[ServerSentEvent]) -> None:
        self.last_event_id = self._id
        if self._data:
            events.append(
                ServerSentEvent(
                    event=self._event or "message",
                    data="\n".join(self._data),
                    id=self._id or None,
                    retry=self._event_retry,
                )
            )
        self._data = []
        self._data_size = 0
        self._event = ""
        self._event_retry = None

    def _too_large(self, what: str) -> None:
        raise EventTooLargeError(
            f"{what} of the event stream is larger than {self.max_event_size} characters; "
            "the stream was closed"
        )
