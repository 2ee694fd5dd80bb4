"""When an e-mail digest period ends: ``hourly`` or ``daily HH:MM`` (UTC)."""

from __future__ import annotations

from datetime import datetime, timedelta


def next_digest_time(period: str, now: datetime) -> datetime:
    """The end of the digest period that ``now`` falls in; alerts wait until then."""
    if period == "hourly":
        return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    hour, minute = (
        (int(part) for part in period.removeprefix("daily").strip().split(":")) if ":" in period else (8, 0)
    )
    due = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return due if due > now else due + timedelta(days=1)
