"""Articles prepared ahead, in helper processes: the same analysis, the same stories, the same rows."""

from __future__ import annotations

import fcntl
import os
import pickle
import random
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import SEED_FIRST, SEED_UPDATE, sketch_digest
from sqlalchemy import select

from monitor.app import App
from monitor.config import Config, FolderSourceConfig, load_config
from monitor.polling import ingest_paths
from monitor.sources.folder import FolderSource
from monitor.sources.seedfile import parse_seed
from monitor.store.tables import AlertRow, ArticleRow, SourceFileRow, StoryRow, StoryTopicRow
from monitor.stories import StoryDoc, StoryEngine
from monitor.stories import prepare as prepare_module
from monitor.stories.prepare import (
    ANALYSIS_STEP,
    PIPE_BYTES,
    POOL_MIN_ITEMS,
    TASK_ITEMS,
    PreparedArticle,
    analyses_ahead,
    prepare,
    prepare_ahead,
    prepare_all,
    shutdown_helpers,
    submit,
)
from monitor.stories.text import analyse
from monitor.topics import Query

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
QUERY = "(Ukraine OR Kyiv) AND (talks OR negotiat*)"
DAY = datetime(2026, 2, 18, tzinfo=UTC)

PLACES = ["Geneva", "Kyiv", "Lagos", "Lima", "Oslo", "Perth", "Quito", "Riga", "Sofia", "Tunis"]
PEOPLE = ["Amara Osei", "Bruno Keller", "Chen Wei", "Dana Ruiz", "Emil Novak", "Farah Haddad"]
THINGS = ["flood", "strike", "election", "ceasefire talks", "bridge collapse", "power cut", "trial"]


