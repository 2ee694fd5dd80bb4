"""The console notifier: readable alerts on stdout (logs go to stderr)."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from monitor.model import AlertKind, AlertMessage
from monitor.notify.base import Delivered, Notifier, NotifierSettings
from monitor.notify.render import format_published, plural, single_line, story_line


class ConsoleSettings(NotifierSettings):
    """The console takes no settings."""


class Console(Notifier):
    """Prints each alert as a short block: what happened, to which story, for which topic."""

    kind = "console"
    Settings = ConsoleSettings
    threads = True

    #: One lock for all instances: two notifiers must not interleave lines on one stdout.
    _lock = threading.Lock()

    def __init__(self, name: str, settings: NotifierSettings, stream: TextIO | None = None) -> None:
        super().__init__(name, settings)
        self.stream = stream

    def default_destination(self) -> str:
        return "stdout"

    def send(self, message: AlertMessage, destination: str, thread_ref: str | None = None) -> Delivered:
        stream = self.stream or sys.stdout
        with self._lock:
            stream.write(render_console(message, thread_ref) + "\n")
            stream.flush()
        return Delivered(thread_ref=f"story-{message.story.id}")


def render_console(message: AlertMessage, thread_ref: str | None = None) -> str:
    story, article = message.story, message.article
    published = format_published(article.published, estimated=article.published_estimated, with_time=False)
    sources = plural(story.source_count, "source")
    if message.kind is AlertKind.NEW_STORY:
        lines = [
            f"[{message.topic}] NEW STORY #{story.id}: {single_line(story.title)}",
            f"  {single_line(article.source)} · {published} · {sources} · {article.origin}",
        ]
        if article.lead:
            lines.append(f"  {single_line(article.lead)}")
    else:
        prefix = "" if thread_ref else "(standalone) "
        lines = [
            f"[{message.topic}] {prefix}UPDATE to story #{story.id}: {single_line(story.title)}",
            f"  {single_line(article.title)}",
            f"  {single_line(article.source)} · {published} · {single_line(article.origin)}",
            f"  {story_line(story)}",
        ]
        if message.novel_sentences:
            lines.append("  What's new:")
            lines.extend(f"   - {single_line(sentence)}" for sentence in message.novel_sentences)
    return "\n".join(lines)
