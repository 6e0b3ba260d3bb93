"""Schema migrations for every backend: Alembic, one revision file per change.

The schema as it is now is described once in :mod:`tidings.store.schema`; the way there is the
chain of revisions in ``tidings/store/migrations/versions/``. The first, ``0001_baseline``, is
the schema of the released stores (SQLite ``PRAGMA user_version`` 4, the last entry of the legacy
``MIGRATIONS`` list in :mod:`tidings.store.sqlite`). Every store is brought there and on:

- a new SQLite or PostgreSQL store: ``upgrade head`` from nothing;
- a SQLite store of a released version (user_version 1..3): the legacy migrations bring it to
  version 4, then it is *stamped* with the baseline (same schema), then ``upgrade head``;
- a store of version 4 without ``alembic_version``: stamped, then ``upgrade head``.

Adding a revision (one change = one file, for both dialects)
------------------------------------------------------------
1. Change the tables in ``schema.py``.
2. Copy the newest file in ``migrations/versions/`` to ``NNNN_what_it_does.py`` with the next
   number, set ``revision = "NNNN"`` and ``down_revision`` to the previous number (the chain is
   linear; the head is the highest number: :func:`head_revision` reads it from the file names).
3. Write ``upgrade()`` with Alembic operations, which work on both dialects::

       op.create_table("alerts", sa.Column("id", sa.Text, primary_key=True), ...)
       op.add_column("articles", sa.Column("flags", sa.Integer, nullable=False, server_default="0"))
       op.create_index("articles_flags", "articles", ["flags"])

   Where the dialects differ, branch on ``op.get_bind().dialect.name`` (``"sqlite"`` or
   ``"postgresql"``); SQL that only one engine knows (an FTS5 table, a trigger) goes through
   ``op.execute`` in its branch. On SQLite, ``ALTER`` beyond ``ADD COLUMN`` needs
   ``with op.batch_alter_table("t") as batch:`` (Alembic copies the table).
4. ``tests/test_store_migrations.py`` then checks, on both backends, that a store migrated from
   nothing and a released SQLite store migrated forward both match ``schema.py``.

A revision is never edited once released: add another. A change that older tidings releases
must not write through may also raise ``PRAGMA user_version`` (SQLite) so they refuse the store.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"
# The revision whose schema is each legacy SQLite schema version (PRAGMA user_version): a store
# without alembic_version at version N is brought to the newest legacy version by the legacy
# MIGRATIONS, then stamped with LEGACY_REVISIONS[SCHEMA_VERSION]. Versions 5-8 (trust, alerts,
# watch, search) were appended to the legacy list by the branches merged with PostgreSQL, and are
# revisions 0002-0005 now (on SQLite they run the very same SQL).
LEGACY_REVISIONS = {4: "0001", 5: "0002", 6: "0003", 7: "0004", 8: "0005"}
# the key of the PostgreSQL advisory lock held while migrating (two processes starting at once)
MIGRATION_LOCK_KEY = 0x7469_6469_6E67_0002


def run_legacy_sqlite(version: int) -> None:
    """Inside a revision, on SQLite: the legacy migration that made ``PRAGMA user_version``
    ``version``, statement by statement (the same SQL as the fast path of a new store runs)."""
    import sqlite3

    from alembic import op

    from .sqlite import MIGRATIONS

    current = ""
    for line in MIGRATIONS[version - 1].splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip().strip(";").strip():
                op.execute(current.strip())
            current = ""
    op.execute(f"PRAGMA user_version = {version}")


def head_revision() -> str:
    """The newest revision, from the file names alone (no Alembic import on the fast path)."""
    numbers = [m.group(1) for p in (MIGRATIONS_DIR / "versions").glob("*.py")
               if (m := re.match(r"(\d{4})_", p.name))]
    return max(numbers)


def past_postgresql_only(revision: str) -> str:
    """The newest revision a SQLite store at ``revision`` reaches through revisions that change
    nothing on SQLite (a revision file that says ``POSTGRESQL_ONLY = True``: the PostgreSQL
    text search and pgvector of 0006): the store is stamped with it, without importing Alembic."""
    files = sorted((m.group(1), p) for p in (MIGRATIONS_DIR / "versions").glob("*.py")
                   if (m := re.match(r"(\d{4})_", p.name)))
    for number, path in files:
        if number <= revision:
            continue
        if not re.search(r"^POSTGRESQL_ONLY = True$", path.read_text(encoding="utf-8"), re.M):
            break
        revision = number
    return revision


def known_revisions() -> set[str]:
    return {m.group(1) for p in (MIGRATIONS_DIR / "versions").glob("*.py") if (m := re.match(r"(\d{4})_", p.name))}


def _config(connection):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def sqlalchemy_url(address: str) -> str:
    """A SQLAlchemy URL for a store address (a SQLite path or a postgresql:// URL)."""
    if address.startswith("postgresql+psycopg://"):
        return address
    if address.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + address.split("://", 1)[1]
    return "sqlite:///" + address


def upgrade(address: str, *, stamp_baseline: bool = False) -> None:
    """Bring the store at ``address`` to the head revision (after stamping the baseline when
    ``stamp_baseline``: a legacy SQLite store already at the baseline schema)."""
    from alembic import command
    from sqlalchemy import create_engine, text

    engine = create_engine(sqlalchemy_url(address))
    if engine.dialect.name == "sqlite":
        _one_migrating_process(engine)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            cfg = _config(connection)
            if stamp_baseline:
                log.info("stamping %s with the baseline revision %s", address, BASELINE)
                command.stamp(cfg, BASELINE)
            log.info("migrating %s to revision %s", address, head_revision())
            command.upgrade(cfg, "head")
    finally:
        engine.dispose()


def _one_migrating_process(engine) -> None:
    """SQLite: each migration transaction takes the write lock first (``BEGIN IMMEDIATE``), so a
    second process opening a new store at the same moment waits, then finds it at the head
    revision, instead of running the same revisions against a version that moved under it (the
    SQLAlchemy recipe for SQLite transactions: pysqlite's own implicit BEGIN is turned off)."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA busy_timeout = 60000")

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def differences(address: str) -> list:
    """What differs between the store at ``address`` and :mod:`tidings.store.schema` (Alembic's
    autogenerate comparison; empty when they match). SQLite's implicit row ids and the full-text
    search objects, which ``schema.py`` does not describe, are left out."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    from .schema import POSTGRES_ONLY, SQLITE_ONLY_PREFIXES, metadata

    def include(obj, name, kind, reflected, compare_to):
        if kind in ("table", "index") and (name in ("alembic_version", "article_pgvectors")   # (pgvector's: 0006)
                                            or (name or "").startswith(SQLITE_ONLY_PREFIXES)):
            return False
        if kind == "column" and (obj.table.name, name) in POSTGRES_ONLY and engine.dialect.name == "sqlite":
            return False
        if kind in ("index", "unique_constraint") and engine.dialect.name == "sqlite" and obj.table.name in {
                t for t, _ in POSTGRES_ONLY} and any(c.name == "rowid" for c in getattr(obj, "columns", [])):
            return False
        return True

    def quirk(diff) -> bool:
        # the released SQLite schema declares its TEXT/INTEGER primary keys without NOT NULL (a
        # primary key that SQLite lets hold NULL, for its own historical reasons): the same tables
        if engine.dialect.name != "sqlite" or not isinstance(diff, list) or len(diff) != 1:
            return False
        kind, _, table, column = diff[0][:4]
        return kind == "modify_nullable" and metadata.tables[table].c[column].primary_key

    engine = create_engine(sqlalchemy_url(address))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"include_object": include,
                                                                   "compare_type": True,
                                                                   "compare_server_default": False})
            diffs = [d for d in compare_metadata(context, metadata) if not quirk(d)]
            return _same_foreign_keys_aside(diffs) if engine.dialect.name == "sqlite" else diffs
    finally:
        engine.dispose()


def _same_foreign_keys_aside(diffs: list) -> list:
    """SQLite's reflection does not read a foreign key's ON DELETE clause: a key removed and added
    again with the same columns and target (the ON DELETE CASCADE of the alert tables) is no change."""
    def key(fk):
        return (fk.table.name, tuple(c.name for c in fk.columns), fk.elements[0].target_fullname.split(".")[0])

    removed = {key(d[1]) for d in diffs if isinstance(d, tuple) and d[0] == "remove_fk"}
    added = {key(d[1]) for d in diffs if isinstance(d, tuple) and d[0] == "add_fk"}
    same = removed & added
    return [d for d in diffs if not (isinstance(d, tuple) and d[0] in ("remove_fk", "add_fk") and key(d[1]) in same)]
