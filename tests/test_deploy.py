"""The deployment files: docker-compose.yml, Dockerfile, config/docker.yaml and the systemd unit.

No container engine runs in the test environment, so the compose file is checked against the
Compose Specification schema (check-jsonschema's vendored copy) plus the cross-references the
schema cannot see, and the Dockerfile is read as text.
"""

from __future__ import annotations

import configparser
import fnmatch
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.config import load_config
from monitor.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKER_CONFIG = ROOT / "config" / "docker.yaml"
UNIT = ROOT / "deploy" / "monitor.service"


def validate_compose(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


# --- docker-compose.yml ---------------------------------------------------------------------


def test_compose_file_matches_the_compose_specification() -> None:
    result = validate_compose(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        ("services:\n  worker:\n    image: 5\n    ports: x\n", "is not of type"),
        ("services:\n  worker:\n    image: monitor\nworkers: {}\n", "workers"),
        ("services:\n  worker:\n    image: monitor\n    restart_policy: always\n", "restart_policy"),
        ("services:\n  worker:\n    image: monitor\n    depends_on: {db: {condition: ready}}\n", "ready"),
    ],
    ids=["wrong-types", "unknown-top-level-key", "unknown-service-key", "bad-depends-on-condition"],
)
def test_broken_compose_documents_fail_validation(tmp_path: Path, document: str, complaint: str) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(document, encoding="utf-8")
    result = validate_compose(broken)
    assert result.returncode != 0
    assert complaint in result.stdout + result.stderr


def test_compose_services_reference_only_what_exists() -> None:
    compose = load_compose()
    services: dict[str, Any] = compose["services"]
    declared_volumes = set(compose.get("volumes") or {})
    for name, service in services.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            # A dependency hidden behind a profile the dependent lacks must be optional, or
            # `docker compose up` without that profile refuses to start.
            needs_optional = set(services[dependency].get("profiles", [])) - set(service.get("profiles", []))
            if needs_optional:
                assert condition.get("required") is False, f"{name} -> {dependency} must be required: false"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared_volumes, f"{name} uses undeclared volume {source}"


def test_compose_worker_runs_the_docker_config_on_the_documented_volumes() -> None:
    services = load_compose()["services"]
    worker = services["worker"]
    assert worker["build"] == "."
    assert "profiles" not in worker
    assert "./inbox:/app/inbox" in worker["volumes"]
    assert any(volume.endswith(":/app/var") for volume in worker["volumes"])
    config_path = worker["environment"]["MONITOR_CONFIG"]
    assert config_path == "/app/config/docker.yaml"
    assert (ROOT / "config" / Path(config_path).name).is_file()
    # The schema is upgraded before the worker starts (the worker refuses an old PostgreSQL schema).
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["image"] == worker["image"]


def test_compose_optional_services_sit_behind_profiles_with_healthchecks() -> None:
    services = load_compose()["services"]
    postgres, mailpit = services["postgres"], services["mailpit"]
    assert postgres["profiles"] == ["postgres"]
    assert postgres["image"] == "postgres:16"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in postgres["volumes"])
    assert mailpit["profiles"] == ["mail"]
    assert mailpit["image"].startswith("axllent/mailpit")
    assert {"8025:8025", "1025:1025"} <= set(mailpit["ports"])
    assert "healthcheck" in mailpit


def test_env_example_lists_every_variable_the_deployment_reads() -> None:
    listed = {
        line.split("=", 1)[0].strip()
        for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }
    text = COMPOSE.read_text(encoding="utf-8") + DOCKER_CONFIG.read_text(encoding="utf-8")
    referenced = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    assert referenced, "expected ${VAR} references in the compose file and the docker config"
    assert referenced <= listed, f"missing from .env.example: {sorted(referenced - listed)}"


