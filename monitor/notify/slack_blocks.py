"""Block Kit messages for alerts, shared by the Slack bot and the Slack webhook notifiers.

Every piece of article text is escaped (``&``, ``<``, ``>``) and put in ``verbatim``
mrkdwn, so nothing from a feed can ping a channel, mention a user or become a link; the
article URL appears only as a button's ``url``, never inside ``<url|label>`` markup.
Lengths respect Slack's limits: header 150, section 3,000, context element 2,000,
fallback text 4,000 characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monitor.model import AlertMessage
from monitor.notify.render import (
    article_origin,
    format_published,
    paragraph,
    plural,
    safe_link,
    single_line,
    slack_text,
    story_line,
)

HEADER_LIMIT = 150
SECTION_LIMIT = 3000
CONTEXT_LIMIT = 2000
FALLBACK_LIMIT = 4000
BUTTON_URL_LIMIT = 3000
# One "What's new" bullet: three fit one section whatever their length; shorter ones, more.
BULLET_LIMIT = 900
WHATS_NEW = "*What's new*"

Block = dict[str, Any]


@dataclass(frozen=True)
class SlackMessage:
    """What goes into ``chat.postMessage`` / ``chat.update`` / a webhook body."""

    text: str
    blocks: list[Block]

    def payload(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def _header(title: str) -> Block:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": slack_text(single_line(title) or "(untitled)", HEADER_LIMIT)},
    }


def _context(*pieces: str) -> Block:
    line = " · ".join(single_line(piece) for piece in pieces if piece)
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": slack_text(line, CONTEXT_LIMIT), "verbatim": True}],
    }


def _section(mrkdwn: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn, "verbatim": True}}


def _button(url: str | None) -> list[Block]:
    link = safe_link(url, BUTTON_URL_LIMIT)
    if link is None:
        return []
    button = {"type": "button", "text": {"type": "plain_text", "text": "Open article"}, "url": link}
    return [{"type": "actions", "elements": [button]}]


def _fallback(*pieces: str) -> str:
    return slack_text(" — ".join(single_line(piece) for piece in pieces if piece), FALLBACK_LIMIT)


def new_story(message: AlertMessage, *, running_counts: bool = False) -> SlackMessage:
    """The root message of a story; with ``running_counts`` the edited version for ``chat.update``."""
    story, article = message.story, message.article
    published = format_published(article.published, estimated=article.published_estimated)
    if running_counts:
        counts = ", ".join(
            (
                plural(story.article_count, "article"),
                plural(story.source_count, "source"),
                plural(story.update_count, "update"),
            )
        )
    else:
        counts = plural(story.source_count, "source")
    blocks = [_header(story.title), _context(article.source, published, message.topic, counts)]
    lead = paragraph(article.lead)
    if lead:
        blocks.append(_section(slack_text(lead, SECTION_LIMIT)))
    blocks += _button(article.url)
    return SlackMessage(text=_fallback(story.title, article.source, published), blocks=blocks)


def update(message: AlertMessage, *, threaded: bool) -> SlackMessage:
    """An update alert: a thread reply, or a standalone "Update: <story title>" post."""
    story, article = message.story, message.article
    published = format_published(article.published, estimated=article.published_estimated)
    sentences = [single_line(s) for s in message.novel_sentences if single_line(s)]
    if sentences:
        body = _whats_new(sentences)
    else:
        body = slack_text(paragraph(article.lead) or single_line(article.title), SECTION_LIMIT)
    blocks: list[Block] = [] if threaded else [_header(f"Update: {single_line(story.title)}")]
    if body:
        blocks.append(_section(body))
    blocks.append(_context(article.title, article.source, published, article_origin(article) or ""))
    blocks.append(_context(story_line(story)))
    blocks += _button(article.url)
    first = sentences[0] if sentences else article.title
    text = _fallback(f"Update: {story.title}", first) if not threaded else _fallback("What's new", first)
    return SlackMessage(text=text, blocks=blocks)


def _whats_new(sentences: list[str]) -> str:
    """The "What's new" list, with as many bullets as fit in one section (Slack refuses a
    longer one with ``invalid_blocks``; the article holds the rest)."""
    body = WHATS_NEW
    for sentence in sentences:
        bullet = f"\n• {slack_text(sentence, BULLET_LIMIT)}"
        if len(body) + len(bullet) > SECTION_LIMIT:
            break
        body += bullet
    return body
