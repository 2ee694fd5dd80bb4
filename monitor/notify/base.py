"""The notifier interface and its registry: every kind registers itself by ``kind``.

A notifier turns an :class:`~monitor.model.AlertMessage` into a message at one destination
(a Slack channel, a list of e-mail addresses, the console). It knows nothing of the
database: the outbox decides what is due, passes the thread reference stored for the
story, and stores the reference the notifier returns.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from monitor.errors import ConfigError
from monitor.model import AlertMessage


class NotifierSettings(BaseModel):
    """Base of every notifier's settings model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Delivered:
    """What a notifier reports after a successful send.

    ``thread_ref`` identifies the message for later replies (Slack ``ts``, e-mail
    Message-ID); ``None`` when the kind cannot thread.
    """

    thread_ref: str | None = None


class Notifier(ABC):
    """One configured notifier. Subclasses declare ``kind`` and a ``Settings`` model."""

    kind: ClassVar[str]
    Settings: ClassVar[type[NotifierSettings]]
    #: Whether ``send`` accepts a ``thread_ref`` and returns one to reply under.
    threads: ClassVar[bool] = False
    registry: ClassVar[dict[str, type[Notifier]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kind = cls.__dict__.get("kind")
        if kind:
            Notifier.registry[kind] = cls

    def __init__(self, name: str, settings: NotifierSettings) -> None:
        self.name = name
        self.settings = settings

    @classmethod
    def by_kind(cls, kind: str) -> type[Notifier]:
        try:
            return cls.registry[kind]
        except KeyError:
            known = ", ".join(sorted(cls.registry))
            raise ConfigError(f"unknown notifier kind {kind!r} (known: {known})") from None

    def missing_secret(self) -> str | None:
        """Name of a required secret that resolved empty, so the notifier must stay disabled."""
        return None

    @abstractmethod
    def default_destination(self) -> str:
        """The destination used when a topic names this notifier without one."""

    def normalise_destination(self, destination: object) -> str:
        """Turn a destination as written in YAML into the string stored on alert rows."""
        if isinstance(destination, list | tuple):
            return ",".join(str(item) for item in destination)
        return str(destination)

    def check(self) -> None:
        """Verify credentials at start-up; raise :class:`~monitor.errors.DeliveryError` if bad."""

    @abstractmethod
    def send(self, message: AlertMessage, destination: str, thread_ref: str | None = None) -> Delivered:
        """Deliver one alert; raise :class:`~monitor.errors.DeliveryError` on failure."""

    def update_root(self, message: AlertMessage, destination: str, thread_ref: str) -> None:
        """Refresh the story's first message (running counts); kinds that can't edit ignore it."""

    def close(self) -> None:
        """Release connections; called once at shutdown."""
