"""Soak benchmark of the daemon (prints figures; not a test).

``monitor run`` (SQLite, console notifier) runs for ``--minutes`` against ``--feeds`` local
feeds (tests/feedserver.py on ``--hosts`` loopback addresses, ETags so unchanged feeds answer
304) and one watched drop folder. New articles arrive slowly: every 10 s a few feeds gain an
item, and a file is dropped every few seconds. One in ``--marker-every`` new articles reports
an event of its own and carries the marker word that the only topic's query asks for, so
every marker article should produce exactly one new-story alert (updates are off).

Every 10 s the worker's resident memory, open file descriptors and threads are sampled from
/proc, and its children (the feed worker processes and their fork server) are reported
apart. New articles stop a drain period before the end so that the last of them are polled
and delivered, then the worker gets SIGTERM and the summary compares alerts delivered with
alerts expected.

    python bench/soak.py                   # 30 minutes, 1,000 feeds
    python bench/soak.py --minutes 3 --feeds 200
"""

from __future__ import annotations

import argparse
import html
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import IO

import yaml

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))
sys.path.insert(0, str(BENCH))

from feedserver import FeedServer  # type: ignore[import-not-found,unused-ignore]  # noqa: E402
from newsgen import OUTLETS, NewsGenerator  # type: ignore[import-not-found,unused-ignore]  # noqa: E402

#: The word only marker articles contain; the soak topic's whole query.
MARKER = "quillfeather"
TOPIC = "soak-marker"
SAMPLE_EVERY = 10.0
ITEMS_KEPT = 8


# -- articles ---------------------------------------------------------------------------


class Articles:
    """Distinct events from the news generator; marker ones carry the marker word."""

    def __init__(self, seed: int) -> None:
        self.generator = NewsGenerator(seed)
        self.events = 0

    def next(self, *, marker: bool) -> tuple[str, list[str]]:
        self.events += 1
        event = self.generator.event(self.events, datetime.now(UTC))
        title, paragraphs = self.generator.report(event, random.choice(OUTLETS), target_bytes=1200)
        if marker:
            paragraphs.insert(0, f"The {MARKER} desk followed the {event.topic[0]} in {event.place}.")
        return title, paragraphs


@dataclass
class Feed:
    number: int
    path: str
    items: list[str] = field(default_factory=list)
    version: int = 0

    def document(self) -> bytes:
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>Soak feed {self.number}</title><link>https://soak{self.number}.example.com/</link>"
            "<description>soak</description>" + "".join(self.items) + "</channel></rss>\n"
        ).encode()


def rss_item(link: str, title: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{html.escape(paragraph)}</p>" for paragraph in paragraphs)
    published = format_datetime(datetime.now(UTC), usegmt=True)
    return (
        f"<item><title>{html.escape(title)}</title><link>{link}</link><guid>{link}</guid>"
        f"<pubDate>{published}</pubDate><description><![CDATA[{body}]]></description></item>"
    )


# -- the worker -------------------------------------------------------------------------


class Worker:
    """``python -m monitor run``; stdout parsed for alert lines, stderr kept in a file."""

    def __init__(self, config: Path, stderr_path: Path) -> None:
        self._stderr = stderr_path.open("w", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MONITOR_", "SLACK_"))}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run"],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            cwd=config.parent,
            env=env,
        )
        self.alerts: Counter[str] = Counter()
        self.alert_lines = 0
        self._lock = threading.Lock()
        assert self.process.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        heading = False
        for line in stream:
            if line.startswith(f"[{TOPIC}] NEW STORY #"):
                heading = True
                with self._lock:
                    self.alert_lines += 1
            elif heading:
                heading = False
                origin = line.rstrip("\n").rsplit(" · ", 1)[-1]
                with self._lock:
                    self.alerts[origin] += 1

    def delivered(self) -> Counter[str]:
        with self._lock:
            return Counter(self.alerts)

    def stop(self, timeout: float = 60.0) -> tuple[int | None, float]:
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code: int | None = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            code = None
        self._reader.join(timeout=10)
        self._stderr.close()
        return code, time.monotonic() - started


# -- /proc ------------------------------------------------------------------------------


def status_fields(pid: int) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def kib(value: str | None) -> int:
    return int(value.split()[0]) if value else 0


