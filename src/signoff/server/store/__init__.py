"""Storage: the `Store` interface and its implementations (SQL lives only in this package)."""

from .base import Store
from .sqlite import SQLiteStore

__all__ = ["Store", "SQLiteStore"]