def _corpus(count: int) -> list[str]:
    """Seed-format texts of a few dozen events, several reports each, some with new facts."""
    rng = random.Random(7)
    texts: list[str] = []
    events = [
        (rng.choice(PLACES), rng.choice(PEOPLE), rng.choice(THINGS), number) for number in range(count // 6)
    ]
    for number in range(count):
        place, person, thing, event = events[rng.randrange(len(events))]
        lines = [
            f" date {(DAY + timedelta(hours=number % 20)).date()} The {thing} in {place} continued on "
            f"Tuesday, {person} told reporters after meeting officials number {event}.",
            f"{person} said {rng.randint(2, 900)} people were affected across {place} and nearby towns.",
            f'"We are doing everything we can," {person.split()[0]} said of the {thing} in {place}.',
        ]
        if "Kyiv" in place or rng.random() < 0.1:
            lines.append("Ukraine and Russia agreed to further talks in Kyiv next week, negotiators said.")
        if rng.random() < 0.5:
            lines.append(
                f"Officials in {place} later confirmed {rng.randint(2, 90)} arrests on {rng.choice(THINGS)}."
            )
        texts.append("\n".join(lines) + "\n")
    return texts


def _rows(app: App) -> dict[str, list[tuple[object, ...]]]:
    with app.sessions() as session:
        return {
            "articles": [
                (row.id, row.text_hash, row.story_id, row.role, tuple(row.novel_sentences), row.title)
                for row in session.scalars(select(ArticleRow).order_by(ArticleRow.id))
            ],
            "stories": [
                (row.id, row.title, row.article_count, row.source_count, row.update_count)
                for row in session.scalars(select(StoryRow).order_by(StoryRow.id))
            ],
            "files": [
                (Path(row.path).name, row.status, row.article_id)
                for row in session.scalars(select(SourceFileRow).order_by(SourceFileRow.path))
            ],
            "topics": [
                (row.story_id, row.topic, row.article_id)
                for row in session.scalars(select(StoryTopicRow).order_by(StoryTopicRow.id))
            ],
            "alerts": [
                (row.key, row.story_id, row.article_id)
                for row in session.scalars(select(AlertRow).order_by(AlertRow.id))
            ],
        }


def _config(tmp_path: Path, name: str, write_config: Callable[..., Path]) -> Config:
    directory = tmp_path / name
    directory.mkdir()
    topics = [{"name": "talks", "query": QUERY, "notify": ["console"]}]
    return load_config(
        write_config(directory, database=f"sqlite:///{directory / 'monitor.db'}", topics=topics)
    )


def test_ingest_with_helper_processes_stores_exactly_what_ingest_without_them_does(
    tmp_path: Path, write_config: Callable[..., Path], build_app: Callable[[Config], App]
) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    texts = _corpus(620)  # more than one step: the second step is parsed by the helpers too
    for number, text in enumerate(texts):
        (folder / f"{number:04d}.txt").write_text(text, encoding="utf-8")
    (folder / "0100-copy.txt").write_text(texts[100], encoding="utf-8")  # a copy: known, not stored
    (folder / "0200-empty.txt").write_text("", encoding="utf-8")  # rejected
    paths = sorted(folder.glob("*.txt"))
    # In calls too small for helpers, the same files are parsed and prepared here.
    small_calls = [
        paths[start : start + POOL_MIN_ITEMS - 1] for start in range(0, len(paths), POOL_MIN_ITEMS - 1)
    ]
    results = {}
    for name, calls in (("helpers", [paths]), ("inline", small_calls)):
        app = build_app(_config(tmp_path, name, write_config))
        source = FolderSource(FolderSourceConfig(name="ingest", folder=folder))
        reports = [ingest_paths(app.sessions, app.pipeline, source, call, app.clock).report for call in calls]
        totals = {
            key: sum(getattr(report, key) for report in reports) for key in ("stored", "known", "rejected")
        }
        results[name] = (totals, _rows(app))
    assert results["helpers"] == results["inline"]
    totals, rows = results["helpers"]
    assert totals == {"stored": 620, "known": 1, "rejected": 1}
    assert rows["alerts"] and rows["topics"]
    assert len(rows["stories"]) < 620
    assert any(role == "update" for _id, _hash, _story, role, _novel, _title in rows["articles"])


def test_a_restarted_worker_analyses_a_large_window_in_helpers_and_judges_as_before(
    tmp_path: Path, write_config: Callable[..., Path], build_app: Callable[[Config], App]
) -> None:
    """A worker starting on a store whose window holds hundreds of articles has the helpers
    analyse them; what it then stores is exactly what a worker that never stopped stores."""
    folder = tmp_path / "files"
    folder.mkdir()
    texts = _corpus(700)
    for number, text in enumerate(texts):
        (folder / f"{number:04d}.txt").write_text(text, encoding="utf-8")
    paths = sorted(folder.glob("*.txt"))
    earlier, later = paths[: 700 - POOL_MIN_ITEMS + 1], paths[700 - POOL_MIN_ITEMS + 1 :]
    assert len(earlier) > ANALYSIS_STEP + POOL_MIN_ITEMS  # helpers analyse more than one step
    source = FolderSource(FolderSourceConfig(name="ingest", folder=folder))
    results = {}
    for name in ("restarted", "continuous"):
        config = _config(tmp_path, name, write_config)
        app = build_app(config)
        ingest_paths(app.sessions, app.pipeline, source, earlier, app.clock)
        if name == "restarted":
            app.close()
            shutdown_helpers()
            app = build_app(config)
        # Fewer files than helpers take: what decides them is the window alone.
        report = ingest_paths(app.sessions, app.pipeline, source, later, app.clock).report
        assert report.stored + report.known == len(later) and report.stored > 150
        assert len(app.pipeline.engine) > 0
        results[name] = _rows(app)
    assert results["restarted"] == results["continuous"]
    articles = results["restarted"]["articles"]
    stored_earlier = len(articles) - report.stored
    earlier_stories = {story_id for _id, _hash, story_id, *_rest in articles[:stored_earlier]}
    joined = [
        story_id for _id, _hash, story_id, *_rest in articles[stored_earlier:] if story_id in earlier_stories
    ]
    assert len(joined) > report.stored // 2  # most later reports join stories from before the restart


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="helpers need a second core")
def test_analyses_ahead_come_in_order_from_helpers_that_stop_when_done() -> None:
    texts = []
    for text in _corpus(2 * ANALYSIS_STEP + POOL_MIN_ITEMS - 1):
        seed = parse_seed(text.encode("utf-8"), mtime=DAY)
        texts.append((seed.title, seed.body))
    shutdown_helpers()
    made = list(analyses_ahead(texts))
    assert prepare_module._pool is None  # started for these alone, so stopped again
    assert len(made) == len(texts)
    helped, remainder = made[: 2 * ANALYSIS_STEP], made[2 * ANALYSIS_STEP :]
    assert all(analysis is None for analysis in remainder)
    for (title, body), analysis in zip(texts[: 2 * ANALYSIS_STEP], helped, strict=True):
        assert analysis is not None
        expected = analyse(title, body)
        assert analysis.counts == expected.counts
        assert sketch_digest(analysis.sketch) == sketch_digest(expected.sketch)
    started = submit(len, "started")
    assert started is not None and started.result(timeout=30) == len("started")
    pool = prepare_module._pool
    try:
        again = list(analyses_ahead(texts))
        assert all(analysis is not None for analysis in again[: 2 * ANALYSIS_STEP])
        assert prepare_module._pool is pool  # running before: kept for whoever started it
    finally:
        shutdown_helpers()


