"""Several ``monitor run`` processes on one PostgreSQL database share the work without
repeating it: a shared drop folder's stories alert once, feeds are fetched once per interval
and taken over when a worker is killed, two reports of one event arriving at two workers at
once make one story, SIGTERM stops each worker cleanly, and /healthz and /metrics answer."""

from __future__ import annotations

import re
import signal
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from coined import distinct_article, distinct_event
from conftest import CONTRACT_QUERY, CONTRACT_TOPIC, SEED_FIRST, SEED_UPDATE, SEEDS_DIR
from feedserver import FeedServer
from slackapi import SlackAPI
from sqlalchemy import func, select
from workerproc import WorkerProcess, drop, free_port, wait_until

from monitor.store import db
from monitor.store.tables import AlertRow, ArticleRow, ArticleSourceRow, SourceRow, StoryRow

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

#: The only word the scale-out topic asks for; every generated on-topic article carries it.
MARKER = "lighthouse"
TOPIC = "lighthouse-openings"
CHANNEL = "news-alerts"
ALERT_HEADING = re.compile(r"^\[(?P<topic>[^\]]+)\] NEW STORY #(?P<story>\d+): ")


@pytest.fixture
def upgraded_postgres(postgres_url: str) -> str:
    """A fresh PostgreSQL schema brought up to date, as `monitor db upgrade` does."""
    engine = db.create_db_engine(postgres_url)
    try:
        db.upgrade(engine)
    finally:
        engine.dispose()
    return postgres_url


@pytest.fixture
def start_worker() -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(config: Path, *extra: str) -> WorkerProcess:
        worker = WorkerProcess(config, *extra)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def wait_running(*workers: WorkerProcess) -> None:
    for worker in workers:
        assert worker.wait_for(worker.stderr, "monitor running", timeout=20), worker.log()


def stop_cleanly(*workers: WorkerProcess) -> None:
    """SIGTERM every worker at once; each must exit 0 within 10 s."""
    started = time.monotonic()
    for worker in workers:
        worker.send(signal.SIGTERM)
    for worker in workers:
        code = worker.wait(timeout=max(0.1, 10 - (time.monotonic() - started)))
        assert code == 0, worker.log()
        assert any("monitor stopped" in line for line in worker.stderr), worker.log()
    assert time.monotonic() - started < 10


def console_alerts(*workers: WorkerProcess) -> Counter[str]:
    """Origin of every console new-story alert printed by the workers, with how often."""
    origins: Counter[str] = Counter()
    for worker in workers:
        lines = list(worker.stdout)
        for heading, detail in pairwise(lines):
            if ALERT_HEADING.match(heading):
                origins[detail.rstrip("\n").rsplit(" · ", 1)[-1]] += 1
    return origins


def no_tracebacks(*workers: WorkerProcess) -> None:
    for worker in workers:
        assert "Traceback" not in worker.log(), worker.log()


