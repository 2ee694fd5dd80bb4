"""The README cannot drift from the code: its examples load, its reference lists every key,
and CI runs exactly the test command it gives."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from monitor.config import (
    Config,
    DeliveryConfig,
    FeedsConfig,
    FeedSourceConfig,
    FolderSourceConfig,
    NotifyTarget,
    TopicConfig,
    parse_config,
)
from monitor.notify import load_kinds
from monitor.notify.base import Notifier
from monitor.stories.settings import StorySettings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
ENVIRON = {
    "SLACK_BOT_TOKEN": "xoxb-test",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/X",
    "SMTP_USER": "monitor",
    "SMTP_PASSWORD": "secret",
}


def yaml_examples() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", README, flags=re.DOTALL)


def documented_keys() -> set[str]:
    table = README.split("<!-- config-reference:start -->")[1].split("<!-- config-reference:end -->")[0]
    return set(re.findall(r"^\| `([^`]+)` \|", table, flags=re.MULTILINE))


def _fields(model: type[BaseModel], prefix: str) -> set[str]:
    return {f"{prefix}{name}" for name in model.model_fields}


def model_keys() -> set[str]:
    load_kinds()
    keys = {name for name in Config.model_fields if name not in ("sources", "notifiers", "topics")}
    keys -= {"stories", "delivery", "feeds"}
    keys |= _fields(FolderSourceConfig, "sources[].") | _fields(FeedSourceConfig, "sources[].")
    keys |= (
        _fields(FeedsConfig, "feeds.")
        | _fields(StorySettings, "stories.")
        | _fields(DeliveryConfig, "delivery.")
    )
    keys |= _fields(TopicConfig, "topics[].")
    keys |= _fields(NotifyTarget, "topics[].notify[].") - {
        "topics[].notify[].notifier",
        "topics[].notify[].destination",
    }
    keys.add("notifiers.NAME.kind")
    for kind, notifier in Notifier.registry.items():
        keys |= _fields(notifier.Settings, f"notifiers.{kind}.")
    return keys


def used_keys(data: dict[str, Any]) -> set[str]:
    """Key paths a YAML example sets, in the reference table's notation."""
    used: set[str] = set()
    for key, value in data.items():
        if key == "sources":
            used |= {f"sources[].{field}" for source in value for field in source}
        elif key == "topics":
            for topic in value:
                used |= {f"topics[].{field}" for field in topic}
                for entry in topic.get("notify", []):
                    if isinstance(entry, dict):
                        for spec in entry.values():
                            if isinstance(spec, dict):
                                used |= {f"topics[].notify[].{field}" for field in spec if field != "to"}
        elif key == "notifiers":
            for name, spec in value.items():
                kind = (spec or {}).get("kind", name)
                used |= {f"notifiers.{kind}.{field}" for field in (spec or {}) if field != "kind"}
                if "kind" in (spec or {}):
                    used.add("notifiers.NAME.kind")
        elif isinstance(value, dict):
            used |= {f"{key}.{field}" for field in value}
        else:
            used.add(key)
    return used


@pytest.mark.parametrize("example", yaml_examples(), ids=lambda text: text.split("\n", 1)[0][:40])
def test_every_yaml_example_in_the_readme_validates(example: str) -> None:
    config = parse_config(yaml.safe_load(example), origin="README", environ=ENVIRON)
    assert config.topics, "each README example configures at least one topic"


def test_reference_table_lists_exactly_the_keys_the_code_accepts() -> None:
    documented, accepted = documented_keys(), model_keys()
    assert documented - accepted == set(), "documented but not accepted"
    assert accepted - documented == set(), "accepted but not documented"


def test_the_examples_together_set_every_documented_key() -> None:
    used: set[str] = set()
    for example in yaml_examples():
        used |= used_keys(yaml.safe_load(example))
    assert documented_keys() - used == set()


def test_ci_runs_the_readme_test_command() -> None:
    commands = re.findall(r"```sh\n(python3 -m venv .*?)\n```", README)
    run_command, test_command = commands[0], commands[1]
    assert run_command.endswith("monitor run")
    assert "pytest" in test_command
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
