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
import time
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

# The legacy migrations (PRAGMA user_version 1..8), frozen: 1..4 are the released versions (Alembic's
# baseline revision 0001), 5..8 were appended by the trust, alerts, watch and search work and are
# Alembic revisions 0002..0005 now (running this same SQL on SQLite). A store without
# alembic_version is brought to version 8 with them, then stamped with revision 0005
# (migrate.LEGACY_REVISIONS). New schema changes are Alembic revisions (tidings/store/migrate.py
# says how), never entries here.
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
    # 5: trust (docs/reliability.md): what was cut or repaired on an article's way in (comma-separated
    # flags), the identity of each raw input (source + content hash: a rerun skips stored inputs
    # before analysing them), and external ids looked up to report an id reused with other content
    """
    ALTER TABLE articles ADD COLUMN flags TEXT NOT NULL DEFAULT '';
    ALTER TABLE raw_inputs ADD COLUMN input_key TEXT;
    CREATE INDEX raw_inputs_key ON raw_inputs(input_key);
    CREATE INDEX articles_external_id ON articles(external_id) WHERE external_id IS NOT NULL;
    """,
    # 6: where each publication date came from (metadata, feed, url, dateline, given, ingest-time;
    # NULL for articles stored before); alerts, their events (unique keys: never notified twice)
    # and the outbox of deliveries with retries (tidings.watch.alerts)
    """
    ALTER TABLE articles ADD COLUMN date_source TEXT;
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        filters TEXT NOT NULL,
        notify TEXT NOT NULL DEFAULT '[]',
        growth INTEGER,
        created_at TEXT NOT NULL
    );
    CREATE TABLE alert_stories (
        alert_id INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
        story_id TEXT NOT NULL,
        size INTEGER NOT NULL,
        langs TEXT NOT NULL,
        PRIMARY KEY (alert_id, story_id)
    ) WITHOUT ROWID;
    CREATE TABLE alert_events (
        id INTEGER PRIMARY KEY,
        alert_id INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
        key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        story_id TEXT NOT NULL,
        title TEXT NOT NULL,
        detail TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX alert_events_alert ON alert_events(alert_id, id);
    CREATE TABLE alert_deliveries (
        id INTEGER PRIMARY KEY,
        event_id INTEGER NOT NULL REFERENCES alert_events(id) ON DELETE CASCADE,
        target TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT,
        last_attempt_at TEXT,
        last_error TEXT,
        UNIQUE (event_id, target)
    );
    CREATE INDEX alert_deliveries_due ON alert_deliveries(next_attempt_at) WHERE status = 'pending';
    """,
    # 7: tidings watch. The sources it follows with their health and HTTP cache validators; every
    # URL it fetched (entry URL, final URL after redirects, rel=canonical) with the article it
    # gave, so that nothing is fetched twice across restarts; articles by URL (an article stored by
    # `tidings ingest URL` is not fetched again either); and articles whose text is only the feed's
    # summary because the page behind the link could not be had.
    """
    CREATE TABLE sources (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        name TEXT,
        lang TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        every_seconds REAL NOT NULL,
        added_at TEXT NOT NULL,
        paused INTEGER NOT NULL DEFAULT 0,
        next_due TEXT NOT NULL,
        last_fetch TEXT,
        last_status INTEGER,
        last_error TEXT,
        errors_in_row INTEGER NOT NULL DEFAULT 0,
        etag TEXT,
        last_modified TEXT,
        feed_url TEXT,
        fetches INTEGER NOT NULL DEFAULT 0,
        not_modified INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE fetched_urls (
        url TEXT PRIMARY KEY,
        final_url TEXT,
        canonical_url TEXT,
        article_id TEXT,
        source_id INTEGER,
        status TEXT NOT NULL,
        fetched_at TEXT NOT NULL
    );
    CREATE INDEX fetched_urls_final ON fetched_urls(final_url);
    CREATE INDEX fetched_urls_canonical ON fetched_urls(canonical_url);
    CREATE INDEX fetched_urls_source ON fetched_urls(source_id, fetched_at);
    ALTER TABLE articles ADD COLUMN summary_only INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX articles_url ON articles(url);
    """,
    # 8: the search indexes (tidings.search), kept by tidings.search.index.sync() after each
    # ingest batch, up to the article rowid in search_state 'synced_rowid': word stems beside the
    # surface words (a contentless FTS5 table, rowid = articles.rowid), the embedding cache key of
    # each article (its vector goes into the vector index), entity surface forms and counts for
    # finding entities by name, and the cached extractive summaries of stories.
    """
    CREATE TABLE search_state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE VIRTUAL TABLE article_stems USING fts5(
        title, text, content='', tokenize='unicode61 remove_diacritics 2'
    );
    CREATE VIRTUAL TABLE article_stems_vocab USING fts5vocab(article_stems, 'row');
    CREATE TABLE article_vectors (
        article_rowid INTEGER PRIMARY KEY,
        key TEXT NOT NULL
    );
    CREATE TABLE entity_forms (
        form TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        mentions INTEGER NOT NULL,
        PRIMARY KEY (form, entity_id)
    ) WITHOUT ROWID;
    CREATE INDEX entity_forms_entity ON entity_forms(entity_id);
    CREATE VIRTUAL TABLE entity_forms_fts USING fts5(
        form, entity_id UNINDEXED, tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TABLE entity_stats (
        entity_id TEXT PRIMARY KEY,
        mentions INTEGER NOT NULL,
        articles INTEGER NOT NULL,
        last_seen TEXT NOT NULL
    );
    CREATE INDEX entity_stats_mentions ON entity_stats(mentions);
    CREATE INDEX entity_stats_last_seen ON entity_stats(last_seen);
    CREATE TABLE story_summaries (
        story_id TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        data TEXT NOT NULL
    );
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)   # the legacy version every store carries (PRAGMA user_version)


def fts5_query(words: Sequence[str]) -> str:
    """A safe FTS5 query: every word quoted, all words required."""
    return " ".join('"' + w.replace('"', "") + '"' for w in words)


def _journal_wal(conn: sqlite3.Connection, wait: float = 10.0) -> None:
    """Put the file in WAL mode. Switching needs the file to itself and SQLite answers "database
    is locked" at once, without its busy timeout, while another process is creating the same new
    store: retry for up to ``wait`` seconds (once in WAL mode the setting stays in the file)."""
    deadline = time.monotonic() + wait
    delay = 0.02
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


class SQLiteStore(Store):
    """SQLite store. Open with :meth:`Store.open`; use as a context manager or call :meth:`close`."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection, path: str, read_only: bool = False):
        self.conn = conn
        self.path = path
        self.read_only = read_only
        self._locked = False  # inside write_lock(): transaction() joins it instead of committing

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
                _journal_wal(conn)
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
        if revision == head:
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
        if revision is None or (revision == migrate.BASELINE and version > 4):
            # a new store (version 0), a released one (1..4) or one of the legacy versions 5..8: the
            # legacy migrations bring it to the last legacy version, the same schema as its revision
            # (a new store is written so, without importing Alembic); stores stamped with the
            # baseline while versions 5..8 were still legacy entries are caught up the same way
            self._legacy_migrations(version)
            self._stamp(migrate.LEGACY_REVISIONS[SCHEMA_VERSION])
        current = self.schema_revision()
        if current != head and migrate.past_postgresql_only(current) == head:
            self._stamp(head)   # what is left changes nothing on SQLite (no Alembic import)
        if self.schema_revision() != head:
            if self.path == ":memory:":
                raise StoreError("an in-memory store cannot be migrated by Alembic", source=self.path)
            migrate.upgrade(self.path)

    def _legacy_migrations(self, version: int) -> None:
        for number in range(version, SCHEMA_VERSION):
            if self._user_version() > number:
                continue   # another process opening the store migrated it meanwhile
            log.info("migrating %s to schema version %d", self.path, number + 1)
            try:
                with self.conn:
                    self.conn.executescript("BEGIN;" + MIGRATIONS[number] + f"; PRAGMA user_version = {number + 1};")
            except sqlite3.OperationalError:
                # two processes opening a new store at once: the second waited for the first's
                # migration, then found its tables; nothing to do if the version moved on
                if self._user_version() > number:
                    continue
                raise

    def _user_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All writes of one batch: committed together or not at all."""
        if self.read_only:
            raise StoreError("the store is open read-only", source=self.path)
        if self._locked:
            yield self.conn   # part of the write_lock() transaction, committed when it ends
            return
        with self.conn:
            yield self.conn

    def _stamp(self, revision: str) -> None:
        """Record an Alembic revision (what ``alembic stamp REVISION`` writes)."""
        with self.conn:
            self.conn.execute("CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL, "
                              "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))")
            self.conn.execute("DELETE FROM alembic_version")
            self.conn.execute("INSERT INTO alembic_version(version_num) VALUES (?)", (revision,))

    @contextmanager
    def write_lock(self, timeout: float = 60.0) -> Iterator[sqlite3.Connection]:
        """One write transaction that holds SQLite's write lock from its start (BEGIN IMMEDIATE):
        what is read inside it is what the next writer will see, so read-modify-write of the story
        state by two processes is serialised. Waits up to ``timeout`` seconds for another writer;
        :meth:`transaction` blocks inside it join it."""
        if self.read_only:
            raise StoreError("the store is open read-only", source=self.path)
        if self._locked:
            yield self.conn
            return
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise StoreError(f"another process has held the write lock for over {timeout:g} s",
                                     source=self.path, hint="raise store.lock_timeout, or stop the other writer") from None
                time.sleep(0.05)
        self._locked = True
        try:
            yield self.conn
        except BaseException:
            self._locked = False
            self.conn.rollback()
            raise
        self._locked = False
        self.conn.commit()

    def schema_revision(self) -> str | None:
        if self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
                             ).fetchone() is None:
            return None
        row = self.conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None

    # ---- what is SQLite's own -------------------------------------------------------------
    def _upsert_sql(self, table: str, columns: Sequence[str], key: Sequence[str], replace: bool) -> str:
        return _sqlite_upsert(table, tuple(columns), replace)

    def _insert_returning_id(self, sql: str, params: Sequence[Any], or_none: bool = False) -> int | None:
        cur = self.conn.execute(sql, params)
        if or_none and not cur.rowcount:
            return None
        return int(cur.lastrowid)

    def sql_errors(self) -> tuple[type[BaseException], ...]:
        return (sqlite3.Error,)

    def is_fault(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.OperationalError)

    def data_version(self) -> object:
        """``PRAGMA data_version``: changes when another connection commits (not this one)."""
        return self.conn.execute("PRAGMA data_version").fetchone()[0]

    # ---- maintenance (tidings check / backup; see tidings.maintenance) -----------------------
    # Each check is a query for the offending ids (at most ``limit`` are listed, all are counted)
    # and the statements that repair them. Run by tidings.maintenance, which owns the report.
    CHECKS: dict[str, tuple[str, str, tuple[str, ...]]] = {
        "membership_missing": (
            "stored articles in a story without a membership row",
            """SELECT a.id FROM articles a LEFT JOIN memberships m ON m.article_id = a.id
               WHERE a.story_id IS NOT NULL AND a.duplicate_of IS NULL AND m.article_id IS NULL""",
            ("""INSERT INTO memberships(article_id, story_id, score) SELECT a.id, a.story_id, 0.0 FROM articles a
                LEFT JOIN memberships m ON m.article_id = a.id
                WHERE a.story_id IS NOT NULL AND a.duplicate_of IS NULL AND m.article_id IS NULL""",)),
        "membership_mismatch": (
            "memberships naming another story than their article",
            """SELECT m.article_id FROM memberships m JOIN articles a ON a.id = m.article_id
               WHERE a.story_id IS NOT m.story_id""",
            ("""UPDATE memberships SET story_id = (SELECT a.story_id FROM articles a WHERE a.id = memberships.article_id)
                WHERE EXISTS (SELECT 1 FROM articles a WHERE a.id = memberships.article_id
                              AND a.story_id IS NOT NULL AND a.story_id IS NOT memberships.story_id)""",
             """DELETE FROM memberships WHERE EXISTS (SELECT 1 FROM articles a WHERE a.id = memberships.article_id
                AND a.story_id IS NULL)""")),
        "article_in_merged_story": (
            "articles whose story was merged into another (they should have moved with it)",
            """SELECT a.id FROM articles a JOIN stories s ON s.id = a.story_id WHERE s.merged_into IS NOT NULL""",
            ()),  # repaired in code: the survivor is found by resolve_story
        "orphan_memberships": (
            "memberships of articles that do not exist",
            "SELECT m.article_id FROM memberships m LEFT JOIN articles a ON a.id = m.article_id WHERE a.id IS NULL",
            ("DELETE FROM memberships WHERE article_id NOT IN (SELECT id FROM articles)",)),
        "orphan_mentions": (
            "mentions, dates or quotes of articles that do not exist",
            """SELECT DISTINCT article_id FROM (SELECT article_id FROM mentions UNION ALL
               SELECT article_id FROM date_mentions UNION ALL SELECT article_id FROM quotes) AS u
               WHERE article_id NOT IN (SELECT id FROM articles)""",
            ("DELETE FROM mentions WHERE article_id NOT IN (SELECT id FROM articles)",
             "DELETE FROM date_mentions WHERE article_id NOT IN (SELECT id FROM articles)",
             "DELETE FROM quotes WHERE article_id NOT IN (SELECT id FROM articles)")),
        "orphan_signatures": (
            "duplicate signatures of articles that do not exist",
            "SELECT article_id FROM dedup_signatures WHERE article_id NOT IN (SELECT id FROM articles)",
            ("DELETE FROM dedup_signatures WHERE article_id NOT IN (SELECT id FROM articles)",)),
        "orphan_raw_inputs": (
            "raw inputs no article points at",
            "SELECT CAST(id AS TEXT) FROM raw_inputs WHERE id NOT IN (SELECT raw_id FROM articles WHERE raw_id IS NOT NULL)",
            ("DELETE FROM raw_inputs WHERE id NOT IN (SELECT raw_id FROM articles WHERE raw_id IS NOT NULL)",)),
        "story_missing": (
            "stories named by articles but absent from the story table",
            """SELECT DISTINCT a.story_id FROM articles a LEFT JOIN stories s ON s.id = a.story_id
               WHERE a.story_id IS NOT NULL AND s.id IS NULL""",
            ()),  # repaired in code: refresh_stories creates them
        "story_size": (
            "stories whose size, time span or languages disagree with their articles",
            # the time span as refresh_stories draws it: over the articles with a real date, or
            # over all when none has one (an article dated by its ingest time does not move it)
            """SELECT s.id FROM stories s LEFT JOIN (SELECT story_id, COUNT(*) n,
               COALESCE(MIN(CASE WHEN date_source IS NOT 'ingest-time' THEN published_at END), MIN(published_at)) f,
               COALESCE(MAX(CASE WHEN date_source IS NOT 'ingest-time' THEN published_at END), MAX(published_at)) l
               FROM articles WHERE duplicate_of IS NULL AND story_id IS NOT NULL
               GROUP BY story_id) c ON c.story_id = s.id
               WHERE s.merged_into IS NULL AND (s.size != COALESCE(c.n, 0)
                     OR (c.n > 0 AND (s.first_seen IS NOT c.f OR s.last_seen IS NOT c.l)))""",
            ()),  # repaired in code: refresh_stories recomputes them
        "state_unknown_story": (
            "stories in the story assigner's state that the store does not list as live",
            """SELECT c.id FROM cluster_stories c LEFT JOIN stories s ON s.id = c.id
               WHERE s.id IS NULL OR s.merged_into IS NOT NULL""",
            ()),  # not repairable here: the state is the assigner's (tidings check says so)
        "state_alias_dangling": (
            "merge aliases of the story state pointing at unknown stories",
            """SELECT a.id FROM cluster_aliases a LEFT JOIN stories s ON s.id = a.target WHERE s.id IS NULL""",
            ()),
    }

    def fts_problem(self) -> str | None:
        """None when the full-text index matches the articles, else what is wrong. The rows indexed
        are compared with the articles always; FTS5's own token-level integrity check needs a
        writable connection and runs only on one."""
        missing = self.conn.execute("SELECT COUNT(*) FROM articles WHERE rowid NOT IN "
                                    "(SELECT id FROM articles_fts_docsize)").fetchone()[0]
        extra = self.conn.execute("SELECT COUNT(*) FROM articles_fts_docsize WHERE id NOT IN "
                                  "(SELECT rowid FROM articles)").fetchone()[0]
        if missing or extra:
            return f"{missing} articles missing from the full-text index, {extra} index rows without an article"
        if self.read_only:
            return None
        try:
            self.conn.execute("INSERT INTO articles_fts(articles_fts, rank) VALUES ('integrity-check', 1)")
        except sqlite3.DatabaseError as exc:
            return f"full-text index out of step ({exc})"
        finally:
            if self.conn.in_transaction and not self._locked:
                self.conn.rollback()
        return None

    def rebuild_fts(self) -> None:
        self.conn.execute("INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')")

    def quick_check(self) -> list[str]:
        """SQLite's own page-level check: [] when the file is sound."""
        rows = [r[0] for r in self.conn.execute("PRAGMA quick_check")]
        return [] if rows == ["ok"] else rows

    def backup_to(self, path: str | Path, progress: Any = None, pages: int = 1024) -> None:
        """A consistent copy of this store at ``path`` by SQLite's online backup (writers may go on:
        the copy is the store as of one moment). ``progress(remaining, total)`` after each step."""
        target = sqlite3.connect(str(path))
        try:
            self.conn.backup(target, pages=pages,
                             progress=(lambda status, remaining, total: progress(remaining, total)) if progress else None)
            target.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file
        finally:
            target.close()

    @contextmanager
    def assignment_lock(self, timeout: float = 60.0) -> Iterator[None]:
        """The ordered step under SQLite's write lock (:meth:`write_lock`, BEGIN IMMEDIATE): one
        writer process at a time per file; the next one waits up to ``timeout`` seconds."""
        with self.write_lock(timeout):
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
