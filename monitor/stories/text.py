"""Turn one article's title and body into what the story engine compares: terms and sentences.

Terms are Snowball-stemmed lower-case words without stop words. Names weigh more than common
words, without a named-entity library: a word is a name when it is capitalised away from the
start of its sentence, all in capitals ("GENEVA", "NATO"), part of a run of capitalised words
("Lindsay Lohan checks in"), or capitalised at a sentence start while being a name elsewhere
in the same article. Two adjacent name words also give a two-word term ("lindsay lohan"), so
"Betty Ford" and "Ford" stay distinct. Lines in title case (headlines) do not make names.

Each body sentence also carries its *anchors*, the things a fact hangs on: its names, its
numbers (digits and number words), its weekdays and months, and the words it quotes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final

import Stemmer

from monitor.stories.words import (
    ABBREVIATIONS,
    BOILERPLATE_MARKERS,
    CALENDAR_WORDS,
    NUMBER_WORDS,
    STOP_WORDS,
)

#: A title's words count this many times: the headline states what the article is about.
TITLE_REPEAT: Final = 2

_TOKEN = re.compile(r"\d+(?:[.,:]\d+)*%?|[^\W\d_]+(?:['’.][^\W\d_]+)*")
_SENTENCE_END = re.compile(r"[.!?…]+[\"”’)\]]*(?=\s+[\"“‘(\[]?[A-Z0-9])")
_QUOTE_MARK = re.compile(r"([\"“”])")

# Token kinds, as bits.
_CAPITALISED: Final = 1
_ALL_CAPS: Final = 2
_NUMBER: Final = 4
_CALENDAR: Final = 8

# Sentence shape: fewer content terms than this is a fragment ("he said", a bare quote).
_MIN_SENTENCE_TERMS: Final = 4
# A line this share of whose words are capitalised is a headline, not prose.
_TITLE_CASE_SHARE: Final = 0.6
_SHINGLE_SKETCH_SIZE: Final = 32
_TOKEN_CACHE_LIMIT: Final = 300_000

_stemmer = Stemmer.Stemmer("english")
# token as written -> (term key or "" for a stop word, kind bits); bounded, cleared when full.
_token_cache: dict[str, tuple[str, int]] = {}


def _classify(token: str) -> tuple[str, int]:
    cached = _token_cache.get(token)
    if cached is not None:
        return cached
    if len(_token_cache) >= _TOKEN_CACHE_LIMIT:
        _token_cache.clear()
    result = _classify_uncached(token)
    _token_cache[token] = result
    return result


def _classify_uncached(token: str) -> tuple[str, int]:
    if token[0].isdigit():
        return token.replace(",", "").rstrip(".:"), _NUMBER
    lower = token.lower().replace("’", "'")
    if lower.endswith("'s"):
        lower = lower[:-2]
    is_acronym = "." in lower
    if is_acronym:
        lower = lower.replace(".", "")
    kind = 0
    if token[0].isupper():
        kind |= _CAPITALISED
        if len(lower) > 1 and (token.isupper() or is_acronym):
            kind |= _ALL_CAPS
    if lower in STOP_WORDS:
        # "US" in capitals is the country, not the pronoun.
        if lower == "us" and kind & _ALL_CAPS:
            return "us", kind
        return "", 0
    if len(lower) < 2 or "'" in lower:
        return "", 0
    if lower in NUMBER_WORDS:
        return lower, _NUMBER
    if lower in CALENDAR_WORDS:
        return lower, _CALENDAR
    return _stemmer.stemWord(lower), kind


@dataclass(frozen=True, slots=True)
class Sentence:
    """One body sentence, with the terms novelty is judged on."""

    text: str
    terms: frozenset[str]  # content term keys
    names: frozenset[str]  # the terms that are names, numbers or dates
    numbers: frozenset[str]  # digits and number words
    quoted: frozenset[str]  # terms inside quotation marks
    prose: bool  # reads as a sentence of prose, not a headline, a fragment or page furniture


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything the engine needs from one article, computed once."""

    counts: dict[str, float]  # term -> occurrences (title counted TITLE_REPEAT times)
    names: frozenset[str]  # terms used as names anywhere in the article
    sentences: tuple[Sentence, ...]  # body sentences in order
    sketch: tuple[int, ...]  # bottom-k hashes of the body's term-pair shingles

    @property
    def is_empty(self) -> bool:
        return not self.counts


