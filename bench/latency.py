"""Drop-to-alert latency of the daemon (prints figures; not a test).

``monitor run`` (SQLite, console notifier) watches one drop folder whose scheduled scan runs
only every 30 s, so a fast alert can only come from the filesystem-event path. Files are
dropped one at a time (written under a temporary name, then ``os.replace``-d into the
folder); each is an on-topic report of an event of its own, so each makes one new-story
alert. The latency of a file is the time from its ``os.replace`` to its alert's first line
on the worker's stdout.

The baseline runs the same with ``watch: false``, where only the scheduled scan finds files
(``--baseline-every``, 5 s by default rather than 30 s to keep it short: the latency is then
spread over 0..5 s plus the poll itself).

    python bench/latency.py                     # 100 files, one every 0.3 s, then the baseline
    python bench/latency.py --files 20 --no-baseline
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from coined import distinct_article  # type: ignore[import-not-found,unused-ignore]
from workerproc import environment  # type: ignore[import-not-found,unused-ignore]

MARKER = "lighthouse"
TOPIC = "latency"
HEADING = f"[{TOPIC}] NEW STORY #"


class Worker:
    """``monitor run`` whose stdout lines are timestamped as they arrive."""

    def __init__(self, config: Path) -> None:
        self._stderr = (config.parent / "worker.stderr").open("w", encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run"],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
            cwd=config.parent,
            env=environment(),
        )
        self.alerts: dict[str, float] = {}  # origin -> when its alert's heading arrived
        self._lock = threading.Lock()
        assert self.process.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        heading_at: float | None = None
        for line in stream:
            now = time.monotonic()
            if line.startswith(HEADING):
                heading_at = now
            elif heading_at is not None:
                origin = line.rstrip("\n").rsplit(" · ", 1)[-1]
                with self._lock:
                    self.alerts.setdefault(origin, heading_at)
                heading_at = None

    def alerted(self, origin: str) -> float | None:
        with self._lock:
            return self.alerts.get(origin)

    def wait_running(self, log: Path, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "monitor running" in log.read_text(encoding="utf-8", errors="replace"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise SystemExit(f"the worker did not start:\n{log.read_text(encoding='utf-8', errors='replace')}")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self._reader.join(timeout=10)
        self._stderr.close()
        return code


def measure(files: int, interval: float, *, watch: bool, every: str, settle: float) -> list[float]:
    """Latencies (seconds) of ``files`` drops; a file never alerted counts as missing."""
    directory = Path(tempfile.mkdtemp(prefix="monitor-latency-"))
    inbox = directory / "inbox"
    inbox.mkdir()
    config = directory / "monitor.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": f"sqlite:///{directory / 'monitor.db'}",
                "sources": [{"name": "inbox", "folder": str(inbox), "every": every, "watch": watch}],
                "notifiers": {"console": {}},
                "topics": [{"name": TOPIC, "query": MARKER, "notify": ["console"]}],
            },
            sort_keys=False,
        ),
        encoding="utf-8",
    )
    worker = Worker(config)
    worker.wait_running(directory / "worker.stderr")
    time.sleep(1.0)  # the first scan of the empty folder is over
    dropped: dict[str, float] = {}
    next_drop = time.monotonic()
    for number in range(files):
        text = distinct_article(number, marker=MARKER)
        name = f"{number:04d}_drop.txt"
        partial = inbox / f".{name}.partial"
        partial.write_text(text, encoding="utf-8")
        with partial.open("rb") as written:
            os.fsync(written.fileno())
        target = inbox / name
        os.replace(partial, target)
        dropped[str(target)] = time.monotonic()
        next_drop += interval
        time.sleep(max(0.0, next_drop - time.monotonic()))
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline and any(worker.alerted(origin) is None for origin in dropped):
        time.sleep(0.1)
    code = worker.stop()
    latencies = [at - dropped[origin] for origin in dropped if (at := worker.alerted(origin)) is not None]
    missing = len(dropped) - len(latencies)
    mode = "watch: true " if watch else "watch: false"
    print(f"  {mode} every {every}: {len(latencies)}/{files} alerted, {missing} missing; worker exit {code}")
    return latencies


def report(label: str, latencies: list[float]) -> None:
    if not latencies:
        print(f"{label:<44} no alerts")
        return
    ordered = sorted(latencies)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    print(
        f"{label:<44} p50 {statistics.median(ordered) * 1000:7.0f} ms   p95 {p95 * 1000:7.0f} ms   "
        f"max {ordered[-1] * 1000:7.0f} ms   min {ordered[0] * 1000:5.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.3, help="seconds between drops")
    parser.add_argument("--baseline-files", type=int, default=40)
    parser.add_argument("--baseline-every", default="5s", help="scan interval of the watch: false baseline")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()

    print(f"drop-to-alert latency: {args.files} files, one every {args.interval:g} s")
    watched = measure(args.files, args.interval, watch=True, every="30s", settle=40)
    baseline: list[float] = []
    if not args.no_baseline:
        baseline = measure(
            args.baseline_files, args.interval, watch=False, every=args.baseline_every, settle=40
        )
    print()
    report("watch: true, every: 30s (filesystem events)", watched)
    if not args.no_baseline:
        report(f"watch: false, every: {args.baseline_every} (scan only)", baseline)
    target = (
        "met" if watched and sorted(watched)[max(0, round(0.95 * len(watched)) - 1)] <= 1.0 else "NOT met"
    )
    print(f"target p95 <= 1 s with watching: {target}")


if __name__ == "__main__":
    main()
