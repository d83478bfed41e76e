"""tension: areas, ingest batches, incidents, liaison notes, scans

Revision ID: tension_0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tension_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("tension",)
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tension_areas",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("region", sa.String(100), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("geometry", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tension_areas"),
        sa.UniqueConstraint("region", "code", name="uq_tension_areas_region_code"),
    )
    op.create_table(
        "tension_ingests",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("region", sa.String(100), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("resolution", sa.String(8), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("kept", sa.Integer(), nullable=False),
        sa.Column("no_location", sa.Integer(), nullable=False),
        sa.Column("other_kind", sa.Integer(), nullable=False),
        sa.Column("outside_areas", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tension_ingests"),
    )
    op.create_index("ix_tension_ingests_region", "tension_ingests", ["region"])
    op.create_table(
        "tension_incidents",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("region", sa.String(100), nullable=False),
        sa.Column("ingest_id", _ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("resolution", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("area_code", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tension_incidents"),
    )
    op.create_index("ix_tension_incidents_region_day", "tension_incidents", ["region", "day"])
    op.create_table(
        "tension_notes",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("region", sa.String(100), nullable=False),
        sa.Column("area_code", sa.String(32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("indicator", sa.String(64), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tension_notes"),
    )
    op.create_index("ix_tension_notes_region_day", "tension_notes", ["region", "day"])
    op.create_table(
        "tension_scans",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("region", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_day", sa.Date(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tension_scans"),
    )
    op.create_index("ix_tension_scans_region_created", "tension_scans", ["region", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_tension_scans_region_created", table_name="tension_scans")
    op.drop_table("tension_scans")
    op.drop_index("ix_tension_notes_region_day", table_name="tension_notes")
    op.drop_table("tension_notes")
    op.drop_index("ix_tension_incidents_region_day", table_name="tension_incidents")
    op.drop_table("tension_incidents")
    op.drop_index("ix_tension_ingests_region", table_name="tension_ingests")
    op.drop_table("tension_ingests")
    op.drop_table("tension_areas")
