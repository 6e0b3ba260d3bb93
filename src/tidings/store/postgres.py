"""The PostgreSQL store: one database shared by many ingest, watch and serve processes (psycopg 3).

Open it with ``Store.open("postgresql://user@host:port/db")`` (``--db`` on the command line).
The schema is created and migrated by Alembic (:mod:`tidings.store.migrate`) under an advisory
lock, so two processes starting on an empty database do not both create it.

Many processes, one database
----------------------------
- An article is stored once: ``articles.id`` is unique (and deterministic: the same input gets
  the same id), and the pipeline checks for it under the assignment lock below.
- Story assignment is the pipeline's one ordered step. :meth:`PostgresStore.assignment_lock`
  opens a transaction and takes the transaction-level advisory lock
  ``pg_advisory_xact_lock(ASSIGNMENT_LOCK_KEY)``: one assigner at a time per database. Inside it
  the monitor compares :meth:`PostgresStore.data_version` (the transaction id that last wrote the
  story state row) with the one it last saw and reloads the story and duplicate state if another
  process has committed since; it then checks which articles are already stored, assigns the rest
  and writes articles, memberships, stories and state in that same transaction. The lock is
  released by the commit. Enrichment (cleaning, language, entities, embeddings: the costly part)
  runs outside the lock, in parallel in every process.
- When an assigner dies, its lock goes with its session: a killed process (even ``kill -9``)
  closes its connection, the server rolls its transaction back (nothing of the batch is stored,
  no half state) and releases the lock; the next process waiting gets it, sees the state of the
  last committed batch and goes on. A machine that vanishes without closing the connection holds
  the lock until the server notices the dead TCP connection (the client asks for keepalives every
  30 s; ``tcp_keepalives_*`` on the server, or ``idle_in_transaction_session_timeout``, bound it).
  The dead process's unstored articles are stored by running its ingest again (ids are
  deterministic, so what was stored is skipped).
- Readers (``tidings serve``) run in autocommit: every query sees the last committed state and
  no reader holds a transaction open.

Full-text search uses PostgreSQL's own (revision 0006): each article's title and text stemmed
by the Snowball configuration of its language (``simple`` for a language PostgreSQL has none
for), accents ignored, one GIN index; a query is parsed by the configuration of each article it
is matched against; ``ts_headline`` snippets. Vector search: see :meth:`PostgresStore.vector_search_mode`.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import StoreError
from ..models import Article
from . import migrate
from .base import Store, on_conflict_sql, redact
from .sqlite import SQLiteStore

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key of the story assignment step ("tiding" + 1)
ASSIGNMENT_LOCK_KEY = 0x7469_6469_6E67_0001
# tables with an explicit rowid identity column standing for SQLite's implicit row id: a replaced
# row takes a new one, as SQLite's INSERT OR REPLACE gives it (the order of reads by rowid)
_ROWID_TABLES = {"dedup_signatures", "cluster_aliases"}
_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}


def _portable(sql: str) -> str:
    """SQLite's ``a IS NOT b`` between two values as PostgreSQL's ``a IS DISTINCT FROM b``."""
    return re.sub(r"\bIS NOT (?!NULL\b)", "IS DISTINCT FROM ", sql)


def find_pg_tool(name: str, configured: str = "") -> str:
    """The path of a PostgreSQL client program (``pg_dump``, ``pg_restore``): ``configured`` when
    given, else the newest of Debian's /usr/lib/postgresql/N/bin, else the one on PATH."""
    import glob
    import shutil

    if configured:
        if not (Path(configured).is_file() and os.access(configured, os.X_OK)):
            raise StoreError(f"{name} not found", source=configured,
                             hint="store.pg_dump names a program that is not there")
        return configured
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    program = found[-1] if found else shutil.which(name)
    if not program:
        raise StoreError(f"{name} is not installed", source=name,
                         hint="install PostgreSQL's client programs (apt-get install postgresql-client), "
                              "or set store.pg_dump to the pg_dump program's path")
    return program


class Row:
    """A result row like ``sqlite3.Row``: by index, by column name, ``keys()``, ``dict(row)``."""

    __slots__ = ("_values", "_index")

    def __init__(self, values: Sequence[Any], index: dict[str, int]):
        self._values = values
        self._index = index

    def __getitem__(self, key: int | str | slice) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def keys(self) -> list[str]:
        return list(self._index)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return tuple(self._values) == (tuple(other) if isinstance(other, (Row, tuple)) else other)

    def __hash__(self) -> int:
        return hash(tuple(self._values))

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._index, self._values))!r})"


