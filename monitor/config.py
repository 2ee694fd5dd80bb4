"""Typed, strict configuration loaded from YAML.

Unknown keys are errors, ``${VAR}`` / ``${VAR:-default}`` are filled from the environment,
durations are written ``30s`` / ``10m`` / ``1h``, and every problem becomes one readable
line naming the file and the key path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ByteSize,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from monitor import defaults
from monitor.durations import Duration
from monitor.errors import ConfigError, MonitorError, QueryError
from monitor.httpserver import parse_listen
from monitor.notify import load_kinds
from monitor.notify.base import Notifier, NotifierSettings
from monitor.stories.settings import StorySettings
from monitor.topics import Query

_ENV_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _listen_address(value: Any) -> Any:
    return parse_listen(value) if isinstance(value, str) else value


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FolderSourceConfig(StrictModel):
    """A drop folder of article files in the seeds format."""

    name: str = Field(min_length=1)
    folder: Path
    every: Duration = defaults.SOURCE_EVERY_SECONDS
    pattern: str = defaults.FOLDER_PATTERN
    max_file_size: ByteSize = ByteSize(defaults.FOLDER_MAX_FILE_BYTES)
    #: Move files into ``processed/`` and ``failed/`` beside them once handled.
    move_files: bool = False
    #: React to filesystem events at once; the scheduled scan remains the fallback.
    watch: bool = True

    @property
    def kind(self) -> str:
        return "folder"

    @property
    def location(self) -> str:
        return str(self.folder)


class FeedSourceConfig(StrictModel):
    """An RSS, Atom or JSON Feed URL."""

    name: str = Field(min_length=1)
    feed: str
    every: Duration = defaults.SOURCE_EVERY_SECONDS
    #: Treat the feed's ``<ttl>`` / ``Cache-Control: max-age`` as a lower bound on ``every``.
    respect_ttl: bool = True

    @field_validator("feed")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"https?://[^/\s]+", value):
            raise ValueError(f"expected an http(s) URL, got {value!r}")
        return value

    @property
    def kind(self) -> str:
        return "feed"

    @property
    def location(self) -> str:
        return self.feed


def _source_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        kinds = [kind for kind in ("folder", "feed") if kind in value]
        return kinds[0] if len(kinds) == 1 else None
    return getattr(value, "kind", None)


SourceConfig = Annotated[
    Annotated[FolderSourceConfig, Tag("folder")] | Annotated[FeedSourceConfig, Tag("feed")],
    Discriminator(
        _source_kind,
        custom_error_type="source_kind",
        custom_error_message="a source needs exactly one of 'folder:' or 'feed:'",
    ),
]


class NotifyTarget(StrictModel):
    """Where a topic's alerts go: a notifier by name, optionally with a destination."""

    notifier: str
    destination: Any = None
    #: E-mail only: ``hourly`` or ``daily HH:MM`` sends one digest per period.
    digest: str | None = None

    @field_validator("digest")
    @classmethod
    def _digest_period(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"hourly|daily(?: ([01]\d|2[0-3]):[0-5]\d)?", value):
            raise ValueError(f"digest must be 'hourly' or 'daily HH:MM', got {value!r}")
        return value


def _notify_entry(value: Any) -> Any:
    """Accept ``console``, ``{slack: "#desk"}`` or ``{email: {to: [...], digest: hourly}}``."""
    if isinstance(value, str):
        return {"notifier": value}
    if isinstance(value, dict) and len(value) == 1 and "notifier" not in value:
        ((name, spec),) = value.items()
        if isinstance(spec, dict) and ("to" in spec or "digest" in spec or "channel" in spec):
            spec = dict(spec)
            destination = spec.pop("to", None) or spec.pop("channel", None)
            return {"notifier": name, "destination": destination, **spec}
        return {"notifier": name, "destination": spec}
    return value


class TopicConfig(StrictModel):
    """A followed topic: a boolean query and where its alerts go."""

    name: str = Field(min_length=1)
    query: Query
    notify: list[Annotated[NotifyTarget, BeforeValidator(_notify_entry)]] = Field(min_length=1)
    #: Which later reports of a tracked story alert: ``novel`` facts only, ``all``, or ``none``.
    updates: Literal["novel", "all", "none"] = "novel"
    #: How many informative new sentences an update needs before it alerts.
    min_novel_sentences: int = Field(default=1, ge=1)
    #: Slack: also show thread replies in the channel.
    reply_broadcast: bool = False

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    @model_validator(mode="before")
    @classmethod
    def _parse_query(cls, data: Any) -> Any:
        # Parsed here rather than per field so the error can name the topic.
        if isinstance(data, dict) and isinstance(data.get("query"), str):
            try:
                return {**data, "query": Query.parse(data["query"])}
            except QueryError as exc:
                raise ValueError(f"topic {data.get('name')!r}: query: {exc}") from None
        return data


class DeliveryConfig(StrictModel):
    every: Duration = defaults.DELIVERY_EVERY_SECONDS
    backoff_base: Duration = defaults.DELIVERY_BACKOFF_BASE_SECONDS
    backoff_cap: Duration = defaults.DELIVERY_BACKOFF_CAP_SECONDS


