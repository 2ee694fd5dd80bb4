"""Durations as users write them in YAML and on the command line: ``30s``, ``10m``, ``1h``, ``7d``."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator

from monitor.errors import DurationError

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(value: str | int | float) -> float:
    """Return seconds for ``30s``, ``1h30m``, ``2.5h`` or a bare number of seconds.

    Compound forms are allowed because ``1h30m`` is what people write; a bare number is
    taken as seconds so that programmatic configs need no suffix.
    """
    if isinstance(value, bool):
        raise DurationError(f"expected a duration like 30s, 10m or 1h, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        elif text and re.fullmatch(rf"(?:{_PART.pattern})+", text):
            seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(text))
        else:
            raise DurationError(f"expected a duration like 30s, 10m or 1h, got {value!r}")
    if seconds <= 0:
        raise DurationError(f"a duration must be positive, got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest readable form, for logs and ``monitor sources``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    if seconds >= 1:
        return f"{seconds:.0f}s"
    return f"{seconds * 1000:.0f}ms"


def _validated(value: Any) -> float:
    # pydantic reports only ValueErrors with their key path, so translate ours.
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise ValueError(str(exc)) from None


#: A config field holding a duration: accepts ``30s`` / ``10m`` / ``1h`` or seconds.
Duration = Annotated[float, BeforeValidator(_validated)]
