"""The storage interface: what the pipeline and the readers may ask of a store, whatever the backend.

:class:`Store` holds the SQL both backends share. Its ``conn`` speaks one dialect of SQL to
callers: ``?`` parameters, rows readable by index and by column name (``row["id"]``,
``dict(row)``), ``with conn:`` for a transaction: on SQLite it *is* the ``sqlite3`` connection
(no wrapper, no cost), on PostgreSQL an adapter with the same surface
(:class:`tidings.store.postgres.PgConnection`). The readers (queries.py, export.py, ...) write
plain SQL that both engines accept; the few things that differ are methods here, overridden
per backend:

- ``INSERT OR REPLACE`` / ``INSERT OR IGNORE``: :meth:`_upsert_sql` (``ON CONFLICT`` on PostgreSQL);
- full-text search: :meth:`search_articles` and :meth:`story_ids_matching_sql`;
- "has another process committed since?": :meth:`data_version`;
- the one ordered step of the pipeline (story assignment): :meth:`assignment_lock`;
- vector search: :meth:`vector_search_mode`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import NotFound, StoreError
from ..models import Article, Document, Entity

log = logging.getLogger(__name__)

POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


def is_postgres_address(path: str | Path) -> bool:
    return str(path).startswith(POSTGRES_SCHEMES)


def redact(address: str | Path) -> str:
    """A store address as it can be shown: a PostgreSQL URL without its password."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", str(address))


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


