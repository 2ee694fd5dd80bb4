"""The reference corpus: general-English word frequencies that the stream's counts add to."""

from __future__ import annotations

import logging
import marshal
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import pytest
import Stemmer
from wordfreq import word_frequency

from monitor.stories import StoryDoc, StoryEngine, StorySettings
from monitor.stories.reference import MIN_WORD_FREQUENCY, build_table, cache_path, stem_frequencies
from monitor.stories.tokens import term_of

WHEN = datetime(2026, 3, 2, 9, tzinfo=UTC)

AMATRICE = StoryDoc(
    1,
    "Earthquake kills dozens as buildings collapse",
    "A magnitude 6.1 earthquake struck near Amatrice early on Tuesday, killing at least 38 people. "
    "Rescue teams searched collapsed buildings for survivors through the night. "
    "Mayor Sergio Pirozzi said half of the town was gone.",
    WHEN,
    "wire",
)
# Another earthquake on the same day, reported in the same words: only the names differ.
DURRES = StoryDoc(
    2,
    "Earthquake kills dozens as buildings collapse",
    "A magnitude 6.4 earthquake struck near Durres early on Tuesday, killing at least 40 people. "
    "Rescue teams searched collapsed buildings for survivors through the night. "
    "Prime Minister Edi Rama said the army had been sent to help.",
    WHEN,
    "paper",
)
# A second report of the Amatrice earthquake, in other words.
AMATRICE_AGAIN = StoryDoc(
    3,
    "Amatrice earthquake: rescuers search rubble",
    "Rescuers in Amatrice dug through rubble on Tuesday after the earthquake that killed 38. "
    "Mayor Sergio Pirozzi said the town's historic centre was destroyed.",
    WHEN,
    "paper2",
)


def test_a_stem_counts_every_spelling() -> None:
    table = stem_frequencies()
    spellings = sum(word_frequency(word, "en") for word in ("arrest", "arrested", "arrests", "arresting"))
    assert table["arrest"] >= spellings * 0.9
    assert table["arrest"] > word_frequency("arrested", "en")


def test_common_words_are_common_and_rare_ones_are_left_out() -> None:
    table = stem_frequencies()
    assert table["said"] > 10 * table["earthquak"] > 0
    assert all(frequency >= MIN_WORD_FREQUENCY * 0.99 for frequency in table.values())
    assert "pirozzi" not in table  # a name general English does not use


def test_number_and_calendar_words_are_found_as_the_analysis_keeps_them() -> None:
    # The text analysis keeps these words as written ("dozens", not the stem "dozen"), so the
    # table must know them as written; missed, they weigh like a name never seen anywhere.
    table = stem_frequencies()
    for word in ("dozens", "january", "twenty", "thousands"):
        term = term_of(word.capitalize())
        assert term == word
        assert table[term] >= word_frequency(word, "en") * 0.9


def test_table_is_built_once() -> None:
    assert stem_frequencies() is stem_frequencies()


def first_two_decisions(settings: StorySettings) -> tuple[int | None, int | None]:
    """The story the Durres report and the second Amatrice report join, after the first one."""
    engine = StoryEngine(settings)
    engine.add(AMATRICE, 1, engine.assign(AMATRICE).role)
    return engine.assign(DURRES).story_id, engine.assign(AMATRICE_AGAIN).story_id


def test_two_events_of_one_kind_stay_apart_from_the_first_report_on() -> None:
    durres_story, amatrice_story = first_two_decisions(StorySettings())
    assert durres_story is None  # a new story: another earthquake
    assert amatrice_story == 1  # the same earthquake


def test_without_the_reference_a_new_stream_weighs_common_words_like_names() -> None:
    # The stream alone has seen one article: every word in it is equally rare, so the
    # shared wording of two different earthquakes outweighs their different names.
    durres_story, amatrice_story = first_two_decisions(StorySettings(reference_documents=0))
    assert durres_story == 1
    assert amatrice_story == 1


def test_shared_names_count_for_more_than_shared_wording() -> None:
    def similarity(settings: StorySettings, doc: StoryDoc) -> float:
        engine = StoryEngine(settings)
        engine.add(AMATRICE, 1, engine.assign(AMATRICE).role)
        return engine.assign(doc).similarity

    with_reference, alone = StorySettings(), StorySettings(reference_documents=0)
    assert similarity(with_reference, AMATRICE_AGAIN) > similarity(alone, AMATRICE_AGAIN)
    assert similarity(with_reference, DURRES) < similarity(alone, DURRES)


# --- the on-disk cache ----------------------------------------------------------------


def build_uncached() -> Mapping[str, float]:
    """What stem_frequencies() gives in a new process (the function is cached per process)."""
    return stem_frequencies.__wrapped__()


def test_the_first_process_caches_the_table_and_later_ones_read_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_CACHE_DIR", str(tmp_path))
    built = build_uncached()
    assert cache_path().parent == tmp_path
    assert marshal.loads(cache_path().read_bytes()) == built == build_table()
    # A later process reads the file rather than building: what the file says is what it gets.
    cache_path().write_bytes(marshal.dumps({"marker": 0.5}))
    assert build_uncached() == {"marker": 0.5}


def test_a_damaged_cache_is_rebuilt_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MONITOR_CACHE_DIR", str(tmp_path))
    cache_path().write_bytes(marshal.dumps({"marker": 0.5})[:7])  # cut short
    with caplog.at_level(logging.WARNING, "monitor.stories.reference"):
        table = build_uncached()
    assert table == build_table()
    assert "rebuilding the reference word table" in caplog.text
    assert marshal.loads(cache_path().read_bytes()) == table  # repaired


def test_an_unwritable_cache_directory_only_costs_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("MONITOR_CACHE_DIR", str(blocker / "monitor"))
    assert build_uncached() == build_table()
    assert list(tmp_path.iterdir()) == [blocker]  # nothing half-written left behind


def test_the_cache_name_follows_the_data_and_code_that_built_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MONITOR_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere")
    path = cache_path()
    assert path.parent == Path("/somewhere/monitor")
    assert f"wordfreq{version('wordfreq')}" in path.name
    assert f"pystemmer{Stemmer.version()}" in path.name
