"""Tables of the operations room: situation log, plans, re-plan jobs, public messages.

A plan is stored whole (its layers and diff as JSON) because it is read whole
by the dashboard and never queried by field; the situation log (declared
events, threat-level changes, calendar entries, alerts that triggered a
re-plan) is the event timeline and the input from which a plan is rebuilt
after a restart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from watchfloor.storage.db import Base

__all__ = ["OpsJobRow", "OpsLogRow", "OpsMessageRow", "OpsPlanRow"]


class OpsLogRow(Base):
    """One entry of a region's situation log (the event timeline)."""

    __tablename__ = "ops_log"
    __table_args__ = (Index("ix_ops_log_region_recorded", "region", "recorded_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    region: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    """``event``, ``threat``, ``calendar``, ``tension_alert`` or ``report_cluster``."""
    summary: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[str] = mapped_column(String(100))


class OpsPlanRow(Base):
    """A plan that was computed and put in force (posture, patrols, ARVs)."""

    __tablename__ = "ops_plans"
    __table_args__ = (Index("ix_ops_plans_region_created", "region", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    region: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    trigger: Mapped[str] = mapped_column(Text)
    total_s: Mapped[float] = mapped_column(Float)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)


class OpsJobRow(Base):
    """A re-plan job: queued, running, done or failed (with its message)."""

    __tablename__ = "ops_jobs"
    __table_args__ = (Index("ix_ops_jobs_region_submitted", "region", "submitted_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    region: Mapped[str] = mapped_column(String(100))
    trigger: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    plan_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    timings: Mapped[dict[str, Any]] = mapped_column(JSON)


class OpsMessageRow(Base):
    """A reassurance message for the public community page, written by staff."""

    __tablename__ = "ops_messages"
    __table_args__ = (Index("ix_ops_messages_region_published", "region", "published_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    region: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
