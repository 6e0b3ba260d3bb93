"""Search (docs/search.md): search_state, the embedding key of each article (article_vectors),
entity surface forms and counts (entity_forms, entity_stats), cached story summaries
(story_summaries). On SQLite also the FTS5 tables tidings.search keeps (article_stems with its
fts5vocab table, entity_forms_fts); PostgreSQL has no equivalent of those yet: search there is the
store's own full-text search (store.search_articles). Legacy SQLite version 8.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        from tidings.store.migrate import run_legacy_sqlite
        run_legacy_sqlite(8)
        return
    op.create_table(
        "search_state",
        sa.Column("key", sa.Text(), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False))
    op.create_table(
        "article_vectors",
        sa.Column("article_rowid", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("key", sa.Text(), nullable=False))
    op.create_table(
        "entity_forms",
        sa.Column("form", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.Text(), nullable=False),
        sa.Column("mentions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("form", "entity_id"))
    op.create_index("entity_forms_entity", "entity_forms", ["entity_id"], unique=False)
    op.create_table(
        "entity_stats",
        sa.Column("entity_id", sa.Text(), primary_key=True),
        sa.Column("mentions", sa.Integer(), nullable=False),
        sa.Column("articles", sa.Integer(), nullable=False),
        sa.Column("last_seen", sa.Text(), nullable=False))
    op.create_index("entity_stats_mentions", "entity_stats", ["mentions"], unique=False)
    op.create_index("entity_stats_last_seen", "entity_stats", ["last_seen"], unique=False)
    op.create_table(
        "story_summaries",
        sa.Column("story_id", sa.Text(), primary_key=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False))
