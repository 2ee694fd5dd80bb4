"""Topic tracking: decide which alerts an article causes, given its story and role.

A story becomes tracked by a topic when any of its articles matches the topic's query
(one ``new_story`` alert per notify target). A later ``update`` of a tracked story gives
an ``update`` alert per target, even if the article alone would not match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.config import TopicConfig
from monitor.model import AlertKind, Role
from monitor.topics import PreparedText


@dataclass(frozen=True)
class Target:
    """A topic's notify entry resolved against its notifier: who gets the alert, where."""

    notifier: str
    destination: str
    digest: str | None = None


@dataclass(frozen=True)
class PlannedAlert:
    kind: AlertKind
    topic: TopicConfig


def plan_alerts(
    topics: Sequence[TopicConfig],
    text: PreparedText,
    *,
    role: Role,
    novel_sentence_count: int,
    tracked_by: set[str],
) -> list[PlannedAlert]:
    """The alerts one stored article causes; ``tracked_by`` is updated with new matches."""
    planned: list[PlannedAlert] = []
    for topic in topics:
        if topic.name in tracked_by:
            if role is not Role.FIRST and _wants_update(topic, role, novel_sentence_count):
                planned.append(PlannedAlert(AlertKind.UPDATE, topic))
        elif topic.query.matches(text):
            tracked_by.add(topic.name)
            planned.append(PlannedAlert(AlertKind.NEW_STORY, topic))
    return planned


def _wants_update(topic: TopicConfig, role: Role, novel_sentence_count: int) -> bool:
    if topic.updates == "none" or role is Role.DUPLICATE:
        return False
    if topic.updates == "all":
        return True
    return role is Role.UPDATE and novel_sentence_count >= topic.min_novel_sentences
