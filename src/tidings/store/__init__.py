"""Where tidings keeps what it has read: one interface, one module per backend.

``tidings.store.sqlite`` is the embedded default (one SQLite file, WAL, FTS5). Code outside
this package imports from here (``from tidings.store import Store``), never from a backend
module, so that a backend can be chosen by the store address alone.
"""

from __future__ import annotations

from .sqlite import MIGRATIONS, SCHEMA_VERSION, Store, parse_iso, utcnow

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Store", "parse_iso", "utcnow"]
