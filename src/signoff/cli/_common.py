"""What the client-side commands share: connection options, output, and exit codes.

Exit codes: 0 done; 1 the broker refused (not found, already decided, invalid); 2 bad usage;
3 the broker could not be reached; 4 the key was refused (missing, unknown, lacking a scope).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from ..sync import Signoff

__all__ = [
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_USAGE",
    "EXIT_UNREACHABLE",
    "EXIT_AUTH",
    "add_client_options",
    "open_client",
    "guarded",
    "print_table",
    "print_json",
    "ago",
]

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_AUTH = 0, 1, 2, 3, 4

_json = msgspec.json.Encoder()


def add_client_options(parser: argparse.ArgumentParser) -> None:
    """``--api-key``, ``--base-url`` (defaulting to the environment) and ``--json``."""
    parser.add_argument(
        "--api-key",
        default=None,
        help="API key (default: $SIGNOFF_API_KEY)",
    )
    parser.add_argument(
        "--base-url",
        default=None,
        help="broker URL (default: $SIGNOFF_BASE_URL, else http://127.0.0.1:8700)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def open_client(args: argparse.Namespace) -> Signoff:
    """A blocking client from the command's options and the environment."""
    from ..sync import Signoff

    return Signoff(api_key=args.api_key, base_url=args.base_url)


def guarded(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn signoff's errors into one line on stderr and a meaningful exit code."""

    def handler(args: argparse.Namespace) -> int:
        from ..errors import (
            APIConnectionError,
            APIStatusError,
            AuthenticationError,
            PermissionDeniedError,
            SignoffError,
        )

        try:
            return run(args)
        except (AuthenticationError, PermissionDeniedError) as exc:
            return _fail(exc, EXIT_AUTH)
        except APIConnectionError as exc:
            return _fail(exc, EXIT_UNREACHABLE)
        except APIStatusError as exc:
            return _fail(exc, EXIT_REFUSED)
        except SignoffError as exc:  # e.g. no API key configured
            return _fail(exc, EXIT_USAGE)
        except ValueError as exc:  # arguments the SDK refused before sending
            return _fail(exc, EXIT_USAGE)

    return handler


def _fail(exc: BaseException, code: int) -> int:
    print(f"signoff: {exc}", file=sys.stderr)
    return code


def print_json(value: Any) -> None:
    """One JSON document on stdout (models and lists of models alike)."""
    sys.stdout.write(_json.encode(value).decode() + "\n")


def print_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """Rows in aligned columns under a header; long cells are cut to fit a terminal."""
    width = _terminal_width()
    table = [list(headers), *([_cell(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    # The last column gives way first when the table is wider than the terminal.
    overflow = sum(widths) + 2 * (len(widths) - 1) - width
    if overflow > 0:
        widths[-1] = max(10, widths[-1] - overflow)
    for row in table:
        cells = [_fit(cell, widths[i]) for i, cell in enumerate(row)]
        print("  ".join(cells).rstrip())


def _cell(value: object) -> str:
    return "" if value is None else " ".join(str(value).split())


def _fit(cell: str, width: int) -> str:
    return cell.ljust(width) if len(cell) <= width else cell[: width - 1] + "…"


def _terminal_width() -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return 120


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """A short relative time: ``12s ago``, ``in 3m``, ``2h ago``."""
    if moment is None:
        return ""
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    future, seconds = seconds < 0, abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            text = f"{int(seconds // size)}{unit}"
            break
    else:
        text = f"{int(seconds)}s"
    return f"in {text}" if future else f"{text} ago"
