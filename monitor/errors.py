"""The one exception hierarchy of monitor.

Every error the worker raises on purpose derives from :class:`MonitorError`, so the CLI
can turn any of them into one readable line and an exit code without a traceback.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base class for every deliberate error in monitor."""


class ConfigError(MonitorError):
    """The configuration file is missing, malformed or invalid (CLI exit code 2)."""


class QueryError(ConfigError):
    """A topic query does not parse; carries the 1-based column of the problem."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"{message} at column {column}")
        self.reason = message
        self.column = column


class DurationError(ConfigError):
    """A duration string such as ``30s`` or ``10m`` could not be read."""


class ArticleRejected(MonitorError):
    """An input file or feed item cannot become an article (empty, binary, too large...)."""


class SourceError(MonitorError):
    """A source as a whole could not be read this pass (folder missing, feed unreachable)."""


class FetchError(SourceError):
    """An HTTP fetch failed; ``retry_after`` is the server's requested delay, if any."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class NotAFeed(SourceError):
    """The document fetched from a feed URL is not RSS, Atom or JSON Feed."""


class DeliveryError(MonitorError):
    """A notifier could not deliver an alert.

    ``permanent`` errors (bad token, unknown channel) are not retried until a user re-queues
    them; transient ones are retried with backoff. ``retry_after`` is honoured when given.
    """

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class StoreError(MonitorError):
    """The database cannot be reached or is at an unexpected schema version."""
