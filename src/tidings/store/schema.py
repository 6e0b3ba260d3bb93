"""The store's schema, described once (SQLAlchemy Core) for every backend.

This is the schema *as it is now*, after the last migration. The migrations themselves live in
``tidings/store/migrations/versions`` (Alembic, one file per revision, for SQLite and
PostgreSQL alike; see :mod:`tidings.store.migrate`), and ``tests/test_store_migrations.py``
checks that a database migrated from nothing matches this description on both backends: a new
revision changes the tables here *and* adds a revision file.

What the two backends do not share is said where it happens:

- ``rowid``: SQLite has an implicit row id on every ordinary table; the store orders some reads
  by it (signatures and merge aliases in the order they were written). PostgreSQL has no such
  thing, so those tables carry an explicit ``rowid`` identity column there (``POSTGRES_ONLY``).
- full-text search: an FTS5 virtual table with triggers on SQLite (the baseline revision), a GIN
  index on ``to_tsvector(tidings_tsconfig(lang), tidings_unaccent(title || ' ' || text))`` on
  PostgreSQL (revision 0006: Snowball stemming per article language, accent-insensitive); not
  described here (SQLAlchemy has no type for them).
- pgvector: where the PostgreSQL server has the ``vector`` extension, revision 0006 adds
  ``article_pgvectors`` (article row id, ``vector(384)``, an HNSW index); not described here
  either (it exists on some servers only; ``migrate.differences`` leaves it out).
- ``raw_inputs.id`` and ``articles.rowid`` are 64-bit on PostgreSQL (10 million articles a day
  overflow a 32-bit key in seven months) and SQLite's ``INTEGER PRIMARY KEY`` row ids.
"""

from __future__ import annotations

from sqlalchemy import (BigInteger, CheckConstraint, Column, Float, ForeignKey, Identity, Index, Integer, LargeBinary,
                        MetaData, PrimaryKeyConstraint, Table, Text, UniqueConstraint, text)
from sqlalchemy.dialects.sqlite import REAL

metadata = MetaData()

# An INTEGER PRIMARY KEY on SQLite (the row id itself), a BIGINT identity on PostgreSQL.
RowId = BigInteger().with_variant(Integer(), "sqlite")

# A double: DOUBLE PRECISION on PostgreSQL, REAL (SQLite's 8-byte float) as the released stores say.
Double = Float().with_variant(REAL(), "sqlite")

# Columns that exist only on PostgreSQL, where SQLite has them implicitly: (table, column).
POSTGRES_ONLY = {("dedup_signatures", "rowid"), ("cluster_aliases", "rowid")}