class Store:
    """A tidings store. Open one with :meth:`Store.open` (the address picks the backend: a file
    path for SQLite, ``postgresql://user@host:port/db`` for PostgreSQL); use it as a context
    manager or call :meth:`close`."""

    dialect = "?"
    # readers should prefer one bigger query to many small ones (a server's round trips count)
    batch_reads = False
    conn: Any
    path: str
    read_only: bool

    # ---- opening -------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, *, read_only: bool = False) -> "Store":
        if is_postgres_address(path):
            from .postgres import PostgresStore
            return PostgresStore.open(str(path), read_only=read_only)
        from .sqlite import SQLiteStore
        return SQLiteStore.open(path, read_only=read_only)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def address(self) -> str:
        """The store's address as it can be shown (a PostgreSQL password is hidden)."""
        return self.path

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """All writes of one batch: committed together or not at all."""
        if self.read_only:
            raise StoreError("the store is open read-only", source=self.address)
        with self.conn:
            yield self.conn

    # ---- what differs per backend ----------------------------------------------------------------
    def _upsert_sql(self, table: str, columns: Sequence[str], key: Sequence[str], replace: bool) -> str:
        """INSERT that replaces (``replace``) or keeps the stored row whose ``key`` is taken."""
        raise NotImplementedError

    def _insert_returning_id(self, sql: str, params: Sequence[Any], or_none: bool = False) -> int | None:
        """Run an INSERT and return the new row's id (None if ``or_none`` and nothing was inserted,
        e.g. ``ON CONFLICT DO NOTHING``)."""
        raise NotImplementedError

    def json_key_count_sql(self, column: str) -> str:
        """SQL counting the keys of the JSON object in ``column`` (a story's ``langs``)."""
        return f"(SELECT COUNT(*) FROM json_each({column}))"

    def sql_errors(self) -> tuple[type[BaseException], ...]:
        """The exceptions the backend's driver raises for a statement it refuses."""
        raise NotImplementedError

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested part of the current transaction, undone alone if the block raises."""
        self.conn.execute("SAVEPOINT tidings_part")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK TO tidings_part")
            self.conn.execute("RELEASE tidings_part")
            raise
        self.conn.execute("RELEASE tidings_part")

    def is_fault(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the store's failure (locked, connection lost, disk full...), not one
        document's: the batch is not retried document by document then."""
        raise NotImplementedError

    def data_version(self) -> object:
        """A mark that changes when another connection commits to the store (compare two calls)."""
        raise NotImplementedError

    @contextmanager
    def assignment_lock(self, timeout: float = 60.0) -> Iterator[None]:
        """Hold the right to assign articles to stories (and write the result) for the block: one
        process at a time per store, the others wait up to ``timeout`` seconds. The block runs in
        one transaction (:meth:`transaction` blocks inside it join it)."""
        raise NotImplementedError
        yield  # pragma: no cover

    def search_articles(self, words: Sequence[str], limit: int) -> list[dict]:
        """Full-text search (every word required, accents ignored), best match first: dicts with
        id, title, lang, published_at, story_id, url and a ``snippet`` marking hits with [ ]."""
        raise NotImplementedError

    def story_ids_matching_sql(self, words: Sequence[str]) -> tuple[str, list[Any]]:
        """``(sql, params)`` of a sub-query selecting the story ids of articles matching ``words``."""
        raise NotImplementedError

    def vector_search_mode(self) -> str:
        """Where nearest-neighbour search over article vectors runs: ``"in-process"`` (an index
        built in memory from the stored vectors) or ``"pgvector"`` (in the PostgreSQL server)."""
        return "in-process"

    # ---- maintenance (tidings check; see tidings.maintenance) --------------------------------------
    # Each check: (description, query for the offending ids, repair statements); the SQL is
    # SQLite's in sqlite.py, made portable for PostgreSQL in postgres.py.
    CHECKS: dict[str, tuple[str, str, tuple[str, ...]]] = {}

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

    # with vector_search_mode() == "pgvector" only (tidings.search.vectors.StoreIndex uses them)
    def put_vectors(self, rowids: Sequence[int], vectors: Any) -> None:
        """Store (or replace) the indexed vector of each article row id in the server."""
        raise NotImplementedError

    def remove_vectors(self, rowids: Sequence[int] | None = None) -> None:
        """Remove the server's vectors of these article row ids (all when None)."""
        raise NotImplementedError

    def vector_count(self) -> int:
        raise NotImplementedError

    def nearest_vectors(self, vector: Any, count: int, ef_search: int = 40) -> list[tuple[int, float]]:
        """The ``count`` nearest article row ids by cosine, with their similarity, best first."""
        raise NotImplementedError

    def schema_revision(self) -> str | None:
        """The Alembic revision the store is at (None for a store never migrated by Alembic)."""
        try:
            row = self.conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except Exception:
            return None
        return row[0] if row else None

    def status(self) -> dict[str, Any]:
        """What ``tidings status`` shows: backend, address, schema revision, counts, search modes."""
        return {"backend": self.dialect, "address": self.address, "schema_revision": self.schema_revision(),
                "counts": {t: self.count(t) for t in ("articles", "stories", "entities", "mentions", "raw_inputs")},
                "full_text_search": self.full_text_search_mode(), "vector_search": self.vector_search_mode()}

    def full_text_search_mode(self) -> str:
        raise NotImplementedError

    # ---- writes ---------------------------------------------------------------------------
    def add_raw(self, doc: Document, input_key: str | None = None) -> int:
        return self._insert_returning_id(
            "INSERT INTO raw_inputs(source, content_type, raw, received_at, input_key) VALUES (?,?,?,?,?)",
            (doc.source, doc.content_type, doc.raw, _iso(utcnow()), input_key))

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
            'INSERT INTO mentions(article_id, entity_id, label, text, start, "end", in_title) VALUES (?,?,?,?,?,?,?)',
            [(article.id, m.entity_id, m.label, m.text, m.start, m.end, int(m.in_title)) for m in analysis.mentions])
        self.conn.executemany(
            'INSERT INTO date_mentions(article_id, text, start_char, end_char, start, "end", granularity)'
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
        # in id order: two writers upserting the same entities lock their rows in one order
        self.conn.executemany(
            """INSERT INTO entities(id, label, name, geonames_id, country, lat, lon) VALUES (?,?,?,?,?,?,?)
               ON CONFLICT(id) DO UPDATE SET lat = excluded.lat, lon = excluded.lon
               WHERE entities.lat IS NULL AND excluded.lat IS NOT NULL""",
            [(e.id, e.label, e.name, e.geonames_id, e.country, e.lat, e.lon)
             for e in sorted(entities, key=lambda e: e.id)])

    def add_signature(self, article_id: str, signature: bytes) -> None:
        self.conn.execute(self._upsert_sql("dedup_signatures", ("article_id", "signature"), ("article_id",), True),
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
            yield row[0], bytes(row[1])

    def newest_published(self) -> datetime | None:
        """Publication time of the newest stored article (the stream's clock), if any. Articles
        dated only by their ingest time do not set it while any other is stored (an archive of
        undated files ingested today would otherwise put the clock months ahead)."""
        row = self.conn.execute("SELECT MAX(published_at) FROM articles "
                                "WHERE date_source IS NULL OR date_source <> 'ingest-time'").fetchone()
        if not row or not row[0]:
            row = self.conn.execute("SELECT MAX(published_at) FROM articles").fetchone()
        return parse_iso(row[0]) if row and row[0] else None

    def set_membership(self, article_id: str, story_id: str, score: float) -> None:
        self.conn.execute(self._upsert_sql("memberships", ("article_id", "story_id", "score"), ("article_id",), True),
                          (article_id, story_id, float(score)))
        self.conn.execute("UPDATE articles SET story_id = ? WHERE id = ?", (story_id, article_id))

    def merge_story(self, old_id: str, new_id: str) -> None:
        """Move every member of ``old_id`` to ``new_id``; ``old_id`` keeps resolving to ``new_id``."""
        self.conn.execute("UPDATE memberships SET story_id = ? WHERE story_id = ?", (new_id, old_id))
        self.conn.execute("UPDATE articles SET story_id = ? WHERE story_id = ?", (new_id, old_id))
        self.conn.execute(self._upsert_sql("stories", ("id",), ("id",), False), (old_id,))
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
        self.conn.execute(self._upsert_sql("cluster_state", ("id", "data"), ("id",), True), (1, data))
        self.conn.executemany("DELETE FROM cluster_stories WHERE id = ?", [(i,) for i in dropped])
        self.conn.executemany(self._upsert_sql("cluster_stories", ("id", "slot", "vector", "record"), ("id",), True),
                              stories)
        self.conn.executemany(self._upsert_sql("cluster_aliases", ("id", "target"), ("id",), True), aliases)
        for kind, seq in (df_keep_from or {}).items():
            self.conn.execute("DELETE FROM cluster_df WHERE kind = ? AND seq < ?", (kind, seq))
        self.conn.executemany(self._upsert_sql("cluster_df", ("kind", "seq", "t", "ids"), ("kind", "seq"), True),
                              df_items)

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
        # in key order: two processes caching the same texts wait for each other in one order
        self.conn.executemany(self._upsert_sql("embeddings", ("key", "model", "vector"), ("key",), False),
                              [(k, model, np.asarray(v, dtype=np.float32).tobytes())
                               for k, v in sorted(vectors.items())])

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

    def article_row(self, article_id: str) -> Any:
        row = self.conn.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
        if row is None:
            raise NotFound(f"no article with id {article_id!r}", hint="find one with: tidings search QUERY")
        return row

    def raw_input(self, raw_id: int) -> Any:
        return self.conn.execute("SELECT * FROM raw_inputs WHERE id = ?", (raw_id,)).fetchone()

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
        return self._insert_returning_id(
            """INSERT INTO sources(url, kind, name, lang, tags, every_seconds, added_at, next_due)
               VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(url) DO NOTHING""",
            (url, kind, name, lang, json.dumps(list(tags)), float(every_seconds), _iso(now), _iso(now)),
            or_none=True)

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
        # asked first: a row count is not known before the end of a PostgreSQL pipelined transaction
        found = self.conn.execute("SELECT 1 FROM sources WHERE id = ?", (source_id,)).fetchone() is not None
        self.conn.execute("DELETE FROM sources WHERE id = ?", (source_id,))
        return found

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


def _source_dict(row: Any) -> dict[str, Any]:
    data = dict(row)
    data["tags"] = json.loads(data["tags"] or "[]")
    data["paused"] = bool(data["paused"])
    return data


@lru_cache(maxsize=None)
def on_conflict_sql(table: str, columns: tuple[str, ...], key: tuple[str, ...], replace: bool,
                    extra_set: tuple[str, ...] = ()) -> str:
    """``INSERT ... ON CONFLICT (key) DO UPDATE/NOTHING``: SQL that SQLite and PostgreSQL share."""
    head = f"INSERT INTO {table}({', '.join(columns)}) VALUES ({','.join('?' * len(columns))}) " \
           f"ON CONFLICT({', '.join(key)}) DO "
    sets = [f"{c} = excluded.{c}" for c in columns if c not in key] + list(extra_set)
    return head + ("UPDATE SET " + ", ".join(sets) if replace and sets else "NOTHING")


def _story_title(rows: Sequence[Any]) -> str:
    """The earliest English title if any (analysts read English first), else the earliest title."""
    for row in rows:
        if row["lang"] == "en" and row["title"]:
            return str(row["title"])
    return str(rows[0]["title"])