def split_sentences(text: str) -> list[str]:
    """Split text into sentences: at line breaks, and after ., !, ?, … before a capital."""
    return [sentence for paragraph in text.split("\n") for sentence in _paragraph_sentences(paragraph)]


def _paragraph_sentences(paragraph: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(paragraph):
        if _is_abbreviation_stop(paragraph, match.start()):
            continue
        piece = paragraph[start : match.end()].strip()
        if piece:
            sentences.append(piece)
        start = match.end()
    piece = paragraph[start:].strip()
    if piece:
        sentences.append(piece)
    return sentences


def _is_abbreviation_stop(paragraph: str, stop: int) -> bool:
    if paragraph[stop] != ".":
        return False
    begin = stop
    while begin > 0 and paragraph[begin - 1].isalpha():
        begin -= 1
    word = paragraph[begin:stop]
    if len(word) == 1 and word.isupper():
        return True  # an initial ("John F. Kennedy") or a dotted acronym ("U.S.")
    return word.lower() in ABBREVIATIONS


def analyse(title: str, body: str) -> Analysis:
    """Compute the terms, names, sentences and duplicate sketch of one article."""
    counts: dict[str, float] = {}
    names: set[str] = set()
    raw_sentences: list[tuple[str, list[tuple[str, int, bool, bool]]]] = []
    for text, tokens in _tokenised_sentences(body):
        raw_sentences.append((text, tokens))
        if not _is_title_case(text, tokens):
            for key, kind, initial, _quoted in tokens:
                if kind & _ALL_CAPS or (kind & _CAPITALISED and not initial):
                    names.add(key)
    title_tokens = _tokenised_sentences(title)

    sentences: list[Sentence] = []
    shingle_keys: list[str] = []
    for text, tokens in raw_sentences:
        name_flags = _name_flags(text, tokens, names)
        sentences.append(_sentence(text, tokens, name_flags))
        _count(tokens, name_flags, counts, names, 1.0)
        shingle_keys.extend(key for key, _kind, _initial, _quoted in tokens)
    for text, tokens in title_tokens:
        _count(tokens, _name_flags(text, tokens, names), counts, names, float(TITLE_REPEAT))
    return Analysis(counts, frozenset(names), tuple(sentences), _sketch(shingle_keys))


def _tokenised_sentences(text: str) -> list[tuple[str, list[tuple[str, int, bool, bool]]]]:
    """Each sentence with its tokens; a quotation may run over several sentences of a paragraph."""
    result: list[tuple[str, list[tuple[str, int, bool, bool]]]] = []
    for paragraph in text.split("\n"):
        quoted = False
        for sentence in _paragraph_sentences(paragraph):
            tokens, quoted = _sentence_tokens(sentence, quoted)
            result.append((sentence, tokens))
    return result


def _sentence_tokens(text: str, quoted: bool) -> tuple[list[tuple[str, int, bool, bool]], bool]:
    """(key, kind, at a sentence or quote start, inside quotes) for each content token.

    ``quoted`` says whether the sentence starts inside a quotation; the state at its end is
    returned with the tokens.
    """
    tokens: list[tuple[str, int, bool, bool]] = []
    initial = True
    for segment in _QUOTE_MARK.split(text):
        if segment in ('"', "“", "”"):
            quoted = segment == "“" or (segment == '"' and not quoted)
            initial = quoted
            continue
        for token in _TOKEN.findall(segment):
            key, kind = _classify(token)
            if key:
                tokens.append((key, kind, initial, quoted))
            initial = False
    return tokens, quoted


def _ends_sentence(text: str) -> bool:
    return text.rstrip("\"”’)]").endswith((".", "!", "?", "…"))


def _is_title_case(text: str, tokens: list[tuple[str, int, bool, bool]]) -> bool:
    """A headline-style line: mostly capitalised words and no closing sentence punctuation."""
    if len(tokens) < 3 or _ends_sentence(text):
        return False
    capitalised = sum(1 for _key, kind, _i, _q in tokens if kind & (_CAPITALISED | _ALL_CAPS))
    return capitalised >= _TITLE_CASE_SHARE * len(tokens)


def _name_flags(text: str, tokens: list[tuple[str, int, bool, bool]], names: set[str]) -> list[bool]:
    capitalised = [bool(kind & (_CAPITALISED | _ALL_CAPS)) for _key, kind, _i, _q in tokens]
    if _is_title_case(text, tokens):
        # A headline: capitals say nothing, only names known from the prose count.
        return [bool(kind & _CAPITALISED) and key in names for key, kind, _i, _q in tokens]
    flags: list[bool] = []
    for position, (key, kind, initial, _quoted) in enumerate(tokens):
        if not kind & _CAPITALISED:
            flags.append(False)
        elif kind & _ALL_CAPS or not initial or key in names:
            flags.append(True)
        else:
            flags.append(position + 1 < len(tokens) and capitalised[position + 1])
    return flags


def _count(
    tokens: list[tuple[str, int, bool, bool]],
    name_flags: list[bool],
    counts: dict[str, float],
    names: set[str],
    weight: float,
) -> None:
    previous_name = ""
    for (key, _kind, _initial, _quoted), is_name in zip(tokens, name_flags, strict=True):
        counts[key] = counts.get(key, 0.0) + weight
        if is_name:
            names.add(key)
            if previous_name:
                pair = previous_name + " " + key
                counts[pair] = counts.get(pair, 0.0) + weight
                names.add(pair)
            previous_name = key
        else:
            previous_name = ""


def _sentence(text: str, tokens: list[tuple[str, int, bool, bool]], name_flags: list[bool]) -> Sentence:
    terms = frozenset(key for key, _kind, _initial, _quoted in tokens)
    anchors = frozenset(
        key
        for (key, kind, _initial, _quoted), is_name in zip(tokens, name_flags, strict=True)
        if is_name or kind & (_NUMBER | _CALENDAR)
    )
    numbers = frozenset(key for key, kind, _initial, _quoted in tokens if kind & _NUMBER)
    quoted = frozenset(key for key, _kind, _initial, is_quoted in tokens if is_quoted)
    return Sentence(text, terms, anchors, numbers, quoted, _is_prose(text, tokens))


def _is_prose(text: str, tokens: list[tuple[str, int, bool, bool]]) -> bool:
    if len({key for key, _k, _i, _q in tokens}) < _MIN_SENTENCE_TERMS:
        return False
    lowered = text.lower()
    if any(marker in lowered for marker in BOILERPLATE_MARKERS):
        return False
    if not _ends_sentence(text):
        # No sentence punctuation: a heading or a headline unless it is long, lower-case prose.
        return len(tokens) >= 12 and not _is_title_case(text, tokens)
    return True


def _sketch(keys: list[str]) -> tuple[int, ...]:
    """Bottom-k hashes of consecutive term pairs: a MinHash-style sketch of the body."""
    if len(keys) < 2:
        return tuple(sorted({hash(key) for key in keys}))
    shingles = set(map(hash, zip(keys, keys[1:], strict=False)))
    return tuple(sorted(shingles)[:_SHINGLE_SKETCH_SIZE])


def sketch_similarity(left: tuple[int, ...], right: tuple[int, ...]) -> float:
    """Estimated Jaccard resemblance of two bodies from their bottom-k sketches."""
    if not left or not right:
        return 0.0
    size = min(_SHINGLE_SKETCH_SIZE, max(len(left), len(right)))
    union = sorted(set(left) | set(right))[:size]
    shared = set(left).intersection(right)
    return sum(1 for value in union if value in shared) / len(union)


def log_count(count: float) -> float:
    """Sub-linear term frequency: the tenth mention of a word adds less than the second."""
    return 1.0 + math.log(count)
