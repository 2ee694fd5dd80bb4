"""Backtest: the alerts the current config would have produced over stored articles.

Stored articles are replayed in arrival order through a fresh story engine and the
topics as configured now; nothing is written and nothing is sent. The engine forgets
stories as the window passes, as the worker's does, so a replay of a long history holds
one window in memory, not the history. Users tune a query or the story thresholds with it
before they change what reaches their channel.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.clock import utcnow
from monitor.config import Config, TopicConfig
from monitor.model import AlertKind, Role
from monitor.pipeline import story_doc
from monitor.store.tables import ArticleRow
from monitor.stories import StoryEngine
from monitor.stories.window import StreamClock
from monitor.topics import PreparedText
from monitor.tracking import plan_alerts

#: Rows fetched per round trip while replaying.
_PAGE = 1000


@dataclass(frozen=True)
class ReplayedAlert:
    kind: AlertKind
    topic: str
    story: int
    story_title: str
    article_id: int
    article_title: str
    published: datetime
    published_estimated: bool
    novel_sentences: tuple[str, ...]


def replay(
    session: Session,
    config: Config,
    topic: TopicConfig,
    since: datetime | None,
    engine: StoryEngine | None = None,
) -> Iterator[ReplayedAlert]:
    """Yield the alerts ``topic`` would have raised, story numbers being replay-local.

    ``engine`` is a fresh story engine for ``config.stories`` (one is made when not given).
    """
    engine = engine if engine is not None else StoryEngine(config.stories)
    stream = StreamClock(utcnow)
    tracked: set[int] = set()  # the stories the topic tracks; only those, so it stays small
    query = select(ArticleRow).where(ArticleRow.body_pruned.is_(False)).order_by(ArticleRow.id)
    if since is not None:
        query = query.where(ArticleRow.first_seen_at >= since)
    next_story = 1
    for article in session.scalars(query.execution_options(yield_per=_PAGE)):
        doc = story_doc(article, "")
        assignment = engine.assign(doc)
        if assignment.story_id is None:
            story_id, role = next_story, Role.FIRST
            next_story += 1
        else:
            story_id, role = assignment.story_id, assignment.role
        engine.add(doc, story_id, role)
        story_title = engine.title(story_id) or article.title  # before the window may forget it
        stream.observe(article.published_at, article.published_estimated)
        if stream.time is not None:
            engine.evict(stream.time)
        tracked_by = {topic.name} if story_id in tracked else set()
        planned = plan_alerts(
            [topic],
            PreparedText.of(article.title, article.body),
            role=role,
            novel_sentence_count=len(assignment.novel_sentences),
            tracked_by=tracked_by,
        )
        if tracked_by:
            tracked.add(story_id)
        for plan in planned:
            yield ReplayedAlert(
                kind=plan.kind,
                topic=topic.name,
                story=story_id,
                story_title=story_title,
                article_id=article.id,
                article_title=article.title,
                published=article.published_at,
                published_estimated=article.published_estimated,
                novel_sentences=assignment.novel_sentences[: config.stories.max_novel_sentences]
                if plan.kind is AlertKind.UPDATE
                else (),
            )
