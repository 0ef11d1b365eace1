"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """SDK tests run on both anyio backends."""
    return str(request.param)
