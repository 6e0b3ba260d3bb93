"""Trust (docs/reliability.md): articles.flags (what was cut or repaired on the way in), the
identity of each raw input (raw_inputs.input_key: a rerun skips stored inputs), and an index on
articles.external_id (an id reused with other content is reported). Legacy SQLite version 5.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        from tidings.store.migrate import run_legacy_sqlite
        run_legacy_sqlite(5)
        return
    op.add_column("articles", sa.Column("flags", sa.Text(), server_default=sa.text("''"), nullable=False))
    op.add_column("raw_inputs", sa.Column("input_key", sa.Text(), nullable=True))
    op.create_index("raw_inputs_key", "raw_inputs", ["input_key"], unique=False)
    op.create_index("articles_external_id", "articles", ["external_id"], unique=False,
                    postgresql_where=sa.text("external_id IS NOT NULL"))
