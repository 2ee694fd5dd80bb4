"""Benchmark of the feed poller (prints figures; not a test).

A local server (tests/feedserver.py, in its own process, on N loopback addresses so the
per-host limit behaves as with real sites) serves F feeds of M items each, with 1-2 KB HTML
summaries and distinct titles, gzip-compressed like most real servers.

Run A, every response delayed (default 200 ms):
  * first full poll, a poll where nothing changed (all 304 via ETag) and a poll where 10 % of
    the feeds changed, each with ``poll_feeds`` and a light ``on_result`` that counts articles;
  * the baseline: a sequential ``feedparser.parse(url)`` loop over the same URLs, timed on a
    sample and extrapolated unless ``--baseline-sample 0`` asks for all of them.
Run B, no delay: the first poll against the floor, feedparser parsing the same documents in one
process without any network.

Peak memory: ``ru_maxrss`` of this process plus the peak (VmHWM) of each parser process; the
server's own process is reported apart, since it stands in for the internet.

    python bench/feeds.py                      # 1,000 feeds x 20 items
    python bench/feeds.py --feeds 100 --items 5 --repeat 1
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import feedparser

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from feedserver import FeedServer  # type: ignore[import-not-found,unused-ignore]

from monitor.sources.feed import FeedRequest, FeedResult, FetchSettings, poll_feeds, shutdown_parsers

#: Vocabulary of the generated headlines and summaries.
VOCABULARY = """
government minister election vote parliament market shares economy inflation bank rate
storm flood rain weather climate energy oil gas power grid city council police court trial
judge report study scientists researchers health hospital doctors patients vaccine school
students teachers university football league match season club coach players transfer
company profits workers strike union talks deal agreement border security army ceasefire
talks summit leaders president prime officials statement spokesperson announced said
warned expected record highest lowest since years months weeks today yesterday tomorrow
morning evening night region north south east west central capital coast island river
mountain
"""
WORDS = VOCABULARY.split()


# -- documents ------------------------------------------------------------------------


def sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def summary_html(rng: random.Random) -> str:
    paragraphs = []
    size = 0
    target = rng.randint(1000, 2000)
    while size < target:
        body = " ".join(sentence(rng, rng.randint(8, 18)) for _ in range(rng.randint(2, 4)))
        words = body.split(" ")
        at = rng.randrange(1, len(words) - 1)
        words[at] = f'<a href="https://news.example.com/t/{words[at].strip(".")}">{words[at]}</a>'
        if rng.random() < 0.5:
            words[at - 1] = f"<strong>{words[at - 1]}</strong>"
        paragraph = "<p>" + " ".join(words).replace(" and ", " &amp; ") + " It&#8217;s developing.</p>"
        paragraphs.append(paragraph)
        size += len(paragraph)
    if rng.random() < 0.3:
        paragraphs.insert(0, '<img src="https://img.example.com/a.jpg" alt="photo" width="640">')
    return "".join(paragraphs)


def feed_document(feed: int, items: int, version: int) -> bytes:
    rng = random.Random(feed * 7919 + version)
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC) + timedelta(hours=version)
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
        f"<title>Feed {feed}</title><link>https://site{feed}.example.com/</link>",
        "<description>Benchmark feed</description><ttl>15</ttl>",
    ]
    for item in range(items):
        title = sentence(rng, rng.randint(6, 12))[:-1] + f" ({feed}-{version}-{item})"
        published = format_datetime(now - timedelta(minutes=7 * item), usegmt=True)
        parts.append(
            f"<item><title>{title}</title>"
            f"<link>https://site{feed}.example.com/story/{version}/{item}?utm_source=rss</link>"
            f'<guid isPermaLink="false">feed{feed}-v{version}-item{item}</guid>'
            f"<pubDate>{published}</pubDate><category>{rng.choice(WORDS)}</category>"
            f"<description><![CDATA[{summary_html(rng)}]]></description></item>"
        )
    parts.append("</channel></rss>\n")
    return "".join(parts).encode("utf-8")


# -- the server process -----------------------------------------------------------------


def serve(conn: Connection, feeds: int, items: int, hosts: int) -> None:
    """Run the feed server until told to stop; answers commands sent over ``conn``."""
    server = FeedServer(hosts=hosts).start()
    urls = []
    for feed in range(feeds):
        path = f"/feeds/{feed}.xml"
        urls.append(
            server.route(
                path, feed_document(feed, items, 0), host=feed % hosts, gzip=True, etag=f'"{feed}-v0"'
            )
        )
    conn.send(urls)
    while True:
        command, *args = conn.recv()
        if command == "stop":
            break
        if command == "delay":
            server.default_delay = args[0]
        elif command == "change":
            for feed, version in args[0]:
                server.update(
                    f"/feeds/{feed}.xml",
                    body=feed_document(feed, items, version),
                    etag=f'"{feed}-v{version}"',
                )
        elif command == "documents":
            conn.send([server.body(f"/feeds/{feed}.xml") for feed in args[0]])
            continue
        elif command == "requests":
            conn.send(len(server.requests()))
            continue
        conn.send("ok")
    server.stop()
    conn.send("stopped")


class Server:
    def __init__(self, feeds: int, items: int, hosts: int) -> None:
        context = multiprocessing.get_context("fork")
        self._conn, child = context.Pipe()
        self.process = context.Process(target=serve, args=(child, feeds, items, hosts), daemon=True)
        self.process.start()
        self.urls: list[str] = self._conn.recv()

    def call(self, *command: Any) -> Any:
        self._conn.send(command)
        return self._conn.recv()

    def stop(self) -> None:
        self.call("stop")
        self.process.join(timeout=10)


# -- measuring --------------------------------------------------------------------------


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


class Counter:
    """A light on_result: counts what arrives and keeps the validators, like a store would."""

    def __init__(self) -> None:
        self.articles = 0
        self.statuses: dict[str, int] = {}

    def __call__(self, result: FeedResult) -> None:
        self.articles += len(result.articles)
        self.statuses[result.status] = self.statuses.get(result.status, 0) + 1


def poll(requests: list[FeedRequest], settings: FetchSettings) -> tuple[float, list[FeedResult], Counter]:
    counter = Counter()
    elapsed, results = timed(lambda: poll_feeds(requests, settings, on_result=counter))
    return elapsed, results, counter


def with_validators(results: list[FeedResult]) -> list[FeedRequest]:
    return [FeedRequest(r.request.source_name, r.request.url, r.etag, r.last_modified) for r in results]


def vm_peak_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])
            except (OSError, IndexError):
                continue
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found.extend(children)
        frontier.extend(children)
    return found


def mb(kb: float) -> str:
    return f"{kb / 1024:.0f} MB"


def line(label: str, value: str, note: str = "") -> None:
    print(f"  {label:<50} {value:>10}  {note}")


# -- the benchmark ----------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--hosts", type=int, default=100, help="distinct loopback hosts serving the feeds")
    parser.add_argument("--delay", type=float, default=0.2, help="server delay per response in run A (s)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of the repeatable measurements")
    parser.add_argument(
        "--baseline-sample", type=int, default=100, help="feeds in the sequential baseline; 0 = all"
    )
    parser.add_argument("--parse-workers", type=int, default=FetchSettings().parse_workers)
    args = parser.parse_args()

    hosts = max(1, min(args.hosts, args.feeds, 254))
    settings = FetchSettings(parse_workers=args.parse_workers)
    print(f"feeds={args.feeds} items={args.items} hosts={hosts} cores={os.cpu_count()} settings={settings}")
    print("load average at start: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))

    started, server = timed(lambda: Server(args.feeds, args.items, hosts))
    print(f"server ready in {started:.1f} s")
    fresh = [FeedRequest(f"feed-{i}", url) for i, url in enumerate(server.urls)]

    # The parser processes start once per worker lifetime; measured apart from the polls.
    server.call("delay", 0.0)
    startup, _ = timed(lambda: poll_feeds(fresh[:1], settings))
    print(f"parser processes started in {startup:.2f} s (once per worker lifetime, excluded below)")

    print(f"\nRun A: every response delayed {args.delay * 1000:.0f} ms")
    server.call("delay", args.delay)
    first, results, counter = poll(fresh, settings)
    errors = args.feeds - counter.statuses.get("ok", 0)
    line("first full poll", f"{first:.2f} s", f"{counter.articles} articles, {errors} errors")
    stored = with_validators(results)

    unchanged_times = []
    for _ in range(args.repeat):
        elapsed, _, counter = poll(stored, settings)
        unchanged_times.append(elapsed)
    unchanged = statistics.median(unchanged_times)
    line("nothing changed (all 304), median", f"{unchanged:.2f} s", f"{counter.statuses}")

    changed_times = []
    rng = random.Random(5)
    for version in range(1, args.repeat + 1):
        picked = rng.sample(range(args.feeds), max(1, args.feeds // 10))
        server.call("change", [(feed, version) for feed in picked])
        elapsed, results, counter = poll(stored, settings)
        stored = with_validators(results)
        changed_times.append(elapsed)
    changed = statistics.median(changed_times)
    line("10% changed, median", f"{changed:.2f} s", f"{counter.statuses}, {counter.articles} articles")

    print("\nRun B: no delay")
    server.call("delay", 0.0)
    b_times = []
    for _ in range(args.repeat):
        elapsed, _, counter = poll(fresh, settings)
        b_times.append(elapsed)
    b_first = statistics.median(b_times)
    line("first full poll, median", f"{b_first:.2f} s", f"{counter.articles} articles")

    print("\nMemory during the polls")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    parser_pids = [pid for pid in descendants(os.getpid()) if pid != server.process.pid]
    parser_peaks = [vm_peak_kb(pid) for pid in parser_pids]
    line("this process (poller + loop + callback)", mb(own), "peak RSS")
    line(
        "parser processes and their fork server",
        mb(sum(parser_peaks)),
        f"peaks of {len(parser_pids)} processes: " + ", ".join(mb(p) for p in parser_peaks),
    )
    line("total (peaks summed: an upper bound)", mb(own + sum(parser_peaks)), "target <= 300 MB")
    line("server process (the stand-in internet)", mb(vm_peak_kb(server.process.pid or 0)), "not counted")
    shutdown_parsers()

    print("\nBaselines (after the polls, so they do not count towards the memory above)")
    sample = args.feeds if args.baseline_sample <= 0 else min(args.baseline_sample, args.feeds)
    picked_urls = [server.urls[i] for i in random.Random(9).sample(range(args.feeds), sample)]
    server.call("delay", args.delay)
    baseline_sample, entries = timed(lambda: sum(len(feedparser.parse(url).entries) for url in picked_urls))
    assert entries == sample * args.items, f"baseline read {entries} entries"
    baseline = baseline_sample * args.feeds / sample
    how = (
        "measured on all feeds"
        if sample == args.feeds
        else f"extrapolated from {sample} feeds ({baseline_sample:.1f} s)"
    )
    line(f"A: sequential feedparser.parse(url), {args.delay * 1000:.0f} ms", f"{baseline:.1f} s", how)
    documents: list[bytes] = server.call("documents", list(range(args.feeds)))
    size = sum(len(d) for d in documents)
    print(
        f"  ({size / 1e6:.1f} MB of documents, {size / args.feeds / 1024:.0f} KB per feed, gzip on the wire)"
    )

    def parse_all(**options: bool) -> float:
        return timed(lambda: [len(feedparser.parse(d, **options).entries) for d in documents])[0]

    floor_default = statistics.median(parse_all() for _ in range(args.repeat))
    line("B: floor, feedparser.parse(bytes) in one process", f"{floor_default:.2f} s", "feedparser defaults")
    floor_ours = statistics.median(
        parse_all(sanitize_html=False, resolve_relative_uris=False) for _ in range(args.repeat)
    )
    line("B: floor with the options we use", f"{floor_ours:.2f} s", "sanitiser and URI rewriting off")
    server.stop()

    print("\nTargets")
    line("A: first poll speed-up over sequential", f"{baseline / first:.1f}x", "target >= 10x")
    line("A: unchanged poll", f"{unchanged:.2f} s", "target <= 3 s")
    line("B: first poll / floor", f"{b_first / floor_default:.2f}", "target <= 1.5")
    line("B: first poll / floor with our options", f"{b_first / floor_ours:.2f}", "stricter; no target")
    line("peak memory, poller + parsers", mb(own + sum(parser_peaks)), "target <= 300 MB")
    print("load average at end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
