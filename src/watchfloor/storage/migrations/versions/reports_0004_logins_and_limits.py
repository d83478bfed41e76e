"""reports: login throttling per username and shared rate-limit counters

``login_throttle`` holds, per username tried (known or not, so that a lockout
does not tell an attacker which names exist), the consecutive failed log-ins and
the time until which the name is locked; a successful log-in or an administrator
deletes the row. ``rate_limit_hits`` holds request counters shared by every
process of the service: a keyed hash of (bucket, client address) and the
number of the window, never the address; rows of past windows are deleted as new
ones come. On PostgreSQL the counters are an UNLOGGED table (no WAL: they need
no durability).

Revision ID: reports_0004
Revises: reports_0003
Create Date: 2026-12-08 00:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "reports_0004"
down_revision: str | Sequence[str] | None = "reports_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "rate_limit_hits",
        sa.Column("key", sa.String(32), primary_key=True),
        sa.Column("window", sa.BigInteger, primary_key=True),
        sa.Column("hits", sa.Integer, nullable=False),
        prefixes=["UNLOGGED"] if op.get_bind().dialect.name == "postgresql" else [],
    )
    op.create_index("ix_rate_limit_hits_window", "rate_limit_hits", ["window"])


def downgrade() -> None:
    op.drop_index("ix_rate_limit_hits_window", table_name="rate_limit_hits")
    op.drop_table("rate_limit_hits")
    op.drop_table("login_throttle")
