"""reports: near-duplicate linking after the commit (duplicate_checked_at, pending index)

A report is acknowledged once it is stored; the near-duplicate check runs
afterwards in a background pass. ``duplicate_checked_at`` is NULL until that
pass has linked (or not) the report; a partial index holds only the pending
rows, so finding them costs the same with any number of reports stored.
Reports stored before this revision were checked on arrival.

Revision ID: reports_0003
Revises: reports_0002
Create Date: 2026-11-22 01:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "reports_0003"
down_revision: str | Sequence[str] | None = "reports_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PENDING = sa.text("duplicate_checked_at IS NULL")
_ROOTS = sa.text(
    "duplicate_of_id IS NULL AND duplicate_checked_at IS NOT NULL AND anonymised_at IS NULL"
)


def upgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("duplicate_checked_at", sa.DateTime(timezone=True)))
    op.execute("UPDATE reports SET duplicate_checked_at = received_at")
    op.create_index(
        "ix_reports_dedup_pending",
        "reports",
        ["id"],
        sqlite_where=_PENDING,
        postgresql_where=_PENDING,
    )
    op.create_index(
        "ix_reports_dedup_roots",
        "reports",
        ["kind", "received_at"],
        sqlite_where=_ROOTS,
        postgresql_where=_ROOTS,
    )


def downgrade() -> None:
    op.drop_index("ix_reports_dedup_roots", table_name="reports")
    op.drop_index("ix_reports_dedup_pending", table_name="reports")
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("duplicate_checked_at")
