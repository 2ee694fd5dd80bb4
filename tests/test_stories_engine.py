"""The story engine end to end: grouping, roles, novel sentences, window, titles, revisions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.model import Role
from monitor.sources.seedfile import parse_seed
from monitor.stories import Assignment, StoryDoc, StoryEngine, StorySettings

DATA = Path(__file__).parent / "data" / "stories"
SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SEED_000 = "000_5d930837eff73e1e.txt"
SEED_002 = "002_fa0feb96f6a484b8.txt"
SCENARIOS = yaml.safe_load((DATA / "scenarios.yaml").read_text(encoding="utf-8"))
SAME_DAY_REPORTS = yaml.safe_load((DATA / "same_day_reports.yaml").read_text(encoding="utf-8"))
T0 = datetime(2026, 2, 18, 9, 0, tzinfo=UTC)


def seed_doc(name: str, article_id: int, published: datetime) -> StoryDoc:
    seed = parse_seed((SEEDS / name).read_bytes(), mtime=published)
    return StoryDoc(article_id, seed.title, seed.body, published, name)


def build_doc(spec: dict[str, Any]) -> StoryDoc:
    published = datetime.fromisoformat(spec["published"])
    estimated = spec.get("published_estimated", False)
    if "text" in spec:
        title, _, body = spec["text"].strip().partition("\n")
        return StoryDoc(spec["id"], title, body, published, "inline", estimated)
    doc = seed_doc(spec["seed"], spec["id"], published)
    body = doc.body
    for old, new in spec.get("replace", []):
        assert old in body, f"scenario replaces text the seed does not have: {old!r}"
        body = body.replace(old, new)
    body = "\n".join([body, *spec.get("append", [])])
    return replace(doc, title=spec.get("title", doc.title), body=body, published_estimated=estimated)


class Desk:
    """Stores articles the way the pipeline does: assign, create the story if new, add."""

    def __init__(self, engine: StoryEngine) -> None:
        self.engine = engine
        self.story_of: dict[int, int] = {}
        self.next_story = 100

    def ingest(self, doc: StoryDoc) -> Assignment:
        assignment = self.engine.assign(doc)
        story_id = assignment.story_id
        if story_id is None:
            self.next_story += 1
            story_id = self.next_story
        self.engine.add(doc, story_id, assignment.role)
        self.story_of[doc.article_id] = story_id
        return assignment


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[scenario["name"] for scenario in SCENARIOS])
def test_scenario(scenario: dict[str, Any]) -> None:
    desk = Desk(StoryEngine(StorySettings(**scenario.get("settings", {}))))
    for spec in scenario["articles"]:
        assignment = desk.ingest(build_doc(spec))
        expect = spec["expect"]
        where = f"article {spec['id']}"
        assert assignment.role.value == expect["role"], f"{where}: {assignment}"
        if expect["role"] == "first":
            assert assignment.story_id is None, where
        else:
            assert assignment.story_id == desk.story_of[expect["story_of"]], f"{where}: {assignment}"
        novel = " ".join(assignment.novel_sentences)
        for fragment in expect.get("novel_includes", []):
            assert fragment in novel, f"{where}: {fragment!r} missing from {assignment.novel_sentences}"
        for fragment in expect.get("novel_excludes", []):
            assert fragment not in novel, (
                f"{where}: {fragment!r} wrongly novel in {assignment.novel_sentences}"
            )
        if "novel_count" in expect:
            assert len(assignment.novel_sentences) == expect["novel_count"], f"{where}: {assignment}"
        if assignment.role is not Role.UPDATE:
            assert assignment.novel_sentences == (), where


def test_novel_sentences_are_whole_sentences_in_article_order() -> None:
    desk = Desk(StoryEngine())
    desk.ingest(seed_doc(SEED_000, 1, T0))
    second = seed_doc(SEED_002, 2, T0 + timedelta(hours=6))
    novel = desk.ingest(second).novel_sentences
    sentences = [sentence for sentence in novel if sentence in second.body]
    assert sentences == list(novel)
    positions = [second.body.index(sentence) for sentence in novel]
    assert positions == sorted(positions)


def test_assign_changes_nothing() -> None:
    engine = StoryEngine()
    first = seed_doc(SEED_000, 1, T0)
    engine.add(first, 7, Role.FIRST)
    second = seed_doc(SEED_002, 2, T0 + timedelta(hours=6))
    before = engine.assign(second)
    assert engine.assign(second) == before
    assert len(engine) == 1
    assert before.story_id == 7 and before.role is Role.UPDATE


def test_window_rebuilt_through_add_judges_like_live_ingest() -> None:
    live = Desk(StoryEngine())
    live.ingest(seed_doc(SEED_000, 1, T0))
    rebuilt = StoryEngine()
    rebuilt.add(seed_doc(SEED_000, 1, T0), live.story_of[1], Role.FIRST)
    second = seed_doc(SEED_002, 2, T0 + timedelta(hours=6))
    assert rebuilt.assign(second) == live.engine.assign(second)


def test_evicted_story_is_forgotten() -> None:
    engine = StoryEngine()
    engine.add(seed_doc(SEED_000, 1, T0), 5, Role.FIRST)
    window = timedelta(seconds=engine.settings.window)
    engine.evict(T0 + window - timedelta(minutes=1))
    assert engine.title(5) is not None
    engine.evict(T0 + window + timedelta(minutes=1))
    assert engine.title(5) is None
    assert len(engine) == 0
    # Even a report from inside the old window finds nothing to join any more.
    assert engine.assign(seed_doc(SEED_002, 2, T0 + timedelta(hours=6))).story_id is None


def test_beyond_max_stories_the_stories_quiet_the_longest_are_forgotten(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = StoryEngine(StorySettings(max_stories=3))
    # Five distinct stories an hour apart, all well inside the time window; story 2 is
    # reported again last, so it is the most recently active.
    texts = [
        f"Mayor {name} of {town} opened a bridge over the river on {day}."
        for name, town, day in (
            ("Alvarez", "Tromso", "Monday"),
            ("Okafor", "Ghent", "Tuesday"),
            ("Lindqvist", "Porto", "Wednesday"),
            ("Nakamura", "Graz", "Thursday"),
            ("Dubois", "Kaunas", "Friday"),
        )
    ]
    for number, text in enumerate(texts[:3]):
        engine.add(
            StoryDoc(number + 1, text, text, T0 + timedelta(hours=number), "t"), number + 1, Role.FIRST
        )
    engine.add(StoryDoc(10, texts[1], texts[1], T0 + timedelta(hours=3), "t"), 2, Role.DUPLICATE)
    with caplog.at_level("WARNING", logger="monitor.stories.engine"):
        for number, text in enumerate(texts[3:], start=3):
            engine.add(
                StoryDoc(number + 1, text, text, T0 + timedelta(hours=4 + number), "t"),
                number + 1,
                Role.FIRST,
            )
    assert len(engine) == 3
    assert [engine.title(story) is not None for story in (1, 2, 3, 4, 5)] == [False, True, False, True, True]
    assert [record.message for record in caplog.records if "max_stories" in record.message] == [
        "the story window holds 3 stories, its limit (stories.max_stories): the stories quiet the "
        "longest are forgotten before the window ends"
    ]
    # A forgotten story cannot be joined, or found as the original of a copy; a held one can.
    late = T0 + timedelta(hours=9)
    assert engine.assign(StoryDoc(20, texts[0], texts[0], late, "t")).story_id is None
    assert engine.assign(StoryDoc(21, texts[1], texts[1], late, "t")).story_id == 2


def test_a_story_that_keeps_being_reported_stays_open() -> None:
    engine = StoryEngine()
    window = timedelta(seconds=engine.settings.window)
    engine.add(seed_doc(SEED_000, 1, T0), 5, Role.FIRST)
    later = T0 + window * 0.9
    engine.add(seed_doc(SEED_002, 2, later), 5, Role.UPDATE)
    engine.evict(T0 + window * 1.5)
    assert engine.title(5) is not None


def test_title_is_the_first_articles_and_stays() -> None:
    desk = Desk(StoryEngine())
    first = seed_doc(SEED_000, 1, T0)
    desk.ingest(first)
    desk.ingest(seed_doc(SEED_002, 2, T0 + timedelta(hours=6)))
    assert desk.engine.title(desk.story_of[1]) == first.title


def test_a_placeholder_title_gives_way_to_the_first_proper_one() -> None:
    engine = StoryEngine()
    first = replace(seed_doc(SEED_000, 1, T0), title="Ukraine")
    engine.add(first, 3, Role.FIRST)
    second = seed_doc(SEED_002, 2, T0 + timedelta(hours=6))
    engine.add(second, 3, Role.UPDATE)
    assert engine.title(3) == second.title
    engine.add(replace(seed_doc(SEED_000, 4, T0), title="Something else entirely, and long"), 3, Role.RELATED)
    assert engine.title(3) == second.title


RATES = (
    "Ukraine central bank holds key rate at 15.5%",
    "Ukraine's central bank kept its key interest rate at 15.5% on Thursday, citing persistent "
    "inflation pressures.",
)
COURT = (
    "Russian court jails journalist for six years",
    "A Moscow court on Thursday sentenced journalist Antonina Favorskaya to six years in prison, "
    "her lawyer said.",
)
CREDITS = (
    "Reporting by Olena Harmash in Kyiv and Guy Faulconbridge in Moscow; Editing by Alexandra "
    "Hudson and Mark Heinrich"
)
BYLINE = "By Olena Harmash and Guy Faulconbridge\nLast updated at 11:11 GMT on 18 February 2026"


def with_furniture(report: tuple[str, str], before: str = "", after: str = "") -> tuple[str, str]:
    title, body = report
    return title, "\n".join(part for part in (before, body, after) if part)


def both_with(before: str = "", after: str = "") -> tuple[tuple[str, str], tuple[str, str]]:
    """The two unrelated reports, with the same furniture before and after their text."""
    return with_furniture(RATES, before, after), with_furniture(COURT, before, after)


# Two reports of unrelated events that share only what their outlet puts on every report, or
# words every report has: each pair once scored near or over the join threshold.
UNRELATED_PAIRS = {
    "a wire credit line": both_with(after=CREDITS),
    "a byline, a time stamp and a picture credit": both_with(BYLINE, "Image copyright Getty Images"),
    "a feed's footer": (
        with_furniture(RATES, after=f"The post {RATES[0]} appeared first on Kyiv Daily Monitor."),
        with_furniture(COURT, after=f"The post {COURT[0]} appeared first on Kyiv Daily Monitor."),
    ),
    "a site's name after the title": (
        (RATES[0] + " - BBC News", RATES[1]),
        (COURT[0] + " - BBC News", COURT[1]),
    ),
    "a wire dateline": (
        (RATES[0], "LONDON, Feb 18 (Reuters) - " + RATES[1]),
        (COURT[0], "LONDON, Feb 18 (Reuters) - " + COURT[1]),
    ),
    "a time stamp for a title": (
        ("Wednesday, February 18, 2026 | 11:11 AM", " ".join(RATES)),
        ("Wednesday, February 18, 2026 | 11:11 AM", " ".join(COURT)),
    ),
    "a time stamp above the text": both_with(before="February 18, 2026 11:11 GMT"),
    "an agency's picture credit": both_with(after="(Reuters/Gleb Garanich)"),
    "a call to follow the outlet, with its handle": both_with(
        after="Follow @KyivIndependent on X for the latest updates."
    ),
    "a link to the outlet's coverage": both_with(
        after="Follow AP's coverage at https://apnews.com/hub/russia-ukraine"
    ),
    "a source line": both_with(after="Source: Reuters"),
    "a month, a weekday and dozens": (
        (
            "Protest outside parliament",
            "Dozens of protesters gathered outside the parliament in Tbilisi on Tuesday, the third "
            "week of rallies since January.",
        ),
        (
            "Flights cancelled after snow",
            "Dozens of flights were cancelled at Heathrow on Tuesday, the worst disruption since January.",
        ),
    ),
}


@pytest.mark.parametrize(("first", "second"), UNRELATED_PAIRS.values(), ids=UNRELATED_PAIRS.keys())
def test_what_unrelated_reports_share_by_their_outlet_or_their_day_joins_none(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    engine = StoryEngine()
    earlier = StoryDoc(1, *first, T0, "outlet")
    engine.add(earlier, 1, engine.assign(earlier).role)
    assignment = engine.assign(StoryDoc(2, *second, T0, "outlet"))
    assert assignment.story_id is None
    assert assignment.similarity < engine.settings.join_threshold / 2


@pytest.mark.parametrize("report", SAME_DAY_REPORTS, ids=[report["event"] for report in SAME_DAY_REPORTS])
def test_other_events_of_the_talks_day_join_no_talks_story(report: dict[str, str]) -> None:
    desk = Desk(StoryEngine())
    desk.ingest(seed_doc(SEED_000, 1, T0))
    assert desk.ingest(seed_doc(SEED_002, 2, T0 + timedelta(hours=2))).role is Role.UPDATE
    assignment = desk.ingest(StoryDoc(3, report["title"], report["body"], T0 + timedelta(hours=4), "outlet"))
    assert assignment.story_id is None, assignment
    assert assignment.role is Role.FIRST
    assert desk.story_of[3] != desk.story_of[1]


def test_unknown_story_has_no_title() -> None:
    assert StoryEngine().title(42) is None


def test_empty_article_starts_a_story() -> None:
    engine = StoryEngine()
    engine.add(seed_doc(SEED_000, 1, T0), 1, Role.FIRST)
    assert engine.assign(StoryDoc(2, "", "", T0, "x")) == Assignment(None, Role.FIRST)


def test_naive_publication_times_are_taken_as_utc() -> None:
    engine = StoryEngine()
    engine.add(seed_doc(SEED_000, 1, T0), 1, Role.FIRST)
    naive = seed_doc(SEED_002, 2, (T0 + timedelta(hours=6)).replace(tzinfo=None))
    assert engine.assign(naive).story_id == 1


# --- revisions ---------------------------------------------------------------------------

NEW_FACT = (
    "Ukraine and Russia agreed on Wednesday evening to exchange 300 prisoners of war before the "
    "next round, Umerov's office said in a statement."
)


def test_revision_with_a_new_fact_is_an_update_naming_it() -> None:
    engine = StoryEngine()
    original = seed_doc(SEED_000, 1, T0)
    engine.add(original, 9, Role.FIRST)
    revised = replace(original, body=original.body + "\n" + NEW_FACT)
    assessment = engine.assess_revision(revised, 9)
    assert assessment.story_id == 9
    assert assessment.role is Role.UPDATE
    assert assessment.novel_sentences == (NEW_FACT,)


def test_revision_that_only_rewords_is_a_duplicate() -> None:
    engine = StoryEngine()
    original = seed_doc(SEED_000, 1, T0)
    engine.add(original, 9, Role.FIRST)
    reworded = replace(original, body=original.body.replace("very tense", "extremely tense"))
    assessment = engine.assess_revision(reworded, 9)
    assert (assessment.story_id, assessment.role, assessment.novel_sentences) == (9, Role.DUPLICATE, ())
    assert assessment.similarity > 0.8


def test_revision_that_rewrites_a_paragraph_is_related() -> None:
    engine = StoryEngine()
    original = seed_doc(SEED_000, 1, T0)
    engine.add(original, 9, Role.FIRST)
    paragraphs = original.body.split("\n")
    rewritten = replace(original, body="\n".join(reversed(paragraphs[:8])))
    assessment = engine.assess_revision(rewritten, 9)
    assert assessment.role is Role.RELATED
    assert assessment.novel_sentences == ()


def test_registered_revision_makes_its_fact_known() -> None:
    engine = StoryEngine()
    original = seed_doc(SEED_000, 1, T0)
    engine.add(original, 9, Role.FIRST)
    revised = replace(original, body=original.body + "\n" + NEW_FACT)
    engine.add(revised, 9, Role.UPDATE)
    assert engine.assess_revision(revised, 9).role is not Role.UPDATE
    copy = replace(revised, article_id=2, published=T0 + timedelta(hours=1))
    assignment = engine.assign(copy)
    assert (assignment.story_id, assignment.role, assignment.novel_sentences) == (9, Role.DUPLICATE, ())


def test_revision_of_a_story_outside_the_window_cannot_alert() -> None:
    engine = StoryEngine()
    original = seed_doc(SEED_000, 1, T0)
    revised = replace(original, body=original.body + "\n" + NEW_FACT)
    assert engine.assess_revision(revised, 9) == Assignment(9, Role.RELATED)


def test_document_frequencies_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.stories import engine as engine_module

    monkeypatch.setattr(engine_module, "MAX_TRACKED_TERMS", 40)
    engine = StoryEngine()
    for number in range(30):
        names = " ".join(f"Name{number}x{index}" for index in range(5))
        doc = StoryDoc(number, f"Report {number}", f"Officials met {names} in the capital today.", T0, "x")
        engine.add(doc, number, Role.FIRST)
        assert len(engine._doc_freq) <= 40 + 10
    assert engine._doc_freq["capit"] > 2  # frequent terms survive pruning
