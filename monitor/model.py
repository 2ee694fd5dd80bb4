"""Plain data passed between the stages: source -> store -> stories -> topics -> alerts.

These are deliberately free of SQLAlchemy so that sources, the story engine and notifiers
can be built and tested without a database.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Role(enum.StrEnum):
    """An article's place in its story."""

    FIRST = "first"
    UPDATE = "update"
    DUPLICATE = "duplicate"
    RELATED = "related"


class AlertKind(enum.StrEnum):
    NEW_STORY = "new_story"
    UPDATE = "update"


class AlertStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True)
class RawArticle:
    """One article as a source produced it, before storage.

    ``external_id`` is the article's identity inside its source (the content hash for a
    dropped file, the GUID / canonical link / content hash for a feed item). ``origin`` is
    where a person can find it: the file's path or the item's URL.
    """

    source_name: str
    origin: str
    external_id: str
    title: str
    body: str
    published: datetime
    published_estimated: bool = False
    url: str | None = None
    canonical_url: str | None = None
    author: str | None = None
    categories: tuple[str, ...] = ()
    related_headlines: tuple[str, ...] = ()
    encoding: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoryView:
    """What a notifier needs to know about a story when rendering an alert."""

    id: int
    title: str
    article_count: int
    source_count: int
    first_seen: datetime
    #: Articles that added something to the story after its first (shown on Slack's root).
    update_count: int = 0


@dataclass(frozen=True)
class ArticleView:
    """What a notifier needs to know about the article that caused an alert."""

    id: int
    title: str
    source: str
    origin: str
    url: str | None
    published: datetime
    lead: str
    #: The article gave no usable date, so ``published`` is when it was received.
    published_estimated: bool = False


@dataclass(frozen=True)
class AlertMessage:
    """A rendered-agnostic alert, as handed to a notifier.

    ``novel_sentences`` is filled for update alerts: up to a few sentences the article adds
    to its story, in article order.
    """

    alert_id: int
    kind: AlertKind
    topic: str
    story: StoryView
    article: ArticleView
    novel_sentences: tuple[str, ...] = ()
    options: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class FileVersion:
    """One version of a dropped file, as the folder's ledger records it."""

    path: str
    content_hash: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Rejection:
    """Input that could not become an article, with the reason a person can act on."""

    origin: str
    reason: str
    file: FileVersion | None = None


@dataclass(frozen=True)
class Incoming:
    """An article on its way into the store, with the file it came from (drop folders)."""

    article: RawArticle
    file: FileVersion | None = None