def test_a_threaded_process_starts_no_helpers_to_analyse_ahead() -> None:
    texts = [(f"Title {number}", body) for number, body in enumerate(_corpus(POOL_MIN_ITEMS * 2))]
    shutdown_helpers()
    stop = threading.Event()
    waiting = threading.Thread(target=stop.wait)
    waiting.start()  # as in the daemon, whose helpers would need a fork server
    try:
        made = list(analyses_ahead(texts))
        assert prepare_module._pool is None
    finally:
        stop.set()
        waiting.join()
    assert made == [None] * len(texts)  # the caller analyses each itself


def test_analyses_from_another_process_share_one_string_per_term() -> None:
    """The story window holds every term of every article it keeps: two analyses that come
    back from a helper process must not each bring their own copy of a shared term."""
    texts = [parse_seed((SEEDS / seed).read_bytes(), mtime=DAY) for seed in (SEED_FIRST, SEED_UPDATE)]
    first, second = (pickle.loads(pickle.dumps(analyse(text.title, text.body))) for text in texts)
    shared = set(first.terms) & set(second.terms)
    assert {"geneva", "zelenski"} <= shared
    by_term = {term: term for term in first.terms}
    assert all(by_term[term] is term for term in second.terms if term in shared)


def test_a_prepared_article_crosses_processes_unchanged() -> None:
    query = Query.parse(QUERY)
    for seed in (SEED_FIRST, SEED_UPDATE):
        article = parse_seed((SEEDS / seed).read_bytes(), mtime=DAY)
        made = prepare(article.title, article.body, (query.text,))
        back: PreparedArticle = pickle.loads(pickle.dumps(made))
        fresh = analyse(article.title, article.body)
        assert back.analysis.counts == fresh.counts
        assert list(back.analysis.counts) == list(fresh.counts)
        assert back.analysis.names == fresh.names
        assert sketch_digest(back.analysis.sketch) == sketch_digest(fresh.sketch)
        assert back.analysis.sentences == fresh.sentences
        assert back.text.tokens == made.text.tokens
        assert back.text.words == made.text.words
        assert back.digest == made.digest
        assert query.matches(back.text) is query.matches(made.text) is True
        # A query it was not judged by is matched on its (lazily rebuilt) tokens.
        assert Query.parse("Geneva").matches(back.text) is Query.parse("Geneva").matches(made.text)


def test_the_engine_decides_the_same_on_analyses_made_elsewhere() -> None:
    texts = _corpus(120)
    docs = []
    for number, text in enumerate(texts):
        seed = parse_seed(text.encode("utf-8"), mtime=DAY)
        docs.append(StoryDoc(number + 1, seed.title, seed.body, seed.published, "test"))
    decisions = []
    for carried in (False, True):
        engine = StoryEngine()
        made: list[tuple[int | None, str, tuple[str, ...]]] = []
        for doc in docs:
            analysis = pickle.loads(pickle.dumps(analyse(doc.title, doc.body))) if carried else None
            assignment = engine.assign(doc, analysis)
            story_id = assignment.story_id if assignment.story_id is not None else 1000 + doc.article_id
            engine.add(doc, story_id, assignment.role)
            made.append((assignment.story_id, assignment.role.value, assignment.novel_sentences))
        decisions.append(made)
    assert decisions[0] == decisions[1]
    assert any(role == "update" for _story, role, _novel in decisions[0])


