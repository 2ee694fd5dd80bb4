"""Feeds through ``monitor once`` and ``monitor sources --json``: hundreds of generated feeds
stored once each, conditional re-polls answered 304, failing feeds with backoff, permanent
redirects and TTLs, all read back from the store."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import feedparser
import pytest
import yaml
from click.testing import CliRunner, Result
from conftest import CONTRACT_TOPIC
from feedserver import FeedServer
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from monitor.app import App
from monitor.cli import admin, inspect, worker  # noqa: F401  (registers the commands)
from monitor.cli.main import cli
from monitor.config import load_config
from monitor.store.tables import AlertRow, ArticleRow, ArticleSourceRow

# --- generated feeds ------------------------------------------------------------------------

WORDS = (
    "government",
    "minister",
    "election",
    "parliament",
    "market",
    "economy",
    "inflation",
    "storm",
    "flood",
    "energy",
    "grid",
    "council",
    "police",
    "court",
    "judge",
    "report",
    "study",
    "hospital",
    "school",
    "university",
    "league",
    "season",
    "company",
    "workers",
    "strike",
    "union",
    "border",
    "summit",
    "officials",
    "coast",
    "island",
    "river",
    "mountain",
    "harbour",
    "bridge",
    "railway",
    "airport",
    "festival",
    "museum",
    "library",
    "farmers",
    "harvest",
    "drought",
    "wildfire",
    "satellite",
)

#: A sentence that makes an item match the contract topic.
TOPICAL = "Ukraine and Russia resumed talks in Geneva on a ceasefire, officials said."

PUBLISHED = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


@dataclass(frozen=True)
class Item:
    guid: str | None
    link: str | None
    title: str
    body: str
    published: datetime = PUBLISHED


def rss(items: list[Item], *, ttl_minutes: int | None = None) -> bytes:
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Feed</title>']
    parts.append("<link>https://example.com/</link><description>d</description>")
    if ttl_minutes is not None:
        parts.append(f"<ttl>{ttl_minutes}</ttl>")
    for item in items:
        parts.append(f"<item><title>{escape(item.title)}</title>")
        if item.link:
            parts.append(f"<link>{escape(item.link)}</link>")
        if item.guid:
            parts.append(f'<guid isPermaLink="false">{escape(item.guid)}</guid>')
        parts.append(f"<pubDate>{format_datetime(item.published, usegmt=True)}</pubDate>")
        parts.append(f"<description>{escape(_paragraphs(item.body))}</description></item>")
    parts.append("</channel></rss>\n")
    return "".join(parts).encode("utf-8")


def atom(items: list[Item]) -> bytes:
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">']
    parts.append("<title>Feed</title><id>urn:feed</id><updated>2026-03-10T12:00:00Z</updated>")
    for item in items:
        parts.append(f"<entry><title>{escape(item.title)}</title><id>{escape(item.guid or '')}</id>")
        if item.link:
            parts.append(f'<link rel="alternate" href="{escape(item.link)}"/>')
        parts.append(f"<updated>{item.published.isoformat()}</updated>")
        parts.append(f'<content type="html">{escape(_paragraphs(item.body))}</content></entry>')
    parts.append("</feed>\n")
    return "".join(parts).encode("utf-8")


def json_feed(items: list[Item]) -> bytes:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Feed",
        "items": [
            {
                "id": item.guid,
                "url": item.link,
                "title": item.title,
                "content_html": _paragraphs(item.body),
                "date_published": item.published.isoformat(),
            }
            for item in items
        ],
    }
    return json.dumps(document).encode("utf-8")


FORMATS: dict[str, tuple[Callable[[list[Item]], bytes], str]] = {
    "rss": (rss, "application/rss+xml; charset=utf-8"),
    "atom": (atom, "application/atom+xml; charset=utf-8"),
    "json": (json_feed, "application/feed+json"),
}


def _paragraphs(body: str) -> str:
    return "".join(f"<p>{escape(line)}</p>" for line in body.split("\n"))


def generated_items(feed: int, count: int, rng: random.Random) -> list[Item]:
    """``count`` items with distinct texts; every 97th feed carries a topical item, and every
    tenth feed lists its first item twice (feeds do), which must be stored once."""
    items = []
    for number in range(count):
        sentences = [
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 14))).capitalize() + "."
            for _ in range(rng.randint(3, 6))
        ]
        sentences.append(f"Report {feed}-{number} ends here.")
        if feed % 97 == 0 and number == 0:
            sentences.insert(0, TOPICAL)
        title = " ".join(rng.choice(WORDS) for _ in range(6)).capitalize() + f" {feed}-{number}"
        body = "\n".join(" ".join(sentences[i : i + 2]) for i in range(0, len(sentences), 2))
        items.append(
            Item(f"feed{feed}-item{number}", f"https://site{feed}.example.com/{number}", title, body)
        )
    if feed % 10 == 0:
        items.append(items[0])
    return items


def distinct_entries(document: bytes) -> int:
    """Distinct entries in a document, counted without our parser: feedparser for XML (which
    does not read JSON Feed), the json module for JSON Feed."""
    if document.lstrip().startswith(b"{"):
        return len({item["id"] for item in json.loads(document)["items"]})
    parsed = feedparser.parse(document)
    assert not parsed.bozo, parsed.bozo_exception
    return len({entry.get("id") or entry.get("link") for entry in parsed.entries})


# --- running the command line -------------------------------------------------------------


def invoke(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), *args])


def run_once(config: Path) -> subprocess.CompletedProcess[str]:
    """``monitor once`` as a real process, as cron or a container would run it."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MONITOR_")}
    command = [sys.executable, "-m", "monitor", "--config", str(config), "once"]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, cwd=config.parent)


