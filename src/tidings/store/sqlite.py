"""The embedded store: SQLite in WAL mode, with FTS5 search (the default backend).

The store knows tables, not pipeline stages: the pipeline hands it finished
:class:`~tidings.models.Article` objects and it writes them in one transaction per batch,
so an interrupted or failed batch never leaves half an article behind and never changes
what was stored before. The SQL shared with PostgreSQL is in :mod:`tidings.store.base`; this
module holds what is SQLite's own, and the legacy migrations of the released stores.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import StoreError
from . import migrate
from .base import Store, parse_iso, utcnow

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "SQLiteStore", "fts5_query", "parse_iso", "utcnow"]

log = logging.getLogger(__name__)

# The migrations of the released versions (PRAGMA user_version 1..4), frozen: a store of an older
# version is brought to version 4 with them, then stamped with Alembic's baseline revision (the same
# schema). New schema changes are Alembic revisions (tidings/store/migrate.py says how), not entries here.
MIGRATIONS: list[str] = [
    # 1: initial schema
    """
    CREATE TABLE raw_inputs (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        content_type TEXT NOT NULL,
        raw BLOB NOT NULL,
        received_at TEXT NOT NULL
    );
    CREATE TABLE articles (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        raw_id INTEGER REFERENCES raw_inputs(id),
        source TEXT NOT NULL,
        url TEXT,
        outlet TEXT,
        external_id TEXT,
        title TEXT NOT NULL,
        text TEXT NOT NULL,
        lang TEXT NOT NULL,
        lang_confidence REAL NOT NULL,
        published_at TEXT NOT NULL,
        ingested_at TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        duplicate_of TEXT,
        story_id TEXT
    );
    CREATE INDEX articles_story ON articles(story_id);
    CREATE INDEX articles_published ON articles(published_at);
    CREATE INDEX articles_hash ON articles(content_hash);
    CREATE INDEX articles_lang ON articles(lang);
    CREATE TABLE dedup_signatures (
        article_id TEXT PRIMARY KEY,
        signature BLOB NOT NULL
    );
    CREATE TABLE entities (
        id TEXT PRIMARY KEY,
        label TEXT NOT NULL,
        name TEXT NOT NULL,
        geonames_id INTEGER,
        country TEXT,
        lat REAL,
        lon REAL
    );
    CREATE TABLE mentions (
        article_id TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        label TEXT NOT NULL,
        text TEXT NOT NULL,
        start INTEGER NOT NULL,
        end INTEGER NOT NULL
    );
    CREATE INDEX mentions_article ON mentions(article_id);
    CREATE INDEX mentions_entity ON mentions(entity_id);
    CREATE TABLE date_mentions (
        article_id TEXT NOT NULL,
        text TEXT NOT NULL,
        start_char INTEGER NOT NULL,
        end_char INTEGER NOT NULL,
        start TEXT NOT NULL,
        end TEXT NOT NULL,
        granularity TEXT NOT NULL
    );
    CREATE INDEX date_mentions_article ON date_mentions(article_id);
    CREATE TABLE quotes (
        article_id TEXT NOT NULL,
        text TEXT NOT NULL,
        start_char INTEGER NOT NULL,
        end_char INTEGER NOT NULL,
        speaker_entity_id TEXT,
        speaker TEXT
    );
    CREATE INDEX quotes_article ON quotes(article_id);
    CREATE TABLE embeddings (
        key TEXT PRIMARY KEY,
        model TEXT NOT NULL,
        vector BLOB NOT NULL
    );
    CREATE TABLE stories (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        size INTEGER NOT NULL DEFAULT 0,
        first_seen TEXT,
        last_seen TEXT,
        langs TEXT NOT NULL DEFAULT '{}',
        merged_into TEXT
    );
    CREATE INDEX stories_last_seen ON stories(last_seen);
    CREATE TABLE memberships (
        article_id TEXT PRIMARY KEY,
        story_id TEXT NOT NULL,
        score REAL NOT NULL
    );
    CREATE INDEX memberships_story ON memberships(story_id);
    CREATE TABLE cluster_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        data BLOB NOT NULL
    );
    CREATE VIRTUAL TABLE articles_fts USING fts5(
        title, text, content='articles', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts(rowid, title, text) VALUES (new.rowid, new.title, new.text);
    END;
    CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, text) VALUES ('delete', old.rowid, old.title, old.text);
    END;
    """,
    # 2: read-side indexes for the API (bench/api.py, 100,000 articles): live stories in both list
    # orders (partial: merged ids are never listed), a story's articles and their entities without
    # table lookups, the stories of a language, and the ids merged into a story
    """
    CREATE INDEX stories_live_newest ON stories(last_seen, id) WHERE merged_into IS NULL;
    CREATE INDEX stories_live_size ON stories(size, id) WHERE merged_into IS NULL;
    CREATE INDEX stories_merged_into ON stories(merged_into) WHERE merged_into IS NOT NULL;
    CREATE INDEX articles_story_id ON articles(story_id, id);
    CREATE INDEX articles_lang_story ON articles(lang, story_id);
    CREATE INDEX mentions_article_entity ON mentions(article_id, entity_id);
    """,
    # 3: the story assigner's state in rows, so that a batch writes only what it changed
    # (StoryAssigner.state_changes). cluster_state keeps the small core blob; a store of version
    # 2 still holds one full blob there, which loads as before and is split on the next save.
    """
    CREATE TABLE cluster_stories (
        id TEXT PRIMARY KEY,
        slot INTEGER NOT NULL,
        vector BLOB NOT NULL,
        record TEXT NOT NULL
    );
    CREATE TABLE cluster_aliases (
        id TEXT PRIMARY KEY,
        target TEXT NOT NULL
    );
    CREATE TABLE cluster_df (
        kind TEXT NOT NULL,
        seq INTEGER NOT NULL,
        t REAL NOT NULL,
        ids TEXT NOT NULL,
        PRIMARY KEY (kind, seq)
    ) WITHOUT ROWID;
    """,
    # 4: a mention found in the title (when the title is not part of the text) has offsets into
    # the title, not the text: say so, so that readers of start/end know which string they index.
    """
    ALTER TABLE mentions ADD COLUMN in_title INTEGER NOT NULL DEFAULT 0;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)   # the legacy version every store carries (PRAGMA user_version)