class Store:
    """Read-only questions to the shared database."""

    def __init__(self, url: str) -> None:
        self.engine = db.create_db_engine(url)

    def close(self) -> None:
        self.engine.dispose()

    def alerts(self) -> list[tuple[int, str, str]]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(AlertRow.story_id, AlertRow.kind, AlertRow.status)).all()
        return [(story_id, str(kind), str(status)) for story_id, kind, status in rows]

    def articles(self) -> list[tuple[int, int | None, str | None, str]]:
        """(article id, story id, role, title) of every stored article."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(ArticleRow.id, ArticleRow.story_id, ArticleRow.role, ArticleRow.title).order_by(
                    ArticleRow.id
                )
            ).all()
        return [(row[0], row[1], None if row[2] is None else str(row[2]), row[3]) for row in rows]

    def count(self, table: Any) -> int:
        with self.engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(table)) or 0)

    def leases(self) -> dict[str, str | None]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(SourceRow.name, SourceRow.lease_owner)).all()
        return {name: owner for name, owner in rows}

    def all_sent(self, expected: int) -> bool:
        statuses = [status for _story, _kind, status in self.alerts()]
        return len(statuses) == expected and set(statuses) == {"sent"}


@pytest.fixture
def store(upgraded_postgres: str) -> Iterator[Store]:
    opened = Store(upgraded_postgres)
    yield opened
    opened.close()


# --- a. two workers, one database, one shared drop folder -------------------------------


def test_two_workers_on_one_drop_folder_alert_each_story_once_in_slack(
    tmp_path: Path, upgraded_postgres: str, store: Store, start_worker: Callable[..., WorkerProcess]
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with SlackAPI(channels=[CHANNEL]) as slack:
        config = write_yaml(
            tmp_path / "monitor.yaml",
            {
                "database": upgraded_postgres,
                "sources": [{"name": "inbox", "folder": str(inbox), "every": "2s"}],
                "notifiers": {
                    "slack": {"token": slack.token, "channel": f"#{CHANNEL}", "api_url": slack.url}
                },
                "topics": [{"name": TOPIC, "query": MARKER, "notify": ["slack"]}],
                "delivery": {"every": "1s"},
                "lease": "5s",
            },
        )
        workers = [start_worker(config), start_worker(config)]
        wait_running(*workers)

        events = range(12)
        titles = {distinct_event(event, marker=MARKER)[0] for event in events}
        for event in events:
            drop(inbox, f"{event:03d}_event.txt", distinct_article(event, marker=MARKER))
            time.sleep(0.05)

        def roots() -> list[dict[str, Any]]:
            return [message for message in slack.messages(CHANNEL) if not message.get("thread_ts")]

        assert wait_until(lambda: len(roots()) >= len(titles) and store.all_sent(len(titles)), timeout=60), (
            f"{len(roots())} Slack posts, alerts {store.alerts()}\n" + "\n".join(w.log() for w in workers)
        )
        time.sleep(3)  # a few more polls and delivery passes on both workers: nothing more may come
        posted = [message["text"] for message in roots()]
        stop_cleanly(*workers)

    # Each story's alert arrived exactly once, and every one of them arrived.
    assert len(posted) == len(titles), posted
    assert {title for title in titles if any(title in text for text in posted)} == titles
    # Each file made one article, and each article opened its own story (none split, none joined).
    articles = store.articles()
    assert sorted(title for _id, _story, _role, title in articles) == sorted(titles)
    assert len({story for _id, story, _role, _title in articles}) == len(titles) == store.count(StoryRow)
    assert store.count(ArticleSourceRow) == len(titles)
    assert sorted(kind for _story, kind, _status in store.alerts()) == ["new_story"] * len(titles)
    no_tracebacks(*workers)


# --- b. three workers share 30 feeds; a killed worker's feeds and alerts move on ----------


class Feeds:
    """30 feeds on a local server; each item is an on-topic event of its own."""

    def __init__(self, server: FeedServer, count: int) -> None:
        self.server = server
        self.items: dict[str, list[str]] = {f"/feeds/{number}.xml": [] for number in range(count)}
        self.links: list[str] = []
        self.urls = {path: server.route(path, b"", etag=None) for path in self.items}
        self._events = 0
        for path in self.items:
            self.add(path)

    def add(self, path: str) -> str:
        """Publish a new on-topic item in the feed at ``path``; returns its link."""
        self._events += 1
        title, body = distinct_event(1000 + self._events, marker=MARKER)
        link = f"https://news.example.com/{path.strip('/').replace('/', '-')}/{self._events}"
        published = format_datetime(datetime.now(UTC), usegmt=True)
        self.items[path].insert(
            0,
            f"<item><title>{escape(title)}</title><link>{link}</link><guid>{link}</guid>"
            f"<pubDate>{published}</pubDate><description>{escape(body)}</description></item>",
        )
        document = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed</title>'
            "<link>https://news.example.com/</link><description>d</description>"
            + "".join(self.items[path])
            + "</channel></rss>"
        )
        self.server.update(path, body=document.encode("utf-8"))
        self.links.append(link)
        return link


def fetch_times(server: FeedServer) -> dict[str, list[float]]:
    times: dict[str, list[float]] = defaultdict(list)
    for request in server.requests():
        times[request.path].append(request.at)
    return {path: sorted(at) for path, at in times.items()}


def closest_fetches(server: FeedServer) -> tuple[float, str]:
    """The shortest time between two fetches of one feed, and that feed."""
    gaps = [
        (later - earlier, path) for path, at in fetch_times(server).items() for earlier, later in pairwise(at)
    ]
    return min(gaps) if gaps else (float("inf"), "")


def test_three_workers_fetch_each_feed_once_per_interval_and_take_over_a_killed_worker(
    tmp_path: Path, upgraded_postgres: str, store: Store, start_worker: Callable[..., WorkerProcess]
) -> None:
    every = 2.0
    with FeedServer(delay=0.05) as server:
        feeds = Feeds(server, 30)
        config = write_yaml(
            tmp_path / "monitor.yaml",
            {
                "database": upgraded_postgres,
                "sources": [
                    {"name": f"feed-{path}", "feed": url, "every": f"{every:g}s", "respect_ttl": False}
                    for path, url in feeds.urls.items()
                ],
                "notifiers": {"console": {}},
                "topics": [{"name": TOPIC, "query": MARKER, "notify": ["console"]}],
                "feeds": {"dispatch_every": "200ms", "first_poll_spread": "2s"},
                "delivery": {"every": "500ms"},
                "lease": "3s",
            },
        )
        workers = [start_worker(config) for _ in range(3)]
        wait_running(*workers)

        # A few intervals with news arriving in a third of the feeds each second, while the
        # leases taken are watched to see who polls what.
        owners: set[str] = set()
        watching = threading.Event()
        watching.set()

        def watch_leases() -> None:
            while watching.is_set():
                owners.update(owner for owner in store.leases().values() if owner)
                time.sleep(0.05)

        watcher = threading.Thread(target=watch_leases, daemon=True)
        watcher.start()
        paths = list(feeds.items)
        for second in range(8):
            for path in paths[second % 3 :: 3]:
                feeds.add(path)
            time.sleep(1)
        watching.clear()
        watcher.join()
        assert wait_until(lambda: set(console_alerts(*workers)) >= set(feeds.links), timeout=30), set(
            feeds.links
        ) - set(console_alerts(*workers))
        gap, path = closest_fetches(server)
        assert gap >= every * 0.9 - 0.05, f"{path} fetched twice {gap:.2f}s apart"
        assert max(console_alerts(*workers).values()) == 1
        # The work is shared: every worker polled feeds.
        assert {owner.rsplit(":", 1)[1] for owner in owners} == {str(worker.pid) for worker in workers}

        # Kill one worker while it holds feeds: slow answers keep its fetches in flight.
        server.default_delay = 1.0
        for path in paths:
            feeds.add(path)
        victim = workers[0]

        def held_by_victim() -> set[str]:
            return {
                name for name, owner in store.leases().items() if owner and owner.endswith(f":{victim.pid}")
            }

        held: set[str] = set()

        def victim_holds_feeds() -> bool:
            held.update(held_by_victim())
            return bool(held)

        assert wait_until(victim_holds_feeds, timeout=15, every=0.02)
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(timeout=10)
        killed_at = time.time()
        server.default_delay = 0.05
        for path in paths[::2]:
            feeds.add(path)
        survivors = workers[1:]

        # Once the leases expire, the survivors take over: every item alerts, each only once.
        assert wait_until(lambda: set(console_alerts(*workers)) >= set(feeds.links), timeout=45), (
            f"missing {sorted(set(feeds.links) - set(console_alerts(*workers)))}; held by the victim: {held}"
        )
        assert wait_until(lambda: store.all_sent(len(feeds.links)), timeout=20), store.alerts()
        time.sleep(2)
        alerted = console_alerts(*workers)
        assert set(alerted) == set(feeds.links)
        assert [origin for origin, times in alerted.items() if times > 1] == []
        assert all(any(at > killed_at for at in fetch_times(server)[path]) for path in paths)
        gap, path = closest_fetches(server)
        assert gap >= every * 0.9 - 0.05, f"{path} fetched twice {gap:.2f}s apart"
        assert store.count(ArticleRow) == len(feeds.links)
        stop_cleanly(*survivors)
    no_tracebacks(*survivors)


# --- c. two reports of one event at two workers at the same moment -----------------------


@pytest.mark.parametrize("head_start", [0.0, 1.5], ids=["at-once", "update-report-first"])
def test_two_reports_of_one_event_at_two_workers_make_one_story(
    head_start: float,
    tmp_path: Path,
    upgraded_postgres: str,
    store: Store,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    """Seed 000 (dated) reaches one worker and seed 002 (undated) the other, at the same moment,
    or 002 a little earlier: either way the second report joins the first one's story."""
    workers = []
    inboxes = []
    for name in ("east", "west"):
        inbox = tmp_path / name / "inbox"
        inbox.mkdir(parents=True)
        inboxes.append(inbox)
        config = write_yaml(
            tmp_path / name / "monitor.yaml",
            {
                "database": upgraded_postgres,
                "sources": [{"name": f"{name}-inbox", "folder": str(inbox), "every": "30s"}],
                "notifiers": {"console": {}},
                "topics": [{"name": CONTRACT_TOPIC, "query": CONTRACT_QUERY, "notify": ["console"]}],
                "delivery": {"every": "1s"},
            },
        )
        workers.append(start_worker(config))
    wait_running(*workers)
    time.sleep(1)  # both have scanned their empty folder and wait for events

    barrier = threading.Barrier(2)

    def drop_seed(inbox: Path, seed: str, delay: float) -> None:
        text = (SEEDS_DIR / seed).read_text(encoding="utf-8")
        barrier.wait()
        time.sleep(delay)
        drop(inbox, seed, text)

    droppers = [
        threading.Thread(target=drop_seed, args=(inboxes[0], SEED_FIRST, head_start)),
        threading.Thread(target=drop_seed, args=(inboxes[1], SEED_UPDATE, 0.0)),
    ]
    for dropper in droppers:
        dropper.start()
    for dropper in droppers:
        dropper.join()

    assert wait_until(lambda: store.count(ArticleRow) == 2 and store.all_sent(2), timeout=30), (
        store.articles(),
        store.alerts(),
    )
    articles = store.articles()
    assert len({story for _id, story, _role, _title in articles}) == 1, [
        articles,
        *(worker.log() for worker in workers),
    ]
    assert store.count(StoryRow) == 1
    assert sorted(role or "" for _id, _story, role, _title in articles) == ["first", "update"]
    assert sorted(kind for _story, kind, _status in store.alerts()) == ["new_story", "update"]
    printed = "".join(line for worker in workers for line in worker.stdout)
    assert printed.count("NEW STORY #") == 1 and printed.count("UPDATE to story #") == 1, printed
    if head_start:
        assert articles[0][3].startswith("Ukrainian and Russian")  # 002 was stored first
    stop_cleanly(*workers)
    no_tracebacks(*workers)


