"""The ``monitor`` command group, its shared options, and how errors become exit codes.

Exit codes: 0 success; 1 a source or the database failed; 2 configuration or usage error.
Every error the worker raises on purpose is printed as one line, never as a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from monitor import __version__, defaults
from monitor.app import App, Records
from monitor.config import Config, load_config
from monitor.errors import ConfigError, MonitorError
from monitor.logsetup import configure_logging

P = ParamSpec("P")
R = TypeVar("R")

EXIT_FAILURE = 1
EXIT_USAGE = 2


@dataclass
class Context:
    config_path: Path
    log_format: str | None
    log_level: str

    def load(self) -> Config:
        config = load_config(self.config_path)
        configure_logging(self.log_format or config.log_format, self.log_level)
        return config

    def app(self, config: Config | None = None) -> App:
        return App.build(config or self.load())

    def records(self) -> Records:
        return Records.open(self.load())


def handle_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn our errors into one line on stderr and the documented exit code."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except ConfigError as exc:
            click.echo(f"monitor: {exc}", err=True)
            sys.exit(EXIT_USAGE)
        except MonitorError as exc:
            click.echo(f"monitor: {exc}", err=True)
            sys.exit(EXIT_FAILURE)

    return wrapper


@click.group(context_settings={"auto_envvar_prefix": "MONITOR", "help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="monitor")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=defaults.CONFIG_PATH,
    show_default=True,
    envvar="MONITOR_CONFIG",
    help="The YAML configuration file ($MONITOR_CONFIG).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=None,
    help="Log format on stderr (default: the config's log_format, else text).",
)
@click.option("--log-level", default="INFO", show_default=True, help="DEBUG, INFO, WARNING or ERROR.")
@click.pass_context
def cli(ctx: click.Context, config_path: Path, log_format: str | None, log_level: str) -> None:
    """monitor: follow news sources, group reports into stories, alert on tracked topics."""
    configure_logging(log_format or "text", log_level)
    ctx.obj = Context(config_path, log_format, log_level)


def main(argv: list[str] | None = None) -> Any:
    from monitor.cli import admin, inspect, worker  # noqa: F401  (registers the commands)

    return cli.main(args=argv, prog_name="monitor")