class FeedsConfig(StrictModel):
    """How every feed is fetched (per-feed options sit on the feed's source entry)."""

    connect_timeout: Duration = defaults.FEED_CONNECT_TIMEOUT_SECONDS
    timeout: Duration = defaults.FEED_TOTAL_TIMEOUT_SECONDS
    max_bytes: ByteSize = ByteSize(defaults.FEED_MAX_BYTES)
    per_host: int = Field(default=defaults.FEED_PER_HOST_CONCURRENCY, ge=1)
    max_concurrency: int = Field(default=defaults.FEED_MAX_CONCURRENCY, ge=1)
    processes: int = Field(default=defaults.FEED_PARSE_WORKERS, ge=0)
    parse_timeout: Duration = defaults.FEED_PARSE_TIMEOUT_SECONDS
    backoff_cap: Duration = defaults.FEED_BACKOFF_CAP_SECONDS
    first_poll_spread: Duration = defaults.FEED_FIRST_POLL_SPREAD_SECONDS
    dispatch_every: Duration = defaults.FEED_DISPATCH_EVERY_SECONDS


@dataclass(frozen=True)
class NotifierEntry:
    """A configured notifier: its kind and validated settings."""

    kind: str
    settings: NotifierSettings


class Config(StrictModel):
    """The whole configuration file."""

    database: str = defaults.DATABASE_URL
    sources: list[SourceConfig] = Field(default_factory=list)
    notifiers: dict[str, NotifierEntry] = Field(default_factory=dict)
    topics: list[TopicConfig] = Field(default_factory=list)
    stories: StorySettings = Field(default_factory=StorySettings)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    feeds: FeedsConfig = Field(default_factory=FeedsConfig)
    #: Leases on sources and alerts expire after this, so a killed worker's work moves on.
    lease: Duration = defaults.LEASE_SECONDS
    #: Prune article bodies and stories older than this; unset keeps everything.
    retention: Duration | None = None
    #: ``HOST:PORT`` for /healthz and /metrics (``:9100`` listens on every interface).
    http: Annotated[tuple[str, int], BeforeValidator(_listen_address)] | None = None
    log_format: Literal["text", "json"] = "text"

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    @field_validator("notifiers", mode="before")
    @classmethod
    def _notifier_settings(cls, value: Any) -> dict[str, NotifierEntry]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ValueError("expected a mapping of notifier name to settings")
        load_kinds()
        entries: dict[str, NotifierEntry] = {}
        for name, raw in value.items():
            if isinstance(raw, NotifierEntry):
                entries[name] = raw
                continue
            spec = dict(raw or {})
            kind = str(spec.pop("kind", name))
            try:
                settings_model = Notifier.by_kind(kind).Settings
            except ConfigError as exc:
                raise ValueError(f"{name}: {exc}") from None
            try:
                entries[name] = NotifierEntry(kind, settings_model.model_validate(spec))
            except ValidationError as exc:
                raise ValueError(f"{name}.{_first_error(exc)}") from None
        return entries

    @model_validator(mode="after")
    def _cross_references(self) -> Config:
        names = [source.name for source in self.sources]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"sources: duplicate name {duplicates[0]!r}")
        topic_names = [topic.name for topic in self.topics]
        if len(set(topic_names)) != len(topic_names):
            raise ValueError("topics: duplicate topic name")
        for index, topic in enumerate(self.topics):
            for target in topic.notify:
                if target.notifier not in self.notifiers:
                    known = ", ".join(sorted(self.notifiers)) or "none configured"
                    raise ValueError(
                        f"topics[{index}].notify: unknown notifier {target.notifier!r} (known: {known})"
                    )
        return self


def _format_location(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in ("folder", "feed") and path.endswith("]") and path.startswith("sources"):
            # pydantic puts the union tag in the path; users never wrote it.
            if part == loc[-1]:
                path += f".{part}"
            continue
        elif part.startswith("function-") or part.endswith("]"):
            continue
        else:
            path += f".{part}" if path else str(part)
    return path


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    message = str(error["msg"]).removeprefix("Value error, ")
    location = _format_location(tuple(error["loc"]))
    if error["type"] == "missing":
        message = "a required key is missing"
    elif error["type"] == "extra_forbidden":
        message = "unknown key"
    return f"{location}: {message}" if location else message


def substitute_env(value: Any, environ: Mapping[str, str] | None = None) -> Any:
    """Fill ``${VAR}`` and ``${VAR:-default}`` in every string; ``$$`` is a literal ``$``."""
    env = os.environ if environ is None else environ
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            found = env.get(match.group(1), "")
            return found if found else (match.group(2) or "")

        return _ENV_REFERENCE.sub(replace, value)
    if isinstance(value, list):
        return [substitute_env(item, env) for item in value]
    if isinstance(value, dict):
        return {key: substitute_env(item, env) for key, item in value.items()}
    return value


def parse_config(data: Any, *, origin: str = "<config>", environ: Mapping[str, str] | None = None) -> Config:
    """Validate already-loaded YAML data; raises :class:`ConfigError` with one readable line."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping at the top level")
    try:
        return Config.model_validate(substitute_env(data, environ))
    except ValidationError as exc:
        raise ConfigError(f"{origin}: {_first_error(exc)}") from None
    except MonitorError as exc:
        raise ConfigError(f"{origin}: {exc}") from None


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate a YAML file; raises :class:`ConfigError` with one readable line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{where}: invalid YAML: {problem}") from None
    return parse_config(data, origin=str(path), environ=environ)
