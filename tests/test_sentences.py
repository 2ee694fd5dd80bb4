"""One rule for where sentences end: a seed file's title is the first sentence story analysis sees."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from monitor.sentences import ends_with_stop, sentence_ends
from monitor.sources.seedfile import parse_seed
from monitor.stories.text import split_sentences

CASES = yaml.safe_load((Path(__file__).parent / "data" / "stories" / "text_cases.yaml").read_text("utf-8"))
# A wire dateline is a sentence of its own to the engine but stays in a title.
SINGLE_PARAGRAPHS = [
    case
    for case in CASES["sentences"]
    if "\n" not in case["text"].strip() and not case["expect"][0].endswith(("—", "-"))
]


@pytest.mark.parametrize("case", SINGLE_PARAGRAPHS, ids=[case["name"] for case in SINGLE_PARAGRAPHS])
def test_a_seed_title_is_the_first_sentence_the_story_engine_sees(case: dict[str, str]) -> None:
    lead = case["text"].strip()
    article = parse_seed(
        f"{lead}\nA second paragraph follows.".encode(), mtime=datetime(2026, 2, 18, tzinfo=UTC)
    )

    assert article.title == split_sentences(lead)[0] == case["expect"][0]


def test_sentence_ends_are_offsets_just_after_the_punctuation() -> None:
    text = 'He said: "It is over." Then Mr. Umerov left… Nobody followed.'

    assert [text[:end] for end in sentence_ends(text)] == [
        'He said: "It is over."',
        'He said: "It is over." Then Mr. Umerov left…',
    ]
    assert sentence_ends(text, start=len('He said: "It is over." ')) == [len(text) - len(" Nobody followed.")]


@pytest.mark.parametrize(
    ("text", "ends"),
    [
        ("Talks resumed.", True),
        ("“Talks resumed.”", True),
        ("Is it over?)", True),
        ("Talks resumed", False),
        ("Talks –", False),
    ],
)
def test_ends_with_stop(text: str, ends: bool) -> None:
    assert ends_with_stop(text) is ends