def _row_factory(cursor):
    names = [d.name for d in cursor.description or ()]
    index = {name: i for i, name in enumerate(names)}

    def make(values: Sequence[Any]) -> Row:
        return Row(values, index)
    return make


@lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """SQLite's ``?`` parameters to psycopg's ``%s`` (a literal ``%`` doubled), outside quotes."""
    out: list[str] = []
    quote: str | None = None
    for ch in sql:
        if quote:
            out.append("%%" if ch == "%" else ch)
            if ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)


class PgConnection:
    """The part of the ``sqlite3.Connection`` surface the readers use, over a psycopg connection:
    ``execute`` / ``executemany`` with ``?`` parameters, rows as :class:`Row`, ``with conn:`` for
    a transaction (nested: a savepoint). Outside a transaction every statement commits on its own."""

    def __init__(self, raw):
        self.raw = raw
        self._transactions: list[Any] = []

    def execute(self, sql: str, params: Sequence[Any] | None = None):
        return self.raw.execute(translate(sql), params)

    def executemany(self, sql: str, seq: Any):
        rows = list(seq)
        cur = self.raw.cursor()
        if rows:
            cur.executemany(translate(sql), rows)
        return cur

    def transaction(self):
        return self.raw.transaction()

    @property
    def in_transaction(self) -> bool:
        return bool(self._transactions)

    def __enter__(self) -> "PgConnection":
        # a transaction runs in pipeline mode: statements whose results nobody reads are sent
        # without waiting for the server (a batch of writes costs a few round trips, not one
        # per statement); reading a result waits for what was sent before it
        pipeline = self.raw.pipeline() if not self._transactions else None
        if pipeline is not None:
            pipeline.__enter__()
        tx = self.raw.transaction()
        tx.__enter__()
        self._transactions.append((tx, pipeline))
        return self

    def __exit__(self, *exc: Any) -> None:
        tx, pipeline = self._transactions.pop()
        try:
            tx.__exit__(*exc)
        except BaseException as error:   # the commit failed (a server error surfaces at the sync)
            if pipeline is not None:
                pipeline.__exit__(type(error), error, error.__traceback__)
            raise
        if pipeline is not None:
            pipeline.__exit__(*exc)

    def close(self) -> None:
        self.raw.close()


