"""Feed items through the whole pipeline on SQLite and PostgreSQL: which items are the same
article (changed GUID, changed link, another feed, the drop folder, tracking parameters),
revisions, and the stories and alerts each case may (or may not) cause."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from conftest import CONTRACT_TOPIC
from feedserver import FeedServer
from sqlalchemy import func, select

from monitor import feedpoll
from monitor.app import App
from monitor.config import load_config
from monitor.feedpoll import KnownItems, poll_feed_sources
from monitor.model import Incoming
from monitor.pipeline import Pipeline
from monitor.polling import PollOutcome
from monitor.store.tables import (
    AlertRow,
    ArticleRevisionRow,
    ArticleRow,
    ArticleSourceRow,
    SourceFileRow,
    SourceRow,
    StoryRow,
)

#: Recent, so the story stays in the story engine's window.
PUBLISHED = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)

#: A story the contract topic tracks, one paragraph per entry.
TALKS = (
    "Ukrainian and Russian negotiators met in Geneva on Tuesday for a second round of talks on a "
    "ceasefire, officials from both delegations said.",
    "The talks, mediated by a United States envoy, focused on the exchange of prisoners and on the "
    "future of the Zaporizhzhia nuclear power plant.",
    "Kyiv said it would not accept any agreement that cedes territory, while Moscow repeated its "
    "demand for security guarantees before any ceasefire.",
)
TALKS_TITLE = "Ukraine and Russia resume ceasefire talks in Geneva"

#: A sentence that brings a new fact to the story.
NEW_FACT = (
    "Both delegations agreed to swap twelve hundred prisoners of war before Easter, "
    "Kremlin spokesman Dmitry Peskov confirmed on Wednesday evening."
)

#: An unrelated story, to make sure distinct articles stay distinct.
HARBOUR = (
    "The city council approved a new cycling lane along the river on Tuesday evening.",
    "The lane will connect the old harbour with the university campus and open next spring.",
    "Council members said the project was funded by a regional transport grant.",
)


@dataclass(frozen=True)
class Item:
    guid: str | None
    link: str | None
    title: str
    paragraphs: tuple[str, ...]
    published: datetime = PUBLISHED

    @property
    def body(self) -> str:
        return "\n".join(self.paragraphs)


def rss(*items: Item) -> bytes:
    parts = ['<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>']
    for item in items:
        parts.append(f"<item><title>{escape(item.title)}</title>")
        if item.link:
            parts.append(f"<link>{escape(item.link)}</link>")
        if item.guid:
            parts.append(f'<guid isPermaLink="false">{escape(item.guid)}</guid>')
        html = "".join(f"<p>{escape(p)}</p>" for p in item.paragraphs)
        parts.append(f"<pubDate>{format_datetime(item.published, usegmt=True)}</pubDate>")
        parts.append(f"<description>{escape(html)}</description></item>")
    return ("".join(parts) + "</channel></rss>").encode("utf-8")


def json_feed(*items: Item) -> bytes:
    return json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "t",
            "items": [
                {
                    "id": item.guid,
                    "url": item.link,
                    "title": item.title,
                    "content_text": "\n\n".join(item.paragraphs),
                    "date_published": item.published.isoformat(),
                }
                for item in items
            ],
        }
    ).encode("utf-8")


def seed_file(item: Item) -> str:
    """The drop folder's format: a date marker, then one paragraph per line, no title line."""
    return f" date {item.published:%Y-%m-%d} " + "\n".join(item.paragraphs) + "\n"


TALKS_ITEM = Item("talks-1", "https://news.example.com/world/geneva-talks", TALKS_TITLE, TALKS)
HARBOUR_ITEM = Item("harbour-1", "https://news.example.com/local/cycling-lane", "A cycling lane", HARBOUR)