raw_inputs = Table(
    "raw_inputs", metadata,
    Column("id", RowId, primary_key=True),
    Column("source", Text, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("received_at", Text, nullable=False),
)

articles = Table(
    "articles", metadata,
    Column("rowid", RowId, primary_key=True),
    Column("id", Text, nullable=False, unique=True),
    Column("raw_id", RowId, ForeignKey("raw_inputs.id")),
    Column("source", Text, nullable=False),
    Column("url", Text),
    Column("outlet", Text),
    Column("external_id", Text),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("lang", Text, nullable=False),
    Column("lang_confidence", Double, nullable=False),
    Column("published_at", Text, nullable=False),
    Column("ingested_at", Text, nullable=False),
    Column("content_hash", Text, nullable=False),
    Column("duplicate_of", Text),
    Column("story_id", Text),
    Index("articles_story", "story_id"),
    Index("articles_published", "published_at"),
    Index("articles_hash", "content_hash"),
    Index("articles_lang", "lang"),
    Index("articles_story_id", "story_id", "id"),
    Index("articles_lang_story", "lang", "story_id"),
)

dedup_signatures = Table(
    "dedup_signatures", metadata,
    Column("article_id", Text, primary_key=True),
    Column("signature", LargeBinary, nullable=False),
    Column("rowid", BigInteger, Identity(always=False), nullable=False, unique=True),  # POSTGRES_ONLY
)

entities = Table(
    "entities", metadata,
    Column("id", Text, primary_key=True),
    Column("label", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("geonames_id", Integer),
    Column("country", Text),
    Column("lat", Double),
    Column("lon", Double),
)

mentions = Table(
    "mentions", metadata,
    Column("article_id", Text, nullable=False),
    Column("entity_id", Text, nullable=False),
    Column("label", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("start", Integer, nullable=False),
    Column("end", Integer, nullable=False),
    Column("in_title", Integer, nullable=False, server_default=text("0")),
    Index("mentions_article", "article_id"),
    Index("mentions_entity", "entity_id"),
    Index("mentions_article_entity", "article_id", "entity_id"),
)

date_mentions = Table(
    "date_mentions", metadata,
    Column("article_id", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("start_char", Integer, nullable=False),
    Column("end_char", Integer, nullable=False),
    Column("start", Text, nullable=False),
    Column("end", Text, nullable=False),
    Column("granularity", Text, nullable=False),
    Index("date_mentions_article", "article_id"),
)

quotes = Table(
    "quotes", metadata,
    Column("article_id", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("start_char", Integer, nullable=False),
    Column("end_char", Integer, nullable=False),
    Column("speaker_entity_id", Text),
    Column("speaker", Text),
    Index("quotes_article", "article_id"),
)

embeddings = Table(
    "embeddings", metadata,
    Column("key", Text, primary_key=True),
    Column("model", Text, nullable=False),
    Column("vector", LargeBinary, nullable=False),
)

stories = Table(
    "stories", metadata,
    Column("id", Text, primary_key=True),
    Column("title", Text, nullable=False, server_default=text("''")),
    Column("size", Integer, nullable=False, server_default=text("0")),
    Column("first_seen", Text),
    Column("last_seen", Text),
    Column("langs", Text, nullable=False, server_default=text("'{}'")),
    Column("merged_into", Text),
    Index("stories_last_seen", "last_seen"),
    # live stories in both list orders (merged ids are never listed), and the ids merged into a story
    Index("stories_live_newest", "last_seen", "id", sqlite_where=text("merged_into IS NULL"),
          postgresql_where=text("merged_into IS NULL")),
    Index("stories_live_size", "size", "id", sqlite_where=text("merged_into IS NULL"),
          postgresql_where=text("merged_into IS NULL")),
    Index("stories_merged_into", "merged_into", sqlite_where=text("merged_into IS NOT NULL"),
          postgresql_where=text("merged_into IS NOT NULL")),
)

memberships = Table(
    "memberships", metadata,
    Column("article_id", Text, primary_key=True),
    Column("story_id", Text, nullable=False),
    Column("score", Double, nullable=False),
    Index("memberships_story", "story_id"),
)

cluster_state = Table(
    "cluster_state", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("data", LargeBinary, nullable=False),
    CheckConstraint("id = 1", name="cluster_state_one_row"),
)

cluster_stories = Table(
    "cluster_stories", metadata,
    Column("id", Text, primary_key=True),
    Column("slot", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False),
    Column("record", Text, nullable=False),
)

cluster_aliases = Table(
    "cluster_aliases", metadata,
    Column("id", Text, primary_key=True),
    Column("target", Text, nullable=False),
    Column("rowid", BigInteger, Identity(always=False), nullable=False, unique=True),  # POSTGRES_ONLY
)

cluster_df = Table(
    "cluster_df", metadata,
    Column("kind", Text, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("t", Double, nullable=False),
    Column("ids", Text, nullable=False),
    PrimaryKeyConstraint("kind", "seq"),
    sqlite_with_rowid=False,
)

# ---- revision 0002 (legacy migration 5, trust: docs/reliability.md) --------------------------------
# raw_inputs.input_key, articles.flags and articles.external_id's index: see the columns below
raw_inputs.append_column(Column("input_key", Text))
Index("raw_inputs_key", raw_inputs.c.input_key)
articles.append_column(Column("flags", Text, nullable=False, server_default=text("''")))
Index("articles_external_id", articles.c.external_id, sqlite_where=text("external_id IS NOT NULL"),
      postgresql_where=text("external_id IS NOT NULL"))

# ---- revision 0003 (legacy migration 6, alerts: docs/alerts.md, docs/dates.md) ----------------------
articles.append_column(Column("date_source", Text))

alerts = Table(
    "alerts", metadata,
    Column("id", RowId, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("filters", Text, nullable=False),
    Column("notify", Text, nullable=False, server_default=text("'[]'")),
    Column("growth", Integer),
    Column("created_at", Text, nullable=False),
)

alert_stories = Table(
    "alert_stories", metadata,
    Column("alert_id", RowId, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("story_id", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("langs", Text, nullable=False),
    PrimaryKeyConstraint("alert_id", "story_id"),
    sqlite_with_rowid=False,
)

alert_events = Table(
    "alert_events", metadata,
    Column("id", RowId, primary_key=True),
    Column("alert_id", RowId, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("key", Text, nullable=False, unique=True),
    Column("kind", Text, nullable=False),
    Column("story_id", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Index("alert_events_alert", "alert_id", "id"),
)

alert_deliveries = Table(
    "alert_deliveries", metadata,
    Column("id", RowId, primary_key=True),
    Column("event_id", RowId, ForeignKey("alert_events.id", ondelete="CASCADE"), nullable=False),
    Column("target", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", Text),
    Column("last_attempt_at", Text),
    Column("last_error", Text),
    UniqueConstraint("event_id", "target"),
    Index("alert_deliveries_due", "next_attempt_at", sqlite_where=text("status = 'pending'"),
          postgresql_where=text("status = 'pending'")),
)

# ---- revision 0004 (legacy migration 7, tidings watch: docs/watch.md) ------------------------------
sources = Table(
    "sources", metadata,
    Column("id", RowId, primary_key=True),
    Column("url", Text, nullable=False, unique=True),
    Column("kind", Text, nullable=False),
    Column("name", Text),
    Column("lang", Text),
    Column("tags", Text, nullable=False, server_default=text("'[]'")),
    Column("every_seconds", Double, nullable=False),
    Column("added_at", Text, nullable=False),
    Column("paused", Integer, nullable=False, server_default=text("0")),
    Column("next_due", Text, nullable=False),
    Column("last_fetch", Text),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("errors_in_row", Integer, nullable=False, server_default=text("0")),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("feed_url", Text),
    Column("fetches", Integer, nullable=False, server_default=text("0")),
    Column("not_modified", Integer, nullable=False, server_default=text("0")),
)

fetched_urls = Table(
    "fetched_urls", metadata,
    Column("url", Text, primary_key=True),
    Column("final_url", Text),
    Column("canonical_url", Text),
    Column("article_id", Text),
    Column("source_id", RowId),
    Column("status", Text, nullable=False),
    Column("fetched_at", Text, nullable=False),
    Index("fetched_urls_final", "final_url"),
    Index("fetched_urls_canonical", "canonical_url"),
    Index("fetched_urls_source", "source_id", "fetched_at"),
)
articles.append_column(Column("summary_only", Integer, nullable=False, server_default=text("0")))
Index("articles_url", articles.c.url)

# ---- revision 0005 (legacy migration 8, search: docs/search.md) ------------------------------------
# SQLite also gets the FTS5 tables article_stems (+ its fts5vocab article_stems_vocab) and
# entity_forms_fts, which tidings.search keeps; PostgreSQL has no equivalent yet (its search is the
# store's own full-text search, store.search_articles), so they are not described here.
search_state = Table(
    "search_state", metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

article_vectors = Table(
    "article_vectors", metadata,
    Column("article_rowid", RowId, primary_key=True, autoincrement=False),
    Column("key", Text, nullable=False),
)

entity_forms = Table(
    "entity_forms", metadata,
    Column("form", Text, nullable=False),
    Column("entity_id", Text, nullable=False),
    Column("mentions", Integer, nullable=False),
    PrimaryKeyConstraint("form", "entity_id"),
    Index("entity_forms_entity", "entity_id"),
    sqlite_with_rowid=False,
)

entity_stats = Table(
    "entity_stats", metadata,
    Column("entity_id", Text, primary_key=True),
    Column("mentions", Integer, nullable=False),
    Column("articles", Integer, nullable=False),
    Column("last_seen", Text, nullable=False),
    Index("entity_stats_mentions", "mentions"),
    Index("entity_stats_last_seen", "last_seen"),
)

story_summaries = Table(
    "story_summaries", metadata,
    Column("story_id", Text, primary_key=True),
    Column("size", Integer, nullable=False),
    Column("data", Text, nullable=False),
)

# ---- revision 0007 (search: per-stem article counts, kept by tidings.search.sync) ------------------
# SQLite fills it beside article_stems; on PostgreSQL it stays empty (no stems table there).
stem_counts = Table(
    "stem_counts", metadata,
    Column("term", Text, primary_key=True),
    Column("articles", Integer, nullable=False),
    sqlite_with_rowid=False,
)

# ---- revision 0008 (search: the articles naming each entity, kept by tidings.search.sync) ----------
# An entity's newest articles are one range of the primary key, read without the mentions table.
entity_articles = Table(
    "entity_articles", metadata,
    Column("entity_id", Text, primary_key=True),
    Column("article_rowid", RowId, primary_key=True, autoincrement=False),
    Column("mentions", Integer, nullable=False),
    sqlite_with_rowid=False,
)

# SQLite-only objects (FTS5) that revisions create and the comparison with this description skips
SQLITE_ONLY_PREFIXES = ("articles_fts", "article_stems", "entity_forms_fts")
