"""RSS 0.9x / 1.0 (RDF) / 2.0 and Atom 0.3 / 1.0 read with feedparser into :class:`FeedItem` values.

feedparser is given the bytes and response headers only (it never fetches), with its HTML
sanitiser and relative-URI rewriting switched off: markup is reduced to plain text here, so
sanitising it first would only cost time (about three quarters of feedparser's run time).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser

from monitor.errors import NotAFeed

from .articles import FeedItem
from .html_text import html_to_text, plain_text
from .urls import resolve_link

_HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True)
class XmlFeed:
    items: list[FeedItem]
    ttl_minutes: float | None
    encoding: str | None
    warning: str | None


def parse_xml_feed(body: bytes, headers: Mapping[str, str], base_url: str) -> XmlFeed:
    """Parse an RSS or Atom document; raise :class:`NotAFeed` when it is neither."""
    parsed = feedparser.parse(
        body, response_headers=dict(headers), sanitize_html=False, resolve_relative_uris=False
    )
    warning = _bozo_warning(parsed) if parsed.get("bozo") else None
    if not parsed.get("version") and not parsed.entries:
        raise NotAFeed("not a feed: no RSS or Atom root element" + (f" ({warning})" if warning else ""))
    items = [_item(entry, base_url) for entry in parsed.entries]
    return XmlFeed(items, _ttl(parsed.feed.get("ttl")), parsed.get("encoding") or None, warning)


def _item(entry: Mapping[str, Any], base_url: str) -> FeedItem:
    guid = (entry.get("id") or "").strip() or None
    link = entry.get("link")
    if link and guid and link == guid and not entry.get("links"):
        # feedparser copies a GUID into the link (RSS's isPermaLink defaults to true), also
        # when the GUID is an opaque string that is no address at all.
        link = link if link.startswith(("http://", "https://")) else None
    return FeedItem(
        guid=guid,
        link=resolve_link(link, base_url),
        title=_text(entry.get("title_detail")) or plain_text(entry.get("title") or ""),
        body=_body(entry),
        author=_author(entry),
        categories=_categories(entry),
        published=_date(entry.get("published_parsed"))
        or _date(entry.get("updated_parsed"))
        or _date(entry.get("created_parsed")),
    )


def _body(entry: Mapping[str, Any]) -> str:
    """The longest of the entry's content blocks and its summary, as text."""
    candidates = [c for c in entry.get("content") or () if c.get("value")]
    summary = entry.get("summary_detail")
    if summary and summary.get("value"):
        candidates.append(summary)
    if not candidates:
        return ""
    return _text(max(candidates, key=lambda c: len(c["value"])))


def _text(detail: Mapping[str, Any] | None) -> str:
    if not detail or not detail.get("value"):
        return ""
    value: str = detail["value"]
    if detail.get("type") in _HTML_TYPES:
        return html_to_text(value)
    return plain_text(value)


def _author(entry: Mapping[str, Any]) -> str | None:
    detail = entry.get("author_detail") or {}
    name = (detail.get("name") or entry.get("author") or "").strip()
    return name or None


def _categories(entry: Mapping[str, Any]) -> tuple[str, ...]:
    terms = ((tag.get("term") or tag.get("label") or "").strip() for tag in entry.get("tags") or ())
    return tuple(dict.fromkeys(term for term in terms if term))


def _date(value: Any) -> datetime | None:
    # feedparser has already converted the date to UTC as a struct_time.
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _ttl(value: Any) -> float | None:
    try:
        minutes = float(str(value).strip())
    except ValueError:
        return None
    return minutes if 0 < minutes < float("inf") else None


def _bozo_warning(parsed: Mapping[str, Any]) -> str:
    exc = parsed.get("bozo_exception")
    text = " ".join(str(exc).split()) if exc else "unknown problem"
    return f"feed is not well-formed XML ({text}); read leniently"