@dataclass
class Rig:
    """A feed server, the app under test, and what the store holds."""

    server: FeedServer
    app: App
    inbox: Path

    def serve(self, feed: str, *items: Item, render: Callable[..., bytes] = rss) -> None:
        self.server.route(f"/{feed}", render(*items), content_type=None)

    def poll(self) -> dict[str, PollOutcome]:
        """Poll both feeds; each one's outcome by name."""
        outcomes = {outcome.source: outcome for outcome in self.app.poll_feeds(only_due=False)}
        assert {name: outcome.error for name, outcome in outcomes.items()} == {"alpha": None, "beta": None}
        return outcomes

    def count(self, table: type[object]) -> int:
        with self.app.sessions() as session:
            return session.scalar(select(func.count()).select_from(table)) or 0

    def articles(self) -> list[ArticleRow]:
        with self.app.sessions() as session:
            return list(session.scalars(select(ArticleRow).order_by(ArticleRow.id)))

    def links(self) -> list[tuple[int, str, str]]:
        """(article id, source name, external id) of every article_sources row."""
        with self.app.sessions() as session:
            rows = session.execute(
                select(ArticleSourceRow.article_id, SourceRow.name, ArticleSourceRow.external_id)
                .join(SourceRow, SourceRow.id == ArticleSourceRow.source_id)
                .order_by(ArticleSourceRow.id)
            )
            return [(article_id, name, external_id) for article_id, name, external_id in rows]

    def alerts(self) -> list[tuple[str, int, int | None]]:
        """(kind, story id, article id) of every alert."""
        with self.app.sessions() as session:
            rows = session.scalars(select(AlertRow).order_by(AlertRow.id))
            return [(row.kind, row.story_id, row.article_id) for row in rows]


@pytest.fixture
def rig(
    tmp_path: Path, database_url: str, write_config: Callable[..., Path], build_app: Callable[..., App]
) -> Iterator[Rig]:
    with FeedServer() as server:
        inbox = tmp_path / "inbox"
        sources = [{"name": "inbox", "folder": str(inbox), "every": "1s"}] + [
            {"name": name, "feed": server.url(f"/{name}"), "every": "5m"} for name in ("alpha", "beta")
        ]
        config = load_config(write_config(tmp_path, database=database_url, sources=sources))
        rig = Rig(server, build_app(config), inbox)
        # Both feeds exist from the start; an empty feed is a valid feed.
        rig.serve("alpha")
        rig.serve("beta")
        yield rig


def test_one_item_is_one_article_one_story_one_new_story_alert(rig: Rig) -> None:
    rig.serve("alpha", TALKS_ITEM, HARBOUR_ITEM)

    rig.poll()

    articles = rig.articles()
    assert [a.title for a in articles] == [TALKS_TITLE, "A cycling lane"]
    assert articles[0].canonical_url == TALKS_ITEM.link
    assert rig.links() == [(articles[0].id, "alpha", "talks-1"), (articles[1].id, "alpha", "harbour-1")]
    assert rig.alerts() == [("new_story", articles[0].story_id, articles[0].id)]


# --- the same article, reached another way -----------------------------------------------------

#: name -> how the item reappears in the same feed after the first poll; each is the same article.
SAME_ARTICLE_IN_THE_SAME_FEED = {
    "guid changed, link and text unchanged": replace(TALKS_ITEM, guid="talks-1-republished"),
    "guid and link changed, text unchanged": replace(
        TALKS_ITEM, guid="urn:uuid:8d1c", link="https://news.example.com/2026/03/10/geneva"
    ),
    "guid changed, same link with tracking parameters and fragment, text unchanged": replace(
        TALKS_ITEM, guid="talks-1-b", link=f"{TALKS_ITEM.link}?utm_source=rss&utm_medium=feed#comments"
    ),
    "guid changed, link unchanged, text shortened": replace(
        TALKS_ITEM, guid="talks-1-c", paragraphs=TALKS[:2]
    ),
    "no guid any more, link unchanged, text unchanged": replace(TALKS_ITEM, guid=None),
}


