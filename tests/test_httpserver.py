"""The status server over real HTTP on loopback: /healthz, /metrics, errors, and ``--http`` parsing."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import Engine, create_engine

from monitor.batch import IngestReport
from monitor.health import HealthCheck, HealthReport
from monitor.httpserver import StatusServer, parse_listen, start
from monitor.metrics import Metrics
from monitor.polling import PollOutcome
from monitor.store import db

LISTEN_CASES: dict[str, dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "data" / "listen_cases.yaml").read_text(encoding="utf-8")
)


@pytest.mark.parametrize("case", LISTEN_CASES.values(), ids=LISTEN_CASES.keys())
def test_parse_listen(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(ValueError, match="listen address") as raised:
            parse_listen(case["input"])
        assert case["error"] in str(raised.value)
    else:
        assert parse_listen(case["input"]) == (case["host"], case["port"])


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    created = db.create_db_engine(f"sqlite:///{tmp_path / 'monitor.db'}")
    db.upgrade(created)
    yield created
    created.dispose()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """A client that goes straight to loopback, whatever proxy the environment names."""
    with httpx.Client(trust_env=False) as client:
        yield client


@pytest.fixture
def serve() -> Iterator[Callable[..., tuple[StatusServer, str]]]:
    """``serve(health=..., render_metrics=..., host=...)`` -> (server, base URL); stopped afterwards."""
    running: list[StatusServer] = []

    def run(
        *,
        health: Callable[[], HealthReport],
        render_metrics: Callable[[], tuple[bytes, str]],
        host: str = "127.0.0.1",
    ) -> tuple[StatusServer, str]:
        server, port = start(host, 0, health=health, render_metrics=render_metrics)
        running.append(server)
        shown = f"[{host}]" if ":" in host else host
        return server, f"http://{shown}:{port}"

    yield run
    for server in running:
        server.stop()


def test_healthz_follows_the_scheduler_and_metrics_are_served(
    engine: Engine, serve: Callable[..., tuple[StatusServer, str]], http: httpx.Client
) -> None:
    scheduler_running = threading.Event()
    scheduler_running.set()
    metrics = Metrics(db.session_factory(engine), sources=["inbox"])
    server, base = serve(health=HealthCheck(engine, scheduler_running.is_set), render_metrics=metrics.render)
    assert server.port > 0 and base.endswith(f":{server.port}")

    healthy = http.get(f"{base}/healthz")
    assert healthy.status_code == 200
    assert healthy.headers["content-type"] == "application/json"
    body = healthy.json()
    assert body["status"] == "ok"
    assert body["scheduler"] is True and body["database"] is True
    assert body["last_poll_age_seconds"] is None
    assert body["checks"]["database"]["ok"] is True

    scheduler_running.clear()
    stopped = http.get(f"{base}/healthz")
    assert stopped.status_code == 503
    assert stopped.json()["status"] == "unhealthy"
    assert stopped.json()["checks"]["scheduler"] == {"ok": False, "detail": "the scheduler is not running"}

    metrics.observe_poll([PollOutcome("inbox", IngestReport(stored=4, stories_created=3))], 0.3, "folder")
    scraped = http.get(f"{base}/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain; version=")
    lines = scraped.text.splitlines()
    assert 'monitor_articles_ingested_total{source="inbox"} 4.0' in lines
    assert "monitor_stories_created_total 3.0" in lines
    assert 'monitor_poll_duration_seconds_count{kind="folder"} 1.0' in lines
    assert "monitor_store_up 1.0" in lines


def test_healthz_is_503_when_the_database_is_unreachable(
    tmp_path: Path, serve: Callable[..., tuple[StatusServer, str]], http: httpx.Client
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    broken = create_engine(f"sqlite:///{blocker / 'monitor.db'}")
    _server, base = serve(health=HealthCheck(broken, lambda: True), render_metrics=Metrics().render)
    try:
        response = http.get(f"{base}/healthz")
    finally:
        broken.dispose()
    assert response.status_code == 503
    body = response.json()
    assert body["database"] is False and body["scheduler"] is True
    assert "unable to open database file" in body["checks"]["database"]["detail"]


def test_unknown_paths_methods_and_head(
    engine: Engine, serve: Callable[..., tuple[StatusServer, str]], http: httpx.Client
) -> None:
    _server, base = serve(health=HealthCheck(engine, lambda: True), render_metrics=Metrics().render)
    missing = http.get(f"{base}/nope")
    assert missing.status_code == 404
    assert "try /healthz or /metrics" in missing.text
    assert http.get(f"{base}/").status_code == 404
    assert http.get(f"{base}/healthz?verbose=1").status_code == 200  # a query string is ignored
    posted = http.post(f"{base}/healthz", content=b"{}")
    assert posted.status_code == 405
    assert posted.headers["allow"] == "GET, HEAD"
    head = http.head(f"{base}/healthz")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) > 0


def test_a_failing_health_callable_gives_500_and_the_server_keeps_serving(
    serve: Callable[..., tuple[StatusServer, str]], http: httpx.Client
) -> None:
    def broken() -> HealthReport:
        raise RuntimeError("boom")

    _server, base = serve(health=broken, render_metrics=Metrics().render)
    assert http.get(f"{base}/healthz").status_code == 500
    assert http.get(f"{base}/metrics").status_code == 200


def test_a_slow_scrape_does_not_hold_up_health_probes(
    engine: Engine, serve: Callable[..., tuple[StatusServer, str]], http: httpx.Client
) -> None:
    release = threading.Event()
    metrics = Metrics()

    def slow_render() -> tuple[bytes, str]:
        release.wait(10)
        return metrics.render()

    _server, base = serve(health=HealthCheck(engine, lambda: True), render_metrics=slow_render)
    scrape: list[httpx.Response] = []
    scraper = threading.Thread(target=lambda: scrape.append(http.get(f"{base}/metrics", timeout=15)))
    scraper.start()
    try:
        assert http.get(f"{base}/healthz", timeout=3).status_code == 200
        assert not scrape  # the scrape is still waiting
    finally:
        release.set()
        scraper.join()
    assert scrape[0].status_code == 200


def test_stop_frees_the_port(engine: Engine, http: httpx.Client) -> None:
    server, port = start(
        "127.0.0.1", 0, health=HealthCheck(engine, lambda: True), render_metrics=Metrics().render
    )
    assert http.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    server.stop()
    with pytest.raises(httpx.ConnectError):
        http.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    again, again_port = start(
        "127.0.0.1", port, health=HealthCheck(engine, lambda: True), render_metrics=Metrics().render
    )
    try:
        assert again_port == port
    finally:
        again.stop()


def test_a_port_in_use_is_an_os_error(engine: Engine) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        with pytest.raises(OSError):
            start(
                "127.0.0.1",
                taken.getsockname()[1],
                health=HealthCheck(engine, lambda: True),
                render_metrics=Metrics().render,
            )


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this host")
def test_serves_on_ipv6_loopback(
    engine: Engine, serve: Callable[..., tuple[StatusServer, str]], http: httpx.Client
) -> None:
    server, base = serve(
        health=HealthCheck(engine, lambda: True), render_metrics=Metrics().render, host="::1"
    )
    assert server.host == "::1"
    assert http.get(f"{base}/healthz").status_code == 200
