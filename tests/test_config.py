"""Configuration: environment substitution, durations, disabled notifiers, the documented
contract, and one readable line for each invalid file."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import CONTRACT_QUERY, CONTRACT_TOPIC, SHIPPED_CONFIG

from monitor import defaults
from monitor.app import build_notifiers, resolve_targets
from monitor.config import FeedSourceConfig, FolderSourceConfig, load_config, parse_config, substitute_env
from monitor.durations import parse_duration
from monitor.errors import ConfigError, DurationError
from monitor.feedpoll import fetch_settings
from monitor.notify.email import EmailSettings
from monitor.notify.slack import SlackSettings

DATA = Path(__file__).parent / "data"
BAD_CONFIGS: list[dict[str, str]] = yaml.safe_load((DATA / "config_errors.yaml").read_text(encoding="utf-8"))

#: The documented configuration contract, verbatim.
CONTRACT = (DATA / "config_contract.yaml").read_text(encoding="utf-8")

ENV_CASES = [
    ("${HOST}", {"HOST": "mail.internal"}, "mail.internal"),
    ("${HOST}", {}, ""),
    ("${HOST:-localhost}", {}, "localhost"),
    ("${HOST:-localhost}", {"HOST": "mail.internal"}, "mail.internal"),
    ("${HOST:-localhost}", {"HOST": ""}, "localhost"),
    ("${TOKEN:-}", {}, ""),
    ("smtp://${USER}:${PASS}@${HOST:-localhost}:25", {"USER": "u", "PASS": "p"}, "smtp://u:p@localhost:25"),
    ("costs $$5", {}, "costs $5"),
    ("$${HOST}", {"HOST": "mail.internal"}, "${HOST}"),
    ("$$$${HOST}", {"HOST": "h"}, "$${HOST}"),
    ("$$${HOST}", {"HOST": "h"}, "$h"),
    ("a lone $ sign and $HOST", {"HOST": "h"}, "a lone $ sign and $HOST"),
]


@pytest.mark.parametrize(("written", "environ", "expected"), ENV_CASES)
def test_environment_substitution(written: str, environ: dict[str, str], expected: str) -> None:
    assert substitute_env(written, environ) == expected


def test_substitution_reaches_nested_values_and_leaves_other_types_alone() -> None:
    data: dict[str, Any] = {"a": ["${X}", {"b": "${Y:-y}"}], "n": 587, "flag": True, "none": None}
    assert substitute_env(data, {"X": "x"}) == {"a": ["x", {"b": "y"}], "n": 587, "flag": True, "none": None}


def test_parse_config_substitutes_from_the_given_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_CHANNEL", "#from-process-env")
    data = {"notifiers": {"slack": {"token": "${SLACK_BOT_TOKEN}", "channel": "${SLACK_CHANNEL:-#default}"}}}

    given = parse_config(data, environ={"SLACK_BOT_TOKEN": "xoxb-1"})
    from_process = parse_config(data)

    settings = given.notifiers["slack"].settings
    assert isinstance(settings, SlackSettings)
    assert (settings.token, settings.channel) == ("xoxb-1", "#default")
    process_settings = from_process.notifiers["slack"].settings
    assert isinstance(process_settings, SlackSettings)
    assert process_settings.channel == "#from-process-env"


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        ("30s", 30.0),
        ("10m", 600.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("2.5h", 9000.0),
        (45, 45.0),
        ("500ms", 0.5),
    ],
)
def test_durations(written: str | int, seconds: float) -> None:
    assert parse_duration(written) == seconds
    config = parse_config({"sources": [{"name": "inbox", "folder": "./inbox", "every": written}]})
    assert config.sources[0].every == seconds


@pytest.mark.parametrize("written", ["5 minutes", "10x", "m", "", "-1s", "0s", "1h-30m"])
def test_bad_durations(written: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(written)
    with pytest.raises(ConfigError, match=r"^<config>: sources\[0\]\.every: "):
        parse_config({"sources": [{"name": "inbox", "folder": "./inbox", "every": written}]})


def test_a_notifier_whose_secret_is_empty_is_disabled_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = parse_config(yaml.safe_load(CONTRACT), environ={})

    with caplog.at_level(logging.WARNING):
        notifiers = build_notifiers(config)

    assert sorted(notifiers) == ["console", "email"]
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert warnings == ["notifier 'slack' is disabled: its token is empty"]
    # The topic still alerts where it can.
    targets = resolve_targets(config, notifiers)
    assert [(t.notifier, t.destination) for t in targets[CONTRACT_TOPIC]] == [
        ("console", "stdout"),
        ("email", "ukraine-desk@example.com"),
    ]
    for notifier in notifiers.values():
        notifier.close()


def test_a_notifier_whose_secret_is_set_is_enabled(caplog: pytest.LogCaptureFixture) -> None:
    config = parse_config(yaml.safe_load(CONTRACT), environ={"SLACK_BOT_TOKEN": "xoxb-test"})

    with caplog.at_level(logging.WARNING):
        notifiers = build_notifiers(config)

    assert sorted(notifiers) == ["console", "email", "slack"]
    assert [record for record in caplog.records if record.levelno >= logging.WARNING] == []
    targets = resolve_targets(config, notifiers)
    assert ("slack", "#ukraine-desk") in [(t.notifier, t.destination) for t in targets[CONTRACT_TOPIC]]
    for notifier in notifiers.values():
        notifier.close()


def test_the_configuration_contract_validates_as_written(tmp_path: Path) -> None:
    path = tmp_path / "monitor.yaml"
    path.write_text(CONTRACT, encoding="utf-8")

    config = load_config(path, environ={"SMTP_HOST": "mail.internal"})

    assert config.database == "sqlite:///var/monitor.db"
    inbox, bbc = config.sources
    assert isinstance(inbox, FolderSourceConfig) and isinstance(bbc, FeedSourceConfig)
    assert (inbox.name, inbox.folder, inbox.every) == ("inbox", Path("inbox"), 30.0)
    assert (bbc.name, bbc.feed, bbc.every) == (
        "bbc-world",
        "https://feeds.bbci.co.uk/news/world/rss.xml",
        900.0,
    )
    assert {name: entry.kind for name, entry in config.notifiers.items()} == {
        "console": "console",
        "slack": "slack",
        "email": "email",
    }
    slack = config.notifiers["slack"].settings
    assert isinstance(slack, SlackSettings)
    assert (slack.token, slack.channel, slack.api_url) == ("", "#news-alerts", "https://slack.com/api/")
    email = config.notifiers["email"].settings
    assert isinstance(email, EmailSettings)
    assert (email.host, email.port, email.security, email.username, email.password) == (
        "mail.internal",
        587,
        "starttls",
        "",
        "",
    )
    assert (email.sender, email.to) == ("News Monitor <monitor@example.com>", ["news-desk@example.com"])
    [topic] = config.topics
    assert topic.name == CONTRACT_TOPIC
    assert [(t.notifier, t.destination) for t in topic.notify] == [
        ("console", None),
        ("slack", "#ukraine-desk"),
        ("email", ["ukraine-desk@example.com"]),
    ]


def test_the_shipped_config_loads_and_follows_the_contract_topic() -> None:
    config = load_config(SHIPPED_CONFIG, environ={})
    [topic] = config.topics
    raw_query = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))["topics"][0]["query"]
    assert topic.name == CONTRACT_TOPIC
    assert raw_query == CONTRACT_QUERY


@pytest.mark.parametrize("case", BAD_CONFIGS, ids=lambda case: case["name"])
def test_an_invalid_config_is_one_readable_line(case: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "monitor.yaml"
    path.write_text(case["yaml"].replace("{inbox}", str(tmp_path)), encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    message = str(caught.value)
    assert message.startswith(str(path))
    assert case["message"] in message
    assert "\n" not in message


def test_a_missing_config_file_is_one_readable_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nowhere.yaml")
    assert str(caught.value) == f"{tmp_path / 'nowhere.yaml'}: config file not found"


def test_feed_settings_reach_the_poller() -> None:
    config = parse_config({"feeds": {"processes": 0, "per_host": 3, "timeout": "5s", "parse_timeout": "2m"}})
    settings = fetch_settings(config.feeds)
    assert (settings.parse_workers, settings.per_host, settings.total_timeout) == (0, 3, 5.0)
    assert settings.parse_timeout == 120.0
    default = fetch_settings(parse_config({}).feeds)
    assert default.parse_workers == defaults.FEED_PARSE_WORKERS
    assert default.parse_timeout == defaults.FEED_PARSE_TIMEOUT_SECONDS
    with pytest.raises(ConfigError, match="processes"):
        parse_config({"feeds": {"processes": -1}})
    with pytest.raises(ConfigError, match=r"feeds\.parse_timeout.*positive"):
        parse_config({"feeds": {"parse_timeout": "0s"}})