@pytest.mark.parametrize("again", SAME_ARTICLE_IN_THE_SAME_FEED.values(), ids=SAME_ARTICLE_IN_THE_SAME_FEED)
def test_an_item_reappearing_under_another_identity_is_the_same_article(rig: Rig, again: Item) -> None:
    rig.serve("alpha", TALKS_ITEM)
    rig.poll()
    (article,) = rig.articles()
    alerts = rig.alerts()

    rig.serve("alpha", again)
    rig.poll()

    assert [a.id for a in rig.articles()] == [article.id]
    assert {article_id for article_id, _, _ in rig.links()} == {article.id}
    assert rig.count(StoryRow) == 1
    assert rig.alerts() == alerts, "no new story, no alert"


#: name -> (how the second feed lists the article, whether its text differs from the first's)
SAME_ARTICLE_IN_ANOTHER_FEED = {
    "the same item": (TALKS_ITEM, False),
    "own guid and link, same text": (
        replace(TALKS_ITEM, guid="beta-77", link="https://mirror.example.org/geneva"),
        False,
    ),
    "own guid, same link with tracking parameters, paragraphs reordered": (
        replace(
            TALKS_ITEM,
            guid="beta-78",
            link=f"{TALKS_ITEM.link}?utm_source=x#frag",
            paragraphs=(TALKS[1], TALKS[0], TALKS[2]),
        ),
        True,
    ),
    "a JSON Feed, own guid, same text": (replace(TALKS_ITEM, guid="https://j.example/1", link=None), False),
}


@pytest.mark.parametrize(
    ("listed", "text_differs"), SAME_ARTICLE_IN_ANOTHER_FEED.values(), ids=SAME_ARTICLE_IN_ANOTHER_FEED
)
def test_the_same_article_in_two_feeds_is_one_article_with_two_sources(
    rig: Rig, listed: Item, text_differs: bool
) -> None:
    rig.serve("alpha", TALKS_ITEM)
    rig.serve("beta", listed, render=json_feed if listed.link is None else rss)

    rig.poll()

    (article,) = rig.articles()
    assert sorted((name, external_id) for _, name, external_id in rig.links()) == [
        ("alpha", "talks-1"),
        ("beta", listed.guid),
    ]
    assert {article_id for article_id, _, _ in rig.links()} == {article.id}
    with rig.app.sessions() as session:
        (story,) = session.scalars(select(StoryRow))
    assert (story.article_count, story.source_count) == (1, 2)
    assert rig.alerts() == [("new_story", story.id, article.id)]
    assert rig.count(ArticleRevisionRow) == int(text_differs)


def test_the_same_article_from_a_feed_and_the_drop_folder_is_one_article(rig: Rig) -> None:
    rig.serve("alpha", TALKS_ITEM)
    rig.poll()
    rig.inbox.mkdir(exist_ok=True)
    (rig.inbox / "geneva.txt").write_text(seed_file(TALKS_ITEM), encoding="utf-8")

    outcome = rig.app.poll("inbox")

    assert outcome.error is None
    assert (outcome.report.stored, outcome.report.merged) == (0, 1)
    (article,) = rig.articles()
    assert [(name, article_id) for article_id, name, _ in rig.links()] == [
        ("alpha", article.id),
        ("inbox", article.id),
    ]
    with rig.app.sessions() as session:
        (ledger,) = session.scalars(select(SourceFileRow))
    assert (ledger.status, ledger.article_id) == ("ingested", article.id)
    assert len(rig.alerts()) == 1


def test_the_drop_folder_first_then_the_feed_is_one_article(rig: Rig) -> None:
    rig.inbox.mkdir(exist_ok=True)
    (rig.inbox / "geneva.txt").write_text(seed_file(TALKS_ITEM), encoding="utf-8")
    assert rig.app.poll("inbox").report.stored == 1
    rig.serve("alpha", TALKS_ITEM)

    outcome = rig.poll()["alpha"]

    assert (outcome.report.stored, outcome.report.merged) == (0, 1)
    assert len(rig.articles()) == 1
    assert [name for _, name, _ in rig.links()] == ["inbox", "alpha"]
    assert len(rig.alerts()) == 1


# --- distinct articles stay distinct -------------------------------------------------------------


