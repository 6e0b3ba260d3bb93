"""Search: the number of articles holding each word stem (``stem_counts``), kept by
``tidings.search.sync`` beside the FTS5 table ``article_stems``, so that a query drops its
too-common words by reading one row per word instead of FTS5's ``fts5vocab`` document counts,
which scan each term's postings (a cost that grows with the store; docs/search.md).

Revision ID: 0007
Revises: 0006

SQLite: the table is filled once from ``article_stems_vocab`` (the counts of the stems synced
so far). PostgreSQL: the table is created (one schema), and stays empty: the words method there
is the server's own full-text search, which has no stems table to count (docs/scaling.md).
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stem_counts",
        sa.Column("term", sa.Text(), primary_key=True),
        sa.Column("articles", sa.Integer(), nullable=False),
        sqlite_with_rowid=False)
    if op.get_bind().dialect.name == "sqlite":
        op.execute("INSERT INTO stem_counts(term, articles) SELECT term, doc FROM article_stems_vocab")


def downgrade() -> None:
    op.drop_table("stem_counts")
