"""reports: indexes for the other queue views (queue|status|-, priority, id)

Revision ID: reports_0002
Revises: reports_0001
Create Date: 2026-11-21 23:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "reports_0002"
down_revision: str | Sequence[str] | None = "reports_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_reports_status_priority_id", "reports", ["status", "priority", "id"])
    op.create_index("ix_reports_priority_id", "reports", ["priority", "id"])
    op.create_index("ix_reports_queue_priority_id", "reports", ["queue", "priority", "id"])


def downgrade() -> None:
    op.drop_index("ix_reports_queue_priority_id", table_name="reports")
    op.drop_index("ix_reports_priority_id", table_name="reports")
    op.drop_index("ix_reports_status_priority_id", table_name="reports")
