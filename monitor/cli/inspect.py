"""Read-only commands: ``stories``, ``sources``, ``alerts`` (plus ``alerts retry``) and ``replay``."""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import click
from sqlalchemy.orm import Session

from monitor.cli.main import Context, cli, handle_errors
from monitor.clock import as_utc
from monitor.durations import parse_duration
from monitor.errors import ConfigError, DurationError
from monitor.model import AlertKind, AlertStatus, Role
from monitor.notify.render import format_published, plural
from monitor.replay import ReplayedAlert, replay
from monitor.store import repo
from monitor.store.tables import AlertRow, ArticleRow, SourceRow, StoryRow


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@cli.command()
@click.option("--topic", default=None, help="Only stories tracked by this topic.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option(
    "--limit", default=0, type=click.IntRange(min=0), help="Only the most recent N stories (0: all)."
)
@click.option("--articles", "with_articles", is_flag=True, help="Also list each story's articles.")
@click.pass_obj
@handle_errors
def stories(ctx: Context, topic: str | None, as_json: bool, limit: int, with_articles: bool) -> None:
    """List stories with their articles, sources and roles."""
    records = ctx.records()
    try:
        with records.sessions() as session:
            listed = _listed_stories(session, repo.latest_stories(session, topic, limit))
            if as_json:
                _echo_json_array(story for story, _row, _members in listed)
                return
            for story, row, members in listed:
                click.echo(_story_text(story, row))
                if with_articles:
                    for article, member in zip(story["articles"], members, strict=True):
                        click.echo(_article_text(article, member))
    finally:
        records.close()


#: Stories whose articles are read and printed together: the output starts at once and memory
#: stays flat however many stories the store holds.
STORIES_PER_PAGE = 500


def _listed_stories(
    session: Session, rows: Sequence[StoryRow]
) -> Iterator[tuple[dict[str, Any], StoryRow, list[ArticleRow]]]:
    """Each story as ``stories --json`` shows it, with its row and its articles' rows."""
    for start in range(0, len(rows), STORIES_PER_PAGE):
        page = rows[start : start + STORIES_PER_PAGE]
        ids = [row.id for row in page]
        articles = repo.story_articles(session, ids)
        topics = repo.topics_by_story(session, ids)
        article_ids = [a.id for group in articles.values() for a in group]
        origins = repo.article_sources_of(session, article_ids)
        copies = repo.copies_of(session, article_ids)
        for row in page:
            members = articles.get(row.id, [])
            story = {
                "id": row.id,
                "title": row.title,
                "topics": topics.get(row.id, []),
                "first_seen": _iso(row.first_seen_at),
                "updated": _iso(row.updated_at),
                "article_count": row.article_count,
                "source_count": row.source_count,
                "articles": [_article_record(article, origins, copies) for article in members],
            }
            yield story, row, members


def _article_record(
    article: ArticleRow, origins: dict[int, list[tuple[str, str]]], copies: dict[int, list[str]]
) -> dict[str, Any]:
    source, origin = origins.get(article.id, [("?", "?")])[0]
    return {
        "id": article.id,
        "title": article.title,
        "source": source,
        "origin": origin,
        "published": _iso(article.published_at),
        "published_estimated": article.published_estimated,
        "role": article.role,
        "sources": [name for name, _ in origins.get(article.id, [])],
        "copies": copies.get(article.id, []),
        "novel_sentences": article.novel_sentences,
    }


def _echo_json_array(items: Iterable[dict[str, Any]]) -> None:
    """Print ``items`` as ``json.dumps(list(items), indent=2)`` would, one item at a time."""
    opening = "[\n"
    for item in items:
        click.echo(opening + textwrap.indent(json.dumps(item, indent=2, ensure_ascii=False), "  "), nl=False)
        opening = ",\n"
    click.echo("[]" if opening == "[\n" else "\n]")


#: A story's line names at most this many of its sources, then says how many more.
_SOURCES_NAMED = 5


