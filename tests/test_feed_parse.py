"""monitor.sources.feed.parse: every supported format and encoding, from fixture documents.

The cases live in tests/data/feed_parse_cases.yaml (document -> expected articles).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.errors import NotAFeed
from monitor.sources.feed import parse_feed
from monitor.sources.feed.parse import ParseFailure, parse_in_worker

DATA = Path(__file__).parent / "data"
FEEDS = DATA / "feeds"
CASES: dict[str, dict[str, Any]] = yaml.safe_load(
    (DATA / "feed_parse_cases.yaml").read_text(encoding="utf-8")
)
FETCHED_AT = datetime(2026, 3, 10, tzinfo=UTC)
DEFAULT_URL = "http://feeds.example.com/dir/feed.xml"


def parse_case(case: dict[str, Any]) -> Any:
    return parse_feed(
        (FEEDS / case["file"]).read_bytes(),
        {"Content-Type": case["content_type"]},
        url=case.get("url", DEFAULT_URL),
        source_name="test-source",
        fetched_at=FETCHED_AT,
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_feed_document(name: str) -> None:
    case = CASES[name]
    if "error" in case:
        with pytest.raises(NotAFeed) as caught:
            parse_case(case)
        assert case["error"] in str(caught.value)
        return
    parsed = parse_case(case)
    assert len(parsed.articles) == len(case["articles"]), [a.title for a in parsed.articles]
    for article, expected in zip(parsed.articles, case["articles"], strict=True):
        assert article.source_name == "test-source"
        assert article.published.tzinfo is not None and article.published.utcoffset().total_seconds() == 0
        for field, value in expected.items():
            actual = getattr(article, field)
            if field == "published":
                if value == "estimated":
                    assert (actual, article.published_estimated) == (FETCHED_AT, True), article.title
                else:
                    assert (actual.isoformat(), article.published_estimated) == (value, False), article.title
            elif field == "categories":
                assert list(actual) == value
            else:
                assert actual == value, f"{article.title}: {field}"
    if "ttl" in case:
        assert parsed.ttl_seconds == case["ttl"]
    expected_notes = case.get("notes", [])
    if expected_notes:
        joined = " | ".join(parsed.notes)
        for fragment in expected_notes:
            assert fragment in joined
    else:
        assert parsed.notes == ()


def test_the_same_document_gives_the_same_ids_from_another_address() -> None:
    """GUIDs that are not URLs must not be resolved against the feed's address."""
    case = CASES["rss2"]
    first = parse_case(case)
    moved = parse_case({**case, "url": "https://moved.example.net/feed"})
    assert [a.external_id for a in first.articles] == [a.external_id for a in moved.articles]


def test_future_dates_are_replaced_by_the_fetch_time() -> None:
    document = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>From the future</title><guid>f1</guid><pubDate>Sat, 01 Jan 2033 00:00:00 GMT</pubDate>"
        b"</item></channel></rss>"
    )
    (article,) = parse_feed(document, {}, url=DEFAULT_URL, source_name="s", fetched_at=FETCHED_AT).articles
    assert article.published == FETCHED_AT
    assert article.published_estimated
    assert "in the future" in article.notes[0]


def test_items_without_title_or_text_are_skipped_with_a_note() -> None:
    document = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><guid>empty</guid></item><item><title>Kept</title><guid>k</guid></item></channel></rss>"
    )
    parsed = parse_feed(document, {}, url=DEFAULT_URL, source_name="s", fetched_at=FETCHED_AT)
    assert [a.title for a in parsed.articles] == ["Kept"]
    assert parsed.notes == ("1 item(s) without title or text skipped",)


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"", "application/rss+xml", "not a feed: the response is empty"),
        (b"   \n", "application/rss+xml", "not a feed: the response is empty"),
        (b"just some text", "text/plain", "not a feed: no RSS or Atom root element"),
        (
            b"<?xml version='1.0'?><note><to>x</to></note>",
            "application/xml",
            "not a feed: no RSS or Atom root",
        ),
        (b'{"hello": "world"}', "application/json", "not a feed: JSON without a jsonfeed.org version"),
        (
            b'{"version": "https://jsonfeed.org/version/1.1"}',
            "application/feed+json",
            "without an items list",
        ),
        (b'{"version": ', "application/feed+json", "not a feed: invalid JSON"),
        (b"[" * 200_000, "application/json", "not a feed: invalid JSON"),
    ],
    ids=["empty", "blank", "text", "other-xml", "json-not-feed", "json-no-items", "json-broken", "json-deep"],
)
def test_documents_that_are_not_feeds(body: bytes, content_type: str, message: str) -> None:
    with pytest.raises(NotAFeed) as caught:
        parse_feed(
            body, {"Content-Type": content_type}, url=DEFAULT_URL, source_name="s", fetched_at=FETCHED_AT
        )
    assert message in str(caught.value)


def test_worker_entry_point_returns_errors_as_values() -> None:
    failure = parse_in_worker(b"<html><body>page</body></html>", {}, DEFAULT_URL, "s", FETCHED_AT)
    assert failure == ParseFailure("not a feed: an HTML page", "NotAFeed")
