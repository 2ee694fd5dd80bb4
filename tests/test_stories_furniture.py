"""What an outlet sets around a story: furniture sentences and time stamps, told apart from
headlines and prose."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from monitor.stories.furniture import is_furniture, is_time_stamp
from monitor.stories.text import analyse
from monitor.stories.words import FURNITURE_KEYWORDS, FURNITURE_PATTERNS

_ANYWHERE_PATTERNS = [pattern for pattern in FURNITURE_PATTERNS if not pattern.startswith("^")]


@pytest.mark.parametrize("pattern", _ANYWHERE_PATTERNS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_match_of_a_pattern_found_anywhere_holds_a_keyword(pattern: str, data: st.DataObject) -> None:
    # The keywords only spare sentences the search: one the patterns catch must not be spared.
    match = data.draw(st.from_regex(pattern, fullmatch=True))
    assert any(keyword in match for keyword in FURNITURE_KEYWORDS), match


@pytest.mark.parametrize("pattern", FURNITURE_PATTERNS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_sentence_any_pattern_matches_is_furniture(pattern: str, data: st.DataObject) -> None:
    sentence = data.draw(st.from_regex(pattern, fullmatch=False))
    # Lower-casing can undo a match (a capital the pattern's character classes allowed).
    assume(re.search(pattern, sentence.lower()) is not None)
    assert is_furniture(sentence), sentence


@pytest.mark.parametrize(
    "line",
    [
        "Thursday, December 11, 2008",
        "21 July 2013 Last updated at 11:11 GMT",
        "Last Updated: Tuesday, 20 December 2005, 10:39 GMT",
        "9:53 AM, MON 22 JUL 2013",
        "Sunday, March 17, 2013 | 5:00 PM",
        "8/2/13 at 1:30 PM",
        "Updated: November 11, 2011 20:09 IST",
        "November 28th, 2005, 09:11 GMT",
    ],
)
def test_a_date_or_time_alone_is_a_time_stamp(line: str) -> None:
    assert is_time_stamp(line)


@pytest.mark.parametrize(
    "line",
    [
        "Two killed on Monday",
        "2008 Olympics open in Beijing",
        "Apple unveils MacBook Pro on May 2",
        "THE WHITE HOUSE",
        "Updated guidance for travellers",
        "",
    ],
)
def test_a_headline_with_a_date_in_it_is_no_time_stamp(line: str) -> None:
    assert not is_time_stamp(line)


def test_a_time_stamp_title_or_line_adds_no_terms() -> None:
    body = "The central bank kept its key interest rate at 15.5% on Thursday."
    plain = analyse("", body)
    stamped = analyse("Wednesday, February 18, 2026 | 11:11 AM", "February 18, 2026 11:11 GMT\n" + body)
    assert stamped.counts == plain.counts
    assert [sentence.text for sentence in stamped.sentences][1:] == [s.text for s in plain.sentences]