def children(root: int) -> list[int]:
    """Every descendant process of ``root``."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent:
                found.append(pid)
                frontier.append(pid)
    return found


@dataclass
class Sample:
    at: float
    rss_kb: int
    hwm_kb: int
    fds: int
    threads: int
    child_count: int
    child_rss_kb: int
    delivered: int
    expected: int
    requests: int


def sample(pid: int, started: float, delivered: int, expected: int, requests: int) -> Sample:
    fields = status_fields(pid)
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        fds = 0
    kids = children(pid)
    child_rss = sum(kib(status_fields(kid).get("VmRSS")) for kid in kids)
    return Sample(
        time.monotonic() - started,
        kib(fields.get("VmRSS")),
        kib(fields.get("VmHWM")),
        fds,
        int(fields.get("Threads", "0")),
        len(kids),
        child_rss,
        delivered,
        expected,
        requests,
    )


def mb(kb: float) -> str:
    return f"{kb / 1024:.1f}"


# -- the run ----------------------------------------------------------------------------


def write_config(directory: Path, urls: list[str], every: int) -> Path:
    inbox = directory / "inbox"
    inbox.mkdir()
    sources: list[dict[str, object]] = [{"name": "drop", "folder": str(inbox), "every": "30s"}]
    sources += [
        {"name": f"feed-{number}", "feed": url, "every": f"{every}s"} for number, url in enumerate(urls)
    ]
    config = {
        "database": f"sqlite:///{directory / 'soak.db'}",
        "sources": sources,
        "notifiers": {"console": {}},
        "topics": [{"name": TOPIC, "query": MARKER, "notify": ["console"], "updates": "none"}],
        "delivery": {"every": "2s"},
    }
    path = directory / "monitor.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--items", type=int, default=5, help="items per feed at the start")
    parser.add_argument("--every", type=int, default=60, help="feed poll interval, seconds")
    parser.add_argument("--changes", type=int, default=3, help="feeds gaining an item every 10 s")
    parser.add_argument("--drop-every", type=float, default=4.0, help="seconds between dropped files")
    parser.add_argument("--marker-every", type=int, default=6, help="one new article in N carries the marker")
    parser.add_argument("--drain", type=float, default=150.0, help="seconds without new articles at the end")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    random.seed(args.seed)
    articles = Articles(args.seed)
    duration = args.minutes * 60
    drain = min(args.drain, duration / 3)
    directory = Path(tempfile.mkdtemp(prefix="monitor-soak-"))
    server = FeedServer(hosts=args.hosts).start()
    feeds: list[Feed] = []
    urls: list[str] = []
    for number in range(args.feeds):
        feed = Feed(number, f"/soak/{number}.xml")
        for item in range(args.items):
            title, paragraphs = articles.next(marker=False)
            feed.items.insert(0, rss_item(f"https://soak{number}.example.com/a/{item}", title, paragraphs))
        feeds.append(feed)
        urls.append(server.route(feed.path, feed.document(), host=number % args.hosts, etag=f'"{number}-0"'))
    config = write_config(directory, urls, args.every)
    expected: set[str] = set()
    new_articles = 0

    def next_is_marker() -> bool:
        nonlocal new_articles
        new_articles += 1
        return new_articles % int(args.marker_every) == 0

    print(
        f"soak: {args.minutes:g} min, {args.feeds} feeds on {args.hosts} hosts every {args.every}s "
        f"({args.items} items each), {args.changes} feed items per 10 s, a file every {args.drop_every:g}s, "
        f"1 in {args.marker_every} new articles on topic; drain {drain:.0f}s; work dir {directory}",
        flush=True,
    )
    worker = Worker(config, directory / "worker.stderr")
    pid = worker.process.pid
    started = time.monotonic()
    samples: list[Sample] = []
    next_sample = next_change = started
    next_drop = started + args.drop_every
    dropped = 0
    header = (
        f"{'t(s)':>6} {'RSS MB':>7} {'fds':>5} {'thr':>4} {'children':>8} {'children MB':>11} "
        f"{'requests':>8} {'alerts':>6} {'expected':>8}"
    )
    print(header, flush=True)
    try:
        while (now := time.monotonic()) < started + duration:
            if worker.process.poll() is not None:
                print(f"worker exited early with {worker.process.returncode}", flush=True)
                break
            injecting = now < started + duration - drain
            if injecting and now >= next_change:
                next_change += 10.0
                for feed in random.sample(feeds, args.changes):
                    marker = next_is_marker()
                    title, paragraphs = articles.next(marker=marker)
                    feed.version += 1
                    link = f"https://soak{feed.number}.example.com/a/n{feed.version}"
                    feed.items = [rss_item(link, title, paragraphs), *feed.items][:ITEMS_KEPT]
                    server.update(feed.path, body=feed.document(), etag=f'"{feed.number}-{feed.version}"')
                    if marker:
                        expected.add(link)
            if injecting and now >= next_drop:
                next_drop += args.drop_every
                marker = next_is_marker()
                title, paragraphs = articles.next(marker=marker)
                dropped += 1
                name = f"{dropped:06d}_soak.txt"
                partial = directory / "inbox" / f".{name}.partial"
                text = f" date {datetime.now(UTC):%Y-%m-%d} {title}\n" + "\n".join(paragraphs) + "\n"
                partial.write_text(text, encoding="utf-8")
                os.replace(partial, directory / "inbox" / name)
                if marker:
                    expected.add(str(directory / "inbox" / name))
            if now >= next_sample:
                next_sample += SAMPLE_EVERY
                requests = len(server.requests())
                server.clear_requests()
                point = sample(pid, started, sum(worker.delivered().values()), len(expected), requests)
                samples.append(point)
                print(
                    f"{point.at:6.0f} {mb(point.rss_kb):>7} {point.fds:>5} {point.threads:>4} "
                    f"{point.child_count:>8} {mb(point.child_rss_kb):>11} {point.requests:>8} "
                    f"{point.delivered:>6} {point.expected:>8}",
                    flush=True,
                )
            time.sleep(0.05)
        final = sample(pid, started, sum(worker.delivered().values()), len(expected), len(server.requests()))
        code, stop_seconds = worker.stop()
    finally:
        if worker.process.poll() is None:
            worker.process.kill()
        server.stop()

    delivered = worker.delivered()
    stderr = (directory / "worker.stderr").read_text(encoding="utf-8", errors="replace")
    levels = Counter(word for line in stderr.splitlines() for word in ("WARNING", "ERROR") if word in line)
    steady = [s for s in samples if s.at >= min(300.0, duration / 3)] or samples
    print("\nsummary")
    print(
        f"  duration            {final.at / 60:.1f} min, {dropped} files dropped, {new_articles} new articles"
    )
    print(
        f"  worker RSS          start {mb(samples[0].rss_kb)} MB "
        f"(after the first polls {mb(steady[0].rss_kb)} MB), "
        f"end {mb(final.rss_kb)} MB, max sampled {mb(max(s.rss_kb for s in samples))} MB, "
        f"peak (VmHWM) {mb(final.hwm_kb)} MB"
    )
    print(
        f"  child processes    {final.child_count} at the end, RSS end {mb(final.child_rss_kb)} MB, "
        f"max {mb(max(s.child_rss_kb for s in samples))} MB (all children together)"
    )
    print(
        f"  open fds            min {min(s.fds for s in samples)}, max {max(s.fds for s in samples)}, "
        f"steady-state range {min(s.fds for s in steady)}-{max(s.fds for s in steady)}"
    )
    print(
        f"  threads             min {min(s.threads for s in samples)}, "
        f"max {max(s.threads for s in samples)}, "
        f"steady-state range {min(s.threads for s in steady)}-{max(s.threads for s in steady)}"
    )
    missing = expected - set(delivered)
    repeated = {origin: n for origin, n in delivered.items() if n > 1}
    unexpected = set(delivered) - expected
    print(
        f"  alerts              delivered {sum(delivered.values())}, expected {len(expected)}; "
        f"missing {len(missing)}, sent twice {len(repeated)}, unexpected {len(unexpected)}"
    )
    for origin in sorted(missing)[:5]:
        print(f"    missing: {origin}")
    for origin in sorted(unexpected)[:5]:
        print(f"    unexpected: {origin}")
    print(f"  stop                SIGTERM -> exit {code} in {stop_seconds:.1f}s")
    print(f"  worker log          {levels['WARNING']} warnings, {levels['ERROR']} errors")
    print(f"  work directory      {directory}")


if __name__ == "__main__":
    main()
