"""tidings watch (docs/watch.md): the sources it follows (health, HTTP cache validators), every
URL it fetched (so nothing is fetched twice across restarts), articles.summary_only and an index
on articles.url. Legacy SQLite version 7.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        from tidings.store.migrate import run_legacy_sqlite
        run_legacy_sqlite(7)
        return
    op.create_table(
        "sources",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False, unique=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("lang", sa.Text(), nullable=True),
        sa.Column("tags", sa.Text(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("every_seconds", sa.Float(), nullable=False),
        sa.Column("added_at", sa.Text(), nullable=False),
        sa.Column("paused", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_due", sa.Text(), nullable=False),
        sa.Column("last_fetch", sa.Text(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("errors_in_row", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("feed_url", sa.Text(), nullable=True),
        sa.Column("fetches", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("not_modified", sa.Integer(), server_default=sa.text("0"), nullable=False))
    op.create_table(
        "fetched_urls",
        sa.Column("url", sa.Text(), primary_key=True),
        sa.Column("final_url", sa.Text(), nullable=True),
        sa.Column("canonical_url", sa.Text(), nullable=True),
        sa.Column("article_id", sa.Text(), nullable=True),
        sa.Column("source_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("fetched_at", sa.Text(), nullable=False))
    op.create_index("fetched_urls_final", "fetched_urls", ["final_url"], unique=False)
    op.create_index("fetched_urls_canonical", "fetched_urls", ["canonical_url"], unique=False)
    op.create_index("fetched_urls_source", "fetched_urls", ["source_id", "fetched_at"], unique=False)
    op.add_column("articles", sa.Column("summary_only", sa.Integer(), server_default=sa.text("0"), nullable=False))
    op.create_index("articles_url", "articles", ["url"], unique=False)
