"""``monitor test-notify`` sends a made-up alert and reports success or the exact error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner
from slackapi import SlackAPI

from monitor.cli.main import cli


def _invoke(config: Path, *args: str) -> tuple[int, str, str]:
    from monitor.cli import admin, inspect, worker  # noqa: F401  (registers the commands)

    result = CliRunner().invoke(cli, ["--config", str(config), "test-notify", *args])
    return result.exit_code, result.stdout, result.stderr


def test_slack_test_alert_reaches_the_channel(tmp_path: Path, write_config: Callable[..., Path]) -> None:
    with SlackAPI() as api:
        notifiers = {
            "console": {},
            "slack": {"token": api.token, "channel": "#news-alerts", "api_url": api.url},
        }
        config = write_config(tmp_path, notifiers=notifiers)
        code, out, _ = _invoke(config, "slack", "--to", "#ukraine-desk")
        assert code == 0, out
        assert "sent" in out
        [message] = api.messages("#ukraine-desk")
        assert "monitor test alert" in message["text"]


def test_a_bad_token_fails_with_the_slack_error(tmp_path: Path, write_config: Callable[..., Path]) -> None:
    with SlackAPI() as api:
        notifiers = {"slack": {"token": "xoxb-wrong", "channel": "#news-alerts", "api_url": api.url}}
        config = write_config(tmp_path, notifiers=notifiers, topics=[])
        code, _, err = _invoke(config, "slack")
        assert code == 1
        assert "invalid_auth" in err
        assert api.messages("#news-alerts") == []


def test_console_and_unknown_notifiers(tmp_path: Path, write_config: Callable[..., Path]) -> None:
    config = write_config(tmp_path)
    code, out, _ = _invoke(config, "console")
    assert code == 0 and "monitor test alert" in out
    code, _, err = _invoke(config, "pager")
    assert code == 2 and "no notifier named 'pager'" in err
