"""The week's vocabulary, the lowest module of the domain: the day names in week order
and the form of a posting time. Buffer uses the same words (`mon`..`sun`, `HH:MM`), so
its models (`bridge.buffer.models`) take them from here; nothing here knows of Buffer.
"""

from __future__ import annotations

import re

__all__ = ["DAYS", "TIME_RE"]

# The day names, in week order; the domain's `Week` keeps this order too.
DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A posting time: 24-hour, zero-padded "HH:MM".
TIME_RE = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]")
