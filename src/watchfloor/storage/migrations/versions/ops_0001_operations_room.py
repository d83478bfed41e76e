"""Operations room: situation log, plans, re-plan jobs and public messages.

Revision ID: ops_0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ops_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("ops",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ops_log",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("region", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ops_log"),
    )
    op.create_index("ix_ops_log_region_recorded", "ops_log", ["region", "recorded_at"])
    op.create_table(
        "ops_plans",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("region", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("total_s", sa.Float(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ops_plans"),
    )
    op.create_index("ix_ops_plans_region_created", "ops_plans", ["region", "created_at"])
    op.create_table(
        "ops_jobs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("region", sa.String(100), nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("plan_id", sa.String(32), nullable=True),
        sa.Column("timings", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ops_jobs"),
    )
    op.create_index("ix_ops_jobs_region_submitted", "ops_jobs", ["region", "submitted_at"])
    op.create_table(
        "ops_messages",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("region", sa.String(100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_ops_messages"),
    )
    op.create_index("ix_ops_messages_region_published", "ops_messages", ["region", "published_at"])


def downgrade() -> None:
    op.drop_index("ix_ops_messages_region_published", table_name="ops_messages")
    op.drop_table("ops_messages")
    op.drop_index("ix_ops_jobs_region_submitted", table_name="ops_jobs")
    op.drop_table("ops_jobs")
    op.drop_index("ix_ops_plans_region_created", table_name="ops_plans")
    op.drop_table("ops_plans")
    op.drop_index("ix_ops_log_region_recorded", table_name="ops_log")
    op.drop_table("ops_log")
