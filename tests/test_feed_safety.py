"""Hostile XML: entity bombs and external entities are refused with time and memory bounded.

Each attack is a fixture under tests/data/feeds/hostile/. The external-entity fixtures point at
a secret file written by the test (file://) or at the local test server (http://); the test
asserts that neither the file's content nor any request to the server shows up.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from feedserver import FIXTURES, FeedServer

from monitor.errors import NotAFeed
from monitor.sources.feed import FeedRequest, FetchSettings, parse_feed, poll_feeds

FETCHED_AT = datetime(2026, 3, 10, tzinfo=UTC)
SECRET = "TOP-SECRET-7f3a9c"
#: Limits far below what the attacks need when they work (GBs and minutes), far above what
#: refusing them costs (a few MB and milliseconds).
MAX_SECONDS = 2.0
MAX_TRACED_BYTES = 20 * 1024 * 1024


@pytest.fixture
def secret_url(tmp_path: Path) -> str:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    return secret.as_uri()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


def hostile(name: str, target: str = "") -> bytes:
    return (FIXTURES / "hostile" / name).read_bytes().replace(b"SECRET_URL", target.encode())


def parse_bounded(document: bytes) -> tuple[NotAFeed | None, str]:
    """Parse in this process under tracemalloc; return the refusal (if any) and all text produced."""
    tracemalloc.start()
    started = time.perf_counter()
    refusal: NotAFeed | None = None
    texts: list[str] = []
    try:
        parsed = parse_feed(
            document,
            {"Content-Type": "application/rss+xml"},
            url="http://x.test/f",
            source_name="s",
            fetched_at=FETCHED_AT,
        )
        texts = [f"{a.title} {a.body}" for a in parsed.articles]
    except NotAFeed as exc:
        refusal = exc
    finally:
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert elapsed < MAX_SECONDS, f"took {elapsed:.2f} s"
    assert peak < MAX_TRACED_BYTES, f"allocated {peak / 1e6:.0f} MB"
    return refusal, " ".join(texts)


@pytest.mark.parametrize(
    ("name", "entity"),
    [
        ("billion-laughs.xml", "'lol'"),
        ("billion-laughs-oneline.xml", "'lol'"),
        ("quadratic.xml", "'a'"),
    ],
)
def test_entity_bombs_are_refused(name: str, entity: str) -> None:
    refusal, _ = parse_bounded(hostile(name))
    assert refusal is not None
    assert str(refusal).startswith("not a feed: the document declares the XML entity " + entity)


@pytest.mark.parametrize("name", ["xxe-file.xml", "xxe-parameter.xml"])
def test_external_file_entities_are_refused_unread(name: str, secret_url: str) -> None:
    refusal, text = parse_bounded(hostile(name, secret_url))
    assert refusal is not None and "external XML entity" in str(refusal)
    assert SECRET not in text


def test_single_character_entities_are_still_allowed() -> None:
    refusal, text = parse_bounded(hostile("safe-entity.xml"))
    assert refusal is None
    assert "Left — right" in text  # the declared characters were expanded


def test_through_the_poller_nothing_is_fetched_or_read(server: FeedServer, secret_url: str) -> None:
    spy = server.route("/entity-target", "SERVER-SIDE-SECRET", content_type="text/plain")
    dtd = server.route("/rss-0.91.dtd", "<!ENTITY x 'y'>", content_type="application/xml-dtd")
    urls = {
        "xxe-http": server.route("/xxe-http.xml", hostile("xxe-file.xml", spy)),
        "xxe-file": server.route("/xxe-file.xml", hostile("xxe-file.xml", secret_url)),
        "param": server.route("/param.xml", hostile("xxe-parameter.xml", spy)),
        "laughs": server.route("/laughs.xml", hostile("billion-laughs.xml")),
        "rss091": server.route(
            "/rss091.xml", (FIXTURES / "rss091.xml").read_bytes().replace(b"DTD_URL", dtd.encode())
        ),
    }
    results = poll_feeds(
        [FeedRequest(name, url) for name, url in urls.items()], FetchSettings(parse_workers=0)
    )
    by_name = {r.request.source_name: r for r in results}
    for name in ("xxe-http", "xxe-file", "param", "laughs"):
        assert by_name[name].status == "error"
        assert by_name[name].error_type == "NotAFeed"
        assert "refused for safety" in (by_name[name].error or "")
    assert by_name["rss091"].status == "ok"
    assert [a.title for a in by_name["rss091"].articles] == ["Old school item"]
    requested = {r.path for r in server.requests()}
    assert "/entity-target" not in requested
    assert "/rss-0.91.dtd" not in requested
    assert all(SECRET not in a.body and SECRET not in a.title for r in results for a in r.articles)


def test_a_gzip_bomb_is_cut_off_at_the_size_limit(server: FeedServer) -> None:
    url = server.route("/bomb.xml", b"\0" * (64 * 1024 * 1024), gzip=True)
    assert len(server.route_for("/bomb.xml").encoded["gzip"]) < 100_000  # type: ignore[union-attr]
    tracemalloc.start()
    (result,) = poll_feeds([FeedRequest("bomb", url)], FetchSettings(max_bytes=1024 * 1024, parse_workers=0))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert result.status == "error"
    assert result.error == "response larger than 1,048,576 bytes; aborted"
    assert peak < 16 * 1024 * 1024
