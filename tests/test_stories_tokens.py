"""One token as written to its term and kind: the rules every stored article's words go through."""

from __future__ import annotations

import pytest

from monitor.stories import tokens
from monitor.stories.tokens import (
    ALL_CAPS,
    CALENDAR,
    CAPITALISED,
    NUMERIC,
    classified,
    classified_tokens,
    folded,
    spaced,
    stemmed_terms,
    term_of,
)


@pytest.mark.parametrize("word", ["the", "The", "said", "and,", "(of)", "—", "’s", "a"])
def test_stop_words_punctuation_and_fragments_are_no_term(word: str) -> None:
    assert term_of(word) == ""


def test_edge_punctuation_and_a_possessive_leave_the_word() -> None:
    assert term_of("“Geneva’s") == term_of("Geneva") == term_of("(Geneva),")
    assert term_of("Geneva") != ""


def test_one_transliterated_name_is_one_term_however_an_outlet_spells_it() -> None:
    spellings = {term_of(name) for name in ("Zelenskyy", "Zelensky", "Zelenskiy", "Zelenskii")}
    assert len(spellings) == 1
    assert folded("dmitriy") == folded("dmitri") == "dmitri"
    assert folded("tiy") == "tiy"  # a short stem keeps its ending


def test_an_old_spelling_of_a_place_is_its_new_one() -> None:
    assert term_of("Kiev") == term_of("Kyiv")


def test_figures_lose_their_thousands_separators_and_are_not_stemmed() -> None:
    assert term_of("34,639") == "34639"
    assert term_of("2.5") == "2.5"


def test_us_in_capitals_is_the_country_and_in_lower_case_a_stop_word() -> None:
    assert term_of("US") == "us"
    assert term_of("us") == ""


def test_kinds_say_capitalised_all_caps_figure_and_calendar_word() -> None:
    keys, kinds = classified_tokens(["Geneva", "NATO", "talks", "12", "Tuesday", "President"])
    assert keys[2] == term_of("talks") and keys[2] != ""
    assert kinds[0] == CAPITALISED
    assert kinds[1] == CAPITALISED | ALL_CAPS
    assert kinds[2] == 0
    assert kinds[3] == NUMERIC
    assert kinds[4] == CALENDAR
    # A title written before a name is an ordinary word, whatever its capital.
    assert keys[5] != "" and kinds[5] == 0


def test_links_addresses_and_handles_become_spaces_keeping_every_offset() -> None:
    text = "Read https://example.com/a?b=1 or mail desk@example.com now, via @newsdesk."
    blanked = spaced(text)
    assert len(blanked) == len(text)
    assert "example" not in blanked and "newsdesk" not in blanked
    assert blanked.split() == ["Read", "or", "mail", "now,", "via"]


def test_a_dash_set_without_spaces_ends_a_link_or_address_and_keeps_the_next_word() -> None:
    text = "Write to desk@example.com—Officials said, talks–press@un.org and https://x.org/a—then more."
    assert spaced(text).split() == ["Write", "to", "Officials", "said,", "talks", "and", "then", "more."]


def test_hyphenated_words_count_as_their_parts() -> None:
    assert classified("Washington-led talks") == [term_of("Washington"), term_of("led"), term_of("talks")]


def test_the_caches_start_over_at_their_limit_and_still_classify(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "CACHE_LIMIT", 3)
    monkeypatch.setattr(tokens, "_key_cache", {})
    monkeypatch.setattr(tokens, "_kind_cache", {})
    words = ["alpha", "bravo", "charlie", "delta", "echo"]
    keys, _kinds = classified_tokens(words)
    assert keys == [term_of(word) for word in words]
    assert len(tokens._key_cache) <= 3


def test_stemmed_terms_key_words_as_the_text_analysis_does() -> None:
    words = ["kiev", "zelensky", "arrested", "negotiations"]
    assert stemmed_terms(words) == [term_of(word) for word in words]
    assert stemmed_terms(["kiev"]) == stemmed_terms(["kyiv"])
