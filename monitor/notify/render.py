"""Text helpers shared by the notifiers: neutralising untrusted article text, trimming, dates.

Article titles and bodies come from feeds and drop folders, so every notifier treats them
as hostile: no control characters in single-line fields (they would inject e-mail headers
or break Slack headers), no Slack markup (it would ping channels or disguise links), and
lengths bounded by what the destination accepts.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, time
from urllib.parse import urlsplit

from monitor.clock import as_utc
from monitor.model import ArticleView, StoryView

ELLIPSIS = "…"

_WHITESPACE_RUN = re.compile(r"\s+")
# Characters that end a line somewhere even though they are not ASCII control codes.
_LINE_BREAKERS = frozenset("\u0085\u2028\u2029")


def _is_control(char: str) -> bool:
    # Zero-width joiner is a format character too, but emoji sequences need it and it is harmless.
    return char in _LINE_BREAKERS or (unicodedata.category(char) in ("Cc", "Cf") and char != "\u200d")


def single_line(text: str) -> str:
    """Collapse ``text`` to one line: control and format characters become spaces, runs shrink.

    Used for every title, subject and header, so CR/LF can never start a new header and
    bidi overrides can never disguise what follows.
    """
    cleaned = "".join(" " if _is_control(char) else char for char in text)
    return _WHITESPACE_RUN.sub(" ", cleaned).strip()


def paragraph(text: str) -> str:
    """Clean multi-line text: keep line breaks, drop other control characters, trim blank runs."""
    lines = (single_line(line) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _cut_at_word(text: str) -> str:
    """Drop a partial last word (unless that loses more than half) and trailing punctuation."""
    boundary = text.rfind(" ")
    # A single very long word is cut mid-word rather than dropped whole.
    if boundary > len(text) // 2:
        text = text[:boundary]
    return text.rstrip(" ,;:.-–—")


def trim(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, at a word boundary, marking the cut with "…"."""
    if limit < 1:
        raise ValueError(f"trim limit must be positive, got {limit}")
    if len(text) <= limit:
        return text
    return _cut_at_word(text[: limit - len(ELLIPSIS)]) + ELLIPSIS


def slack_escape(text: str) -> str:
    """Escape the three characters Slack reads as markup: ``&``, ``<`` and ``>``.

    After this no ``<!channel>``, ``<@U…>`` or ``<url|label>`` in the text can take effect.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_text(text: str, limit: int) -> str:
    """Escape ``text`` for Slack and trim it so that the *escaped* form fits ``limit``.

    The cut is made on the raw text, so an entity such as ``&amp;`` is never split.
    """
    if limit < 1:
        raise ValueError(f"trim limit must be positive, got {limit}")
    escaped = slack_escape(text)
    if len(escaped) <= limit:
        return escaped
    room = limit - len(ELLIPSIS)
    width = 0
    end = 0
    for end, char in enumerate(text):  # noqa: B007 - ``end`` is used after the loop
        width += len(slack_escape(char))
        if width > room:
            break
    return slack_escape(_cut_at_word(text[:end])) + ELLIPSIS


def safe_link(url: str | None, limit: int = 2000) -> str | None:
    """``url`` if it is a plain http(s) link no longer than ``limit``, else ``None``.

    Feeds may carry ``javascript:`` or ``data:`` links; those never reach a button or href.
    """
    if not url:
        return None
    url = url.strip()
    if len(url) > limit or any(char.isspace() or _is_control(char) for char in url):
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def format_published(moment: datetime, *, estimated: bool = False, with_time: bool = True) -> str:
    """``2024-05-01 14:03 UTC``; a naive datetime is taken to be UTC already.

    Midnight UTC to the microsecond is a date given without a time (a seed's date marker, a
    feed's ``2024-05-01``): it reads ``2024-05-01``, not as if published at 00:00. An
    ``estimated`` date (the article gave none, or none usable) reads ``received …``, so a
    reader does not take the arrival time for the publication date.
    """
    moment = as_utc(moment)
    date_only = not with_time or moment.time() == time(0)
    text = moment.strftime("%Y-%m-%d" if date_only else "%Y-%m-%d %H:%M UTC")
    return f"received {text}" if estimated else text


def story_line(story: StoryView) -> str:
    """``story #7 · first seen 2024-05-01 14:03 UTC · 2 articles · 2 sources``.

    An update alert carries it, so a reader sees how big and how old the story it adds to
    is without opening the first alert.
    """
    return " · ".join(
        (
            f"story #{story.id}",
            f"first seen {format_published(story.first_seen)}",
            plural(story.article_count, "article"),
            plural(story.source_count, "source"),
        )
    )


def article_origin(article: ArticleView) -> str | None:
    """Where the article came from (a file's path, an item's URL), unless its link says it."""
    return article.origin if article.origin and article.origin != article.url else None


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``1 source``, ``3 sources``; ``many`` for irregular plurals (``story`` -> ``stories``)."""
    return f"{count} {noun}" if count == 1 else f"{count} {many or noun + 's'}"


def subject(topic: str, title: str, *, reply: bool = False) -> str:
    """The e-mail subject of an alert: ``[topic] story title``, ``Re: `` before it for updates."""
    line = f"[{single_line(topic)}] {single_line(title)}"
    return f"Re: {line}" if reply else line
