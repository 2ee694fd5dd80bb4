"""Fetching feeds over HTTP through poll_feeds, against the local server in tests/feedserver.py.

Covers compression, conditional requests, redirects, HTTP errors, Retry-After, timeouts,
size limits and the charset the server declares.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from feedserver import FeedServer, fixture

from monitor import __version__
from monitor.errors import FetchError
from monitor.sources.feed import USER_AGENT, FeedRequest, FeedResult, FetchSettings, poll_feeds
from monitor.sources.feed.decompress import BodyTooLarge, BoundedDecoder

INLINE = FetchSettings(parse_workers=0)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


def poll_one(
    url: str, settings: FetchSettings = INLINE, *, etag: str | None = None, last_modified: str | None = None
) -> FeedResult:
    (result,) = poll_feeds([FeedRequest("src", url, etag, last_modified)], settings)
    return result


def titles(result: FeedResult) -> list[str]:
    return [a.title for a in result.articles]


RSS_TITLES = [
    "Floods close roads in the north & east",
    "Markets rally after rate decision",
    "Item with a link but no guid",
    "Item with neither guid nor link",
    "Shared guid, first story",
    "Shared guid, second story",
]


def test_plain_fetch_sends_a_descriptive_user_agent(server: FeedServer) -> None:
    url = server.serve_fixture("/rss.xml", "rss2.xml")
    result = poll_one(url)
    assert result.status == "ok"
    assert titles(result) == RSS_TITLES
    assert result.article_count == 6
    assert result.http_status == 200
    assert result.notes == ("1 duplicate item(s) skipped",)
    (request,) = server.requests("/rss.xml")
    assert request.headers["user-agent"] == USER_AGENT
    assert USER_AGENT.startswith(f"monitor/{__version__} (+https://")
    assert "gzip" in request.headers["accept-encoding"]
    assert "application/rss+xml" in request.headers["accept"]
    assert "if-none-match" not in request.headers


def test_relative_links_resolve_against_the_feed_address(server: FeedServer) -> None:
    url = server.serve_fixture("/feeds/world/rss.xml", "rss2.xml")
    result = poll_one(url)
    assert result.articles[1].url == url.replace("/feeds/world/rss.xml", "/business/markets-rally")


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_compressed_responses(server: FeedServer, coding: str) -> None:
    url = server.serve_fixture("/z.xml", "atom.xml", content_type="application/atom+xml", **{coding: True})
    result = poll_one(url)
    assert result.status == "ok"
    assert titles(result) == ["Release 2.0 is out", "Plain text title with a <tag>"]


def test_corrupt_gzip_is_a_fetch_error(server: FeedServer) -> None:
    url = server.route("/bad.xml", b"\x1f\x8b\x08\x00garbage", headers={"Content-Encoding": "gzip"})
    result = poll_one(url)
    assert result.status == "error"
    assert (result.error or "").startswith("corrupt gzip response body")


def test_a_gzip_body_of_several_members_is_read_whole(server: FeedServer) -> None:
    """Concatenated gzip members are one body (RFC 1952); stopping at the first loses items."""
    document = fixture("rss2.xml")
    cut = len(document) // 2
    members = gzip.compress(document[:cut], mtime=0) + gzip.compress(document[cut:], mtime=0)
    url = server.route("/members.xml", members, headers={"Content-Encoding": "gzip"})
    assert titles(poll_one(url)) == RSS_TITLES


@pytest.mark.parametrize("chunk_size", [1, 7, 4096])
def test_gzip_members_decode_across_any_chunking(chunk_size: int) -> None:
    body = b"first member. " * 50 + b"second member." * 50
    encoded = gzip.compress(body[:700], mtime=0) + gzip.compress(body[700:], mtime=0) + b"\0" * 8
    decoder = BoundedDecoder("gzip", limit=len(body))
    chunks = [encoded[start : start + chunk_size] for start in range(0, len(encoded), chunk_size)]
    assert b"".join(decoder.feed(chunk) for chunk in chunks) + decoder.flush() == body


def test_the_size_limit_counts_every_gzip_member() -> None:
    encoded = gzip.compress(b"a" * 600, mtime=0) + gzip.compress(b"b" * 600, mtime=0)
    with pytest.raises(BodyTooLarge):
        BoundedDecoder("gzip", limit=1000).feed(encoded)


def test_a_cut_off_second_gzip_member_is_corrupt() -> None:
    encoded = gzip.compress(b"a" * 600, mtime=0) + gzip.compress(b"b" * 600, mtime=0)[:-6]
    decoder = BoundedDecoder("gzip", limit=10_000)
    assert decoder.feed(encoded).startswith(b"a" * 600)
    with pytest.raises(FetchError, match="truncated"):
        decoder.flush()


def test_empty_compressed_answers_are_not_corrupt(server: FeedServer) -> None:
    """Servers repeat Content-Encoding on a 304 or an empty 200; no body is no damage."""
    url = server.serve_fixture("/e.xml", "rss2.xml", etag='"e"', headers={"Content-Encoding": "gzip"})
    assert poll_one(url, etag='"e"').status == "not_modified"
    empty = server.route("/empty.xml", b"", headers={"Content-Encoding": "gzip"})
    assert poll_one(empty).error == "not a feed: the response is empty"


def test_conditional_get_by_etag_and_last_modified(server: FeedServer) -> None:
    modified = "Tue, 03 Mar 2026 10:00:00 GMT"
    url = server.serve_fixture("/c.xml", "rss2.xml", etag='"v1"', last_modified=modified)
    first = poll_one(url)
    assert (first.status, first.etag, first.last_modified) == ("ok", '"v1"', modified)
    second = poll_one(url, etag=first.etag, last_modified=first.last_modified)
    assert second.status == "not_modified"
    assert (second.http_status, second.articles, second.etag, second.last_modified) == (
        304,
        (),
        '"v1"',
        modified,
    )
    sent = server.requests("/c.xml")[1].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == modified
    server.update("/c.xml", body=fixture("atom.xml"), etag='"v2"')
    third = poll_one(url, etag=second.etag, last_modified=second.last_modified)
    assert third.status == "ok" and third.etag == '"v2"'
    assert titles(third)[0] == "Release 2.0 is out"


def test_validators_come_from_the_response(server: FeedServer) -> None:
    """A new body without an ETag must not keep the old one: it no longer describes the feed."""
    url = server.serve_fixture("/v.xml", "rss2.xml", etag='"now"')
    bare = server.serve_fixture("/bare.xml", "rss2.xml")
    assert poll_one(url, etag='"old"').etag == '"now"'
    result = poll_one(bare, etag='"old"', last_modified="Mon, 02 Mar 2026 00:00:00 GMT")
    assert (result.status, result.etag, result.last_modified) == ("ok", None, None)


def test_not_modified_by_last_modified_alone(server: FeedServer) -> None:
    modified = "Wed, 04 Mar 2026 10:00:00 GMT"
    url = server.serve_fixture("/lm.xml", "rss2.xml", last_modified=modified)
    result = poll_one(url, last_modified=modified)
    assert result.status == "not_modified"
    assert result.last_modified == modified


@pytest.mark.parametrize(("status", "permanent"), [(301, True), (308, True), (302, False), (307, False)])
def test_redirects_report_only_permanent_moves(server: FeedServer, status: int, permanent: bool) -> None:
    target = server.serve_fixture("/new/feed.xml", "rss2.xml")
    old = server.route("/old/feed.xml", redirect_to="/new/feed.xml", status=status)
    result = poll_one(old)
    assert result.status == "ok"
    assert titles(result) == RSS_TITLES
    assert result.new_url == (target if permanent else None)
    # the relative link resolves against where the document really came from
    assert result.articles[1].url == target.replace("/new/feed.xml", "/business/markets-rally")


def test_a_temporary_hop_ends_the_permanent_part_of_a_chain(server: FeedServer) -> None:
    server.serve_fixture("/d.xml", "rss2.xml")
    server.route("/c", redirect_to="/d.xml", status=301)
    server.route("/b", redirect_to="/c", status=302)
    server.route("/a", redirect_to="/b", status=301)
    result = poll_one(server.url("/a"))
    assert result.status == "ok"
    assert result.new_url == server.url("/b")


def test_redirect_loops_stop_after_the_limit(server: FeedServer) -> None:
    server.route("/loop1", redirect_to="/loop2", status=302)
    server.route("/loop2", redirect_to="/loop1", status=302)
    result = poll_one(server.url("/loop1"), FetchSettings(parse_workers=0, max_redirects=5))
    assert result.status == "error"
    assert result.error == "too many redirects (more than 5)"
    assert len(server.requests()) == 6


def test_redirect_to_another_scheme_is_refused(server: FeedServer) -> None:
    url = server.route("/evil", redirect_to="file:///etc/passwd", status=301)
    result = poll_one(url)
    assert result.status == "error"
    assert result.error == "not an http(s) URL: file:///etc/passwd"


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (404, "HTTP 404 Not Found"),
        (410, "HTTP 410 Gone"),
        (500, "HTTP 500 Internal Server Error"),
        (403, "HTTP 403 Forbidden"),
    ],
)
def test_http_errors(server: FeedServer, status: int, message: str) -> None:
    url = server.route("/err", "nope", status=status, content_type="text/plain")
    result = poll_one(url)
    assert (result.status, result.error, result.http_status, result.error_type) == (
        "error",
        message,
        status,
        "FetchError",
    )
    assert result.articles == ()


def test_unknown_path_is_404(server: FeedServer) -> None:
    result = poll_one(server.url("/missing.xml"))
    assert (result.status, result.http_status) == ("error", 404)


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds(server: FeedServer, status: int) -> None:
    url = server.route("/busy", "slow down", status=status, retry_after="120", content_type="text/plain")
    result = poll_one(url)
    assert (result.status, result.http_status, result.retry_after) == ("error", status, 120.0)


def test_retry_after_as_http_date(server: FeedServer) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    url = server.route("/busy", "slow down", status=429, retry_after=when, content_type="text/plain")
    result = poll_one(url)
    assert result.retry_after is not None and 3590 <= result.retry_after <= 3600


def test_slow_server_times_out(server: FeedServer) -> None:
    url = server.serve_fixture("/slow.xml", "rss2.xml", delay=2.0)
    result = poll_one(url, FetchSettings(parse_workers=0, total_timeout=0.3))
    assert (result.status, result.error) == ("error", "timed out after 0.3 s")
    assert result.elapsed < 1.0


def test_total_timeout_covers_a_trickling_body(server: FeedServer) -> None:
    """Each chunk arrives well within any read timeout, but the whole body would take seconds."""
    url = server.serve_fixture("/trickle.xml", "rss2.xml", trickle=0.05)
    result = poll_one(url, FetchSettings(parse_workers=0, total_timeout=0.5))
    assert (result.status, result.error) == ("error", "timed out after 0.5 s")


def test_endless_body_is_cut_off(server: FeedServer) -> None:
    url = server.serve_fixture("/endless.xml", "rss2.xml", endless=True)
    result = poll_one(url, FetchSettings(parse_workers=0, max_bytes=2_000_000))
    assert (result.status, result.error) == ("error", "response larger than 2,000,000 bytes; aborted")


def test_declared_length_over_the_limit_is_refused_before_reading(server: FeedServer) -> None:
    url = server.route("/big.xml", b"<rss>" + b" " * 200_000 + b"</rss>")
    result = poll_one(url, FetchSettings(parse_workers=0, max_bytes=100_000))
    assert result.error == "response larger than 100,000 bytes; aborted"


def test_connection_refused(server: FeedServer) -> None:
    url = server.url("/x.xml")
    server.stop()
    result = poll_one(url)
    assert result.status == "error"
    assert (result.error or "").startswith("connection failed: ")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/feed.xml", "not an http(s) URL: ftp://example.com/feed.xml"),
        ("not a url", "not an http(s) URL: not a url"),
        ("http://[::1/feed", "invalid URL: Invalid IPv6 URL"),
    ],
)
def test_unusable_urls(url: str, message: str) -> None:
    result = poll_one(url)
    assert (result.status, result.error, result.error_type) == ("error", message, "FetchError")


def test_a_stored_etag_that_cannot_be_sent(server: FeedServer) -> None:
    url = server.serve_fixture("/x.xml", "rss2.xml")
    result = poll_one(url, etag="caf\u00e9 \u4e16")
    assert result.status == "error"
    assert (result.error or "").startswith("invalid request: ")


def test_http_charset_wins_over_the_xml_declaration(server: FeedServer) -> None:
    url = server.serve_fixture("/ru.xml", "conflict.xml", content_type="text/xml; charset=windows-1251")
    result = poll_one(url)
    assert titles(result) == ["Привет мир"]
    assert result.articles[0].body == "Заголовок HTTP важнее"


def test_html_page_is_not_a_feed(server: FeedServer) -> None:
    url = server.serve_fixture("/index.html", "html-page.html", content_type="text/html; charset=utf-8")
    result = poll_one(url)
    assert result.status == "error"
    assert result.error_type == "NotAFeed"
    assert result.error == f"not a feed: an HTML page (it links to the feed {server.url('/rss/world.xml')})"
    assert result.etag is None, "a document that is no feed must not be skipped by a later 304"


def test_bozo_feed_is_read_with_a_note(server: FeedServer) -> None:
    url = server.serve_fixture("/bozo.xml", "bozo.xml")
    result = poll_one(url)
    assert result.status == "ok"
    assert titles(result) == ["Good item before the damage", "Item after a stray entity"]
    assert len(result.notes) == 1 and "not well-formed XML" in result.notes[0]


def test_json_feed_over_http(server: FeedServer) -> None:
    url = server.serve_fixture("/feed.json", "jsonfeed11.json", content_type="application/feed+json")
    result = poll_one(url)
    assert titles(result) == [
        "First JSON item",
        "An untitled micro post about the weather today.",
        "Numeric id",
    ]


@pytest.mark.parametrize(
    ("cache_control", "expected"),
    [
        ("public, max-age=3600", 3600.0),
        ("max-age=60", 1800.0),
        ("no-store, max-age=3600", 1800.0),
        (None, 1800.0),
    ],
)
def test_min_interval_is_the_larger_of_ttl_and_max_age(
    server: FeedServer, cache_control: str | None, expected: float
) -> None:
    headers = {"Cache-Control": cache_control} if cache_control else {}
    url = server.serve_fixture("/ttl.xml", "rss2.xml", headers=headers)  # the feed says <ttl>30</ttl>
    assert poll_one(url).min_interval == expected


def test_min_interval_from_max_age_on_not_modified(server: FeedServer) -> None:
    url = server.serve_fixture("/m.xml", "atom.xml", etag='"e"', headers={"Cache-Control": "max-age=900"})
    result = poll_one(url, etag='"e"')
    assert (result.status, result.min_interval) == ("not_modified", 900.0)