# --- e. health and metrics over HTTP ------------------------------------------------------


def test_a_worker_serves_healthz_and_metrics_on_the_port_it_is_given(
    tmp_path: Path, upgraded_postgres: str, start_worker: Callable[..., WorkerProcess]
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    drop(inbox, "000_event.txt", distinct_article(0, marker=MARKER))
    config = write_yaml(
        tmp_path / "monitor.yaml",
        {
            "database": upgraded_postgres,
            "sources": [{"name": "inbox", "folder": str(inbox), "every": "1s"}],
            "notifiers": {"console": {}},
            "topics": [{"name": TOPIC, "query": MARKER, "notify": ["console"]}],
            "delivery": {"every": "1s"},
        },
    )
    port = free_port()
    worker = start_worker(config, "--http", f"127.0.0.1:{port}")
    wait_running(worker)
    assert worker.wait_for(worker.stderr, f"http://127.0.0.1:{port}/healthz", timeout=10), worker.log()
    assert worker.wait_for(worker.stdout, "NEW STORY #", timeout=20), worker.log()

    health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)

    assert health.status_code == 200, health.text
    assert health.json()["status"] == "ok"
    assert metrics.status_code == 200
    series = {
        line.split("{")[0].split(" ")[0] for line in metrics.text.splitlines() if line.startswith("monitor_")
    }
    assert {"monitor_articles_ingested_total", "monitor_store_up"} <= series, sorted(series)
    assert re.search(
        r'^monitor_articles_ingested_total\{[^}]*source="inbox"[^}]*\} 1\.0$', metrics.text, re.M
    ), metrics.text
    stop_cleanly(worker)
