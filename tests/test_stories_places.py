"""Country names and demonyms weigh as ordinary words in the story engine."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.model import Role
from monitor.stories import StoryDoc, StoryEngine
from monitor.stories.places import country_terms
from monitor.stories.tokens import term_of

WHEN = datetime(2026, 2, 18, 9, tzinfo=UTC)


def test_countries_their_spellings_and_demonyms_are_country_terms() -> None:
    terms = country_terms()
    for word in ("Russia", "Ukraine", "Ukrainian", "Russian", "Switzerland", "Swiss", "US", "UK", "American"):
        assert term_of(word) in terms, word


def test_a_name_of_several_words_counts_by_its_two_word_terms_not_its_words() -> None:
    terms = country_terms()
    for first, second in (("New", "Zealand"), ("South", "Korea"), ("United", "States")):
        assert f"{term_of(first)} {term_of(second)}" in terms  # as the text analysis pairs names
        assert term_of(first) not in terms
    # A hyphen parts words in article text, so it does in a country's name.
    assert f"{term_of('Guinea')} {term_of('Bissau')}" in terms


def test_cities_and_words_that_are_also_country_codes_are_not() -> None:
    terms = country_terms()
    # GUY, BEN and AGO are the codes of Guyana, Benin and Angola, and words as well.
    for word in ("Geneva", "Kyiv", "Kharkiv", "Moscow", "Guy", "Ben", "ago", "talks"):
        assert term_of(word) not in terms, word


def similarity(story_text: str, article_text: str) -> float:
    engine = StoryEngine()
    story = StoryDoc(1, "", story_text, WHEN, "wire")
    engine.add(story, 1, Role.FIRST)
    return engine.assign(StoryDoc(2, "", article_text, WHEN, "paper")).similarity


def test_a_country_weighs_the_same_written_as_a_name_or_not_and_a_city_does_not() -> None:
    story = "Officials met on Monday about the dam near Zmiiv, and Ukraine said repairs would take weeks."
    # Mid-sentence and capitalised, a word is a name; in lower case it is not.
    country_as_name = similarity(story, "Engineers said on Friday that Ukraine needed new cables.")
    country_as_word = similarity(story, "Engineers said on Friday that ukraine needed new cables.")
    city_as_name = similarity(story, "Engineers said on Friday that Zmiiv needed new cables.")
    city_as_word = similarity(story, "Engineers said on Friday that zmiiv needed new cables.")

    assert country_as_name == country_as_word > 0
    assert city_as_name > city_as_word > 0
