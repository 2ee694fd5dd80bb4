"""Benchmark of feed polling: the poller alone, and the whole pipeline (prints figures; not a test).

A local server (tests/feedserver.py, in its own process, on N loopback addresses so the
per-host limit behaves as with real sites) serves F feeds of M items each, with 1-2 KB HTML
summaries and distinct titles, gzip-compressed like most real servers.

Mode ``poll``, fetching and parsing alone (``poll_feeds`` with a light ``on_result`` that
counts articles):
  Run A, every response delayed (default 200 ms): the first full poll, a poll where nothing
  changed (all 304 via ETag) and a poll where 10 % of the feeds changed.
  Run B, no delay: the first poll.
Mode ``pipeline``, the whole path a worker takes (``App.poll_feeds(only_due=False)``, as
``monitor once`` does): items stored in a new SQLite database, grouped into stories, matched
against two topics and their alerts queued; validators, health and next poll recorded.
  Run A as above (the 10 % changed poll brings new items, which are stored).
  Run B: the first poll into a fresh database each time.
Both modes compare with the same references:
  * A: a sequential ``feedparser.parse(url)`` loop over the same URLs, timed on a sample and
    extrapolated unless ``--baseline-sample 0`` asks for all of them;
  * B: the floor, feedparser parsing the same documents in one process without any network.

Peak memory: the peak of the summed proportional set size (PSS) of the mode's process and its
feed worker processes (which fetch, parse and prepare), sampled four times a second, so that the
pages the workers share with their fork server count once; ``ru_maxrss`` of the mode's process
plus the peak (VmHWM) of each worker process is printed too, as an upper bound that counts
shared pages again in each. The
server's own process is reported apart, since it stands in for the internet. A worker holds
one pipeline, so each pipeline run's app is closed before the next one starts. With
``--mode all`` (the default) each mode runs in a process of its own, so each peak is its own;
a single ``--mode`` runs in one too (never in the script's own process, which multiprocessing
would import again in every worker).
``--profile`` (pipeline mode) profiles the storing thread during one more run B and says where
its time goes: the store (SQL), the story engine, topic matching; parsing, and the preparation
of each item's text for the story engine and the topics, run in the worker processes. Run B
also reports the storing thread's CPU time, which a busy machine disturbs less than wall time.

    python bench/feeds.py                      # 1,000 feeds x 20 items, both modes
    python bench/feeds.py --mode pipeline --profile
    python bench/feeds.py --feeds 100 --items 5 --repeat 1
"""

from __future__ import annotations

import argparse
import cProfile
import json
import multiprocessing
import os
import pstats
import random
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import feedparser
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from feedserver import FeedServer  # type: ignore[import-not-found,unused-ignore]

from monitor import feedpoll
from monitor.app import App
from monitor.config import load_config
from monitor.polling import PollOutcome
from monitor.sources.feed import FeedRequest, FeedResult, FetchSettings, poll_feeds, shutdown_feed_workers

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

#: The newest item's date in version 0 of every feed: recent, as a live feed's would be, so the
#: story engine sees a realistic window.
NEWEST = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=12)

#: The pipeline's topics: the shipped one (which the generated news never matches) and one the
#: generated news matches now and then, so alerts are planned and written.
TOPICS = [
    {
        "name": "russia-ukraine-talks",
        "query": "(Ukraine OR Ukrainian OR Kyiv OR Kiev OR Zelenskyy) AND (Russia OR Russian OR Kremlin OR "
        'Moscow) AND (talks OR negotiat* OR "peace deal" OR ceasefire OR envoy)',
        "notify": ["console"],
    },
    {"name": "labour", "query": '"strike union" OR "union talks" OR "workers strike"', "notify": ["console"]},
]

#: Targets, from the issue.
TARGET_SPEED_UP = 10.0
TARGET_UNCHANGED_SECONDS = 3.0
TARGET_FLOOR_RATIO = 1.5
TARGET_MEMORY_MB = 300.0


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
    now = NEWEST + timedelta(hours=version)
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
        # A fresh interpreter, not a fork: a forked server would share this process's pages,
        # and their PSS would then be split between the two, understating this one.
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self.process = context.Process(target=serve, args=(child, feeds, items, hosts), daemon=True)
        self.process.start()
        self.urls: list[str] = self._conn.recv()
        # From now on, the memory of everything but this stand-in internet is sampled.
        self.sampler = PssSampler(self.process.pid or 0)

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


