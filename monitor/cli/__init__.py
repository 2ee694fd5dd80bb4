"""The command line: ``monitor [--config PATH] COMMAND``; every option also reads ``MONITOR_*``."""

from __future__ import annotations

import atexit
import gc
from typing import Any


def run(argv: list[str] | None = None) -> Any:
    """The ``monitor`` command.

    The commands load when it runs, not when this package is imported: multiprocessing
    re-imports the program's entry script in every helper process it starts, and a script
    that loaded the whole worker would cost each helper tens of megabytes it never uses.
    """
    # Registered first, so it runs after every other exit handler: at exit the interpreter
    # scans everything still alive for cycles, which after a bulk ingest is the whole story
    # window (about 0.3 s after 1,000 articles), and nothing it holds by then needs collecting.
    atexit.register(gc.freeze)
    from monitor.cli.main import main

    return main(argv)
