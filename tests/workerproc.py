"""Helpers for tests that run workers as real processes: the process, ports, waiting, dropping files.

:class:`WorkerProcess` is ``python -m monitor --config X run`` with its stdout and stderr
collected line by line. The articles such tests drop come from :mod:`coined`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO


def environment() -> dict[str, str]:
    """This process's environment without the settings a developer's shell may carry."""
    return {key: value for key, value in os.environ.items() if not key.startswith(("MONITOR_", "SLACK_"))}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class WorkerProcess:
    """``python -m monitor --config CONFIG run [extra...]``; ``stdout``/``stderr`` fill as it runs."""

    def __init__(self, config: Path, *extra: str) -> None:
        self.config = config
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=config.parent,
            env=environment(),
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        assert self.process.stdout is not None and self.process.stderr is not None
        self._readers = [
            threading.Thread(target=self._collect, args=(self.process.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._collect, args=(self.process.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    @staticmethod
    def _collect(stream: IO[str], lines: list[str]) -> None:
        for line in stream:
            lines.append(line)

    def log(self) -> str:
        return "".join(self.stderr)

    def wait_for(self, lines: list[str], text: str, timeout: float) -> bool:
        """Whether a line containing ``text`` appears within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in list(lines)):
                return True
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        return any(text in line for line in list(lines))

    def running(self) -> bool:
        return self.process.poll() is None

    def send(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    def stop(self, signum: signal.Signals = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Send ``signum`` and wait for the exit status (TimeoutExpired after ``timeout``)."""
        self.process.send_signal(signum)
        return self.wait(timeout)

    def wait(self, timeout: float) -> int:
        """The exit status, once the process has exited and its output is all read."""
        code = self.process.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
            for reader in self._readers:
                reader.join(timeout=5)


def wait_until(condition: Callable[[], bool], timeout: float, every: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


def drop(folder: Path, name: str, text: str) -> Path:
    """Write ``text`` under a temporary name, then rename it into ``folder``: never half a file."""
    partial = folder / f".{name}.partial"
    partial.write_text(text, encoding="utf-8")
    target = folder / name
    os.replace(partial, target)
    return target
