"""The one source of "now": timezone-aware UTC, injectable wherever time matters."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
