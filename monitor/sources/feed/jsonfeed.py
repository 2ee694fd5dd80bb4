"""JSON Feed 1.0 / 1.1 (https://jsonfeed.org) read into :class:`FeedItem` values.

feedparser reads only XML, so JSON Feed is handled here with the standard ``json`` module.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from monitor.clock import as_utc
from monitor.errors import NotAFeed

from .articles import FeedItem
from .html_text import html_to_text, plain_text
from .urls import resolve_link

_VERSION_PREFIX = "https://jsonfeed.org/version/1"


def looks_like_json(body: bytes, content_type: str | None) -> bool:
    """Whether the document should be read as JSON.

    The first character decides (servers often send a wrong media type); the media type only
    when the document starts with neither ``{`` nor ``<``.
    """
    first = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if first in (b"{", b"<"):
        return first == b"{"
    return (content_type or "").split(";", 1)[0].strip().lower().endswith("json")


def parse_json_feed(body: bytes, base_url: str) -> tuple[list[FeedItem], dict[str, Any]]:
    """The items of a JSON Feed document and its top-level object.

    Raises :class:`NotAFeed` for invalid JSON or JSON that is not a JSON Feed.
    """
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        # RecursionError: pathologically nested arrays, a cheap attack on recursive decoders.
        raise NotAFeed(f"not a feed: invalid JSON ({_short(exc)})") from None
    if not isinstance(document, dict) or not str(document.get("version", "")).startswith(_VERSION_PREFIX):
        raise NotAFeed("not a feed: JSON without a jsonfeed.org version")
    items = document.get("items")
    if not isinstance(items, list):
        raise NotAFeed("not a feed: JSON Feed without an items list")
    feed_url = _string(document.get("feed_url")) or base_url
    base = resolve_link(feed_url, base_url) or base_url
    feed_author = _author(document)
    return [_item(raw, base, feed_author) for raw in items if isinstance(raw, dict)], document


def _item(raw: dict[str, Any], base: str, feed_author: str | None) -> FeedItem:
    ident = raw.get("id")
    # Version 1.0 allowed numeric ids; they are the same item as their string form.
    guid = str(ident).strip() if isinstance(ident, str | int) and not isinstance(ident, bool) else None
    link = resolve_link(_string(raw.get("url")) or _string(raw.get("external_url")), base)
    html = _string(raw.get("content_html"))
    text = _string(raw.get("content_text"))
    summary = _string(raw.get("summary"))
    if html and len(html) >= len(text or ""):
        body = html_to_text(html)
    elif text:
        body = plain_text(text)
    else:
        body = plain_text(summary or "")
    tags = raw.get("tags")
    categories: tuple[str, ...] = ()
    if isinstance(tags, list):
        categories = tuple(dict.fromkeys(t.strip() for t in tags if isinstance(t, str) and t.strip()))
    return FeedItem(
        guid=guid or None,
        link=link,
        title=plain_text(_string(raw.get("title")) or ""),
        body=body,
        author=_author(raw) or feed_author,
        categories=categories,
        published=_date(raw.get("date_published")) or _date(raw.get("date_modified")),
    )


def _author(holder: dict[str, Any]) -> str | None:
    candidates = holder.get("authors")
    if not isinstance(candidates, list):
        candidates = [holder.get("author")]
    for candidate in candidates:
        if isinstance(candidate, dict):
            name = _string(candidate.get("name"))
            if name:
                return name.strip()
    return None


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return as_utc(parsed)


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 80 else text[:77] + "..."