def _story_text(story: dict[str, Any], row: StoryRow) -> str:
    """A story as three lines: number, title and topics; counts, sources and times; roles."""
    topics_text = f" [{', '.join(story['topics'])}]" if story["topics"] else ""
    sources = list(dict.fromkeys(name for a in story["articles"] for name in a["sources"]))
    named = ", ".join(sources[:_SOURCES_NAMED])
    if len(sources) > _SOURCES_NAMED:
        named += f" and {len(sources) - _SOURCES_NAMED} more"
    roles = Counter(a["role"] for a in story["articles"])
    role_text = ", ".join(f"{role.value} {roles[role.value]}" for role in Role if roles[role.value])
    return "\n".join(
        (
            f"#{story['id']} {story['title']}{topics_text}",
            f"    {plural(row.article_count, 'article')} from {plural(row.source_count, 'source')}"
            f" ({named}) · first seen {format_published(row.first_seen_at)}"
            f" · updated {format_published(row.updated_at)}",
            f"    roles: {role_text}",
        )
    )


@cli.group(invoke_without_command=True)
@click.option("--failed", "only_failed", is_flag=True, help="Only alerts that failed permanently.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_context
@handle_errors
def alerts(ctx: click.Context, only_failed: bool, as_json: bool) -> None:
    """List alerts (pending, sent, failed); "alerts retry" re-queues failed ones."""
    if ctx.invoked_subcommand is not None:
        return
    records = ctx.obj.records()
    try:
        with records.sessions() as session:
            statuses = [AlertStatus.FAILED] if only_failed else list(AlertStatus)
            rows = [row for status in statuses for row in repo.alerts_with_status(session, status)]
        rows.sort(key=lambda row: row.id)
        data = [
            {
                "id": row.id,
                "kind": row.kind,
                "topic": row.topic,
                "story_id": row.story_id,
                "notifier": row.notifier,
                "destination": row.destination,
                "status": row.status,
                "attempts": row.attempts,
                "last_error": row.last_error,
                "created": _iso(row.created_at),
                "sent": _iso(row.sent_at),
                "next_attempt": _iso(row.next_attempt_at) if row.status == AlertStatus.PENDING else None,
            }
            for row in rows
        ]
        if as_json:
            click.echo(json.dumps(data, indent=2, ensure_ascii=False))
            return
        now = records.clock()
        for item, row in zip(data, rows, strict=True):
            error = f" — {item['last_error']}" if item["last_error"] else ""
            click.echo(
                f"#{item['id']} {item['status']:<7} {item['kind']:<9} {item['topic']} → "
                f"{item['notifier']} {item['destination']} (story {item['story_id']})"
                f" · {_delivery_text(row, now)}{error}"
            )
    finally:
        records.close()


def _delivery_text(row: AlertRow, now: datetime) -> str:
    """Where an alert's delivery stands: when it was sent, or when it is tried next."""
    tries = plural(row.attempts, "attempt")
    if row.status == AlertStatus.SENT:
        return f"sent {_moment(row.sent_at)}" + (f" after {tries}" if row.attempts > 1 else "")
    if row.status == AlertStatus.FAILED:
        return f"failed after {tries}"
    due = as_utc(row.next_attempt_at)
    waiting = "due now" if due <= now else f"next attempt {_moment(due)}"
    return f"{waiting} ({tries} so far)" if row.attempts else waiting


@alerts.command("retry")
@click.argument("alert_ids", nargs=-1, type=int)
@click.pass_obj
@handle_errors
def alerts_retry(ctx: Context, alert_ids: tuple[int, ...]) -> None:
    """Re-queue failed alerts (all, or the given ids) after fixing their cause."""
    records = ctx.records()
    try:
        with records.sessions.begin() as session:
            count = repo.requeue_failed(session, records.clock(), list(alert_ids) or None)
        click.echo(f"{count} alert(s) re-queued")
    finally:
        records.close()


@cli.command("sources")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
@handle_errors
def sources_command(ctx: Context, as_json: bool) -> None:
    """List every source with its health: failures, last error, last success, next poll."""
    records = ctx.records()
    try:
        with records.sessions() as session:
            rows = {row.name: row for row in repo.all_sources(session)}
            failed_files = {row.id: len(repo.failed_files(session, row.id)) for row in rows.values()}
        data = []
        for source in records.config.sources:
            row = rows.get(source.name)
            data.append(
                {
                    "name": source.name,
                    "kind": source.kind,
                    "location": row.location if row is not None else source.location,
                    "every": source.every,
                    "status": _health(row),
                    "consecutive_failures": row.consecutive_failures if row is not None else 0,
                    "last_error": row.last_error if row is not None else None,
                    "last_attempt": _iso(row.last_attempt_at) if row is not None else None,
                    "last_success": _iso(row.last_success_at) if row is not None else None,
                    "next_poll": _iso(row.next_poll_at) if row is not None else None,
                    "failed_files": failed_files.get(row.id, 0) if row is not None else 0,
                }
            )
        if as_json:
            click.echo(json.dumps(data, indent=2, ensure_ascii=False))
            return
        for item, source in zip(data, records.config.sources, strict=True):
            click.echo(f"{item['name']:<24} {item['kind']:<6} {item['status']:<8} {item['location']}")
            click.echo("    " + _health_text(rows.get(source.name), failed_files))
    finally:
        records.close()


def _health_text(row: SourceRow | None, failed_files: dict[int, int]) -> str:
    """``last success …; next poll …``, then the failures and rejected files if any."""
    parts = [
        f"last success {_moment(row.last_success_at if row else None) or 'never'}",
        f"next poll {_moment(row.next_poll_at if row else None) or 'soon'}",
    ]
    if row is not None and row.last_error:
        parts.append(f"{plural(row.consecutive_failures, 'failure')}: {row.last_error}")
    if row is not None and failed_files.get(row.id):
        parts.append(plural(failed_files[row.id], "rejected file"))
    return "; ".join(parts)


def _article_text(article: dict[str, Any], row: ArticleRow) -> str:
    """An article of a story: role, date, source, title and origin; then what it added."""
    published = format_published(row.published_at, estimated=row.published_estimated, with_time=False)
    where = f"{published} · {article['source']} · {article['title']} ({article['origin']})"
    lines = [f"      {article['role']:<9} {where}"]
    lines += [f"        + {sentence}" for sentence in article["novel_sentences"]]
    return "\n".join(lines)


def _moment(moment: datetime | None) -> str | None:
    """``2026-02-18 09:30:05 UTC``: to the second, as polls are seconds apart."""
    return as_utc(moment).strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else None


def _health(row: Any) -> str:
    if row is None or row.last_attempt_at is None:
        return "new"
    return "failing" if row.consecutive_failures else "ok"


@cli.command("replay")
@click.option("--topic", "topic_name", required=True, help="The topic to backtest.")
@click.option("--since", default=None, help="Only articles stored within this long (e.g. 7d).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
@handle_errors
def replay_command(ctx: Context, topic_name: str, since: str | None, as_json: bool) -> None:
    """Show the alerts the current config would have produced over stored articles; sends nothing."""
    records = ctx.records()
    try:
        topic = next((t for t in records.config.topics if t.name == topic_name), None)
        if topic is None:
            names = ", ".join(t.name for t in records.config.topics) or "none"
            raise ConfigError(f"no topic named {topic_name!r} (configured: {names})")
        try:
            start = records.clock() - timedelta(seconds=parse_duration(since)) if since else None
        except DurationError as exc:
            raise DurationError(f"--since: {exc}") from None
        with records.sessions() as session:
            alerts_found = list(replay(session, records.config, topic, start))
        if as_json:
            click.echo(json.dumps([_replayed(a) for a in alerts_found], indent=2, ensure_ascii=False))
            return
        for alert in alerts_found:
            label = "NEW STORY" if alert.kind is AlertKind.NEW_STORY else "UPDATE"
            click.echo(f"[{alert.topic}] {label} story {alert.story}: {alert.story_title}")
            published = format_published(
                alert.published, estimated=alert.published_estimated, with_time=False
            )
            click.echo(f"    article {alert.article_id} ({published}): {alert.article_title}")
            for sentence in alert.novel_sentences:
                click.echo(f"     - {sentence}")
        updates = sum(1 for a in alerts_found if a.kind is AlertKind.UPDATE)
        click.echo(
            f"{len(alerts_found) - updates} new-story alert(s), {updates} update(s); nothing was sent",
            err=True,
        )
    finally:
        records.close()


def _replayed(alert: ReplayedAlert) -> dict[str, Any]:
    return {
        "kind": alert.kind.value,
        "topic": alert.topic,
        "story": alert.story,
        "story_title": alert.story_title,
        "article_id": alert.article_id,
        "article_title": alert.article_title,
        "published": _iso(alert.published),
        "published_estimated": alert.published_estimated,
        "novel_sentences": list(alert.novel_sentences),
    }