# --- Dockerfile -----------------------------------------------------------------------------


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending = f"{pending} {line}" if pending else line
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        keyword, _, arguments = pending.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [index for index, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    assert starts, "no FROM instruction"
    return instructions[starts[-1] :]


def test_dockerfile_runtime_stage_runs_as_the_monitor_user() -> None:
    stage = final_stage(dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8")))
    users = [arguments for keyword, arguments in stage if keyword == "USER"]
    assert users, "the runtime stage never sets USER, so it runs as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    assert users[-1] == "monitor"
    assert stage[0] == ("FROM", "python:3.11-slim")
    assert ("WORKDIR", "/app") in stage
    assert ("ENTRYPOINT", '["monitor"]') in stage
    assert ("CMD", '["run"]') in stage
    assert any(k == "ENV" and "MONITOR_CONFIG=/app/config/monitor.yaml" in a for k, a in stage)
    volumes = [arguments for keyword, arguments in stage if keyword == "VOLUME"]
    assert volumes and "/app/var" in volumes[0] and "/app/inbox" in volumes[0]


def test_dockerfile_installs_without_dev_extras_and_copies_only_unignored_paths() -> None:
    instructions = dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8"))
    installs = [
        arguments for keyword, arguments in instructions if keyword == "RUN" and "pip install" in arguments
    ]
    assert installs and not any("[dev]" in arguments for arguments in installs)
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith(("#", "!"))
    ]
    needed = ["pyproject.toml", "monitor", "config", "seeds"]
    for keyword, arguments in instructions:
        if keyword == "COPY" and not arguments.startswith("--from"):
            needed.extend(source.rstrip("/") for source in arguments.split()[:-1] if source != ".")
    for path in needed:
        assert (ROOT / path).exists(), f"the build copies {path}, which does not exist"
        assert not any(fnmatch.fnmatch(path, pattern) for pattern in ignored), f".dockerignore drops {path}"


# --- config/docker.yaml ---------------------------------------------------------------------


def test_docker_config_defaults_to_sqlite_and_the_inbox_volume() -> None:
    config = load_config(DOCKER_CONFIG, environ={})
    assert config.database == "sqlite:///var/monitor.db"
    assert [(source.name, source.location) for source in config.sources] == [("inbox", "/app/inbox")]
    assert [target.notifier for target in config.topics[0].notify] == [
        "console",
        "slack",
        "slack_webhook",
        "email",
    ]


def test_docker_config_takes_database_and_secrets_from_the_environment() -> None:
    environ = {
        "DATABASE_URL": "postgresql://monitor:secret@postgres:5432/monitor",
        "SLACK_BOT_TOKEN": "xoxb-123",
        "SLACK_WEBHOOK_URL": "https://hooks.slack.invalid/services/T/B/X",
        "SMTP_HOST": "mailpit",
        "SMTP_PORT": "1025",
        "SMTP_SECURITY": "none",
        "ALERT_EMAIL_TO": "desk@example.com, editor@example.com",
    }
    config = load_config(DOCKER_CONFIG, environ=environ)
    assert config.database == environ["DATABASE_URL"]
    settings = {name: entry.settings.model_dump() for name, entry in config.notifiers.items()}
    assert settings["slack"]["token"] == "xoxb-123"
    assert settings["slack"]["channel"] == "#news-alerts"
    assert settings["slack_webhook"]["url"] == environ["SLACK_WEBHOOK_URL"]
    assert (settings["email"]["host"], settings["email"]["port"], settings["email"]["security"]) == (
        "mailpit",
        1025,
        "none",
    )
    assert settings["email"]["to"] == ["desk@example.com", "editor@example.com"]


def test_docker_config_reports_a_bad_environment_value_by_key() -> None:
    with pytest.raises(ConfigError, match=r"docker\.yaml: notifiers: email\.port"):
        load_config(DOCKER_CONFIG, environ={"SMTP_PORT": "twenty-five"})


# --- deploy/monitor.service -----------------------------------------------------------------


def read_unit(text: str) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(interpolation=None, strict=False, delimiters=("=",))
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(text)
    return unit


def test_systemd_unit_stops_gracefully_and_restarts_on_failure() -> None:
    service = read_unit(UNIT.read_text(encoding="utf-8"))["Service"]
    assert service["Restart"] == "on-failure"
    assert service["KillSignal"] == "SIGTERM"
    assert service["TimeoutStopSec"] == "30"
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["User"] not in ("root", "0")
    assert service["WorkingDirectory"].startswith("/")
    assert service["EnvironmentFile"].lstrip("-").startswith("/")
    assert service["ExecStart"].endswith("monitor run")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify insists that the executables exist: point the unit at this environment's monitor.
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "monitor").exists()
    unit = tmp_path / "monitor.service"
    unit.write_text(
        UNIT.read_text(encoding="utf-8").replace("/opt/monitor/bin", str(bin_dir)), encoding="utf-8"
    )
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if str(unit) in line]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr
