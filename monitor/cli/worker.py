"""Commands that move articles: ``run`` (the daemon), ``once`` and ``ingest``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from monitor.cli.main import EXIT_FAILURE, Context, cli, handle_errors
from monitor.config import FolderSourceConfig
from monitor.httpserver import parse_listen
from monitor.outbox import DeliveryReport
from monitor.polling import ingest_paths
from monitor.sources.folder import FolderSource

#: Passes of delivery in ``once``: enough for roots and their updates, never endless.
_ONCE_DELIVERY_PASSES = 20


@cli.command()
@click.option(
    "--http",
    "listen",
    default=None,
    envvar="MONITOR_HTTP",
    help="Serve /healthz and /metrics on HOST:PORT ($MONITOR_HTTP).",
)
@click.pass_obj
@handle_errors
def run(ctx: Context, listen: str | None) -> None:
    """Run the worker: poll every source at its interval and deliver alerts, until stopped."""
    # The scheduler and its file watcher load only for the daemon, not for every command.
    from monitor.scheduler import Daemon

    try:
        address = parse_listen(listen) if listen else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--http") from None
    sys.exit(Daemon(ctx.load, ctx.app, listen=address).run())


@cli.command()
@click.pass_obj
@handle_errors
def once(ctx: Context) -> None:
    """Poll every source now, deliver what is due, and exit (1 if a source failed as a whole)."""
    app = ctx.app()
    failed = False
    try:
        for outcome in app.poll_all():
            if outcome.error:
                click.echo(f"monitor: {outcome.source}: {outcome.error}", err=True)
                failed = True
        deliver_all(app.deliver)
    finally:
        app.close()
    sys.exit(EXIT_FAILURE if failed else 0)


def deliver_all(deliver_pass: Callable[[], DeliveryReport]) -> DeliveryReport:
    """Deliver until a pass finds nothing more it can send now."""
    total = DeliveryReport()
    for _ in range(_ONCE_DELIVERY_PASSES):
        report = deliver_pass()
        total.sent += report.sent
        total.failed += report.failed
        if report.sent == 0:
            break
    return total


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--source", "source_name", default="ingest", show_default=True, help="Source name to record.")
@click.option("--deliver/--no-deliver", default=True, show_default=True, help="Deliver the alerts after.")
@click.pass_obj
@handle_errors
def ingest(ctx: Context, paths: tuple[Path, ...], source_name: str, deliver: bool) -> None:
    """Run seeds-format files or folders through the pipeline, as a drop folder would."""
    app = ctx.app()
    try:
        source = FolderSource(FolderSourceConfig(name=source_name, folder=Path(".")))
        files = sum(len(list(p.glob(source.config.pattern))) if p.is_dir() else 1 for p in paths)
        # click draws the bar only when stderr is a terminal.
        with click.progressbar(length=files, label="ingesting", file=sys.stderr) as bar:
            outcome = ingest_paths(app.sessions, app.pipeline, source, list(paths), app.clock, bar.update)
        report = outcome.report
        click.echo(
            f"{report.stored} stored, {report.known + report.merged} already known, "
            f"{report.rejected} rejected, {report.stories_created} new stories, {report.alerts} alerts",
            err=True,
        )
        if deliver:
            deliver_all(app.deliver)
    finally:
        app.close()
