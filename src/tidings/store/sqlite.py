"""The embedded store: SQLite in WAL mode, with schema migrations and FTS5 search.

The store knows tables, not pipeline stages: the pipeline hands it finished
:class:`~tidings.models.Article` objects and it writes them in one transaction per batch,
so an interrupted or failed batch never leaves half an article behind and never changes
what was stored before.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import NotFound, StoreError
from ..models import Article, Document, Entity

log = logging.getLogger(__name__)

# Each migration moves the schema one version up. Never edit a released migration: add one.
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

SCHEMA_VERSION = len(MIGRATIONS)


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


class Store:
    """SQLite store. Open with :meth:`open`; use as a context manager or call :meth:`close`."""

    def __init__(self, conn: sqlite3.Connection, path: str, read_only: bool = False):
        self.conn = conn
        self.path = path
        self.read_only = read_only
        self._locked = False  # inside write_lock(): transaction() joins it instead of committing

    # ---- opening and migrations -------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, *, read_only: bool = False) -> "Store":
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
        if version == SCHEMA_VERSION:
            return
        if self.read_only:
            # an older store opened for reading: migrate it through a short writable connection
            try:
                Store.open(self.path).close()
            except StoreError:
                raise StoreError(f"the store has schema version {version} and needs a migration, but it "
                                 "cannot be opened for writing", source=self.path,
                                 hint="run any tidings command with write access once") from None
            return
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

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

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

    # ---- writes ---------------------------------------------------------------------------
    def add_raw(self, doc: Document, input_key: str | None = None) -> int:
        cur = self.conn.execute(
            "INSERT INTO raw_inputs(source, content_type, raw, received_at, input_key) VALUES (?,?,?,?,?)",
            (doc.source, doc.content_type, doc.raw, _iso(utcnow()), input_key))
        return int(cur.lastrowid)

    def has_input(self, input_key: str) -> bool:
        """Whether a raw input with this identity (pipeline.input_key) is stored."""
        return self.conn.execute("SELECT 1 FROM raw_inputs WHERE input_key = ? LIMIT 1",
                                 (input_key,)).fetchone() is not None

    def article_with_external_id(self, external_id: str, other_than_hash: str) -> str | None:
        """An article stored with this external id and a different content hash, if any."""
        row = self.conn.execute(
            "SELECT id FROM articles WHERE external_id = ? AND content_hash != ? ORDER BY rowid LIMIT 1",
            (external_id, other_than_hash)).fetchone()
        return row[0] if row else None

    def add_article(self, article: Article, raw_id: int | None) -> None:
        self.conn.execute(
            """INSERT INTO articles(id, raw_id, source, url, outlet, external_id, title, text, lang,
                   lang_confidence, published_at, ingested_at, content_hash, duplicate_of, story_id, flags,
                   date_source)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
            (article.id, raw_id, article.source, article.url, article.outlet, article.external_id,
             article.title, article.text, article.lang, article.lang_confidence,
             _iso(article.published_at), _iso(utcnow()), article.content_hash,
             article.duplicate_of, article.story_id, ",".join(article.flags), article.date_source))
        if article.summary_only:
            self.conn.execute("UPDATE articles SET summary_only = 1 WHERE id = ?", (article.id,))
        if article.duplicate_of:
            return
        analysis = article.analysis
        self.upsert_entities(analysis.entities.values())
        self.conn.executemany(
            "INSERT INTO mentions(article_id, entity_id, label, text, start, end, in_title) VALUES (?,?,?,?,?,?,?)",
            [(article.id, m.entity_id, m.label, m.text, m.start, m.end, int(m.in_title)) for m in analysis.mentions])
        self.conn.executemany(
            "INSERT INTO date_mentions(article_id, text, start_char, end_char, start, end, granularity)"
            " VALUES (?,?,?,?,?,?,?)",
            [(article.id, d.text, d.start_char, d.end_char, d.start.isoformat(), d.end.isoformat(),
              d.granularity) for d in analysis.dates])
        self.conn.executemany(
            "INSERT INTO quotes(article_id, text, start_char, end_char, speaker_entity_id, speaker)"
            " VALUES (?,?,?,?,?,?)",
            [(article.id, q.text, q.start_char, q.end_char, q.speaker_entity_id, q.speaker)
             for q in analysis.quotes])

    def upsert_entities(self, entities: Iterable[Entity]) -> None:
        """Add new entities; an entity already stored keeps its name, and gains coordinates if it
        had none (countries had none before data/gazetteer/country_points.tsv)."""
        self.conn.executemany(
            """INSERT INTO entities(id, label, name, geonames_id, country, lat, lon) VALUES (?,?,?,?,?,?,?)
               ON CONFLICT(id) DO UPDATE SET lat = excluded.lat, lon = excluded.lon
               WHERE entities.lat IS NULL AND excluded.lat IS NOT NULL""",
            [(e.id, e.label, e.name, e.geonames_id, e.country, e.lat, e.lon) for e in entities])

    def add_signature(self, article_id: str, signature: bytes) -> None:
        self.conn.execute("INSERT OR REPLACE INTO dedup_signatures(article_id, signature) VALUES (?,?)",
                          (article_id, signature))

    def signatures(self, since: datetime | None = None) -> Iterator[tuple[str, bytes]]:
        """Duplicate signatures in the order they were added; with ``since``, only those of
        articles published at or after it (the monitor keeps a bounded window in memory)."""
        if since is None:
            rows = self.conn.execute("SELECT article_id, signature FROM dedup_signatures ORDER BY rowid")
        else:
            rows = self.conn.execute(
                """SELECT s.article_id, s.signature FROM articles a JOIN dedup_signatures s ON s.article_id = a.id
                   WHERE a.published_at >= ? ORDER BY s.rowid""", (_iso(since),))
        for row in rows:
            yield row[0], row[1]

    def newest_published(self) -> datetime | None:
        """Publication time of the newest stored article (the stream's clock), if any. Articles
        dated only by their ingest time do not set it while any other is stored (an archive of
        undated files ingested today would otherwise put the clock months ahead)."""
        row = self.conn.execute("SELECT MAX(published_at) FROM articles WHERE date_source IS NOT 'ingest-time'"
                                ).fetchone()
        if not row or not row[0]:
            row = self.conn.execute("SELECT MAX(published_at) FROM articles").fetchone()
        return parse_iso(row[0]) if row and row[0] else None

    def set_membership(self, article_id: str, story_id: str, score: float) -> None:
        self.conn.execute("INSERT OR REPLACE INTO memberships(article_id, story_id, score) VALUES (?,?,?)",
                          (article_id, story_id, score))
        self.conn.execute("UPDATE articles SET story_id = ? WHERE id = ?", (story_id, article_id))

    def merge_story(self, old_id: str, new_id: str) -> None:
        """Move every member of ``old_id`` to ``new_id``; ``old_id`` keeps resolving to ``new_id``."""
        self.conn.execute("UPDATE memberships SET story_id = ? WHERE story_id = ?", (new_id, old_id))
        self.conn.execute("UPDATE articles SET story_id = ? WHERE story_id = ?", (new_id, old_id))
        self.conn.execute("INSERT OR IGNORE INTO stories(id) VALUES (?)", (old_id,))
        self.conn.execute("UPDATE stories SET merged_into = ?, size = 0 WHERE id = ?", (new_id, old_id))
        # earlier aliases of old_id now point at the survivor too
        self.conn.execute("UPDATE stories SET merged_into = ? WHERE merged_into = ?", (new_id, old_id))

    def refresh_stories(self, story_ids: Iterable[str]) -> None:
        """Recompute size, languages, time span and title of the given stories from their members."""
        for story_id in sorted(set(story_ids)):
            rows = self.conn.execute(
                """SELECT title, lang, published_at, date_source FROM articles
                   WHERE story_id = ? AND duplicate_of IS NULL ORDER BY published_at, rowid""",
                (story_id,)).fetchall()
            if not rows:
                continue
            # an article dated only by its ingest time does not move a story that has dated ones
            dated = [r for r in rows if r["date_source"] != "ingest-time"] or rows
            langs: dict[str, int] = {}
            for row in rows:
                langs[row["lang"]] = langs.get(row["lang"], 0) + 1
            title = _story_title(rows)
            self.conn.execute(
                """INSERT INTO stories(id, title, size, first_seen, last_seen, langs) VALUES (?,?,?,?,?,?)
                   ON CONFLICT(id) DO UPDATE SET title=excluded.title, size=excluded.size,
                     first_seen=excluded.first_seen, last_seen=excluded.last_seen, langs=excluded.langs""",
                (story_id, title, len(rows), dated[0]["published_at"], dated[-1]["published_at"],
                 json.dumps(dict(sorted(langs.items(), key=lambda kv: (-kv[1], kv[0]))))))

    def save_cluster_state(self, data: bytes, *, full: bool = True,
                           stories: Iterable[tuple[str, int, bytes, str]] = (), dropped: Iterable[str] = (),
                           aliases: Iterable[tuple[str, str]] = (),
                           df_items: Iterable[tuple[str, int, float, str]] = (),
                           df_keep_from: dict[str, int] | None = None) -> None:
        """Write the story assigner's state: ``data`` is its blob (a whole ``dump_state`` or the
        core of ``state_changes``); the other arguments are the rows of ``state_changes``.
        ``full`` clears the state rows first (a whole blob, or the first save after a blob)."""
        if full:
            self.conn.execute("DELETE FROM cluster_stories")
            self.conn.execute("DELETE FROM cluster_aliases")
            self.conn.execute("DELETE FROM cluster_df")
        self.conn.execute("INSERT OR REPLACE INTO cluster_state(id, data) VALUES (1, ?)", (data,))
        self.conn.executemany("DELETE FROM cluster_stories WHERE id = ?", [(i,) for i in dropped])
        self.conn.executemany("INSERT OR REPLACE INTO cluster_stories(id, slot, vector, record) VALUES (?,?,?,?)",
                              stories)
        self.conn.executemany("INSERT OR REPLACE INTO cluster_aliases(id, target) VALUES (?,?)", aliases)
        for kind, seq in (df_keep_from or {}).items():
            self.conn.execute("DELETE FROM cluster_df WHERE kind = ? AND seq < ?", (kind, seq))
        self.conn.executemany("INSERT OR REPLACE INTO cluster_df(kind, seq, t, ids) VALUES (?,?,?,?)", df_items)

    def cluster_state(self) -> bytes | None:
        row = self.conn.execute("SELECT data FROM cluster_state WHERE id = 1").fetchone()
        return bytes(row[0]) if row else None

    def cluster_state_tables(self) -> dict[str, list[tuple]]:
        """The state rows written by :meth:`save_cluster_state`, in the order the assigner wants
        them (aliases as inserted, IDF windows by sequence number)."""
        conn = self.conn
        return {
            "stories": [(r[0], r[1], bytes(r[2]), r[3])
                        for r in conn.execute("SELECT id, slot, vector, record FROM cluster_stories")],
            "aliases": [(r[0], r[1]) for r in conn.execute("SELECT id, target FROM cluster_aliases ORDER BY rowid")],
            "df": [tuple(r) for r in conn.execute("SELECT kind, seq, t, ids FROM cluster_df ORDER BY kind, seq")],
        }

    # ---- embeddings cache -----------------------------------------------------------------
    def cached_embeddings(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):
            chunk = list(keys[start:start + 500])
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", chunk):
                found[row[0]] = np.frombuffer(row[1], dtype=np.float32).copy()
        return found

    def cache_embeddings(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        self.conn.executemany("INSERT OR IGNORE INTO embeddings(key, model, vector) VALUES (?,?,?)",
                              [(k, model, np.asarray(v, dtype=np.float32).tobytes()) for k, v in vectors.items()])

    # ---- reads ----------------------------------------------------------------------------
    def has_article(self, article_id: str) -> bool:
        return self.conn.execute("SELECT 1 FROM articles WHERE id = ?", (article_id,)).fetchone() is not None

    def article_by_hash(self, content_hash: str) -> str | None:
        row = self.conn.execute(
            "SELECT id FROM articles WHERE content_hash = ? AND duplicate_of IS NULL ORDER BY rowid LIMIT 1",
            (content_hash,)).fetchone()
        return row[0] if row else None

    def resolve_story(self, story_id: str) -> str:
        seen = set()
        while True:
            row = self.conn.execute("SELECT merged_into FROM stories WHERE id = ?", (story_id,)).fetchone()
            if row is None:
                raise NotFound(f"no story with id {story_id!r}", hint="list them with: tidings stories")
            if not row[0] or row[0] in seen:
                return story_id
            seen.add(story_id)
            story_id = row[0]

    def article_row(self, article_id: str) -> sqlite3.Row:
        row = self.conn.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
        if row is None:
            raise NotFound(f"no article with id {article_id!r}", hint="find one with: tidings search QUERY")
        return row

    def raw_input(self, raw_id: int) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM raw_inputs WHERE id = ?", (raw_id,)).fetchone()

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
               SELECT article_id FROM date_mentions UNION ALL SELECT article_id FROM quotes)
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

    def find_issues(self, check: str, limit: int = 20) -> tuple[int, list[str]]:
        """How many rows a check of :attr:`CHECKS` finds, and the first ``limit`` ids."""
        _, query, _ = self.CHECKS[check]
        ids = [str(r[0]) for r in self.conn.execute(query)]
        return len(ids), ids[:limit]

    def repair_issues(self, check: str) -> None:
        """Run the repair of one check (inside a transaction of the caller's)."""
        _, query, statements = self.CHECKS[check]
        for statement in statements:
            self.conn.execute(statement)
        if check == "article_in_merged_story":
            for (article_id, story_id) in self.conn.execute(
                    """SELECT a.id, a.story_id FROM articles a JOIN stories s ON s.id = a.story_id
                       WHERE s.merged_into IS NOT NULL""").fetchall():
                self.set_membership(article_id, self.resolve_story(story_id), 0.0)
        if check in ("story_missing", "story_size", "article_in_merged_story"):
            ids = [r[0] for r in self.conn.execute(
                "SELECT DISTINCT story_id FROM articles WHERE story_id IS NOT NULL AND duplicate_of IS NULL")]
            self.refresh_stories(ids)
            self.conn.execute("""UPDATE stories SET size = 0 WHERE merged_into IS NULL AND id NOT IN
                                 (SELECT story_id FROM articles WHERE story_id IS NOT NULL AND duplicate_of IS NULL)""")

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

    def count(self, table: str) -> int:
        if table not in {"articles", "stories", "entities", "raw_inputs", "mentions"}:
            raise ValueError(table)
        return int(self.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    # ---- sources and fetched URLs (tidings watch) ------------------------------------------
    SOURCE_FIELDS = ("kind", "name", "lang", "tags", "every_seconds", "paused", "next_due", "last_fetch",
                     "last_status", "last_error", "errors_in_row", "etag", "last_modified", "feed_url",
                     "fetches", "not_modified")

    def add_source(self, url: str, kind: str, *, every_seconds: float, name: str | None = None,
                   lang: str | None = None, tags: Sequence[str] = (), now: datetime | None = None) -> int | None:
        """Add a source, due at once; return its id, or None if this URL is already a source."""
        now = now or utcnow()
        cur = self.conn.execute(
            """INSERT INTO sources(url, kind, name, lang, tags, every_seconds, added_at, next_due)
               VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(url) DO NOTHING""",
            (url, kind, name, lang, json.dumps(list(tags)), float(every_seconds), _iso(now), _iso(now)))
        return int(cur.lastrowid) if cur.rowcount else None

    def sources(self, ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
        """Every source (or those of ``ids``) as a dict, by id."""
        rows = self.conn.execute("SELECT * FROM sources ORDER BY id").fetchall()
        wanted = None if ids is None else set(ids)
        return [_source_dict(r) for r in rows if wanted is None or r["id"] in wanted]

    def source(self, source_id: int) -> dict[str, Any]:
        found = self.sources([source_id])
        if not found:
            raise NotFound(f"no source with id {source_id}", hint="list them with: tidings sources list")
        return found[0]

    def update_source(self, source_id: int, **values: Any) -> None:
        """Set fields of a source (health, validators, schedule): names from SOURCE_FIELDS."""
        unknown = set(values) - set(self.SOURCE_FIELDS)
        if unknown:
            raise ValueError(f"unknown source fields: {sorted(unknown)}")
        for key in ("next_due", "last_fetch"):
            if isinstance(values.get(key), datetime):
                values[key] = _iso(values[key])
        if isinstance(values.get("tags"), (list, tuple)):
            values["tags"] = json.dumps(list(values["tags"]))
        if not values:
            return
        assignments = ", ".join(f"{key} = ?" for key in values)
        self.conn.execute(f"UPDATE sources SET {assignments} WHERE id = ?", (*values.values(), source_id))

    def remove_source(self, source_id: int) -> bool:
        """Forget a source (its articles and fetch records stay). False if there was none."""
        return self.conn.execute("DELETE FROM sources WHERE id = ?", (source_id,)).rowcount > 0

    def seen_urls(self, urls: Iterable[str]) -> set[str]:
        """Those of ``urls`` fetched before (as an entry URL, a final URL or a canonical URL) or
        stored as an article's URL."""
        urls = list(dict.fromkeys(u for u in urls if u))
        seen: set[str] = set()
        for start in range(0, len(urls), 300):
            chunk = urls[start:start + 300]
            marks = ",".join("?" * len(chunk))
            for table, column in (("fetched_urls", "url"), ("fetched_urls", "final_url"),
                                  ("fetched_urls", "canonical_url"), ("articles", "url")):
                seen.update(row[0] for row in self.conn.execute(
                    f"SELECT {column} FROM {table} WHERE {column} IN ({marks})", chunk))
        return seen

    def record_fetched(self, url: str, *, status: str, source_id: int | None = None, final_url: str | None = None,
                       canonical_url: str | None = None, article_id: str | None = None,
                       now: datetime | None = None) -> None:
        """Remember that ``url`` was fetched (and what it gave), so it is not fetched again."""
        self.conn.execute(
            """INSERT INTO fetched_urls(url, final_url, canonical_url, article_id, source_id, status, fetched_at)
               VALUES (?,?,?,?,?,?,?) ON CONFLICT(url) DO UPDATE SET
                 final_url = excluded.final_url, canonical_url = excluded.canonical_url,
                 article_id = COALESCE(excluded.article_id, fetched_urls.article_id), status = excluded.status""",
            (url, final_url, canonical_url, article_id, source_id, status, _iso(now or utcnow())))

    def source_article_counts(self, since: datetime) -> dict[int, int]:
        """Articles each source gave since ``since`` (by fetch time)."""
        return {int(r[0]): int(r[1]) for r in self.conn.execute(
            """SELECT source_id, COUNT(*) FROM fetched_urls WHERE fetched_at >= ? AND article_id IS NOT NULL
               AND source_id IS NOT NULL GROUP BY source_id""", (_iso(since),))}


def _source_dict(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    data["tags"] = json.loads(data["tags"] or "[]")
    data["paused"] = bool(data["paused"])
    return data


def _story_title(rows: Sequence[sqlite3.Row]) -> str:
    """The earliest English title if any (analysts read English first), else the earliest title."""
    for row in rows:
        if row["lang"] == "en" and row["title"]:
            return str(row["title"])
    return str(rows[0]["title"])