def proc_kb(pid: int, file: str, field: str) -> int:
    """A size in kB from a ``/proc/PID`` file (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def vm_peak_kb(pid: int) -> int:
    return proc_kb(pid, "status", "VmHWM:")


def pss_kb(pid: int) -> int:
    """The process's proportional set size now: pages shared with other processes (the worker
    processes share what their fork server imported) count once across them all."""
    return proc_kb(pid, "smaps_rollup", "Pss:")


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


class PssSampler:
    """The peak, over the run, of this process's and its worker processes' summed PSS: the
    memory they occupy together, each page shared between them (what the workers' fork
    server imported) counted once. Sampled every ``interval`` seconds on a thread."""

    def __init__(self, server_pid: int, interval: float = 0.25) -> None:
        self.peak_kb = 0
        self._server_pid, self._interval = server_pid, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="pss-sampler", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            pids = [os.getpid(), *(pid for pid in descendants(os.getpid()) if pid != self._server_pid)]
            self.peak_kb = max(self.peak_kb, sum(map(pss_kb, pids)))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak_kb


def mb(kb: float) -> str:
    return f"{kb / 1024:.0f} MB"


def line(label: str, value: str, note: str = "") -> None:
    print(f"  {label:<50} {value:>10}  {note}")


def peak_memory(server: Server) -> dict[str, float]:
    """Peak memory in MB of this process and of the feed worker processes (the server apart)."""
    peak_pss = server.sampler.stop()
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    parser_pids = [pid for pid in descendants(os.getpid()) if pid != server.process.pid]
    parser_peaks = [vm_peak_kb(pid) for pid in parser_pids]
    total = own + sum(parser_peaks)
    pss_now = sum(pss_kb(pid) for pid in [os.getpid(), *parser_pids])
    line("this process", mb(own), "peak RSS")
    line(
        "worker processes and their fork server",
        mb(sum(parser_peaks)),
        f"peaks of {len(parser_pids)} processes: " + ", ".join(mb(p) for p in parser_peaks),
    )
    line("total (peaks summed: an upper bound)", mb(total), "each process's shared pages counted again")
    line("peak of the summed PSS, shared pages once", mb(peak_pss), f"target <= {TARGET_MEMORY_MB:.0f} MB")
    line("the same processes now, shared pages once (PSS)", mb(pss_now), "after the polls")
    line("server process (the stand-in internet)", mb(vm_peak_kb(server.process.pid or 0)), "not counted")
    return {
        "own_mb": own / 1024,
        "parsers_mb": sum(parser_peaks) / 1024,
        "total_mb": total / 1024,
        "peak_pss_mb": peak_pss / 1024,
        "pss_mb": pss_now / 1024,
    }


def references(args: argparse.Namespace, server: Server) -> dict[str, float]:
    """The sequential baseline of run A and the in-process floor of run B."""
    print("\nReferences (after the polls, so they do not count towards the memory above)")
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
    return {"baseline": baseline, "floor": floor_default, "floor_ours": floor_ours}


def start(args: argparse.Namespace) -> Server:
    print(f"feeds={args.feeds} items={args.items} hosts={hosts_of(args)} cores={os.cpu_count()}")
    print("load average at start: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    started = time.perf_counter()
    server = Server(args.feeds, args.items, hosts_of(args))
    print(f"server ready in {time.perf_counter() - started:.1f} s")
    return server


def hosts_of(args: argparse.Namespace) -> int:
    hosts: int = args.hosts
    feeds: int = args.feeds
    return max(1, min(hosts, feeds, 254))


# -- mode poll: fetching and parsing alone ---------------------------------------------


def run_poll(args: argparse.Namespace) -> dict[str, Any]:
    settings = FetchSettings(parse_workers=args.parse_workers)
    print(f"poll_feeds alone, settings={settings}")
    server = start(args)
    fresh = [FeedRequest(f"feed-{i}", url) for i, url in enumerate(server.urls)]

    # The feed worker processes start once per worker lifetime; measured apart from the polls.
    server.call("delay", 0.0)
    startup, _ = timed(lambda: poll_feeds(fresh[:1], settings))
    print(f"worker processes started in {startup:.2f} s (once per worker lifetime, excluded below)")

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
    memory = peak_memory(server)
    shutdown_feed_workers()
    refs = references(args, server)
    server.stop()
    return {
        "a_first": first,
        "a_unchanged": unchanged,
        "a_changed": changed,
        "b_first": b_first,
        **memory,
        **refs,
    }


# -- mode pipeline: the whole path, store included ---------------------------------------


class PipelineRig:
    """Apps over fresh SQLite databases in a temporary folder, all polling the server's feeds."""

    def __init__(self, urls: list[str], workdir: Path) -> None:
        self.urls = urls
        self.workdir = workdir
        self.apps: list[App] = []

    def fresh_app(self, name: str) -> App:
        config_path = self.workdir / f"{name}.yaml"
        data = {
            "database": f"sqlite:///{self.workdir / name}.db",
            "sources": [{"name": f"feed-{i}", "feed": url, "every": "1h"} for i, url in enumerate(self.urls)],
            "notifiers": {"console": {}},
            "topics": TOPICS,
        }
        config_path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        # App.build creates a new SQLite database's schema, as `monitor once` does.
        app = App.build(load_config(config_path))
        self.apps.append(app)
        return app

    def release(self, app: App) -> None:
        """Close an app whose measurements are done: a worker holds one pipeline, not several."""
        app.close()
        self.apps.remove(app)

    def close(self) -> None:
        for app in self.apps:
            app.close()


