"""The command line: ``monitor [--config PATH] COMMAND``; every option also reads ``MONITOR_*``."""

from __future__ import annotations

from typing import Any


def run(argv: list[str] | None = None) -> Any:
    """The ``monitor`` command.

    The commands load when it runs, not when this package is imported: multiprocessing
    re-imports the program's entry script in every helper process it starts, and a script
    that loaded the whole worker would cost each helper tens of megabytes it never uses.
    """
    from monitor.cli.main import main

    return main(argv)
