"""Search: which articles name each entity, and how often (``entity_articles``), kept by
``tidings.search.sync`` beside ``entity_stats``: the entities method reads an entity's newest
articles from this table's primary key alone (entity, article row id), where it read the
entity's newest mentions and looked each one's article up (~2.5 us a mention: 15 of a search's
60 ms at a million articles; docs/benchmarks.md, "Search at scale").

Revision ID: 0008
Revises: 0007

The table is filled once from the mentions of the articles synced so far (not duplicates, as
``entity_stats`` counts them): ~30 s at a million articles.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "entity_articles",
        sa.Column("entity_id", sa.Text(), nullable=False),
        sa.Column("article_rowid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("mentions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("entity_id", "article_rowid"),
        sqlite_with_rowid=False)
    op.execute(
        """INSERT INTO entity_articles(entity_id, article_rowid, mentions)
           SELECT m.entity_id, a.rowid, COUNT(*) FROM mentions m JOIN articles a ON a.id = m.article_id
           WHERE a.duplicate_of IS NULL AND a.rowid <= (SELECT CAST(COALESCE(MAX(value), '0') AS BIGINT)
                                                      FROM search_state WHERE key = 'synced_rowid')
           GROUP BY m.entity_id, a.rowid""")


def downgrade() -> None:
    op.drop_table("entity_articles")