def test_items_sharing_one_link_are_distinct_articles(rig: Rig) -> None:
    """Some feeds link every item to their home page; a shared link identifies none of them."""
    home = "https://news.example.com/"
    rig.serve("alpha", replace(TALKS_ITEM, link=home), replace(HARBOUR_ITEM, link=home))

    rig.poll()

    assert sorted(a.title for a in rig.articles()) == sorted([TALKS_TITLE, "A cycling lane"])
    assert rig.count(ArticleRevisionRow) == 0


def test_a_guid_longer_than_the_column_is_still_stored_and_recognised(rig: Rig) -> None:
    long_link = "https://news.example.com/world/" + "geneva-talks-" * 30 + "?id=7"
    item = replace(TALKS_ITEM, guid=None, link=long_link)
    rig.serve("alpha", item)

    first = rig.poll()["alpha"]
    again = rig.poll()["alpha"]

    assert first.report.stored == 1
    assert (again.report.stored, again.report.known) == (0, 1)
    (article,) = rig.articles()
    assert article.url == long_link


# --- revisions ---------------------------------------------------------------------------------


def test_an_item_whose_text_gains_a_fact_is_a_revision_and_an_update(rig: Rig) -> None:
    rig.serve("alpha", TALKS_ITEM)
    rig.poll()
    (article,) = rig.articles()

    revised = replace(TALKS_ITEM, paragraphs=(*TALKS, NEW_FACT))
    rig.serve("alpha", revised)
    outcome = rig.poll()["alpha"]

    assert (outcome.report.stored, outcome.report.revised) == (0, 1)
    (stored,) = rig.articles()
    assert (stored.id, stored.revision) == (article.id, 1)
    assert NEW_FACT in stored.body
    with rig.app.sessions() as session:
        (old,) = session.scalars(select(ArticleRevisionRow))
    assert (old.article_id, old.revision, old.body) == (article.id, 0, article.body)
    assert rig.alerts() == [
        ("new_story", article.story_id, article.id),
        ("update", article.story_id, article.id),
    ]
    assert NEW_FACT in stored.novel_sentences

    # The story now knows the fact: another feed repeating it adds nothing worth an alert.
    rig.serve(
        "beta",
        Item("beta-9", "https://other.example.org/swap", "Prisoner swap agreed", (*TALKS[:2], NEW_FACT)),
    )
    rig.poll()

    assert len(rig.articles()) == 2
    assert [kind for kind, _, _ in rig.alerts()] == ["new_story", "update"]


def test_a_rewrite_without_a_new_fact_is_a_revision_without_an_alert(rig: Rig) -> None:
    rig.serve("alpha", TALKS_ITEM)
    rig.poll()
    (article,) = rig.articles()

    rig.serve("alpha", replace(TALKS_ITEM, paragraphs=(TALKS[1], TALKS[0], TALKS[2])))
    outcome = rig.poll()["alpha"]

    assert outcome.report.revised == 1
    (stored,) = rig.articles()
    assert stored.revision == 1
    assert rig.count(ArticleRevisionRow) == 1
    assert rig.alerts() == [("new_story", article.story_id, article.id)]


def test_an_unchanged_item_polled_again_is_known(rig: Rig) -> None:
    rig.serve("alpha", TALKS_ITEM, HARBOUR_ITEM)
    rig.poll()

    outcome = rig.poll()["alpha"]

    assert (outcome.report.stored, outcome.report.known, outcome.report.revised) == (0, 2, 0)
    assert rig.count(ArticleRevisionRow) == 0
    assert len(rig.alerts()) == 1
    assert CONTRACT_TOPIC in {row.topic for row in _alert_rows(rig)}


def _alert_rows(rig: Rig) -> list[AlertRow]:
    with rig.app.sessions() as session:
        return list(session.scalars(select(AlertRow)))


