"""Sample alerts for the notifier tests, including the hostile text every notifier must neutralise."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from monitor.model import AlertKind, AlertMessage, ArticleView, StoryView

PUBLISHED = datetime(2024, 5, 1, 14, 3, tzinfo=UTC)

#: Slack markup that would ping everyone, mention a user or disguise a link if not escaped.
SLACK_HOSTILE = "Talks <!channel> <!here> <@U123> <https://evil.example|click> & more"
#: A title that would add a Bcc header if CR/LF reached an e-mail header.
HEADER_HOSTILE = "Talks resume\r\nBcc: evil@example.com"


def story(title: str = "Russia and Ukraine resume talks in Istanbul", **changes: object) -> StoryView:
    base = StoryView(id=7, title=title, article_count=1, source_count=1, first_seen=PUBLISHED)
    return replace(base, **changes)  # type: ignore[arg-type]


def article(**changes: object) -> ArticleView:
    base = ArticleView(
        id=11,
        title="Russia and Ukraine resume talks in Istanbul",
        source="Reuters",
        origin="https://example.com/world/talks",
        url="https://example.com/world/talks?id=1&lang=en",
        published=PUBLISHED,
        lead="Delegations from Russia and Ukraine met in Istanbul on Wednesday for the first direct talks "
        "in months, officials said.",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def new_story(
    story_title: str = "Russia and Ukraine resume talks in Istanbul", **article_changes: object
) -> AlertMessage:
    return AlertMessage(
        alert_id=1,
        kind=AlertKind.NEW_STORY,
        topic="russia-ukraine-talks",
        story=story(story_title),
        article=article(**article_changes),
    )


def update(
    story_title: str = "Russia and Ukraine resume talks in Istanbul",
    sentences: tuple[str, ...] = ("A prisoner exchange was agreed.", "Talks continue on Thursday."),
    options: dict[str, object] | None = None,
    **article_changes: object,
) -> AlertMessage:
    changes: dict[str, object] = {
        "id": 12,
        "title": "Prisoner swap agreed as talks continue",
        "source": "AP",
        "url": "https://example.org/ap/swap",
    }
    changes.update(article_changes)
    return AlertMessage(
        alert_id=2,
        kind=AlertKind.UPDATE,
        topic="russia-ukraine-talks",
        story=story(story_title, article_count=2, source_count=2, update_count=1),
        article=article(**changes),
        novel_sentences=sentences,
        options=dict(options or {}),
    )
