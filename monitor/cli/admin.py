"""Set-up commands: ``check`` (validate config), ``db upgrade`` / ``db stats``, ``test-notify``."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from sqlalchemy import func, select

from monitor.app import build_notifiers
from monitor.cli.main import Context, cli, handle_errors
from monitor.errors import ConfigError, DeliveryError
from monitor.model import AlertKind, AlertMessage, ArticleView, StoryView
from monitor.retention import prune
from monitor.store import db
from monitor.store.tables import Base


@cli.command()
@click.pass_obj
@handle_errors
def check(ctx: Context) -> None:
    """Validate the configuration and say what it will do."""
    config = ctx.load()
    notifiers = build_notifiers(config)
    click.echo(f"{ctx.config_path}: OK")
    click.echo(f"  database: {db.create_db_engine(config.database).url.render_as_string(hide_password=True)}")
    for source in config.sources:
        click.echo(f"  source {source.name}: {source.kind} {source.location} every {source.every:g}s")
    for name, entry in config.notifiers.items():
        state = "enabled" if name in notifiers else "disabled (secret missing)"
        click.echo(f"  notifier {name}: {entry.kind}, {state}")
    for topic in config.topics:
        targets = ", ".join(t.notifier + (f" {t.destination}" if t.destination else "") for t in topic.notify)
        click.echo(f"  topic {topic.name}: → {targets}")


@cli.group("db")
def db_group() -> None:
    """Database schema and size."""


@db_group.command("upgrade")
@click.pass_obj
@handle_errors
def db_upgrade(ctx: Context) -> None:
    """Apply every pending migration (run this after upgrading monitor)."""
    config = ctx.load()
    engine = db.create_db_engine(config.database)
    db.upgrade(engine)
    click.echo("database schema is up to date")
    engine.dispose()


@db_group.command("stats")
@click.pass_obj
@handle_errors
def db_stats(ctx: Context) -> None:
    """Rows and size of each table, and the database's total size."""
    config = ctx.load()
    engine = db.create_db_engine(config.database)
    sizes = db.table_sizes(engine)
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            count = connection.scalar(select(func.count()).select_from(table)) or 0
            size = sizes.get(table.name)
            click.echo(
                f"{table.name:<18} {count:>10,} {'row ' if count == 1 else 'rows'}"
                + (f" {_size(size):>12}" if size is not None else "")
            )
    total = db.database_size(engine)
    if total is not None:
        click.echo(f"{'total':<18} {_size(total):>28}")
    engine.dispose()


def _size(size: int) -> str:
    """``24 kB`` below a megabyte (a young database is all kilobytes), else ``3.1 MB``."""
    return f"{size / 1e3:.0f} kB" if size < 1_000_000 else f"{size / 1e6:,.1f} MB"


@db_group.command("prune")
@click.pass_obj
@handle_errors
def db_prune(ctx: Context) -> None:
    """Apply the configured retention now (the daemon also does it every few hours)."""
    records = ctx.records()
    try:
        if records.config.retention is None:
            raise ConfigError("retention is not set in the config; nothing to prune")
        report = prune(records.sessions, records.config.retention, records.clock())
        click.echo(
            f"pruned {report.bodies_pruned} article bodies, {report.revisions_deleted} revisions, "
            f"{report.stories_deleted} stories"
        )
    finally:
        records.close()


@cli.command("test-notify")
@click.argument("notifier_name")
@click.option("--to", "destination", default=None, help="Destination instead of the notifier's default.")
@click.pass_obj
@handle_errors
def test_notify(ctx: Context, notifier_name: str, destination: str | None) -> None:
    """Send a made-up alert through one notifier and report success or the exact error."""
    config = ctx.load()
    notifiers = build_notifiers(config)
    if notifier_name not in config.notifiers:
        raise ConfigError(f"no notifier named {notifier_name!r} (configured: {', '.join(config.notifiers)})")
    notifier = notifiers.get(notifier_name)
    if notifier is None:
        raise ConfigError(f"notifier {notifier_name!r} is disabled: its secret is empty")
    target = notifier.normalise_destination(destination) if destination else notifier.default_destination()
    now = datetime.now(UTC)
    message = AlertMessage(
        alert_id=0,
        kind=AlertKind.NEW_STORY,
        topic="test",
        story=StoryView(id=0, title="monitor test alert", article_count=1, source_count=1, first_seen=now),
        article=ArticleView(
            id=0,
            title="monitor test alert",
            source="monitor",
            origin="test-notify",
            url=None,
            published=now,
            lead="If you can read this, the notifier works.",
        ),
    )
    try:
        notifier.check()
        notifier.send(message, target)
    except DeliveryError as exc:
        click.echo(f"monitor: test-notify {notifier_name} → {target}: FAILED: {exc}", err=True)
        raise SystemExit(1) from None
    finally:
        notifier.close()
    click.echo(f"test-notify {notifier_name} → {target}: sent")
