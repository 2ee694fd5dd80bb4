"""Where sentences end in news prose: one rule for a seed file's title and for story analysis.

A sentence ends at ``.``, ``!``, ``?`` or ``…`` (a run of them counts as one), with any closing
quotes or brackets after it, when whitespace follows and then the start of a sentence: a
capital letter or a digit, perhaps after an opening quote or bracket. A full stop after a
known abbreviation ("Mr.", "Gen.", "Jan."), a single capital ("John F. Kennedy") or a dotted
acronym ("U.S.", "a.m.") ends nothing.
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import Final

_ABBREVIATION_WORDS: Final = (
    "mr mrs ms mx dr prof st mt ft jr sr gen col lt maj sgt cpl capt cmdr adm gov sen rep rev "
    "hon pres supt insp det amb inc ltd co corp bros no nos vol fig approx dept univ vs etc "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
)
#: Words that end with a full stop without ending the sentence (compared in lower case).
ABBREVIATIONS: Final = frozenset(_ABBREVIATION_WORDS.split())
STOPS: Final = (".", "!", "?", "…")
CLOSING_MARKS: Final = "\"'”’»)]"

# Terminal punctuation and its closing marks, where whitespace follows: a candidate end.
_CANDIDATE = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s)")
_LONGEST_ABBREVIATION: Final = max(map(len, ABBREVIATIONS))
# What follows a sentence's end: whitespace, perhaps opening marks, then its first character.
_NEXT_START = re.compile(r"\s+[\"'“‘«(\[]{0,2}(\w)")


def sentence_ends(text: str, start: int = 0) -> list[int]:
    """The offsets just after each sentence's final punctuation in ``text[start:]``, in order.

    Only offsets just after punctuation can end a sentence, so the pattern is tried there
    alone: scanning every character with it costs several times more.
    """
    candidates = offsets_after(text, ".")
    for mark in "!?…":
        if mark in text:
            candidates = sorted(candidates + offsets_after(text, mark))
    ends: list[int] = []
    scanned = start
    for after in candidates:
        stop = after - 1
        if stop < scanned:
            continue  # before ``start``, or inside the previous match
        match = _CANDIDATE.match(text, stop)
        if match is None:
            continue
        scanned = match.end()
        if _starts_sentence(text, scanned) and not _is_abbreviation_stop(text, stop):
            ends.append(scanned)
    return ends


def ends_with_stop(text: str) -> bool:
    """Whether the text ends with sentence punctuation (closing marks aside)."""
    return text.rstrip(CLOSING_MARKS).endswith(STOPS)


def offsets_after(text: str, mark: str) -> list[int]:
    """The offsets just after each occurrence of ``mark`` (one character) in ``text``."""
    offsets = list(accumulate(map((1).__add__, map(len, text.split(mark)))))
    offsets.pop()
    return offsets


def _starts_sentence(text: str, at: int) -> bool:
    following = _NEXT_START.match(text, at)
    return following is not None and (following[1].isupper() or following[1].isdigit())


def _is_abbreviation_stop(text: str, stop: int) -> bool:
    """Whether the full stop at ``stop`` closes an abbreviation, an initial or an acronym.

    The walk back is bounded by the longest abbreviation: a longer word is none of them.
    """
    if text[stop] != ".":
        return False
    begin = stop
    floor = max(0, stop - _LONGEST_ABBREVIATION - 1)
    while begin > floor and text[begin - 1].isalpha():
        begin -= 1
    if begin == floor and begin > 0 and text[begin - 1].isalpha():
        return False
    word = text[begin:stop]
    if len(word) == 1:
        # An initial ("John F. Kennedy"), or the end of a dotted acronym ("U.S.", "a.m.").
        return word.isupper() or (begin >= 2 and text[begin - 1] == "." and text[begin - 2].isalpha())
    return word.lower() in ABBREVIATIONS
