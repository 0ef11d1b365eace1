"""Fixtures of the broker's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .target import Target, serve_target


@pytest.fixture
def target() -> Iterator[Target]:
    """An HTTP service on 127.0.0.1 for the ``http`` connector to call."""
    with serve_target() as running:
        yield running
