"""Delivery throughput: alerts for several Slack channels at Slack's real pacing of 1 post/s per channel.

Slack accepts about one ``chat.postMessage`` per second per channel, so 100 alerts spread over
5 channels should take about as long as one channel's 20 posts (19 s after the first post),
not as long as all 100 one after another (99 s). Each run builds a fresh SQLite store,
ingests distinct on-topic articles through the pipeline (not timed; each goes to exactly one
channel), then times the outbox from its first pass until no alert is pending, posting to the
local Slack Web API stand-in (tests/slackapi.py) through the real notifier and its pacing.

    .venv/bin/python bench/delivery.py [--runs 3] [--alerts 100] [--channels 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from coined import distinct_article  # type: ignore[import-not-found,unused-ignore]
from slackapi import SlackAPI  # type: ignore[import-not-found,unused-ignore]

from monitor import defaults
from monitor.app import App
from monitor.config import load_config
from monitor.model import AlertStatus
from monitor.store import repo

#: One word per channel; an article carries exactly one, and each channel's topic queries it.
_DESK_WORDS = (
    "alderwick",
    "brambleton",
    "corvanna",
    "dunmoor",
    "everholt",
    "fenwarren",
    "glasmere",
    "hollowby",
)


def articles(count: int, desks: int, seed: int) -> list[str]:
    """Distinct stories in the seeds format, dealt round-robin to the desks."""
    return [
        distinct_article(seed * count + index, marker=_DESK_WORDS[index % desks]) for index in range(count)
    ]


def run_once(alerts: int, channels: int, seed: int) -> float:
    """Seconds from the first delivery pass until every alert is sent."""
    desks = _DESK_WORDS[:channels]
    with tempfile.TemporaryDirectory() as scratch, SlackAPI(channels=[f"desk-{d}" for d in desks]) as api:
        directory = Path(scratch)
        inbox = directory / "inbox"
        inbox.mkdir()
        for index, text in enumerate(articles(alerts, channels, seed)):
            (inbox / f"{index:04d}.txt").write_text(text, encoding="utf-8")
        config_path = directory / "monitor.yaml"
        config_path.write_text(
            yaml.safe_dump(
                {
                    "database": f"sqlite:///{directory / 'monitor.db'}",
                    "sources": [{"name": "inbox", "folder": str(inbox)}],
                    "notifiers": {"slack": {"token": api.token, "api_url": api.url}},
                    "topics": [{"name": d, "query": d, "notify": [{"slack": f"#desk-{d}"}]} for d in desks],
                }
            ),
            encoding="utf-8",
        )
        app = App.build(load_config(config_path))
        try:
            report = app.poll("inbox").report
            if report.alerts != alerts or report.stories_created != alerts:
                raise SystemExit(f"expected {alerts} stories and alerts, got {report}")
            started = time.perf_counter()
            while True:
                app.outbox.deliver_due()
                with app.sessions() as session:
                    if not repo.alerts_with_status(session, AlertStatus.PENDING):
                        break
            elapsed = time.perf_counter() - started
            with app.sessions() as session:
                sent = len(repo.alerts_with_status(session, AlertStatus.SENT))
            posted = sum(len(api.messages(f"#desk-{d}")) for d in desks)
            if sent != alerts or posted != alerts:
                raise SystemExit(
                    f"expected {alerts} alerts sent once each, got {sent} sent and {posted} posts"
                )
            return elapsed
        finally:
            app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--alerts", type=int, default=100)
    parser.add_argument("--channels", type=int, default=5, choices=range(1, len(_DESK_WORDS) + 1))
    options = parser.parse_args()
    interval = defaults.SLACK_POST_INTERVAL_SECONDS
    per_channel = -(-options.alerts // options.channels)
    times = []
    for run in range(options.runs):
        elapsed = run_once(options.alerts, options.channels, seed=run)
        times.append(elapsed)
        print(f"run {run + 1}: {elapsed:.1f} s")
    print(f"{options.alerts} alerts over {options.channels} channels, pacing {interval:g} post/s per channel")
    print(f"median wall time:      {statistics.median(times):6.1f} s  ({len(times)} run(s))")
    print(f"per-channel bound:     {(per_channel - 1) * interval:6.1f} s  ({per_channel} posts per channel)")
    print(f"serial bound:          {(options.alerts - 1) * interval:6.1f} s")


if __name__ == "__main__":
    main()
