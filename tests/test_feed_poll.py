"""poll_feeds as a whole: politeness limits, streaming results, the worker processes, settings.

The behaviour a caller sees is the same whether the feeds are polled in the calling process
(``parse_workers=0``) or in worker processes, so most tests run both ways.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest
from conftest import sketch_digest
from feedserver import FeedServer, fixture

from monitor.sources.feed import (
    FeedRequest,
    FeedResult,
    FetchSettings,
    poll_feeds,
    shutdown_feed_workers,
    workers,
)
from monitor.sources.feed.poll import INLINE_PARSE_BYTES, PARSE_SLOTS
from monitor.stories.prepare import prepare

#: Polled in the calling process, and in two worker processes.
WAYS = pytest.mark.parametrize("processes", [0, 2], ids=["in-process", "workers"])


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer(hosts=3) as running:
        yield running


@pytest.fixture(autouse=True)
def no_workers_left() -> Iterator[None]:
    yield
    shutdown_feed_workers()


@WAYS
def test_at_most_per_host_requests_to_one_host(server: FeedServer, processes: int) -> None:
    rss = fixture("rss2.xml")
    requests = []
    for host in range(3):
        for i in range(5):
            requests.append(
                FeedRequest(f"h{host}-{i}", server.route(f"/f{i}.xml", rss, host=host, delay=0.15))
            )
    started = time.monotonic()
    results = poll_feeds(requests, FetchSettings(per_host=2, parse_workers=processes))
    elapsed = time.monotonic() - started
    assert [r.status for r in results] == ["ok"] * 15
    for host in range(3):
        assert server.peak_in_flight(f"127.0.0.{host + 1}") == 2
    assert server.peak_in_flight() > 2, "different hosts are fetched in parallel"
    # 5 requests at 2 at a time take 3 rounds per host; the hosts overlap
    assert 0.45 <= elapsed < 3.0


@WAYS
def test_overall_concurrency_limit(server: FeedServer, processes: int) -> None:
    rss = fixture("atom.xml")
    requests = [
        FeedRequest(f"{h}-{i}", server.route(f"/a{i}.xml", rss, host=h, delay=0.1))
        for h in range(3)
        for i in range(3)
    ]
    results = poll_feeds(requests, FetchSettings(per_host=3, max_concurrency=2, parse_workers=processes))
    assert all(r.status == "ok" for r in results)
    assert server.peak_in_flight() == 2


@WAYS
def test_results_come_back_in_request_order_and_errors_do_not_stop_the_poll(
    server: FeedServer, processes: int
) -> None:
    server.serve_fixture("/slow.xml", "rss2.xml", delay=0.3)
    server.serve_fixture("/fast.json", "jsonfeed10.json", content_type="application/json")
    server.route("/gone", status=410, content_type="text/plain")
    urls = [server.url("/slow.xml"), server.url("/gone"), server.url("/fast.json")]
    results = poll_feeds([FeedRequest("s", u) for u in urls], FetchSettings(parse_workers=processes))
    assert [r.request.url for r in results] == urls
    assert [r.status for r in results] == ["ok", "error", "ok"]


@WAYS
def test_on_result_streams_in_the_calling_thread_in_completion_order(
    server: FeedServer, processes: int
) -> None:
    server.serve_fixture("/slow.xml", "rss2.xml", delay=0.4)
    server.serve_fixture("/fast.xml", "atom.xml")
    seen: list[tuple[str, int, int]] = []
    caller = threading.get_ident()

    def store(result: FeedResult) -> None:
        assert threading.get_ident() == caller
        seen.append((result.request.source_name, len(result.articles), result.article_count))

    results = poll_feeds(
        [FeedRequest("slow", server.url("/slow.xml")), FeedRequest("fast", server.url("/fast.xml"))],
        FetchSettings(parse_workers=processes),
        on_result=store,
    )
    assert seen == [("fast", 2, 2), ("slow", 6, 6)]
    # the returned results do not hold the articles a second time
    assert [(r.request.source_name, r.articles, r.article_count) for r in results] == [
        ("slow", (), 6),
        ("fast", (), 2),
    ]


@WAYS
def test_an_exception_in_on_result_stops_the_poll_and_propagates(server: FeedServer, processes: int) -> None:
    urls = [server.serve_fixture(f"/{i}.xml", "atom.xml", delay=0.05 * i) for i in range(8)]

    def explode(result: FeedResult) -> None:
        raise RuntimeError("store is down")

    started = time.monotonic()
    with pytest.raises(RuntimeError, match="store is down"):
        poll_feeds(
            [FeedRequest("s", u) for u in urls], FetchSettings(parse_workers=processes), on_result=explode
        )
    assert time.monotonic() - started < 2.0


def test_parsing_in_worker_processes_which_are_kept_for_the_next_poll(server: FeedServer) -> None:
    urls = [server.serve_fixture("/rss.xml", "rss2.xml"), server.serve_fixture("/bad.html", "html-page.html")]
    results = poll_feeds([FeedRequest("s", u) for u in urls], FetchSettings(parse_workers=2))
    assert results[0].status == "ok"
    assert [a.external_id for a in results[0].articles][:2] == ["news-example-1001", "news-example-1002"]
    assert results[0].articles[0].body.startswith("Heavy rain closed dozens of roads.")
    assert (results[1].status, results[1].error_type) == ("error", "NotAFeed")
    first = worker_pids()
    assert len(first) == 2 and os.getpid() not in first
    again = poll_feeds([FeedRequest("s", urls[0])], FetchSettings(parse_workers=2))
    assert again[0].article_count == 6
    assert worker_pids() == first


def test_worker_processes_are_replaced_after_their_share_and_every_feed_is_parsed(
    server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers, "TASKS_PER_PROCESS", 2)
    urls = [server.serve_fixture(f"/rss-{number}.xml", "rss2.xml", host=number % 3) for number in range(12)]
    seen: set[int] = set()
    for _ in range(3):
        results = poll_feeds([FeedRequest("s", url) for url in urls], FetchSettings(parse_workers=2))
        assert [result.article_count for result in results] == [6] * 12
        seen.update(worker_pids())
    assert len(seen) == 6  # fresh processes for every poll, each having polled more than 2 feeds


def test_feeds_of_a_worker_killed_mid_poll_are_polled_again(server: FeedServer) -> None:
    urls = [server.serve_fixture(f"/f{i}.xml", "rss2.xml", host=i % 3, delay=0.3) for i in range(12)]
    poll_feeds([FeedRequest("warm-up", urls[0])], FetchSettings(parse_workers=2))
    victims = worker_pids()
    results: list[FeedResult] = []
    poller = threading.Thread(
        target=lambda: results.extend(
            poll_feeds([FeedRequest(f"s{i}", u) for i, u in enumerate(urls)], FetchSettings(parse_workers=2))
        )
    )
    poller.start()
    time.sleep(0.15)  # every share's first fetches are waiting on the server
    os.kill(victims[0], signal.SIGKILL)
    poller.join(30)
    assert [(r.request.source_name, r.status, r.article_count) for r in results] == [
        (f"s{i}", "ok", 6) for i in range(12)
    ]
    assert victims[0] not in worker_pids()


def test_a_document_parsing_past_the_time_limit_fails_alone_and_its_process_is_replaced(
    server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Many small items: seconds of parsing (in a thread: the document is not small) for 1 MB.
    items = "".join(f"<item><guid>slow-{n}</guid><title>Item {n}</title></item>" for n in range(15_000))
    document = f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>'
    assert len(document) > INLINE_PARSE_BYTES
    slow = server.route("/slow.xml", document, host=0)
    # On the slow document's host, so polled by the same process, their results flowing back
    # (and the caller's commands coming in) for longer than the document takes to parse.
    quick = [server.serve_fixture(f"/q{i}.xml", "rss2.xml", host=0, delay=0.02) for i in range(300)]
    settings = FetchSettings(parse_workers=2, parse_timeout=0.4)
    poll_feeds([FeedRequest("warm-up", quick[0])], settings)
    before = set(worker_pids())
    with caplog.at_level(logging.WARNING):
        results = poll_feeds(
            [FeedRequest("slow", slow)] + [FeedRequest(f"q{i}", u) for i, u in enumerate(quick)], settings
        )
    assert (results[0].status, results[0].error_type) == ("error", "ParseTimeout")
    assert results[0].error == "parsing took longer than 0.4 s; the document was abandoned"
    assert [(r.status, r.article_count) for r in results[1:]] == [("ok", 6)] * 300
    assert len(before - set(worker_pids())) == 1  # the process stuck in the parse is gone
    assert any(f"feed {slow}: parsing took longer than 0.4 s" in r.getMessage() for r in caplog.records)
    assert [r.status for r in poll_feeds([FeedRequest("again", quick[1])], settings)] == ["ok"]


def test_the_parse_time_limit_leaves_slow_fetches_alone(server: FeedServer) -> None:
    """Only parsing counts: a server that takes its time is the fetch timeout's business."""
    url = server.serve_fixture("/late.xml", "rss2.xml", delay=0.5)
    settings = FetchSettings(parse_workers=2, parse_timeout=0.05)
    assert [(r.status, r.article_count) for r in poll_feeds([FeedRequest("late", url)], settings)] == [
        ("ok", 6)
    ]


