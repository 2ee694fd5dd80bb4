"""The command line: ``monitor [--config PATH] COMMAND``; every option also reads ``MONITOR_*``."""

from __future__ import annotations

from monitor.cli.main import main

__all__ = ["main"]
