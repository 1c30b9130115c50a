"""The kept week's tables: a profile's posting settings and the posts the bridge placed.

`ProfileSettings` holds what a user chose for a profile (the schedule mode, adopting
Buffer's queue, the gap between posts, dates without posts) and, once the bridge keeps
the week, the week itself. `PlacedPost` remembers every post the bridge put in Buffer
(and every post it adopted from Buffer's queue), so a new week can move them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bridge.models import Base, utcnow

BUFFER, BRIDGE = "buffer", "bridge"  # who keeps the posting schedule
MODES = (BUFFER, BRIDGE)

POST_JOB = "post"  # the kind of a job that places one post

# when a placed post is due: on the kept week's slots (moves with it), now, or a set time
QUEUE, NOW, AT = "queue", "now", "at"


class ProfileSettings(Base):
    """One profile's posting settings and, in `bridge` mode, its kept week.

    `mode` None follows the account: `bridge` once it cannot write through v1, else
    `buffer`. `week` is None until the bridge keeps the week: it then starts as the last
    week read from Buffer. `week_version` grows with every change of the kept week; a
    placed post remembers the version it was laid on, so a new week finds the posts to
    move."""

    __tablename__ = "profile_settings"

    profile_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    mode: Mapped[str | None] = mapped_column(String(8))
    adopt_queue: Mapped[bool] = mapped_column(Boolean, default=False)
    min_gap_minutes: Mapped[int] = mapped_column(Integer, default=0)
    excluded_dates: Mapped[list[Any]] = mapped_column(default=list)
    # the kept week in Buffer's shape (`schedules.to_buffer`) and its paused days
    week: Mapped[list[Any] | None] = mapped_column(JSON)
    paused_days: Mapped[list[Any]] = mapped_column(default=list)
    week_version: Mapped[int] = mapped_column(Integer, default=0)
    # the change job whose result reports the moves of the posts onto the newest week
    moving_job_id: Mapped[int | None]
    adopted_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PlacedPost(Base):
    """A post the bridge placed in Buffer (or adopted from Buffer's queue)."""

    __tablename__ = "placed_posts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    profile_id: Mapped[str] = mapped_column(String(24))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))
    buffer_post_id: Mapped[str] = mapped_column(String(64))
    when: Mapped[str] = mapped_column(String(8))  # QUEUE | NOW | AT
    due_at: Mapped[dt.datetime | None]
    slot: Mapped[str | None] = mapped_column(String(16))  # "tue 09:00"
    excerpt: Mapped[str] = mapped_column(Text, default="")
    adopted: Mapped[bool] = mapped_column(Boolean, default=False)
    # the kept week's version this post's slot was found on
    week_version: Mapped[int] = mapped_column(Integer, default=0)
    gone: Mapped[bool] = mapped_column(Boolean, default=False)  # sent or deleted in Buffer
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_placed_posts_profile", "profile_id", "gone"),
        Index("ix_placed_posts_buffer_id", "buffer_post_id", unique=True),
    )

    @property
    def follows_week(self) -> bool:
        """True when the post moves with the kept week (placed `queue`, or adopted)."""
        return self.when == QUEUE
