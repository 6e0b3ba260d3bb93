"""Where tidings keeps what it has read: one interface, one module per backend.

- :mod:`tidings.store.base`: the interface (:class:`Store`) and the SQL both backends share;
- :mod:`tidings.store.sqlite`: the embedded default (one SQLite file, WAL, FTS5);
- :mod:`tidings.store.postgres`: PostgreSQL (``postgresql://user@host:port/db``, psycopg 3), for
  many processes on one database: text search, advisory lock on the ordered step;
- :mod:`tidings.store.schema`: the tables, described once (SQLAlchemy Core);
- :mod:`tidings.store.migrate`: Alembic migrations for both (and how to add a revision).

Code outside this package imports from here (``from tidings.store import Store``), never from a
backend module: ``Store.open(address)`` picks the backend by the address alone.
"""

from __future__ import annotations

from .base import Store, is_postgres_address, parse_iso, redact, utcnow
from .sqlite import MIGRATIONS, SCHEMA_VERSION

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Store", "is_postgres_address", "parse_iso", "redact", "utcnow"]