@dataclass
class PipelinePoll:
    elapsed: float
    stored: int
    revised: int
    alerts: int
    errors: int
    store_cpu: float  # CPU seconds of the storing thread: steadier than wall time on a busy machine

    def note(self) -> str:
        return f"{self.stored} stored, {self.revised} revised, {self.alerts} alerts, {self.errors} errors"


def poll_pipeline(app: App) -> PipelinePoll:
    store = feedpoll._store_group
    cpu = [0.0]

    def timed_store(*args: Any, **kwargs: Any) -> dict[str, PollOutcome]:
        started = time.thread_time()
        try:
            return store(*args, **kwargs)
        finally:
            cpu[0] += time.thread_time() - started

    feedpoll._store_group = timed_store
    try:
        elapsed, outcomes = timed(lambda: app.poll_feeds(only_due=False))
    finally:
        feedpoll._store_group = store
    reports = [outcome.report for outcome in outcomes]
    return PipelinePoll(
        elapsed,
        sum(r.stored for r in reports),
        sum(r.revised for r in reports),
        sum(r.alerts for r in reports),
        sum(1 for outcome in outcomes if outcome.error),
        cpu[0],
    )


def run_pipeline(args: argparse.Namespace) -> dict[str, Any]:
    print("App.poll_feeds(only_due=False) into SQLite, with the story engine and two topics")
    server = start(args)
    with tempfile.TemporaryDirectory(prefix="feeds-bench-") as workdir:
        rig = PipelineRig(server.urls, Path(workdir))
        try:
            figures = measure_pipeline(args, server, rig)
        finally:
            rig.close()
    refs = references(args, server)
    server.stop()
    return {**figures, **refs}


