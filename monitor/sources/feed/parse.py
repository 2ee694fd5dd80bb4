"""One fetched feed document in, its articles out: the work done in the parser processes.

:func:`parse_feed` detects the format (JSON Feed or XML), screens XML for entity attacks,
decodes it the way a browser would and builds :class:`~monitor.model.RawArticle` values.
:func:`parse_in_worker` is the same for a process pool: it never raises for a bad document.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from selectolax.lexbor import LexborHTMLParser

from monitor.errors import MonitorError, NotAFeed
from monitor.model import RawArticle

from .articles import build_articles
from .encoding import document_encoding, feedparser_headers
from .jsonfeed import looks_like_json, parse_json_feed
from .safety import screen_xml
from .urls import resolve_link
from .xmlfeed import parse_xml_feed

if TYPE_CHECKING:
    from monitor.stories.prepare import PreparedArticle

_log = logging.getLogger(__name__)

_HTML_START = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>]|head[\s>]|body[\s>])", re.I | re.S
)
_FEED_LINK_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
)


@dataclass(frozen=True)
class ParsedFeed:
    """The articles of one document, the feed's ``<ttl>`` and any warnings about the document;
    ``prepared`` holds the articles' prepared texts when they were asked for."""

    articles: tuple[RawArticle, ...]
    ttl_seconds: float | None = None
    notes: tuple[str, ...] = ()
    prepared: tuple[PreparedArticle | None, ...] = ()


@dataclass(frozen=True)
class ParseFailure:
    """Why a document could not be read, in a form that crosses process boundaries intact."""

    error: str
    error_type: str


def parse_feed(
    body: bytes, headers: Mapping[str, str], *, url: str, source_name: str, fetched_at: datetime
) -> ParsedFeed:
    """Parse a fetched document (``headers`` are the response headers, any case).

    ``url`` is the address the document came from after redirects; relative links resolve
    against it. ``fetched_at`` (tz-aware UTC) stands in for missing dates.
    Raises :class:`NotAFeed` for anything that is not RSS, Atom or JSON Feed.
    """
    if not body.strip():
        raise NotAFeed("not a feed: the response is empty")
    lowered = {k.lower(): v for k, v in headers.items()}
    content_type = lowered.get("content-type")
    if looks_like_json(body, content_type):
        items, _ = parse_json_feed(body, url)
        built = build_articles(items, source_name=source_name, feed_url=url, fetched_at=fetched_at)
        return ParsedFeed(built.articles, None, built.notes)
    if _HTML_START.match(body[:4096]):
        raise NotAFeed(f"not a feed: {_describe_html(body, url)}")
    encoding = document_encoding(body, content_type)
    screen_xml(body, encoding)
    feed = parse_xml_feed(body, feedparser_headers(lowered, encoding), url)
    built = build_articles(
        feed.items, source_name=source_name, feed_url=url, fetched_at=fetched_at, encoding=feed.encoding
    )
    notes = ((feed.warning,) if feed.warning else ()) + built.notes
    ttl = feed.ttl_minutes * 60 if feed.ttl_minutes else None
    return ParsedFeed(built.articles, ttl, notes)


def parse_in_worker(
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    source_name: str,
    fetched_at: datetime,
    queries: Sequence[str] | None = None,
    known_ids: AbstractSet[str] = frozenset(),
) -> ParsedFeed | ParseFailure:
    """:func:`parse_feed` for a worker: errors come back as a value, not an exception.

    With ``queries`` (the topics' query texts, possibly none), the text of each article whose
    external id is not in ``known_ids`` is also prepared for storage
    (:func:`monitor.stories.prepare.prepare`).
    """
    try:
        parsed = parse_feed(body, headers, url=url, source_name=source_name, fetched_at=fetched_at)
    except MonitorError as exc:
        return ParseFailure(str(exc), type(exc).__name__)
    if queries is None or not parsed.articles:
        return parsed
    return replace(parsed, prepared=_prepared(parsed.articles, queries, known_ids))


def _prepared(
    articles: Sequence[RawArticle], queries: Sequence[str], known_ids: AbstractSet[str]
) -> tuple[PreparedArticle | None, ...]:
    # Imported here: a poll that stores nothing never loads the text analysis.
    from monitor.stories.prepare import prepare

    prepared: list[PreparedArticle | None] = []
    for article in articles:
        if article.external_id in known_ids:
            prepared.append(None)  # stored already: the store compares its text hash only
            continue
        try:
            prepared.append(prepare(article.title, article.body, queries))
        except Exception:  # the storing process prepares this one itself; the feed is not lost
            _log.exception("preparing %s failed", article.origin)
            prepared.append(None)
    return tuple(prepared)


def _describe_html(body: bytes, url: str) -> str:
    """ "an HTML page", naming the feed it advertises when it has one."""
    tree = LexborHTMLParser(body[: 1024 * 1024])
    for node in tree.css("link[rel~=alternate][href]"):
        if (node.attributes.get("type") or "").lower() in _FEED_LINK_TYPES:
            advertised = resolve_link(node.attributes.get("href"), url)
            if advertised:
                return f"an HTML page (it links to the feed {advertised})"
    return "an HTML page"