def sources_json(config: Path) -> dict[str, dict[str, Any]]:
    result = invoke(config, "sources", "--json")
    assert result.exit_code == 0, result.output
    return {entry["name"]: entry for entry in json.loads(result.stdout)}


def feed_config(
    write_config: Callable[..., Path], directory: Path, sources: list[dict[str, Any]], **more: Any
) -> Path:
    """The standard test config (contract topic, console notifier) with these sources only."""
    path: Path = write_config(directory, sources=sources, **more)
    return path


def counts(config: Path) -> dict[str, int]:
    database = yaml.safe_load(config.read_text(encoding="utf-8"))["database"]
    engine = create_engine(database)
    try:
        with Session(engine) as session:
            return {
                table.__tablename__: session.scalar(select(func.count()).select_from(table)) or 0
                for table in (ArticleRow, ArticleSourceRow, AlertRow)
            }
    finally:
        engine.dispose()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer(hosts=4) as running:
        yield running


# --- hundreds of feeds ------------------------------------------------------------------------

FEED_COUNT = 300
ITEMS_PER_FEED = 10


@pytest.mark.slow
def test_once_stores_every_distinct_entry_of_300_feeds_once_then_polls_conditionally(
    tmp_path: Path, server: FeedServer, write_config: Callable[..., Path]
) -> None:
    rng = random.Random(20260310)
    feeds, expected = [], 0
    last_modified = format_datetime(PUBLISHED, usegmt=True)
    for number in range(FEED_COUNT):
        kind = ("rss", "atom", "json")[number % 3]
        render, content_type = FORMATS[kind]
        document = render(generated_items(number, ITEMS_PER_FEED, rng))
        expected += distinct_entries(document)
        # Validators as servers give them: an ETag, a Last-Modified, or both.
        validators = [
            {"etag": f'"f{number}"'},
            {"last_modified": last_modified},
            {"etag": f'"f{number}"', "last_modified": last_modified},
        ][(number // 3) % 3]
        url = server.route(
            f"/{number}.{kind}", document, host=number % 4, content_type=content_type, gzip=True, **validators
        )
        feeds.append({"name": f"feed-{number:03d}", "feed": url, "every": "10m"})
    config = feed_config(write_config, tmp_path, feeds)

    first = run_once(config)

    assert first.returncode == 0, first.stderr[-3000:]
    assert "Traceback" not in first.stderr
    assert expected == FEED_COUNT * ITEMS_PER_FEED  # the listed-twice items count once
    stored = counts(config)
    assert stored["articles"] == expected
    assert stored["article_sources"] == expected
    assert stored["alerts"] >= 1, "the topical items alert"
    assert f"[{CONTRACT_TOPIC}] NEW STORY" in first.stdout
    server_paths = [request.path for request in server.requests()]
    assert len(set(server_paths)) == len(server_paths) == FEED_COUNT
    health = sources_json(config)
    assert all(entry["status"] == "ok" and entry["last_error"] is None for entry in health.values())

    server.clear_requests()
    second = run_once(config)

    assert second.returncode == 0, second.stderr[-3000:]
    assert "Traceback" not in second.stderr
    assert second.stdout == "", "nothing new, so no alert"
    assert counts(config) == stored
    requests = server.requests()
    assert sorted(request.path for request in requests) == sorted(server_paths)
    for request in requests:
        route = server.route_for(request.path)
        assert route is not None
        # The stored validators went back, so the server answered 304 to every feed.
        if route.etag:
            assert request.headers.get("if-none-match") == route.etag, request.path
        else:
            assert request.headers.get("if-modified-since") == route.last_modified, request.path
    health = sources_json(config)
    assert all(entry["status"] == "ok" and entry["consecutive_failures"] == 0 for entry in health.values())


# --- failing feeds ------------------------------------------------------------------------------


def _wait(entry: dict[str, Any]) -> timedelta:
    """How long after its last attempt a source is next polled."""
    return datetime.fromisoformat(entry["next_poll"]) - datetime.fromisoformat(entry["last_attempt"])


def _one_item(number: int) -> bytes:
    return rss(generated_items(number, 1, random.Random(number))[:1])


def test_a_failing_feed_backs_off_further_each_time_and_recovers(
    tmp_path: Path, server: FeedServer, write_config: Callable[..., Path]
) -> None:
    server.route("/good.xml", _one_item(1))
    feeds = [
        {"name": "flaky", "feed": server.url("/flaky.xml"), "every": "1m"},
        {"name": "good", "feed": server.url("/good.xml"), "every": "1m"},
    ]
    config = feed_config(write_config, tmp_path, feeds, feeds={"timeout": "1s", "connect_timeout": "1s"})
    failures: list[tuple[dict[str, Any], str]] = [
        ({"body": b"missing", "status": 404}, "HTTP 404"),
        ({"body": b"oops", "status": 500}, "HTTP 500"),
        ({"body": _one_item(2), "delay": 3.0}, "timed out after 1 s"),
    ]
    waits = []
    for count, (route, error) in enumerate(failures, start=1):
        server.route("/flaky.xml", content_type="text/plain", **route)

        result = invoke(config, "once")

        assert result.exit_code == 1, result.output
        assert f"monitor: flaky: {error}" in result.stderr
        health = sources_json(config)
        flaky = health["flaky"]
        assert (flaky["status"], flaky["consecutive_failures"]) == ("failing", count)
        assert error in flaky["last_error"]
        assert datetime.fromisoformat(flaky["next_poll"]) > datetime.now(UTC)
        waits.append(_wait(flaky))
        assert (health["good"]["status"], health["good"]["consecutive_failures"]) == ("ok", 0)
    assert timedelta(minutes=1) <= waits[0] < waits[1] < waits[2] <= timedelta(minutes=8)

    server.route("/flaky.xml", _one_item(3))
    result = invoke(config, "once")

    assert result.exit_code == 0, result.output
    flaky = sources_json(config)["flaky"]
    assert (flaky["status"], flaky["consecutive_failures"], flaky["last_error"]) == ("ok", 0, None)
    assert flaky["last_success"] == flaky["last_attempt"]
    assert timedelta(seconds=54) <= _wait(flaky) <= timedelta(seconds=66)
    assert counts(config)["articles"] == 2


def test_sources_says_in_words_when_each_source_last_worked_and_what_went_wrong(
    tmp_path: Path, server: FeedServer, write_config: Callable[..., Path]
) -> None:
    server.route("/gone.xml", b"oops", status=500, content_type="text/plain")
    inbox = tmp_path / "inbox"
    sources = [
        {"name": "inbox", "folder": str(inbox), "every": "1m"},
        {"name": "wire", "feed": server.url("/gone.xml"), "every": "1m"},
    ]
    config = feed_config(write_config, tmp_path, sources)
    (inbox / "empty.txt").write_bytes(b"")
    assert invoke(config, "once").exit_code == 1
    health = sources_json(config)

    result = invoke(config, "sources")

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["inbox", "folder", "ok", str(inbox)]
    success = datetime.fromisoformat(health["inbox"]["last_success"]).astimezone(UTC)
    next_poll = datetime.fromisoformat(health["inbox"]["next_poll"]).astimezone(UTC)
    assert lines[1] == (
        f"    last success {success:%Y-%m-%d %H:%M:%S} UTC; next poll {next_poll:%Y-%m-%d %H:%M:%S} UTC"
        "; 1 rejected file"
    )
    assert lines[2].split()[:3] == ["wire", "feed", "failing"]
    assert lines[3].startswith("    last success never; next poll 20")
    assert lines[3].endswith(f"; 1 failure: {health['wire']['last_error']}") and "HTTP 500" in lines[3]


def test_gone_and_rate_limited_feeds_are_recorded_and_retry_after_is_honoured(
    tmp_path: Path, server: FeedServer, write_config: Callable[..., Path]
) -> None:
    server.route("/gone.xml", b"gone", status=410, content_type="text/plain")
    server.route("/busy.xml", b"slow down", status=429, content_type="text/plain", retry_after="120")
    feeds = [
        {"name": "gone", "feed": server.url("/gone.xml"), "every": "10s"},
        {"name": "busy", "feed": server.url("/busy.xml"), "every": "10s"},
    ]
    config = feed_config(write_config, tmp_path, feeds)

    result = invoke(config, "once")

    assert result.exit_code == 1
    health = sources_json(config)
    assert (health["gone"]["status"], health["gone"]["consecutive_failures"]) == ("failing", 1)
    assert "HTTP 410" in health["gone"]["last_error"]
    assert timedelta(seconds=10) <= _wait(health["gone"]) <= timedelta(seconds=20)
    assert "HTTP 429" in health["busy"]["last_error"]
    # Without Retry-After the first retry would come within 20 s.
    assert _wait(health["busy"]) >= timedelta(seconds=120)
    assert datetime.fromisoformat(health["busy"]["next_poll"]) >= datetime.now(UTC) + timedelta(seconds=110)


# --- redirects and polling intervals --------------------------------------------------------------


def test_a_permanent_redirect_moves_the_stored_location_until_the_config_changes(
    tmp_path: Path, server: FeedServer, write_config: Callable[..., Path]
) -> None:
    new = server.route("/new.xml", _one_item(1), etag='"n1"')
    server.route("/old.xml", status=301, redirect_to=new)
    server.route("/hop.xml", status=302, redirect_to=server.route("/elsewhere.xml", _one_item(4)))
    feeds: list[dict[str, Any]] = [
        {"name": "moved", "feed": server.url("/old.xml")},
        {"name": "hopping", "feed": server.url("/hop.xml")},
    ]
    config = feed_config(write_config, tmp_path, feeds)

    first = invoke(config, "once")

    assert first.exit_code == 0, first.output
    assert f"moved moved permanently: {server.url('/old.xml')} -> {new}" in first.stderr
    health = sources_json(config)
    assert health["moved"]["location"] == new
    assert health["hopping"]["location"] == server.url("/hop.xml"), "a temporary redirect is not for good"

    server.clear_requests()
    assert invoke(config, "once").exit_code == 0
    assert [(r.path, r.headers.get("if-none-match")) for r in server.requests("/new.xml")] == [
        ("/new.xml", '"n1"')
    ]
    assert not server.requests("/old.xml")
    assert len(server.requests("/hop.xml")) == 1

    # The config changing later wins over the redirect.
    other = server.route("/other.xml", _one_item(2))
    feeds[0]["feed"] = other
    config = feed_config(write_config, tmp_path, feeds)
    server.clear_requests()

    third = invoke(config, "once")

    assert third.exit_code == 0, third.output
    assert sources_json(config)["moved"]["location"] == other
    (request,) = server.requests("/other.xml")
    assert "if-none-match" not in request.headers, "validators of the old URL are not sent to the new one"
    assert counts(config)["articles"] == 3


def test_ttl_and_max_age_push_the_next_poll_beyond_every_unless_told_not_to(
    tmp_path: Path, server: FeedServer, write_config: Callable[..., Path]
) -> None:
    rng = random.Random(6)
    server.route("/ttl.xml", rss(generated_items(1, 2, rng), ttl_minutes=30))
    server.route("/max-age.xml", rss(generated_items(2, 2, rng)), headers={"Cache-Control": "max-age=7200"})
    server.route("/ignored.xml", rss(generated_items(3, 2, rng), ttl_minutes=30))
    feeds: list[dict[str, Any]] = [
        {"name": "ttl", "feed": server.url("/ttl.xml"), "every": "1m"},
        {"name": "max-age", "feed": server.url("/max-age.xml"), "every": "1m"},
        {"name": "ignored", "feed": server.url("/ignored.xml"), "every": "1m", "respect_ttl": False},
    ]
    config = feed_config(write_config, tmp_path, feeds)

    assert invoke(config, "once").exit_code == 0

    health = sources_json(config)
    # Each wait carries +-10 % jitter.
    assert timedelta(minutes=27) <= _wait(health["ttl"]) <= timedelta(minutes=33)
    assert timedelta(minutes=108) <= _wait(health["max-age"]) <= timedelta(minutes=132)
    assert timedelta(seconds=54) <= _wait(health["ignored"]) <= timedelta(seconds=66)
    # Two minutes on, the daemon polls only the feed that ignores its TTL.
    later = datetime.now(UTC) + timedelta(minutes=2)
    app = App.build(load_config(config), clock=lambda: later)
    try:
        assert [outcome.source for outcome in app.poll_feeds(only_due=True)] == ["ignored"]
    finally:
        app.close()
