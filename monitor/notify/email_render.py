"""E-mail bodies for alerts and digests, rendered from the Jinja2 templates in ``templates/``.

HTML templates are autoescaped, so article text can't add markup; only http(s) article
links become ``href``s. Each render gives a plain-text and an HTML body of the same content.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from monitor.model import AlertKind, AlertMessage
from monitor.notify.render import (
    article_origin,
    format_published,
    paragraph,
    plural,
    safe_link,
    single_line,
    story_line,
    trim,
)

if TYPE_CHECKING:
    from jinja2 import Environment

#: A lead longer than this is cut at a word: the e-mail points to the article for the rest.
LEAD_LIMIT = 3000
TITLE_LIMIT = 300


@dataclass(frozen=True)
class Bodies:
    text: str
    html: str


@cache
def _environment() -> Environment:
    # Loaded on the first e-mail, not when the notifier kinds register at start-up.
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=PackageLoader("monitor.notify", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _render(name: str, context: dict[str, Any]) -> Bodies:
    env = _environment()
    return Bodies(
        text=env.get_template(f"{name}.txt").render(context),
        html=env.get_template(f"{name}.html").render(context),
    )


def _alert_view(message: AlertMessage) -> dict[str, Any]:
    article = message.article
    lead = trim(paragraph(article.lead), LEAD_LIMIT)
    sentences = [single_line(s) for s in message.novel_sentences if single_line(s)]
    meta = " · ".join(
        piece
        for piece in (
            single_line(article.source),
            format_published(article.published, estimated=article.published_estimated),
            single_line(article_origin(article) or ""),
            single_line(message.topic),
        )
        if piece
    )
    return {
        "is_update": message.kind is AlertKind.UPDATE,
        "title": trim(single_line(article.title), TITLE_LIMIT),
        "story_title": trim(single_line(message.story.title), TITLE_LIMIT),
        "meta": meta,
        "story": story_line(message.story),
        "lead": lead,
        "lead_paragraphs": [p for p in lead.split("\n\n") if p.strip()],
        "sentences": sentences,
        "url": safe_link(article.url),
    }


def alert_bodies(message: AlertMessage, subject: str) -> Bodies:
    """The bodies of one new-story or update e-mail."""
    view = _alert_view(message)
    if message.kind is AlertKind.NEW_STORY:
        # The root e-mail is about the story: its title heads the message.
        view["title"] = view["story_title"]
    name = "update" if view["is_update"] else "new_story"
    return _render(name, {"alert": view, "subject": subject, "topic": single_line(message.topic)})


def digest_heading(messages: Sequence[AlertMessage]) -> str:
    stories = {message.story.id for message in messages}
    updates = sum(1 for message in messages if message.kind is AlertKind.UPDATE)
    heading = plural(len(stories), "story", "stories")
    if updates:
        heading += f", {plural(updates, 'update')}"
    return heading


def digest_bodies(messages: Sequence[AlertMessage], subject: str) -> Bodies:
    """One e-mail for many alerts, grouped by story in order of first appearance."""
    groups: dict[int, list[AlertMessage]] = {}
    for message in messages:
        groups.setdefault(message.story.id, []).append(message)
    stories = []
    for alerts in groups.values():
        latest = alerts[-1].story
        stories.append(
            {
                "title": trim(single_line(latest.title), TITLE_LIMIT),
                "counts": ", ".join(
                    (plural(latest.article_count, "article"), plural(latest.source_count, "source"))
                ),
                # The story's counts head its group; each alert need not repeat them.
                "alerts": [{**_alert_view(alert), "story": ""} for alert in alerts],
            }
        )
    topics = ", ".join(dict.fromkeys(single_line(message.topic) for message in messages))
    context = {"heading": digest_heading(messages), "stories": stories, "subject": subject, "topic": topics}
    return _render("digest", context)
