"""The feed poller's request, settings and result types (plain frozen dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from monitor import defaults
from monitor.model import RawArticle

if TYPE_CHECKING:
    from monitor.stories.prepare import PreparedArticle

FeedStatus = Literal["ok", "not_modified", "error"]


@dataclass(frozen=True)
class FeedRequest:
    """One feed to poll, with the validators stored from its previous successful fetch.

    ``known_ids`` are the external ids of items stored already (those of the feed's previous
    document): their texts are not prepared again, as the store only compares them.
    """

    source_name: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    known_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class FetchSettings:
    """Limits for one poll; every default comes from :mod:`monitor.defaults`."""

    connect_timeout: float = defaults.FEED_CONNECT_TIMEOUT_SECONDS
    total_timeout: float = defaults.FEED_TOTAL_TIMEOUT_SECONDS
    max_bytes: int = defaults.FEED_MAX_BYTES
    per_host: int = defaults.FEED_PER_HOST_CONCURRENCY
    max_concurrency: int = defaults.FEED_MAX_CONCURRENCY
    max_redirects: int = defaults.FEED_MAX_REDIRECTS
    parse_workers: int = defaults.FEED_PARSE_WORKERS
    parse_timeout: float = defaults.FEED_PARSE_TIMEOUT_SECONDS  # enforced in worker processes

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "total_timeout", "parse_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        for name in ("max_bytes", "per_host", "max_concurrency"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        for name in ("max_redirects", "parse_workers"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class FeedResult:
    """What one poll of one feed produced.

    ``status`` is ``ok`` (``articles`` holds every item of the document), ``not_modified``
    (HTTP 304) or ``error`` (``error`` says why; ``error_type`` names the exception class,
    ``http_status`` and ``retry_after`` are set when the server gave them).

    ``etag`` / ``last_modified`` are the validators to store for the next conditional request.
    ``new_url`` is set after a permanent redirect (301/308): the caller should store it.
    ``min_interval`` (seconds) is the larger of the feed's RSS ``<ttl>`` and the response's
    ``Cache-Control: max-age``: the caller should not poll more often than that.
    ``article_count`` stays right when ``articles`` was handed to a streaming callback.
    ``prepared`` holds, when the poll was asked to prepare texts, one preparation per article
    (see :mod:`monitor.stories.prepare`); ``None`` for an article whose preparation failed.
    """

    request: FeedRequest
    status: FeedStatus
    articles: tuple[RawArticle, ...] = ()
    prepared: tuple[PreparedArticle | None, ...] = ()
    article_count: int = 0
    error: str | None = None
    error_type: str | None = None
    http_status: int | None = None
    retry_after: float | None = None
    etag: str | None = None
    last_modified: str | None = None
    new_url: str | None = None
    min_interval: float | None = None
    notes: tuple[str, ...] = ()
    elapsed: float = 0.0
