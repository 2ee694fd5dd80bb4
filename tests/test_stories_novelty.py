"""Novel sentences: what a later report adds to everything its story already held."""

from __future__ import annotations

import pytest

from monitor.stories.novelty import novel_sentences
from monitor.stories.text import analyse

STORY = (
    "Ukrainian and Russian negotiators met in Geneva on Wednesday for a second day of US-mediated talks.\n"
    'The talks "were very tense", a source close to the Russian delegation told AFP.\n'
    '"They lasted six hours," the source said.\n'
    "Ukraine's chief negotiator Rustem Umerov thanked Washington for its mediation."
)
KNOWN = frozenset(analyse("Talks in Geneva", STORY).counts)
THRESHOLD = 0.5


def novel(text: str) -> tuple[str, ...]:
    return novel_sentences(analyse("", text).sentences, KNOWN, THRESHOLD)


@pytest.mark.parametrize(
    "sentence",
    [
        # the same fact in other words, with the known quote and figure
        "Russian media described the negotiations as “very tense”, saying they went on for six hours "
        "across several bilateral formats.",
        # a reworded known sentence
        "Negotiators from Ukraine and Russia met on Wednesday in Geneva for the second day of talks "
        "mediated by the US.",
        # a known figure, with only a day named relative to the report's as new
        "Yesterday's session ran six hours.",
        # a bare attribution and a fragment
        "“That is all,” he said.",
        # page furniture
        "Read more: Zelenskyy rejects Donbas withdrawal in interview with Axios about elections.",
        "Ukrainian Ambassador Reveals Secret Intelligence Raid, Rift with Zelenskyy",
    ],
)
def test_known_or_uninformative_sentences_are_not_novel(sentence: str) -> None:
    assert novel(sentence) == ()


@pytest.mark.parametrize(
    "sentence",
    [
        # new names and facts
        "Zelenskyy told Axios that any deal giving up the Donbas region would be put to a referendum.",
        # a new quotation
        "Trump told reporters on Monday: “Ukraine better come to the table fast.”",
        # a new fact about subscribers, a word that page furniture uses too
        "Netflix said on Wednesday that it had added nine million paying subscribers, more than "
        "analysts expected.",
        # a new figure, place and date told in the story's own words
        "The Russian delegation told AFP the negotiators would hold talks again in Istanbul on March 3, "
        "Ukraine's chief negotiator Rustem Umerov said.",
        # a new figure told in the story's own words
        "Ukraine and Russia agreed on Wednesday to exchange 300 prisoners, Umerov's office said in a "
        "statement.",
    ],
)
def test_new_facts_are_novel(sentence: str) -> None:
    assert novel(sentence) == (sentence,)


def test_novel_sentences_keep_article_order_and_skip_repeats() -> None:
    text = (
        "Zelenskyy told Axios that any deal giving up the Donbas region would be put to a referendum.\n"
        "The talks were very tense, the source said.\n"
        "A referendum on the Donbas region would be required for any deal, Zelenskyy told Axios.\n"
        "Trump told reporters on Monday: “Ukraine better come to the table fast.”"
    )
    sentences = text.split("\n")
    assert novel(text) == (sentences[0], sentences[3])


def test_everything_is_new_to_an_empty_story() -> None:
    sentences = analyse("", STORY).sentences
    assert len(novel_sentences(sentences, frozenset(), THRESHOLD)) >= 3


def test_a_higher_threshold_asks_for_more_novelty() -> None:
    sentence = (
        "Umerov said the Ukrainian delegation approached the talks in Geneva without excessive expectations."
    )
    sentences = analyse("", sentence).sentences
    assert novel_sentences(sentences, KNOWN, 0.3) == (sentence,)
    assert novel_sentences(sentences, KNOWN, 0.9) == ()


QUOTATION = (
    "Trump addressed reporters on Monday: “Ukraine better come to the table fast. "
    "That’s all I’m telling you.”"
)


def test_a_quotation_over_two_sentences_is_given_whole_and_once() -> None:
    text = f"{QUOTATION} He spoke at the White House before leaving for Florida."
    assert novel(text) == (QUOTATION, "He spoke at the White House before leaving for Florida.")


def test_a_new_sentence_inside_a_known_quotation_is_given_with_its_start() -> None:
    # The story knows "They lasted six hours"; what the source said next is new.
    text = '"They lasted six hours. Both delegations then left for their embassies," the source said.'
    assert novel(text) == (text,)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a quotation left open at the paragraph's end (one that runs on into the next paragraph)
        (
            "Trump addressed reporters on Monday: “Ukraine better come to the table fast. Russia is ready "
            "to sign the agreement in Abu Dhabi.\n“That’s all I’m telling you,” he added.",
            (
                "Trump addressed reporters on Monday: “Ukraine better come to the table fast.",
                "Russia is ready to sign the agreement in Abu Dhabi.",
            ),
        ),
        # a quotation of more than three sentences
        (
            "Trump told reporters: “Ukraine better come to the table fast. Russia is ready to sign in "
            "Abu Dhabi. Europe must pay for the reconstruction of Kharkiv. Kushner will fly to Moscow "
            "on Friday.”",
            (
                "Trump told reporters: “Ukraine better come to the table fast.",
                "Russia is ready to sign in Abu Dhabi.",
                "Europe must pay for the reconstruction of Kharkiv.",
                "Kushner will fly to Moscow on Friday.”",
            ),
        ),
    ],
    ids=["left open at the paragraph's end", "longer than three sentences"],
)
def test_a_quotation_is_given_sentence_by_sentence_when_it_is_not_whole_in_three(
    text: str, expected: tuple[str, ...]
) -> None:
    assert novel(text) == expected
