"""Feed sources: fetching and parsing RSS, Atom and JSON Feed documents.

The one call for the scheduler is :func:`poll_feeds`; it takes :class:`FeedRequest` values and
returns (or streams) :class:`FeedResult` values whose articles are
:class:`~monitor.model.RawArticle`. :func:`backoff_delay` spaces out retries of a failing feed;
:func:`canonical_url` and :func:`content_fingerprint` let the store recognise the same article.
"""

from __future__ import annotations

from monitor.backoff import backoff_delay

from .fetch import USER_AGENT
from .identity import content_fingerprint
from .parse import ParsedFeed, parse_feed
from .poll import poll_feeds
from .results import FeedRequest, FeedResult, FetchSettings
from .urls import canonical_url
from .workers import shutdown_feed_workers

__all__ = [
    "USER_AGENT",
    "FeedRequest",
    "FeedResult",
    "FetchSettings",
    "ParsedFeed",
    "backoff_delay",
    "canonical_url",
    "content_fingerprint",
    "parse_feed",
    "poll_feeds",
    "shutdown_feed_workers",
]