class PostgresStore(Store):
    """PostgreSQL store. Open with :meth:`Store.open` and a ``postgresql://`` address."""

    dialect = "postgresql"
    batch_reads = True

    def __init__(self, conn: PgConnection, path: str, read_only: bool = False):
        self.conn = conn
        self.path = path
        self.read_only = read_only
        self._vector_mode: str | None = None

    @property
    def address(self) -> str:
        return redact(self.path)

    @classmethod
    def open(cls, path: str, *, read_only: bool = False) -> "PostgresStore":
        import psycopg

        url = "postgresql://" + path.split("://", 1)[1]
        try:
            if not read_only:
                cls._migrate(path)
            # the process id in the session's name: pg_stat_activity / pg_locks tell who holds the lock
            raw = psycopg.connect(url, autocommit=True, row_factory=_row_factory,
                                  application_name=f"tidings:{os.getpid()}",
                                  connect_timeout=10, **_KEEPALIVES)
        except psycopg.Error as exc:
            raise StoreError(f"cannot open the store: {str(exc).strip().splitlines()[0]}", source=redact(path),
                             hint="is the PostgreSQL server running, and the address "
                                  "postgresql://user@host:port/database right?") from None
        except Exception as exc:   # SQLAlchemy / Alembic errors while migrating
            raise StoreError(f"cannot migrate the store: {str(exc).strip().splitlines()[0]}",
                             source=redact(path)) from None
        store = cls(PgConnection(raw), path, read_only)
        if read_only:
            raw.execute("SET default_transaction_read_only = on")
            revision = store.schema_revision()
            if revision is None:
                store.close()
                raise StoreError("no tidings store in this database", source=redact(path),
                                 hint="ingest something first: tidings --db URL ingest PATH")
            if revision != migrate.head_revision():
                store.close()
                raise StoreError(f"the store is at schema revision {revision} and needs a migration",
                                 source=redact(path), hint="run any tidings command with write access once")
        return store

    @staticmethod
    def _migrate(path: str) -> None:
        import psycopg

        url = "postgresql://" + path.split("://", 1)[1]
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("SELECT to_regclass('alembic_version') IS NOT NULL").fetchone()[0]
            current = conn.execute("SELECT version_num FROM alembic_version").fetchone() if exists else None
        head = migrate.head_revision()
        if current is not None and current[0] == head:
            return
        if current is not None and current[0] not in migrate.known_revisions():
            raise StoreError(f"the store has schema revision {current[0]}, newer than this tidings "
                             f"understands ({head})", source=redact(path), hint="upgrade tidings")
        migrate.upgrade(path)

    # ---- what is PostgreSQL's own -----------------------------------------------------------
    def _upsert_sql(self, table: str, columns: Sequence[str], key: Sequence[str], replace: bool) -> str:
        extra = ("rowid = excluded.rowid",) if replace and table in _ROWID_TABLES else ()
        return on_conflict_sql(table, tuple(columns), tuple(key), replace, extra)

    def _insert_returning_id(self, sql: str, params: Sequence[Any], or_none: bool = False) -> int | None:
        row = self.conn.execute(sql + " RETURNING id", params).fetchone()
        if row is None and or_none:
            return None
        return int(row[0])

    def add_article(self, article: Article, raw_id: int | None) -> None:
        # PostgreSQL text cannot hold NUL characters (SQLite's can): drop them, offsets aside
        if "\x00" in article.title or "\x00" in article.text:
            from dataclasses import replace
            article = replace(article, title=article.title.replace("\x00", ""),
                              text=article.text.replace("\x00", ""))
        super().add_article(article, raw_id)

    def json_key_count_sql(self, column: str) -> str:
        return f"(SELECT COUNT(*) FROM json_object_keys(CAST({column} AS json)))"

    def sql_errors(self) -> tuple[type[BaseException], ...]:
        import psycopg

        return (psycopg.Error,)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        # psycopg's nested transaction: a savepoint, rolled back (also in pipeline mode) on error
        with self.conn.raw.transaction():
            yield

    def is_fault(self, exc: BaseException) -> bool:
        import psycopg

        return isinstance(exc, psycopg.OperationalError)

    def data_version(self) -> object:
        """The transaction id that last wrote the story state row (every batch writes it)."""
        row = self.conn.execute("SELECT xmin::text FROM cluster_state WHERE id = 1").fetchone()
        return row[0] if row else None

    @contextmanager
    def assignment_lock(self, timeout: float = 60.0) -> Iterator[None]:
        import psycopg

        if self.read_only:
            raise StoreError("the store is open read-only", source=self.address)
        with self.conn:
            if not self.conn.execute("SELECT pg_try_advisory_xact_lock(?)", (ASSIGNMENT_LOCK_KEY,)).fetchone()[0]:
                log.info("waiting for the story assignment lock (another process is assigning)")
                self.conn.execute(f"SET LOCAL lock_timeout = '{int(timeout * 1000)}ms'")
                try:
                    self.conn.execute("SELECT pg_advisory_xact_lock(?)", (ASSIGNMENT_LOCK_KEY,)).fetchone()  # wait here
                except psycopg.errors.LockNotAvailable:
                    raise StoreError(f"another process has held the story assignment lock for over {timeout:g} s",
                                     source=self.address,
                                     hint="raise store.lock_timeout, or see who holds it in pg_locks") from None
                self.conn.execute("SET LOCAL lock_timeout = 0")
            yield

    # ---- maintenance (tidings check / backup; see tidings.maintenance) ------------------------
    # SQLite's checks, its ``x IS NOT y`` between values spelt as PostgreSQL's IS DISTINCT FROM
    CHECKS = {name: (description, _portable(query), tuple(_portable(s) for s in statements))
              for name, (description, query, statements) in SQLiteStore.CHECKS.items()}

    @contextmanager
    def write_lock(self, timeout: float = 60.0) -> Iterator[PgConnection]:
        """A repair's transaction, under the story assignment lock (no assigner runs meanwhile)."""
        with self.assignment_lock(timeout):
            yield self.conn

    def quick_check(self) -> list[str]:
        """PostgreSQL checks its own pages (checksums, amcheck): nothing for tidings to add."""
        return []

    def fts_problem(self) -> str | None:
        """None when the text-search index (revision 0006, an expression index PostgreSQL keeps in
        step itself) exists and is valid; else what is wrong."""
        row = self.conn.execute("SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = "
                                "to_regclass('articles_fts_lang')").fetchone()
        if row is None:
            return "the text-search index articles_fts_lang is missing"
        return None if row[0] else "the text-search index articles_fts_lang is invalid (an interrupted build)"

    def rebuild_fts(self) -> None:
        if self.conn.execute("SELECT to_regclass('articles_fts_lang')").fetchone()[0] is None:
            self.conn.execute("CREATE INDEX articles_fts_lang ON articles USING gin "
                              "(to_tsvector(tidings_tsconfig(lang), tidings_unaccent(title || ' ' || text)))")
        else:
            self.conn.execute("REINDEX INDEX articles_fts_lang")

    def backup_to(self, path: str | Path, progress: Any = None, pg_dump: str = "") -> None:
        """A consistent copy of this database at ``path`` by ``pg_dump`` (its custom format, one
        snapshot: writers may go on; restore with ``pg_restore -d NEWDB PATH``). ``pg_dump``: the
        program (``store.pg_dump``; empty: the newest on PATH or in /usr/lib/postgresql)."""
        import subprocess

        from psycopg.conninfo import conninfo_to_dict

        program = find_pg_tool("pg_dump", pg_dump)
        params = conninfo_to_dict("postgresql://" + self.path.split("://", 1)[1])
        env = dict(os.environ)
        for key, var in (("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER"), ("password", "PGPASSWORD"),
                         ("dbname", "PGDATABASE"), ("sslmode", "PGSSLMODE")):
            if params.get(key):
                env[var] = str(params[key])   # the password in the environment, not in ps's listing
        done = subprocess.run([program, "--format=custom", "--no-password", f"--file={path}"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            first = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise StoreError(f"pg_dump failed: {first}", source=self.address,
                             hint="a pg_dump at least as new as the server is needed: set store.pg_dump")

    def verify_backup(self, path: str | Path, pg_dump: str = "") -> int:
        """The number of archive entries ``pg_restore --list`` reads from a dump (it fails on a
        truncated or foreign file); the pg_restore beside ``pg_dump`` when that is given."""
        import subprocess

        program = find_pg_tool("pg_restore", str(Path(pg_dump).with_name("pg_restore")) if pg_dump else "")
        done = subprocess.run([program, "--list", str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            raise StoreError("the dump cannot be read back by pg_restore: " + done.stderr.strip()[:200],
                             source=str(path))
        entries = [line for line in done.stdout.splitlines() if line and not line.startswith(";")]
        if not any(" TABLE DATA " in line and " articles " in line for line in entries):
            raise StoreError("the dump holds no data of the articles table", source=str(path))
        return len(entries)

    def full_text_search_mode(self) -> str:
        return "postgresql-tsvector (Snowball stemming per article language, accent-insensitive)"

    # an article's text as indexed by articles_fts_lang (revision 0006), and the query parsed
    # with the configuration of that article's language
    _DOC = "to_tsvector(tidings_tsconfig(a.lang), tidings_unaccent(a.title || ' ' || a.text))"
    _QUERY = "plainto_tsquery(tidings_tsconfig(a.lang), tidings_unaccent(?))"

    def _any_language_query(self, q: str) -> str:
        """The query parsed by every language's configuration, OR-ed (as text): the condition
        the GIN index answers; the exact per-language match is checked on what it finds."""
        rows = self.conn.execute(
            """SELECT DISTINCT plainto_tsquery(c.oid::regconfig, tidings_unaccent(?))::text FROM pg_ts_config c
               WHERE c.cfgname LIKE 'tidings\\_%'""", (q,)).fetchall()
        parts = sorted(r[0] for r in rows if r[0])
        return " | ".join(f"({p})" for p in parts)

    def _fts(self, q: str) -> tuple[str, list[Any]]:
        """SQL condition (over ``a``) and its parameters: the articles matching every word of
        ``q``, stemmed and unaccented in their own language."""
        anyq = self._any_language_query(q)
        if not anyq:   # only stop words in every language
            return "FALSE", []
        return f"{self._DOC} @@ CAST(? AS tsquery) AND {self._DOC} @@ {self._QUERY}", [anyq, q]

    def search_articles(self, words: Sequence[str], limit: int) -> list[dict]:
        q = " ".join(words)
        where, params = self._fts(q)
        rows = self.conn.execute(
            f"""SELECT a.id, a.title, a.lang, a.published_at, a.story_id, a.url,
                       ts_headline(tidings_tsconfig(a.lang), a.text, {self._QUERY},
                                   'StartSel=[, StopSel=], MaxWords=12, MinWords=4, MaxFragments=1') AS snippet
                FROM articles a WHERE {where} AND a.duplicate_of IS NULL
                ORDER BY ts_rank({self._DOC}, {self._QUERY}) DESC, a.rowid
                LIMIT ?""",
            (q, *params, q, limit)).fetchall()
        return [dict(r) for r in rows]

    def article_rowids_matching(self, words: Sequence[str], where: str, params: Sequence[Any],
                                limit: int) -> list[int]:
        """Row ids of the articles matching every word (and the filter ``where``, over ``a``), best first."""
        q = " ".join(words)
        fts, fts_params = self._fts(q)
        rows = self.conn.execute(
            f"""SELECT a.rowid FROM articles a WHERE {fts} AND {where}
                ORDER BY ts_rank({self._DOC}, {self._QUERY}) DESC, a.rowid LIMIT ?""",
            [*fts_params, *params, q, limit]).fetchall()
        return [int(r[0]) for r in rows]

    def story_ids_matching_sql(self, words: Sequence[str]) -> tuple[str, list[Any]]:
        fts, params = self._fts(" ".join(words))
        return f"SELECT a.story_id FROM articles a WHERE {fts}", params

    def vector_search_mode(self) -> str:
        """``"pgvector"`` when the server has the ``vector`` extension installed in this
        database and revision 0006 made the ``article_pgvectors`` table (an HNSW index on cosine
        distance): tidings.search then keeps its vectors there and asks the server for the
        nearest ones (:meth:`nearest_vectors`). Otherwise ``"in-process"``: the index of
        tidings.search is built in memory from the stored vectors, as on SQLite."""
        if self._vector_mode is None:
            row = self.conn.execute(
                "SELECT to_regclass('article_pgvectors') IS NOT NULL FROM pg_extension WHERE extname = 'vector'"
            ).fetchone()
            self._vector_mode = "pgvector" if row and row[0] else "in-process"
            log.info("vector search on %s: %s", self.address, self._vector_mode)
        return self._vector_mode

    # ---- pgvector (vector_search_mode() == "pgvector") ------------------------------------------
    @staticmethod
    def _vector_literal(vector: Any) -> str:
        return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"

    def put_vectors(self, rowids: Sequence[int], vectors: Any) -> None:
        """Store (or replace) the indexed vector of each article row id."""
        self.conn.executemany(
            "INSERT INTO article_pgvectors(article_rowid, embedding) VALUES (?, CAST(? AS vector)) "
            "ON CONFLICT (article_rowid) DO UPDATE SET embedding = excluded.embedding",
            [(int(r), self._vector_literal(v)) for r, v in zip(rowids, vectors)])

    def remove_vectors(self, rowids: Sequence[int] | None = None) -> None:
        """Remove the vectors of these article row ids (of every article when None)."""
        if rowids is None:
            self.conn.execute("DELETE FROM article_pgvectors")
        elif len(rowids):
            self.conn.execute("DELETE FROM article_pgvectors WHERE article_rowid = ANY(?)",
                              ([int(r) for r in rowids],))

    def vector_count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM article_pgvectors").fetchone()[0])

    def nearest_vectors(self, vector: Any, count: int, ef_search: int = 40) -> list[tuple[int, float]]:
        """The ``count`` article row ids nearest ``vector`` by cosine, with their cosine
        similarity, best first: the server's HNSW index, searched with a candidate list of at
        least ``count`` (``hnsw.ef_search``; pgvector's own default, 40, would cap the results)."""
        if count <= 0:
            return []
        literal = self._vector_literal(vector)
        with self.conn.raw.transaction():
            self.conn.execute(f"SET LOCAL hnsw.ef_search = {max(int(ef_search), min(int(count), 1000))}")
            rows = self.conn.execute(
                "SELECT article_rowid, 1 - (embedding <=> CAST(? AS vector)) FROM article_pgvectors "
                "ORDER BY embedding <=> CAST(? AS vector) LIMIT ?", (literal, literal, int(count))).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def status(self) -> dict[str, Any]:
        data = super().status()
        row = self.conn.execute("SELECT name FROM pg_available_extensions WHERE name = 'vector'").fetchone()
        data["pgvector_available_on_server"] = row is not None
        data["server_version"] = self.conn.execute("SHOW server_version").fetchone()[0]
        return data