def _all_at_once(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make the storing thread wait for every feed of a poll, then take them as one group;
    returns the sizes of the groups stored together."""
    take = feedpoll._Backlog.take

    def take_when_all_are_in(backlog: feedpoll._Backlog, most: int, articles: int) -> list[Any]:
        with backlog._changed:
            while not backlog._closed:
                backlog._changed.wait()
        return take(backlog, most, articles)

    together: list[int] = []
    ingest_together = Pipeline.ingest_together

    def counted(pipeline: Pipeline, parts: Any) -> Any:
        together.append(len(parts))
        return ingest_together(pipeline, parts)

    monkeypatch.setattr(feedpoll._Backlog, "take", take_when_all_are_in)
    monkeypatch.setattr(Pipeline, "ingest_together", counted)
    return together


def test_several_feeds_are_stored_in_one_transaction_as_they_would_be_apart(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    together = _all_at_once(monkeypatch)
    rig.serve("alpha", TALKS_ITEM)
    rig.serve("beta", replace(TALKS_ITEM, guid="beta-1", link=None), HARBOUR_ITEM)

    outcomes = rig.poll()

    assert together == [2]
    # Whichever feed came first stored the talks; the other one merged into it.
    reports = [outcome.report for outcome in outcomes.values()]
    assert (sum(r.stored for r in reports), sum(r.merged for r in reports)) == (2, 1)
    assert sorted((name, guid) for _, name, guid in rig.links()) == [
        ("alpha", "talks-1"),
        ("beta", "beta-1"),
        ("beta", "harbour-1"),
    ]
    # Each alert is counted once, in the report of the feed whose item caused it.
    assert sum(report.alerts for report in reports) == len(rig.alerts()) == 1


def test_a_feed_whose_items_cannot_be_stored_costs_no_other_feed_of_its_group(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    together = _all_at_once(monkeypatch)
    ingest_one = Pipeline._ingest_one

    def failing(pipeline: Pipeline, batch: Any, source_name: str, item: Incoming, report: Any) -> None:
        if item.article.title == "A cycling lane":
            raise RuntimeError("disk on fire")
        ingest_one(pipeline, batch, source_name, item, report)

    monkeypatch.setattr(Pipeline, "_ingest_one", failing)
    rig.serve("alpha", HARBOUR_ITEM, replace(TALKS_ITEM, guid="alpha-talks"))
    rig.serve("beta", TALKS_ITEM)

    outcomes = {outcome.source: outcome for outcome in rig.app.poll_feeds(only_due=False)}

    assert together == [2]
    assert (outcomes["alpha"].error or "").startswith("storing failed")
    assert (outcomes["beta"].error, outcomes["beta"].report.stored) == (None, 1)
    assert [name for _, name, _ in rig.links()] == ["beta"]
    with rig.app.sessions() as session:
        alpha = session.scalars(select(SourceRow).where(SourceRow.name == "alpha")).one()
        assert (alpha.consecutive_failures, alpha.etag) == (1, None)

    monkeypatch.setattr(Pipeline, "_ingest_one", ingest_one)
    outcomes = rig.poll()
    assert (outcomes["alpha"].report.stored, outcomes["alpha"].report.merged) == (1, 1)


def test_a_poll_remembers_what_it_stored_and_the_next_still_judges_those_items(rig: Rig) -> None:
    known = KnownItems()

    def poll() -> dict[str, PollOutcome]:
        app = rig.app
        outcomes = poll_feed_sources(
            app.sessions,
            app.pipeline,
            app.feed_sources(),
            app.config.feeds,
            app.clock,
            owner="test",
            lease_seconds=60,
            only_due=False,
            known=known,
        )
        return {outcome.source: outcome for outcome in outcomes}

    rig.serve("alpha", TALKS_ITEM, HARBOUR_ITEM)
    poll()
    assert known.of("alpha") == {external_id for _, name, external_id in rig.links() if name == "alpha"}
    assert len(known.of("alpha")) == 2

    # Sent as known, the items are not prepared again; a changed one is still a revision.
    rig.serve("alpha", replace(TALKS_ITEM, paragraphs=(*TALKS, NEW_FACT)), HARBOUR_ITEM)
    outcome = poll()["alpha"]
    assert (outcome.report.stored, outcome.report.known, outcome.report.revised) == (0, 1, 1)
    assert [kind for kind, _, _ in rig.alerts()] == ["new_story", "update"]
