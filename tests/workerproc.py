"""Helpers for tests that run workers as real processes: the process, and distinct articles.

:class:`WorkerProcess` is ``python -m monitor --config X run`` with its stdout and stderr
collected line by line. :func:`distinct_article` writes a seeds-format article about an event
of its own: its people, places and organisations are coined from a seeded generator, so two
articles share nothing but the words every article has (and ``marker``, which a test topic
can ask for), and the story engine never has a reason to join them.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

_SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ne",
    "ru",
    "sa",
    "ta",
    "vo",
    "zi",
    "be",
    "do",
    "fu",
    "ga",
    "hi",
    "ja",
    "ke",
    "pra",
    "sto",
    "vel",
    "mur",
    "dan",
    "tor",
    "lin",
    "qua",
    "rest",
]


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


# --- articles ------------------------------------------------------------------------------


def _coined(rng: random.Random, syllables: int = 3) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(syllables)).capitalize()


def distinct_event(seed: int, *, marker: str) -> tuple[str, str]:
    """(title, body) of an event no other seed reports; ``marker`` appears in the body."""
    rng = random.Random(f"event-{seed}")
    person = f"{_coined(rng, 2)} {_coined(rng)}"
    colleague = f"{_coined(rng, 2)} {_coined(rng)}"
    town, river, company = _coined(rng), _coined(rng), f"{_coined(rng)} {_coined(rng, 2)}"
    count, money = rng.randint(120, 9800), rng.randint(3, 950)
    title = f"{person} opened the {company} works in {town} on the {river} with {count} new jobs."
    body = "\n".join(
        [
            f"{town} council said the {company} plant would cost {money} million and employ {count} people.",
            f"{colleague}, who chairs the {town} {marker} committee, called the {river} site "
            "a turning point.",
            f"Residents of {town} and {_coined(rng)} queued outside the {company} gates before dawn.",
            f"{person} promised that a second {company} line on the {river} would follow "
            f"by {rng.randint(2027, 2031)}.",
        ]
    )
    return title, body


def distinct_article(seed: int, *, marker: str, date: str = "2026-03-02") -> str:
    """A seeds-format article (with its `` date`` line) about event ``seed``."""
    title, body = distinct_event(seed, marker=marker)
    return f" date {date} {title}\n{body}\n"


def drop(folder: Path, name: str, text: str) -> Path:
    """Write ``text`` under a temporary name, then rename it into ``folder``: never half a file."""
    partial = folder / f".{name}.partial"
    partial.write_text(text, encoding="utf-8")
    target = folder / name
    os.replace(partial, target)
    return target