def test_feeds_are_shared_out_by_whole_hosts_with_the_overall_limit_divided() -> None:
    hosts = ["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["d"] * 2
    requests = [FeedRequest(str(i), f"http://{host}.example/{i}.xml") for i, host in enumerate(hosts)]
    shares = workers._shares(range(len(requests)), requests, 2, max_concurrency=5)
    assert [concurrency for _, concurrency in shares] == [3, 2]
    by_share = [{hosts[i] for i in share} for share, _ in shares]
    assert by_share[0].isdisjoint(by_share[1])
    assert sorted(len(share) for share, _ in shares) == [5, 7]  # as even as whole hosts allow
    assert sorted(i for share, _ in shares for i in share) == list(range(12))
    # never more processes than hosts, nor than the overall limit allows
    assert len(workers._shares(range(5), requests, 4, max_concurrency=10)) == 1
    assert [c for _, c in workers._shares(range(12), requests, 4, max_concurrency=2)] == [1, 1]


def worker_pids() -> list[int]:
    return [worker.process.pid for worker in workers._workers if worker.process.pid is not None]


@WAYS
def test_a_document_too_large_to_parse_on_the_loop_is_parsed_all_the_same(
    server: FeedServer, processes: int
) -> None:
    items = "".join(
        f"<item><guid>big-{n}</guid><title>Item {n}</title><description>{'word ' * 400}</description></item>"
        for n in range(200)
    )
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>{items}</channel></rss>'
    assert len(body) > INLINE_PARSE_BYTES
    big = server.route("/big.xml", body, content_type="application/rss+xml")
    small = server.serve_fixture("/small.xml", "atom.xml")
    results = poll_feeds(
        [FeedRequest("big", big), FeedRequest("small", small)], FetchSettings(parse_workers=processes)
    )
    assert [(r.status, r.article_count) for r in results] == [("ok", 200), ("ok", 2)]
    assert results[0].articles[199].external_id == "big-199"


def test_no_requests_no_work() -> None:
    assert poll_feeds([]) == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("total_timeout", 0, "total_timeout must be positive"),
        ("connect_timeout", -1, "connect_timeout must be positive"),
        ("per_host", 0, "per_host must be at least 1"),
        ("max_concurrency", 0, "max_concurrency must be at least 1"),
        ("max_bytes", 0, "max_bytes must be at least 1"),
        ("max_redirects", -1, "max_redirects must not be negative"),
        ("parse_workers", -2, "parse_workers must not be negative"),
        ("parse_timeout", 0, "parse_timeout must be positive"),
    ],
)
def test_invalid_settings_are_rejected(field: str, value: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FetchSettings(**{field: value})  # type: ignore[arg-type]


@WAYS
def test_an_exception_on_the_last_result_propagates(server: FeedServer, processes: int) -> None:
    url = server.serve_fixture("/only.xml", "atom.xml")

    def explode(result: FeedResult) -> None:
        raise KeyError("last")

    with pytest.raises(KeyError, match="last"):
        poll_feeds([FeedRequest("s", url)], FetchSettings(parse_workers=processes), on_result=explode)


def test_with_prepare_for_each_article_comes_with_its_prepared_text(server: FeedServer) -> None:
    url = server.serve_fixture("/rss.xml", "rss2.xml")
    queries = ('"heavy rain" OR flood',)
    try:
        for workers in (0, 1):
            [result] = poll_feeds(
                [FeedRequest("s", url)], FetchSettings(parse_workers=workers), prepare_for=queries
            )
            assert len(result.prepared) == len(result.articles) == 6
            for article, prepared in zip(result.articles, result.prepared, strict=True):
                made = prepare(article.title, article.body, queries)
                assert prepared is not None
                assert prepared.digest == made.digest
                assert sketch_digest(prepared.analysis.sketch) == sketch_digest(made.analysis.sketch)
                assert prepared.text.tokens == made.text.tokens
        [plain] = poll_feeds([FeedRequest("s", url)], FetchSettings(parse_workers=0))
        assert plain.prepared == ()
    finally:
        shutdown_feed_workers()


@WAYS
def test_items_known_already_are_parsed_but_not_prepared_again(server: FeedServer, processes: int) -> None:
    url = server.serve_fixture("/rss.xml", "rss2.xml")
    settings = FetchSettings(parse_workers=processes)
    queries = ('"heavy rain" OR flood',)
    [first] = poll_feeds([FeedRequest("s", url)], settings, prepare_for=queries)
    assert None not in first.prepared
    known = frozenset(article.external_id for article in first.articles[1:3])
    [again] = poll_feeds([FeedRequest("s", url, known_ids=known)], settings, prepare_for=queries)
    assert again.article_count == len(again.prepared) == 6
    unprepared = {a.external_id for a, p in zip(again.articles, again.prepared, strict=True) if p is None}
    assert unprepared == known and len(known) == 2


@WAYS
def test_a_slow_on_result_pauses_fetching_instead_of_piling_up_results(
    server: FeedServer, processes: int
) -> None:
    rss = fixture("rss2.xml")
    urls = [server.route(f"/{i}.xml", rss, host=i % 3) for i in range(40)]
    release = threading.Event()
    taken: list[int] = []

    def slow(result: FeedResult) -> None:
        release.wait(5)
        taken.append(result.article_count)

    settings = FetchSettings(parse_workers=processes, max_concurrency=2)
    poller = threading.Thread(
        target=lambda: poll_feeds(
            [FeedRequest(str(i), u) for i, u in enumerate(urls)], settings, on_result=slow
        )
    )
    poller.start()
    try:
        time.sleep(1.0)
        # each process's parse slots + fetches holding a connection slot + the one being taken
        assert len(server.requests()) <= PARSE_SLOTS * max(1, processes) + 2 + 1
    finally:
        release.set()
        poller.join()
    assert taken == [6] * 40


def test_a_worker_process_log_record_is_logged_by_the_calling_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ours, theirs = multiprocessing.Pipe()
    logger = logging.getLogger("monitor.sources.feed.forwarding-test")
    handler = workers._ForwardedLogs(workers._Outbound(theirs))
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError("bad document")
        except ValueError:
            logger.exception("feed %s: unexpected error", "http://feeds.example/a.xml")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    with caplog.at_level(logging.ERROR):
        assert workers._received(ours) is None  # a record, not a delivery: logged here
    [record] = [r for r in caplog.records if r.name == logger.name]
    assert record.levelno == logging.ERROR
    assert record.getMessage().startswith("feed http://feeds.example/a.xml: unexpected error")
    assert "ValueError: bad document" in record.getMessage()
