"""Alembic migrates both backends to the schema described once in tidings/store/schema.py:
new stores (SQLite, PostgreSQL), SQLite stores of the released and legacy versions (user_version 1..8),
and a new revision added as one file applies on both."""

from __future__ import annotations

import re
import shutil
import sqlite3

import pytest

from tidings.store import MIGRATIONS, SCHEMA_VERSION, Store
from tidings.store import migrate


def _sqlite_schema(path) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return sorted((kind, name, table, re.sub(r"\s+", "", sql or ""))   # layout aside
                      for kind, name, table, sql in conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master "
                                                                  "WHERE name NOT LIKE 'sqlite_%'"))
    finally:
        conn.close()


def test_a_new_store_matches_the_schema_description_on_both_backends(store_url):
    Store.open(store_url).close()
    assert migrate.differences(store_url) == []
    with Store.open(store_url, read_only=True) as store:
        assert store.schema_revision() == migrate.head_revision()


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION + 1))
def test_a_released_sqlite_store_is_migrated_and_stamped(tmp_path, version):
    path = tmp_path / f"v{version}.db"
    conn = sqlite3.connect(path)
    conn.executescript("BEGIN;" + ";".join(MIGRATIONS[:version]) + f"; PRAGMA user_version = {version};")
    conn.execute("INSERT INTO stories(id, title) VALUES ('s1', 'kept')")
    conn.commit()
    conn.close()
    with Store.open(path) as store:
        assert store.schema_revision() == migrate.head_revision()
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.conn.execute("SELECT title FROM stories").fetchone()[0] == "kept"
    assert migrate.differences(str(path)) == []


def test_alembic_baseline_on_sqlite_builds_the_released_schema_exactly(tmp_path):
    """A new SQLite store is written without importing Alembic (the fast path); Alembic's own
    baseline revision gives the very same tables, indexes, FTS5 table and triggers."""
    fast, alembic_made = tmp_path / "fast.db", tmp_path / "alembic.db"
    Store.open(fast).close()
    migrate.upgrade(str(alembic_made))
    assert _sqlite_schema(alembic_made) == _sqlite_schema(fast)
    with Store.open(alembic_made) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.schema_revision() == migrate.head_revision()
        # past the last legacy version, revisions that change nothing on SQLite are stamped without
        # Alembic and the others (0007: stem_counts) run through it: either way a new store is at head
        assert migrate.past_postgresql_only(migrate.LEGACY_REVISIONS[SCHEMA_VERSION]) <= migrate.head_revision()
    with Store.open(fast) as store:
        assert store.schema_revision() == migrate.head_revision()


NEXT = f"{int(migrate.head_revision()) + 1:04d}"
REVISION = f'''"""A test revision: one new table and one new column.

Revision ID: {NEXT}
Revises: {migrate.head_revision()}
"""
import sqlalchemy as sa
from alembic import op

revision = "{NEXT}"
down_revision = "{migrate.head_revision()}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("notes", sa.Column("id", sa.Text(), primary_key=True), sa.Column("query", sa.Text(), nullable=False))
    op.add_column("articles", sa.Column("stars", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("articles_stars", "articles", ["stars"])
'''


def test_one_new_revision_file_migrates_both_backends(tmp_path, monkeypatch, pg_server):
    """What a developer does to change the schema (tidings/store/migrate.py): one file; existing
    stores of both backends pick it up when opened."""
    versions = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, versions, ignore=shutil.ignore_patterns("__pycache__"))
    (versions / "versions" / f"{NEXT}_notes_and_stars.py").write_text(REVISION, encoding="utf-8")
    sqlite_path = tmp_path / "old.db"
    url = pg_server.create_database("revision")
    for address in (str(sqlite_path), url):
        Store.open(address).close()   # at the baseline
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", versions)
    assert migrate.head_revision() == NEXT
    for address in (str(sqlite_path), url):
        with Store.open(address) as store:
            assert store.schema_revision() == NEXT
            store.conn.execute("SELECT stars FROM articles").fetchall()
            with store.transaction():
                store.conn.execute("INSERT INTO notes(id, query) VALUES (?, ?)", ("a1", "aleppo"))
            assert store.conn.execute("SELECT query FROM notes").fetchone()[0] == "aleppo"
    monkeypatch.undo()
    from tidings.errors import StoreError
    for address in (str(sqlite_path), url):   # an older tidings refuses a store from the future
        with pytest.raises(StoreError, match="newer than this tidings"):
            Store.open(address)


def test_processes_opening_one_new_sqlite_store_at_once_all_reach_the_head(tmp_path):
    """Every new SQLite store runs the Alembic revisions past the legacy ones; processes opening
    it at the same moment take turns (each migration holds the write lock from its start) instead
    of failing on a version another one moved ("expected to match one row"), and wait for the
    switch to WAL mode instead of failing with "database is locked"."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    script = ("import sys, time\nfrom tidings.store import Store\n"
              "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"   # all start together
              "with Store.open(sys.argv[1]) as store:\n    print(store.schema_revision())\n")
    for attempt in range(3):
        path = tmp_path / f"new-{attempt}.db"
        start = f"{__import__('time').time() + 2.0:.3f}"
        procs = [subprocess.Popen([sys.executable, "-c", script, str(path), start], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env) for _ in range(3)]
        results = [p.communicate(timeout=120) for p in procs]
        for proc, (out, err) in zip(procs, results):
            assert proc.returncode == 0, err
            assert out.strip() == migrate.head_revision()