def measure_pipeline(args: argparse.Namespace, server: Server, rig: PipelineRig) -> dict[str, Any]:
    # Start the feed worker processes (once per worker lifetime) outside the measurements.
    server.call("delay", 0.0)
    startup, _ = timed(lambda: poll_feeds([FeedRequest("warm-up", server.urls[0])]))
    print(f"worker processes started in {startup:.2f} s (once per worker lifetime, excluded below)")

    print(f"\nRun A: every response delayed {args.delay * 1000:.0f} ms")
    server.call("delay", args.delay)
    app = rig.fresh_app("run-a")
    first = poll_pipeline(app)
    line("first full poll", f"{first.elapsed:.2f} s", first.note())
    expected = args.feeds * args.items
    if first.stored != expected or first.errors:
        print(f"  !! expected {expected} stored and no errors")

    unchanged = [poll_pipeline(app) for _ in range(args.repeat)]
    line(
        "nothing changed (all 304), median",
        f"{statistics.median(p.elapsed for p in unchanged):.2f} s",
        unchanged[-1].note(),
    )

    changed = []
    rng = random.Random(5)
    for version in range(1, args.repeat + 1):
        picked = rng.sample(range(args.feeds), max(1, args.feeds // 10))
        server.call("change", [(feed, version) for feed in picked])
        changed.append(poll_pipeline(app))
    line("10% changed, median", f"{statistics.median(p.elapsed for p in changed):.2f} s", changed[-1].note())
    rig.release(app)

    print("\nRun B: no delay, a fresh database each time")
    server.call("delay", 0.0)
    b_runs = []
    for number in range(args.repeat):
        app = rig.fresh_app(f"run-b{number}")
        b_runs.append(poll_pipeline(app))
        rig.release(app)
    b_first = statistics.median(p.elapsed for p in b_runs)
    line("first full poll, median", f"{b_first:.2f} s", b_runs[-1].note())
    per_article = b_first / max(1, b_runs[-1].stored) * 1000
    print(f"  ({per_article:.2f} ms per stored article, everything included)")
    store_cpu = statistics.median(p.store_cpu for p in b_runs)
    line(
        "storing thread CPU, median",
        f"{store_cpu:.2f} s",
        f"{store_cpu / max(1, b_runs[-1].stored) * 1000:.2f} ms per article",
    )

    print("\nMemory during the polls")
    memory = peak_memory(server)

    breakdown: dict[str, float] = {}
    if args.profile:
        breakdown = profile_run_b(rig)
    shutdown_feed_workers()
    return {
        "a_first": first.elapsed,
        "a_unchanged": statistics.median(p.elapsed for p in unchanged),
        "a_changed": statistics.median(p.elapsed for p in changed),
        "b_first": b_first,
        "b_store_cpu": store_cpu,
        "stored": first.stored,
        **memory,
        "profile": breakdown,
    }


#: (label, file suffix, function names): where the storing thread's time goes.
PROFILE_PARTS = [
    ("story engine", "monitor/stories/engine.py", {"assign", "add", "assess_revision", "evict"}),
    ("topic matching and alert planning", "monitor/tracking.py", {"plan_alerts"}),
    ("topic text preparation", "monitor/topics.py", {"of"}),
    ("text hash", "monitor/store/repo.py", {"text_hash"}),
]


def profile_run_b(rig: PipelineRig) -> dict[str, float]:
    """One more run B with the storing thread under cProfile; prints and returns the breakdown."""
    print("\nProfile of the storing thread during one more run B (cProfile slows it down)")
    profiler = cProfile.Profile()
    store = feedpoll._store_group

    def profiled_store(*args: Any, **kwargs: Any) -> dict[str, PollOutcome]:
        profiler.enable()
        try:
            return store(*args, **kwargs)
        finally:
            profiler.disable()

    feedpoll._store_group = profiled_store
    try:
        run = poll_pipeline(rig.fresh_app("run-b-profiled"))
    finally:
        feedpoll._store_group = store
    stats = pstats.Stats(profiler)
    entries = stats.stats  # type: ignore[attr-defined]

    def cumulative(suffix: str, names: set[str]) -> float:
        return float(
            sum(
                value[3]
                for (path, _, name), value in entries.items()
                if path.endswith(suffix) and name in names
            )
        )

    total = cumulative("monitor/feedpoll.py", {"_store_group"})
    # Feeds are stored in groups (ingest_together), or one by one when a group fails (ingest).
    ingest = cumulative("monitor/pipeline.py", {"ingest", "ingest_together"})
    parts = {label: cumulative(suffix, names) for label, suffix, names in PROFILE_PARTS}
    parts["store: SQL and ORM inside the pipeline"] = ingest - sum(parts.values())
    parts["store: validators, health, next poll"] = total - ingest
    line("wall time of the profiled run", f"{run.elapsed:.2f} s", run.note())
    line("storing thread, busy", f"{total:.2f} s", "100 %")
    for label, seconds in parts.items():
        line(f"  {label}", f"{seconds:.2f} s", f"{seconds / total * 100:.0f} %" if total else "")
    print("  top functions by own time:")
    stats.sort_stats("tottime").print_stats(12)
    return {"busy": total, **parts}


# -- all modes, each in its own process ---------------------------------------------------


def _without_mode(argv: list[str]) -> list[str]:
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--mode":
            skip = True
        elif not arg.startswith("--mode="):
            kept.append(arg)
    return kept


def run_all(args: argparse.Namespace, argv: list[str], modes: tuple[str, ...]) -> None:
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="feeds-bench-") as workdir:
        for mode in modes:
            out = Path(workdir) / f"{mode}.json"
            print(f"\n=== mode {mode} ===", flush=True)
            # Run through -c rather than as a script: multiprocessing re-imports a script in every
            # process it starts (this one, with its imports), which the worker's own entry points
            # (`monitor`, `python -m monitor`) do not cost their feed worker processes.
            launcher = (
                f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
                f"sys.argv[1:] = {[*argv, '--mode', mode, '--json', str(out)]!r}; "
                "import feeds; feeds.main()"
            )
            subprocess.run([sys.executable, "-c", launcher], check=True)
            results[mode] = json.loads(out.read_text())
    summary(results, sys.argv[1:])


def summary(results: dict[str, dict[str, Any]], argv: list[str]) -> None:
    print("\n=== Summary ===")
    header = f"  {'measurement':<44} {'poll only':>11} {'pipeline':>11}  target"
    print(header)
    print("  " + "-" * (len(header) - 2))

    def row(label: str, key: str, unit: str, target: str, digits: int = 2) -> None:
        cells = []
        for mode in ("poll", "pipeline"):
            value = results.get(mode, {}).get(key)
            cells.append(f"{value:.{digits}f} {unit}".strip() if value is not None else "-")
        print(f"  {label:<44} {cells[0]:>11} {cells[1]:>11}  {target}")

    for figures in results.values():
        figures["speed_up"] = figures["baseline"] / figures["a_first"]
        figures["floor_ratio"] = figures["b_first"] / figures["floor"]
        figures["floor_ratio_ours"] = figures["b_first"] / figures["floor_ours"]
    row("A: first poll", "a_first", "s", "")
    row("A: sequential feedparser baseline", "baseline", "s", "", 1)
    row("A: speed-up over sequential", "speed_up", "x", f">= {TARGET_SPEED_UP:.0f}x", 1)
    row("A: unchanged poll (all 304)", "a_unchanged", "s", f"<= {TARGET_UNCHANGED_SECONDS:.0f} s")
    row("A: 10% changed poll", "a_changed", "s", "")
    row("B: first poll", "b_first", "s", "")
    row("B: floor (feedparser, one process)", "floor", "s", "")
    row("B: first poll / floor", "floor_ratio", "", f"<= {TARGET_FLOOR_RATIO}")
    row("B: first poll / floor with our options", "floor_ratio_ours", "", "no target")
    row("B: storing thread CPU (pipeline)", "b_store_cpu", "s", "")
    row("peak memory, process + workers (PSS)", "peak_pss_mb", "MB", f"<= {TARGET_MEMORY_MB:.0f} MB", 0)
    row("peak RSS of each process, summed", "total_mb", "MB", "upper bound", 0)
    row("memory after the polls, PSS", "pss_mb", "MB", "shared pages once", 0)
    print("\ncommand: " + shlex.join(["python", "bench/feeds.py", *argv]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=["all", "poll", "pipeline"], default="all")
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--hosts", type=int, default=100, help="distinct loopback hosts serving the feeds")
    parser.add_argument("--delay", type=float, default=0.2, help="server delay per response in run A (s)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of the repeatable measurements")
    parser.add_argument(
        "--baseline-sample", type=int, default=100, help="feeds in the sequential baseline; 0 = all"
    )
    parser.add_argument(
        "--parse-workers", type=int, default=FetchSettings().parse_workers, help="poll mode only"
    )
    parser.add_argument("--profile", action="store_true", help="pipeline mode: profile one more run B")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    argv = sys.argv[1:]
    args = parser.parse_args(argv)

    if __name__ == "__main__" or args.mode == "all":
        # Run as a script: each mode goes through the launcher of run_all (see there).
        modes = ("poll", "pipeline") if args.mode == "all" else (args.mode,)
        run_all(args, _without_mode(argv), modes)
        return
    figures = run_poll(args) if args.mode == "poll" else run_pipeline(args)
    if args.json is not None:
        args.json.write_text(json.dumps(figures))
    else:
        summary({args.mode: figures}, argv)
    print("load average at end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