def fts5_query(words: Sequence[str]) -> str:
    """A safe FTS5 query: every word quoted, all words required."""
    return " ".join('"' + w.replace('"', "") + '"' for w in words)


class SQLiteStore(Store):
    """SQLite store. Open with :meth:`Store.open`; use as a context manager or call :meth:`close`."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection, path: str, read_only: bool = False):
        self.conn = conn
        self.path = path
        self.read_only = read_only

    # ---- opening and migrations -------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, *, read_only: bool = False) -> "SQLiteStore":
        path = str(path)
        try:
            if read_only:
                if path != ":memory:" and not Path(path).is_file():
                    raise StoreError("no such store", source=path,
                                     hint="ingest something first: tidings ingest PATH")
                conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            else:
                if path != ":memory:":
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(path, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA busy_timeout = 10000")
            if not read_only:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            store = cls(conn, path, read_only)
            store._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the store: {exc}", source=path,
                             hint="is it a tidings SQLite database?") from None
        return store

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"the store has schema version {version}, newer than this tidings "
                             f"understands ({SCHEMA_VERSION})", source=self.path, hint="upgrade tidings")
        revision = self.schema_revision()
        head = migrate.head_revision()
        if version == SCHEMA_VERSION and revision == head:
            return
        if revision is not None and revision not in migrate.known_revisions():
            raise StoreError(f"the store has schema revision {revision}, newer than this tidings "
                             f"understands ({head})", source=self.path, hint="upgrade tidings")
        if self.read_only:
            # an older store opened for reading: migrate it through a short writable connection
            try:
                SQLiteStore.open(self.path).close()
            except StoreError:
                raise StoreError(f"the store has schema version {version} and needs a migration, but it "
                                 "cannot be opened for writing", source=self.path,
                                 hint="run any tidings command with write access once") from None
            return
        if version == 0 and revision is None:
            # a new store: the baseline is the legacy schema, written here directly (the same SQL as
            # Alembic's baseline revision runs, without importing Alembic on every new store)
            self._legacy_migrations(0)
            self._stamp_baseline()
        elif revision is None:
            self._legacy_migrations(version)
            self._stamp_baseline()
        elif version < SCHEMA_VERSION:
            # entries appended to MIGRATIONS after the baseline (not yet ported to Alembic revisions)
            self._legacy_migrations(version)
        if head != migrate.BASELINE and self.schema_revision() != head:
            if self.path == ":memory:":
                raise StoreError("an in-memory store cannot be migrated past the baseline", source=self.path)
            migrate.upgrade(self.path)

    def _legacy_migrations(self, version: int) -> None:
        for number in range(version, SCHEMA_VERSION):
            log.info("migrating %s to schema version %d", self.path, number + 1)
            with self.conn:
                self.conn.executescript("BEGIN;" + MIGRATIONS[number] + f"; PRAGMA user_version = {number + 1};")

    def _stamp_baseline(self) -> None:
        """Record Alembic's baseline revision (what ``alembic stamp 0001`` writes)."""
        with self.conn:
            self.conn.execute("CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL, "
                              "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))")
            self.conn.execute("DELETE FROM alembic_version")
            self.conn.execute("INSERT INTO alembic_version(version_num) VALUES (?)", (migrate.BASELINE,))

    def schema_revision(self) -> str | None:
        if self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
                             ).fetchone() is None:
            return None
        row = self.conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None

    # ---- what is SQLite's own -------------------------------------------------------------
    def _upsert_sql(self, table: str, columns: Sequence[str], key: Sequence[str], replace: bool) -> str:
        return _sqlite_upsert(table, tuple(columns), replace)

    def _insert_returning_id(self, sql: str, params: Sequence[Any]) -> int:
        return int(self.conn.execute(sql, params).lastrowid)

    def data_version(self) -> object:
        """``PRAGMA data_version``: changes when another connection commits (not this one)."""
        return self.conn.execute("PRAGMA data_version").fetchone()[0]

    @contextmanager
    def assignment_lock(self) -> Iterator[None]:
        """SQLite serialises writers by itself, a transaction at a time; the ordered step is not
        locked across processes here (yet): this is where a SQLite lease would go."""
        yield

    def full_text_search_mode(self) -> str:
        return "sqlite-fts5"

    def search_articles(self, words: Sequence[str], limit: int) -> list[dict]:
        rows = self.conn.execute(
            """SELECT a.id, a.title, a.lang, a.published_at, a.story_id, a.url,
                      snippet(articles_fts, 1, '[', ']', '…', 12) AS snippet
               FROM articles_fts JOIN articles a ON a.rowid = articles_fts.rowid
               WHERE articles_fts MATCH ? AND a.duplicate_of IS NULL ORDER BY rank LIMIT ?""",
            (fts5_query(words), limit)).fetchall()
        return [dict(r) for r in rows]

    def story_ids_matching_sql(self, words: Sequence[str]) -> tuple[str, list[Any]]:
        return ("SELECT a.story_id FROM articles_fts f JOIN articles a ON a.rowid = f.rowid "
                "WHERE articles_fts MATCH ?", [fts5_query(words)])


@lru_cache(maxsize=None)
def _sqlite_upsert(table: str, columns: tuple[str, ...], replace: bool) -> str:
    verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
    return f"{verb} INTO {table}({', '.join(columns)}) VALUES ({','.join('?' * len(columns))})"
