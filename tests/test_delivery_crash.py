"""A worker killed with SIGKILL in the middle of delivery loses no alert and repeats at most
the ones caught in the documented window (Slack accepted the post, the process died before
the "sent" row committed).

The alerts are written first (``monitor ingest --no-deliver``); then the worker runs as
``python -m monitor --config X run`` against a Slack stand-in that takes a while to answer each
post, and is killed while posts are in flight. Leases are 2 s, so a restarted worker takes
over the dead one's rows quickly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from coined import distinct_articles, title_of
from slackapi import JSONObject, SlackAPI
from sqlalchemy import func, select

import monitor.cli.worker  # noqa: F401  (registers the commands)
from monitor.cli.main import cli
from monitor.model import AlertStatus
from monitor.store import db
from monitor.store.tables import AlertRow

pytestmark = pytest.mark.slow

#: One desk word per channel; each generated article carries exactly one of them.
DESKS = ("alderwick", "brambleton", "corvanna", "dunmoor")
ARTICLES = 32
KILLS = 3
#: How long the stand-in takes to answer a post: a kill often finds posts in flight.
POST_DELAY_SECONDS = 0.3


class SlowSlackAPI(SlackAPI):
    """The stand-in, answering each chat.postMessage after a delay, counting posts in flight."""

    def __init__(self, delay: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.delay = delay
        self.in_flight = 0
        self._flight = threading.Lock()

    def web_api(
        self, method: str, headers: dict[str, str], args: JSONObject
    ) -> tuple[int, JSONObject, dict[str, str]]:
        if method != "chat.postMessage":
            return super().web_api(method, headers, args)
        with self._flight:
            self.in_flight += 1
        try:
            time.sleep(self.delay)
            return super().web_api(method, headers, args)
        finally:
            with self._flight:
                self.in_flight -= 1


class Worker:
    """``monitor run`` as a subprocess, its output in a file."""

    def __init__(self, config: Path, log: Path) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("MONITOR_", "SLACK_"))}
        self.log = log.open("a", encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=config.parent,
            env=env,
        )

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.log.close()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self.log.close()
        return code


@pytest.fixture
def api() -> Iterator[SlowSlackAPI]:
    server = SlowSlackAPI(POST_DELAY_SECONDS, channels=[f"desk-{name}" for name in DESKS])
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _write_config(directory: Path, api: SlackAPI) -> Path:
    # No source: the alerts are all pending before the worker starts; it only delivers.
    config = {
        "database": f"sqlite:///{directory / 'monitor.db'}",
        "notifiers": {"slack": {"token": api.token, "api_url": api.url, "timeout": "10s"}},
        "topics": [{"name": name, "query": name, "notify": [{"slack": f"#desk-{name}"}]} for name in DESKS],
        "delivery": {"every": "500ms", "backoff_base": "1s", "backoff_cap": "5s"},
        "lease": "2s",
    }
    path = directory / "monitor.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def _counts(database: str) -> Counter[str]:
    engine = db.create_db_engine(database)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(AlertRow.status, func.count()).group_by(AlertRow.status))
            return Counter({status: count for status, count in rows})
    except Exception:  # the schema may not exist yet while the first worker starts
        return Counter()
    finally:
        engine.dispose()


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_sigkill_mid_delivery_loses_nothing_and_repeats_only_the_window(
    tmp_path: Path, api: SlowSlackAPI
) -> None:
    config = _write_config(tmp_path, api)
    articles = distinct_articles(ARTICLES, seed=3, marker=lambda index: f"near {DESKS[index % len(DESKS)]}")
    folder = tmp_path / "articles"
    folder.mkdir()
    for index, text in enumerate(articles):
        (folder / f"{index:03d}.txt").write_text(text, encoding="utf-8")
    ingested = CliRunner().invoke(cli, ["--config", str(config), "ingest", str(folder), "--no-deliver"])
    assert ingested.exit_code == 0 and f"{ARTICLES} alerts" in ingested.output, ingested.output
    database = f"sqlite:///{tmp_path / 'monitor.db'}"
    log = tmp_path / "worker.log"

    def delivered() -> int:
        return sum(len(api.messages(f"#desk-{name}")) for name in DESKS)

    in_flight_at_kills: list[int] = []
    worker = Worker(config, log)
    try:
        for kill in range(KILLS):
            # Let some posts through, then kill while at least one is in flight.
            target = delivered() + 4 + 2 * kill
            _wait(lambda t=target: delivered() >= t, 40, f"{target} posts ({log.read_text()[-2000:]})")
            _wait(lambda: api.in_flight > 0, 10, "a post in flight")
            in_flight_at_kills.append(api.in_flight)
            worker.kill()
            worker = Worker(config, log)
        _wait(
            lambda: _counts(database)[AlertStatus.SENT] == ARTICLES,
            90,
            f"every alert sent ({log.read_text()[-3000:]})",
        )
        assert worker.stop() == 0
    finally:
        worker.kill()

    output = log.read_text()
    assert "Traceback" not in output, output[-3000:]
    assert _counts(database) == Counter({AlertStatus.SENT: ARTICLES})
    received: Counter[str] = Counter()
    duplicates_per_desk = {}
    for name in DESKS:
        texts = Counter(message["text"] for message in api.messages(f"#desk-{name}"))
        duplicates_per_desk[name] = sum(texts.values()) - len(texts)
        received.update(texts)
    titles = [title_of(text) for text in articles]
    missing = [title for title in titles if not any(title[:60] in text for text in received)]
    assert not missing, missing
    assert len(received) == ARTICLES
    duplicates = sum(duplicates_per_desk.values())
    # The figure worth knowing; shown with -s.
    print(
        f"\ncrash test: {KILLS} SIGKILLs, posts seen in flight at each kill {in_flight_at_kills}, "
        f"{sum(received.values())} posts for {ARTICLES} alerts, {duplicates} duplicate(s), "
        f"per channel {duplicates_per_desk}"
    )
    # A kill can repeat only the posts it caught between sending and the commit of "sent". A
    # destination is served one post at a time, so that is at most one per destination per kill.
    assert all(count <= KILLS for count in duplicates_per_desk.values()), duplicates_per_desk