def test_duplicate_sketches_are_the_same_in_every_process() -> None:
    article = parse_seed((SEEDS / SEED_FIRST).read_bytes(), mtime=DAY)
    here = analyse(article.title, article.body).sketch
    assert here is not None
    code = (
        "from monitor.sources.seedfile import parse_seed; from monitor.stories.text import analyse;"
        "from datetime import datetime, UTC;"
        f"a = parse_seed(open({str(SEEDS / SEED_FIRST)!r}, 'rb').read(), mtime=datetime.now(UTC));"
        "print(analyse(a.title, a.body).sketch.digest())"
    )
    for seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed},
        )
        assert out.stdout.strip() == str(here.digest())


def test_a_small_batch_never_starts_helpers() -> None:
    texts = [("Title", f"Body text number {number}.") for number in range(POOL_MIN_ITEMS - 1)]
    assert prepare_ahead(texts) is None


@pytest.mark.skipif(not hasattr(fcntl, "F_GETPIPE_SZ"), reason="pipe sizes are a Linux feature")
def test_the_helpers_pipes_hold_a_whole_tasks_results() -> None:
    limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
    if limit < PIPE_BYTES:
        pytest.skip(f"this kernel caps pipes at {limit} bytes")
    shutdown_helpers()
    try:
        task = submit(len, "started")
        assert task is not None and task.result(timeout=30) == len("started")
        pool = prepare_module._pool
        assert pool is not None
        for connection in (pool._result_queue._reader, pool._call_queue._writer):  # type: ignore[attr-defined]
            assert fcntl.fcntl(connection.fileno(), fcntl.F_GETPIPE_SZ) >= PIPE_BYTES
        # More than a default 64 KB pipe holds.
        texts = [(f"Title {number}", body) for number, body in enumerate(_corpus(TASK_ITEMS * 3))]
        results = submit(prepare_all, texts, (QUERY,))
        assert results is not None
        made = results.result(timeout=60)
        assert len(pickle.dumps(made)) > 64 * 1024
        assert [item.digest for item in made] == [prepare(*text).digest for text in texts]
    finally:
        shutdown_helpers()


def test_a_threaded_process_prepares_in_helpers_started_from_a_fork_server() -> None:
    texts = []
    for text in _corpus(POOL_MIN_ITEMS + 10):
        seed = parse_seed(text.encode("utf-8"), mtime=DAY)
        texts.append((seed.title, seed.body))
    stop = threading.Event()
    waiting = threading.Thread(target=stop.wait)
    waiting.start()  # forking this process now could copy a lock the thread holds
    shutdown_helpers()
    try:
        ahead = prepare_ahead(texts, (QUERY,), wait=True)
        assert ahead is not None
        made = [ahead.get(index) for index in range(len(texts))]
    finally:
        stop.set()
        waiting.join()
        shutdown_helpers()
    for (title, body), prepared in zip(texts, made, strict=True):
        assert prepared is not None
        assert prepared.analysis.counts == analyse(title, body).counts
        assert sketch_digest(prepared.analysis.sketch) == sketch_digest(analyse(title, body).sketch)
        assert prepared.text.verdicts == {QUERY: Query.parse(QUERY).matches(prepared.text)}


def test_preparations_waited_for_are_the_same_whoever_made_them() -> None:
    """Waiting for a preparation a helper is making, this process makes the last ones queued;
    every article still gets exactly its own preparation, in its place."""
    texts = []
    for text in _corpus(POOL_MIN_ITEMS * 3):
        seed = parse_seed(text.encode("utf-8"), mtime=DAY)
        texts.append((seed.title, seed.body))
    ahead = prepare_ahead(texts, (QUERY,), wait=True)
    assert ahead is not None
    got = [ahead.get(index) for index in range(len(texts))]
    for (title, body), made in zip(texts, got, strict=True):
        assert made is not None
        expected = prepare(title, body, (QUERY,))
        assert made.digest == expected.digest
        assert made.analysis.counts == expected.analysis.counts
        assert made.text.verdicts == expected.text.verdicts
