"""Feed items (from any feed format) turned into :class:`~monitor.model.RawArticle` values.

Both format adapters produce :class:`FeedItem`; this module gives each item its identity
(see :mod:`.identity`), its canonical link and a trustworthy UTC publication time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.model import RawArticle

from .identity import content_id
from .urls import canonical_url

#: A date this far past the fetch time is a clock or time-zone error, not a scheduled post.
_FUTURE_TOLERANCE = timedelta(minutes=10)

#: Untitled items (common in JSON Feed) are titled with the start of their text.
_DERIVED_TITLE_CHARS = 120


@dataclass(frozen=True)
class FeedItem:
    """One entry of a parsed feed, format-independent; texts are already plain text."""

    guid: str | None
    link: str | None
    title: str
    body: str
    author: str | None = None
    categories: tuple[str, ...] = ()
    published: datetime | None = None


@dataclass(frozen=True)
class BuiltArticles:
    articles: tuple[RawArticle, ...]
    notes: tuple[str, ...]


def build_articles(
    items: Sequence[FeedItem],
    *,
    source_name: str,
    feed_url: str,
    fetched_at: datetime,
    encoding: str | None = None,
) -> BuiltArticles:
    """Articles for ``items`` in feed order; duplicates and empty items are skipped with a note."""
    reliable_guids = _reliable_guids(items)
    seen: set[str] = set()
    articles: list[RawArticle] = []
    notes: list[str] = []
    skipped_empty = skipped_duplicate = 0
    for item in items:
        title = item.title or _derived_title(item.body)
        if not title:
            skipped_empty += 1
            continue
        canonical = canonical_url(item.link) if item.link else None
        if item.guid and item.guid in reliable_guids:
            external_id = item.guid
        else:
            external_id = canonical or content_id(title, item.body)
        if external_id in seen:
            skipped_duplicate += 1
            continue
        seen.add(external_id)
        published, estimated, date_note = _publication_time(item.published, fetched_at)
        articles.append(
            RawArticle(
                source_name=source_name,
                origin=item.link or feed_url,
                external_id=external_id,
                title=title,
                body=item.body,
                published=published,
                published_estimated=estimated,
                url=item.link,
                canonical_url=canonical,
                author=item.author,
                categories=item.categories,
                encoding=encoding,
                notes=(date_note,) if date_note else (),
            )
        )
    if skipped_empty:
        notes.append(f"{skipped_empty} item(s) without title or text skipped")
    if skipped_duplicate:
        notes.append(f"{skipped_duplicate} duplicate item(s) skipped")
    return BuiltArticles(tuple(articles), tuple(notes))


def _reliable_guids(items: Sequence[FeedItem]) -> set[str]:
    """GUIDs that name one article each.

    A GUID shared by items with different links (or, without links, different content)
    identifies none of them: some feeds give every item the site's address. Those items are
    identified by link or content instead. A GUID repeated for the same link is just the feed
    listing an item twice, and stays reliable.
    """
    targets: defaultdict[str, set[str]] = defaultdict(set)
    for item in items:
        if item.guid:
            targets[item.guid].add(
                canonical_url(item.link) if item.link else content_id(item.title, item.body)
            )
    return {guid for guid, seen in targets.items() if len(seen) == 1}


def _derived_title(body: str) -> str:
    first_line = body.split("\n", 1)[0]
    if len(first_line) <= _DERIVED_TITLE_CHARS:
        return first_line
    return first_line[:_DERIVED_TITLE_CHARS].rsplit(" ", 1)[0] + "…"


def _publication_time(published: datetime | None, fetched_at: datetime) -> tuple[datetime, bool, str | None]:
    if published is None:
        return fetched_at, True, None
    if published > fetched_at + _FUTURE_TOLERANCE:
        return fetched_at, True, f"date {published.isoformat()} is in the future; fetch time used"
    return published, False, None
