"""Recognise what an outlet sets around a story rather than in it: page furniture, a wire
dateline's date and agency, a time stamp, and a site's name after a title.

Every report an outlet publishes carries these, names and all ("Reporting by ...",
"LONDON, Feb 18 (Reuters) -", "... - BBC News"); counted as story text they would join
unrelated reports of one outlet. :mod:`monitor.stories.text` leaves them out of the terms.
The patterns themselves are data, in :mod:`monitor.stories.words`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator, Sequence
from typing import Final

from monitor.stories.words import (
    CALENDAR_WORDS,
    FURNITURE_KEYWORDS,
    FURNITURE_PATTERNS,
    RELATIVE_DAYS,
    TIME_STAMP_WORDS,
)

#: A wire dateline opening a paragraph: a place in capitals, perhaps a region or date after a
#: comma, perhaps the agency, then a dash ("GENEVA (AP) —", "KYIV, Ukraine, Feb 18 (Reuters) -",
#: "NEW YORK /PRNewswire/ --", "MOSCOW/KYIV, Feb 18 (Reuters) -"). It is a sentence of its own,
#: so the word after it starts one.
DATELINE: Final = re.compile(
    r"[ \t\u00a0]*[A-Z][A-Z'’.]*(?:[ /][A-Z][A-Z'’.]*)*[A-Z'’.]{2}(?:,[^,()/\n—–]{1,25}){0,2}"
    r"(?: ?\([^()\n]{1,30}\)| ?/[^/\n]{1,30}/)?[ \u00a0]+(?:—|–|--|-)(?=\s)"
)
# The patterns anchored at a line's start are tried there only, the others everywhere.
_AT_START: Final = re.compile("|".join(pattern[1:] for pattern in FURNITURE_PATTERNS if pattern[0] == "^"))
_ANYWHERE: Final = re.compile("|".join(pattern for pattern in FURNITURE_PATTERNS if pattern[0] != "^"))
#: A title's last segment after a separator, short enough to be a site's name.
_SITE_NAME: Final = re.compile(r"\s+(\||-|–|—)\s+((?:\S+\s+){0,3}\S+)\s*$")
#: Lower-case words a site's name may hold ("Voice of America", "Times of India").
_NAME_PARTICLES: Final = frozenset({"of", "the", "and", "de", "la", "el", "al", "&"})
#: A headline left with fewer words than this keeps its last segment: it is no site name.
_MIN_HEADLINE_WORDS: Final = 4
#: How a dateline sets its agency apart: "(Reuters)", "/PRNewswire/".
_AGENCY_MARKS: Final = {"(": ")", "/": "/"}
#: What a time stamp's words may be wrapped in or separated by.
_STAMP_PUNCTUATION: Final = string.punctuation + "–—•·"


def is_furniture(sentence: str) -> bool:
    """Whether a sentence is page furniture (see ``FURNITURE_PATTERNS``)."""
    lowered = sentence.lower()
    if _AT_START.match(lowered) is not None:
        return True
    # The keywords rule most sentences out faster than the search can.
    return any(keyword in lowered for keyword in FURNITURE_KEYWORDS) and _ANYWHERE.search(lowered) is not None


def is_time_stamp(line: str) -> bool:
    """Whether a line is only a date or a time ("Thursday, December 11, 2008", "21 July 2013
    Last updated at 11:11 GMT", "8/2/13 at 1:30 PM"): a page's or a feed's stamp where a
    headline or a sentence would be. Its figures would weigh as names, and every item of
    that day would share them."""
    has_date = False
    for token in line.split():
        word = token.strip(_STAMP_PUNCTUATION).lower()
        if not word or word in TIME_STAMP_WORDS or word in RELATIVE_DAYS:
            continue
        if word[0].isdigit() or word in CALENDAR_WORDS:
            has_date = True
        else:
            return False
    return has_date


def dateline_extras(tokens: Sequence[str], dated: Sequence[bool], offset: int) -> Iterator[int]:
    """The positions (from ``offset``) of a dateline's date and agency ("(Reuters)",
    "/PRNewswire/"); ``dated`` says of each token whether it is a number or a month."""
    closing: str | None = None  # what ends the agency being read, if one is
    for position, (token, is_date) in enumerate(zip(tokens, dated, strict=True), offset):
        opened_here = closing is None and token[:1] in _AGENCY_MARKS
        if opened_here:
            closing = _AGENCY_MARKS[token[0]]
        if closing is not None or is_date:
            yield position
        if closing is not None and token.endswith(closing) and not (opened_here and len(token) == 1):
            closing = None


def without_site_name(title: str) -> str:
    """The title without a trailing site name ("... - BBC News", "... | Reuters"), which every
    title of that site shares. After a dash, only a short run of capitalised words counts
    as one ("... - witness" is the headline's own), and the headline must keep some words."""
    found = _SITE_NAME.search(title)
    if found is None:
        return title
    head, name = title[: found.start()], found.group(2).split()
    if len(head.split()) < _MIN_HEADLINE_WORDS:
        return title
    if found.group(1) != "|" and not all(word[0].isupper() or word in _NAME_PARTICLES for word in name):
        return title
    return head
