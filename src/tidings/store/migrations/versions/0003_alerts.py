"""Alerts (docs/alerts.md) and where each publication date came from (docs/dates.md):
articles.date_source, tables alerts, alert_stories, alert_events (unique keys: never notified
twice) and alert_deliveries (the outbox, with retries). Legacy SQLite version 6.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger()


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        from tidings.store.migrate import run_legacy_sqlite
        run_legacy_sqlite(6)
        return
    op.add_column("articles", sa.Column("date_source", sa.Text(), nullable=True))
    op.create_table(
        "alerts",
        sa.Column("id", Id, primary_key=True),
        sa.Column("name", sa.Text(), nullable=False, unique=True),
        sa.Column("filters", sa.Text(), nullable=False),
        sa.Column("notify", sa.Text(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("growth", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.Text(), nullable=False))
    op.create_table(
        "alert_stories",
        sa.Column("alert_id", Id, sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("story_id", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("langs", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("alert_id", "story_id"))
    op.create_table(
        "alert_events",
        sa.Column("id", Id, primary_key=True),
        sa.Column("alert_id", Id, sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key", sa.Text(), nullable=False, unique=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("story_id", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False))
    op.create_index("alert_events_alert", "alert_events", ["alert_id", "id"], unique=False)
    op.create_table(
        "alert_deliveries",
        sa.Column("id", Id, primary_key=True),
        sa.Column("event_id", Id, sa.ForeignKey("alert_events.id", ondelete="CASCADE"), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.Text(), nullable=True),
        sa.Column("last_attempt_at", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.UniqueConstraint("event_id", "target"))
    op.create_index("alert_deliveries_due", "alert_deliveries", ["next_attempt_at"], unique=False,
                    postgresql_where=sa.text("status = 'pending'"))
