"""Prometheus metrics: job counters, the database gauges read at scrape time, separate registries."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import CONTRACT_TOPIC, copy_seeds
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from monitor.app import App
from monitor.batch import IngestReport
from monitor.config import Config
from monitor.metrics import Metrics
from monitor.outbox import DeliveryReport
from monitor.polling import PollOutcome
from monitor.store import db, repo
from monitor.store.tables import AlertRow, StoryRow

NOW = datetime(2026, 2, 18, 12, 0, tzinfo=UTC)

#: (series name, sorted label pairs) -> value, as a scraper would read it.
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(metrics: Metrics) -> Samples:
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    created = db.create_db_engine(database_url)
    db.upgrade(created)
    yield created
    created.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return db.session_factory(engine)


def test_poll_outcomes_count_articles_stories_alerts_and_errors_by_source() -> None:
    metrics = Metrics(sources=["inbox", "wire", "quiet"])
    inbox = PollOutcome("inbox", IngestReport(stored=3, known=5, rejected=1, stories_created=2, alerts=4))
    wire = PollOutcome("wire", IngestReport(stored=1, merged=2, stories_created=0, alerts=1))
    broken = PollOutcome("wire", error="HTTP 503")
    metrics.observe_poll([inbox], 0.2, "folder")
    metrics.observe_poll([wire, broken], 1.5, "feed")
    metrics.observe_poll([], 0.01, "feed")  # a feed pass with nothing due

    samples = scrape(metrics)
    assert value(samples, "monitor_articles_ingested_total", source="inbox") == 3
    assert value(samples, "monitor_articles_ingested_total", source="wire") == 1
    assert value(samples, "monitor_articles_ingested_total", source="quiet") == 0  # declared up front
    assert value(samples, "monitor_articles_rejected_total", source="inbox") == 1
    assert value(samples, "monitor_stories_created_total") == 2
    assert value(samples, "monitor_alerts_created_total") == 5
    assert value(samples, "monitor_source_errors_total", source="wire") == 1
    assert value(samples, "monitor_source_errors_total", source="inbox") == 0
    assert value(samples, "monitor_poll_duration_seconds_count", kind="folder") == 1
    assert value(samples, "monitor_poll_duration_seconds_sum", kind="folder") == pytest.approx(0.2)
    assert value(samples, "monitor_poll_duration_seconds_count", kind="feed") == 2
    assert value(samples, "monitor_poll_duration_seconds_sum", kind="feed") == pytest.approx(1.51)
    assert value(samples, "monitor_poll_duration_seconds_bucket", kind="feed", le="0.05") == 1
    assert value(samples, "monitor_poll_duration_seconds_bucket", kind="feed", le="2.5") == 2


def test_delivery_passes_and_per_notifier_outcomes() -> None:
    metrics = Metrics()
    metrics.observe_delivery(DeliveryReport(sent=2, failed=1, retried=1, deferred=3), 0.75)
    metrics.observe_delivery(DeliveryReport(sent=1), 0.05)
    metrics.alert_outcome("slack", "sent")
    metrics.alert_outcome("email", "sent", count=4)  # one digest of four alerts
    metrics.alert_outcome("slack", "retried")
    metrics.alert_outcome("slack", "failed")

    samples = scrape(metrics)
    assert value(samples, "monitor_delivery_outcomes_total", outcome="sent") == 3
    assert value(samples, "monitor_delivery_outcomes_total", outcome="failed") == 1
    assert value(samples, "monitor_delivery_outcomes_total", outcome="retried") == 1
    assert value(samples, "monitor_delivery_outcomes_total", outcome="deferred") == 3
    assert value(samples, "monitor_delivery_duration_seconds_count") == 2
    assert value(samples, "monitor_delivery_duration_seconds_sum") == pytest.approx(0.8)
    assert value(samples, "monitor_alerts_sent_total", notifier="slack") == 1
    assert value(samples, "monitor_alerts_sent_total", notifier="email") == 4
    assert value(samples, "monitor_alerts_retried_total", notifier="slack") == 1
    assert value(samples, "monitor_alerts_failed_total", notifier="slack") == 1


def test_an_unknown_alert_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="alert outcome must be one of sent, failed, retried, got 'lost'"):
        Metrics().alert_outcome("slack", "lost")  # type: ignore[arg-type]


def test_every_registry_is_separate() -> None:
    first, second = Metrics(), Metrics()
    first.observe_poll([PollOutcome("inbox", IngestReport(stored=7))], 0.1, "folder")
    assert value(scrape(first), "monitor_articles_ingested_total", source="inbox") == 7
    assert value(scrape(second), "monitor_articles_ingested_total", source="inbox") is None


def test_every_own_series_is_prefixed() -> None:
    samples = scrape(Metrics())
    own = {name for name, _labels in samples if not name.startswith(("process_", "python_"))}
    assert own and all(name.startswith("monitor_") for name in own)


def _story(session: Session) -> int:
    story = StoryRow(
        title="Talks in Geneva", first_seen_at=NOW, updated_at=NOW, article_count=0, source_count=0
    )
    session.add(story)
    session.flush()
    return story.id


def _alert(story_id: int, number: int, notifier: str, status: str) -> AlertRow:
    return AlertRow(
        key=f"new_story:{story_id}:{number}:{notifier}",
        kind="new_story",
        topic=CONTRACT_TOPIC,
        story_id=story_id,
        notifier=notifier,
        destination="#news",
        status=status,
        attempts=0,
        next_attempt_at=NOW,
        created_at=NOW,
    )


def test_database_gauges_are_read_at_scrape_time(sessions: sessionmaker[Session]) -> None:
    metrics = Metrics(sessions)
    before = scrape(metrics)
    assert value(before, "monitor_store_up") == 1
    assert not [name for name, _labels in before if name == "monitor_alerts"]

    with sessions.begin() as session:
        story_id = _story(session)
        statuses = [("slack", "pending"), ("slack", "pending"), ("slack", "sent"), ("email", "failed")]
        session.add_all(
            _alert(story_id, n, notifier, status) for n, (notifier, status) in enumerate(statuses)
        )
        polled = repo.ensure_source(session, name="inbox", kind="folder", location="./inbox", now=NOW)
        polled.last_success_at = NOW - timedelta(seconds=30)
        failing = repo.ensure_source(session, name="wire", kind="feed", location="http://x.test/", now=NOW)
        failing.consecutive_failures = 4

    samples = scrape(metrics)
    assert value(samples, "monitor_alerts", notifier="slack", status="pending") == 2
    assert value(samples, "monitor_alerts", notifier="slack", status="sent") == 1
    assert value(samples, "monitor_alerts", notifier="slack", status="failed") == 0
    assert value(samples, "monitor_alerts", notifier="email", status="failed") == 1
    assert value(samples, "monitor_alerts", notifier="email", status="pending") == 0
    assert value(samples, "monitor_source_last_success_timestamp_seconds", source="inbox") == (
        (NOW - timedelta(seconds=30)).timestamp()
    )
    # A source that never succeeded has no timestamp rather than a misleading 0 (1970).
    assert value(samples, "monitor_source_last_success_timestamp_seconds", source="wire") is None
    assert value(samples, "monitor_source_consecutive_failures", source="wire") == 4
    assert value(samples, "monitor_source_consecutive_failures", source="inbox") == 0


def test_an_unreachable_database_reports_store_down_and_keeps_the_counters(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'missing' / 'monitor.db'}")
    try:
        metrics = Metrics(db.session_factory(engine))
        metrics.observe_poll([PollOutcome("inbox", IngestReport(stored=2))], 0.1, "folder")
        samples = scrape(metrics)
    finally:
        engine.dispose()
    assert value(samples, "monitor_store_up") == 0
    assert value(samples, "monitor_articles_ingested_total", source="inbox") == 2
    assert not [name for name, _labels in samples if name == "monitor_alerts"]


def test_a_real_poll_shows_up_in_counters_and_database_gauges(
    contract_config: Config, build_app: Callable[[Config], App], tmp_path: Path
) -> None:
    app = build_app(contract_config)
    metrics = Metrics(app.sessions, sources=app.sources())
    copy_seeds(tmp_path / "inbox")
    outcome = app.poll("inbox")
    metrics.observe_poll([outcome], 0.5, "folder")

    samples = scrape(metrics)
    assert outcome.report.stored == 2 and outcome.report.alerts >= 1
    # The app's own registry also reads its story window: the seeds pair is one story.
    assert value(scrape(app.metrics), "monitor_story_window_stories") == len(app.pipeline.engine) == 1
    assert value(samples, "monitor_story_window_stories") is None  # only with story_window given
    assert value(samples, "monitor_articles_ingested_total", source="inbox") == 2
    assert value(samples, "monitor_stories_created_total") == outcome.report.stories_created
    assert value(samples, "monitor_alerts_created_total") == outcome.report.alerts
    assert value(samples, "monitor_alerts", notifier="console", status="pending") == outcome.report.alerts
    last_success = value(samples, "monitor_source_last_success_timestamp_seconds", source="inbox")
    assert last_success is not None
    assert abs(last_success - datetime.now(UTC).timestamp()) < 60

    report = app.outbox.deliver_due()
    metrics.observe_delivery(report, 0.1)
    after = scrape(metrics)
    assert report.sent == outcome.report.alerts
    assert value(after, "monitor_delivery_outcomes_total", outcome="sent") == report.sent
    assert value(after, "monitor_alerts", notifier="console", status="sent") == report.sent
    assert value(after, "monitor_alerts", notifier="console", status="pending") == 0
