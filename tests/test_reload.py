"""SIGHUP on a running worker: a broken config is refused with one readable line and the
worker carries on with the old one; a valid config that adds a source and a topic takes
effect at once, and nothing already alerted is alerted again."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from coined import distinct_event
from conftest import CONTRACT_QUERY, CONTRACT_TOPIC, SEED_FIRST, SEED_UPDATE, SEEDS_DIR
from feedserver import FeedServer
from workerproc import WorkerProcess, drop

pytestmark = pytest.mark.slow

MARKER = "lighthouse"
NEW_TOPIC = "lighthouse-openings"
RELOAD_FAILED = "reload failed; still running on the previous config: "

#: name -> (what breaks the config, the one line that must explain it after the path).
BROKEN_CONFIGS: dict[str, tuple[dict[str, Any], str]] = {
    "bad duration": (
        {"every": "5 parsecs"},
        "sources[0].every: expected a duration like 30s, 10m or 1h, got '5 parsecs'",
    ),
    "unknown key": ({"evry": "5s"}, "sources[0].evry: unknown key"),
}


def _config(
    tmp_path: Path, *, inbox_extra: dict[str, Any] | None = None, feed: str | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "database": f"sqlite:///{tmp_path / 'monitor.db'}",
        "sources": [
            {"name": "inbox", "folder": str(tmp_path / "inbox"), "every": "1s", **(inbox_extra or {})}
        ],
        "notifiers": {"console": {}},
        "topics": [{"name": CONTRACT_TOPIC, "query": CONTRACT_QUERY, "notify": ["console"]}],
        "delivery": {"every": "1s"},
    }
    if feed is not None:
        data["sources"].append({"name": "wire", "feed": feed, "every": "2s"})
        data["topics"].append({"name": NEW_TOPIC, "query": MARKER, "notify": ["console"]})
        data["feeds"] = {"dispatch_every": "500ms", "first_poll_spread": "1s"}
    return data


def _write(path: Path, data: dict[str, Any]) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    partial.replace(path)


def _alert_headings(worker: WorkerProcess) -> list[str]:
    return [line for line in worker.stdout if line.startswith("[")]


def _reload(worker: WorkerProcess, expect: str, timeout: float = 10) -> str:
    """SIGHUP, then the first new stderr line containing ``expect``."""
    seen = len(worker.stderr)
    worker.send(signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in worker.stderr[seen:]:
            if expect in line:
                return line
        time.sleep(0.05)
    raise AssertionError(f"no {expect!r} after SIGHUP:\n{worker.log()}")


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


def test_sighup_refuses_broken_configs_then_applies_a_valid_one_without_repeating_alerts(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    (tmp_path / "inbox").mkdir()
    config = tmp_path / "monitor.yaml"
    _write(config, _config(tmp_path))
    worker = WorkerProcess(config)
    try:
        assert worker.wait_for(worker.stderr, "monitor running", timeout=20), worker.log()
        drop(tmp_path / "inbox", SEED_FIRST, (SEEDS_DIR / SEED_FIRST).read_text(encoding="utf-8"))
        assert worker.wait_for(worker.stdout, f"[{CONTRACT_TOPIC}] NEW STORY #", timeout=20), worker.log()

        # Broken configs: one line each says why, and the old config keeps working.
        for breakage, explanation in BROKEN_CONFIGS.values():
            _write(config, _config(tmp_path, inbox_extra=breakage))
            line = _reload(worker, RELOAD_FAILED)
            assert line.rstrip("\n").endswith(f"{RELOAD_FAILED}{config}: {explanation}"), line
            assert worker.running()
        assert "Traceback" not in worker.log()
        drop(tmp_path / "inbox", SEED_UPDATE, (SEEDS_DIR / SEED_UPDATE).read_text(encoding="utf-8"))
        assert worker.wait_for(worker.stdout, f"[{CONTRACT_TOPIC}] UPDATE to story #", timeout=20), (
            worker.log()
        )
        before_reload = _alert_headings(worker)

        # A valid config adds a feed and a topic: the feed is polled and the topic alerts.
        title, body = distinct_event(7, marker=MARKER)
        link = "https://news.example.com/lighthouse/7"
        feed = feed_server.route(
            "/wire.xml",
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title><link>https://news.example.com/</link>'
            f"<description>d</description><item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
            f"<pubDate>Mon, 02 Mar 2026 10:00:00 GMT</pubDate><description>{body}</description></item>"
            "</channel></rss>",
        )
        _write(config, _config(tmp_path, feed=feed))
        line = _reload(worker, "configuration reloaded")
        assert "2 source(s), 2 topic(s)" in line
        assert worker.wait_for(worker.stdout, f"[{NEW_TOPIC}] NEW STORY #", timeout=20), worker.log()
        assert feed_server.requests("/wire.xml")
        assert worker.wait_for(worker.stdout, link, timeout=5)
        time.sleep(4)  # several polls of both sources and delivery passes on the new config

        assert worker.stop(signal.SIGTERM) == 0, worker.log()
    finally:
        worker.kill()
    headings = _alert_headings(worker)
    assert headings[: len(before_reload)] == before_reload
    assert [heading.split(":")[0] for heading in headings] == [
        f"[{CONTRACT_TOPIC}] NEW STORY #1",
        f"[{CONTRACT_TOPIC}] UPDATE to story #1",
        f"[{NEW_TOPIC}] NEW STORY #2",
    ], headings
    assert "Traceback" not in worker.log()
