"""Turn one article's title and body into what the story engine compares: terms and sentences.

Terms are Snowball-stemmed lower-case words without stop words. Names weigh more than common
words, without a named-entity library: a word is a name when it is capitalised away from the
start of its sentence, all in capitals ("GENEVA", "NATO"), part of a run of capitalised words
at a sentence start ("Lindsay Lohan checks in"), or capitalised at a sentence start while
being a name elsewhere in the same article. Two adjacent name words also give a two-word
term ("lindsay lohan"), so "Betty Ford" and "Ford" stay distinct. Lines in title case
(headlines) make no names of their own.

Each body sentence also carries its *anchors*, the things a fact hangs on: its names, its
numbers (digits and number words), its weekdays and months, and the words it quotes.

Speed matters (every stored article passes here): tokens are classified once per spelling and
cached, and the per-sentence details novelty needs are only built when asked for.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from functools import cached_property
from itertools import compress, count, pairwise, repeat
from operator import and_
from typing import Final, NamedTuple

import numpy as np
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

# Characters stripped from both ends of a whitespace-separated token.
_EDGE_PUNCTUATION: Final = (
    "".join(chr(code) for code in range(0x21, 0x7F) if not chr(code).isalnum()) + "“”‘’«»…–—•·¡¿"
)
_SENTENCE_END = re.compile(r"[.!?…]+[\"”’)\]]*(?=\s+[\"“‘(\[]?[A-Z0-9])")
_QUOTE_MARK = re.compile(r"([\"“”])")


# Token kinds, as bits.
_CAPITALISED: Final = 1
_ALL_CAPS: Final = 2
_NUMBER: Final = 4
_CALENDAR: Final = 8

# Fewer distinct content terms than this is a fragment ("he said", a bare quote), not a fact.
_MIN_SENTENCE_TERMS: Final = 4
# A line without sentence punctuation this share of whose words are capitalised is a headline.
_TITLE_CASE_SHARE: Final = 0.6
# A line without sentence punctuation is still prose from this many content words on.
_MIN_UNPUNCTUATED_PROSE_TERMS: Final = 12
_SKETCH_SIZE: Final = 32
_TOKEN_CACHE_LIMIT: Final = 300_000

_stemmer = Stemmer.Stemmer("english")
# Token as written -> its term key ("" for a stop word) and its kind bits; bounded caches.
_key_cache: dict[str, str] = {}
_kind_cache: dict[str, int] = {}


class Sentence(NamedTuple):
    """One body sentence, with the terms novelty is judged on (a tuple: built by the thousand)."""

    text: str
    terms: frozenset[str]  # content term keys
    names: frozenset[str]  # the terms that are names, numbers or dates
    numbers: frozenset[str]  # digits and number words
    quoted: frozenset[str]  # terms inside quotation marks
    content_count: int  # content tokens, repeats included
    title_case: bool  # a headline-style line

    @property
    def prose(self) -> bool:
        """Reads as a sentence of prose, not a headline, a fragment or page furniture."""
        if len(self.terms) < _MIN_SENTENCE_TERMS:
            return False
        lowered = self.text.lower()
        if any(marker in lowered for marker in BOILERPLATE_MARKERS):
            return False
        if not _ends_sentence(self.text):
            # No sentence punctuation: a heading or a headline unless it is long, lower-case prose.
            return self.content_count >= _MIN_UNPUNCTUATED_PROSE_TERMS and not self.title_case
        return True


# One sentence's tokens: its text, term keys (stop words kept as "" so positions stay
# meaningful), kind bits, positions of capitalised tokens, quoted keys, and whether the line
# is a title-case headline. A plain tuple: this is built for every sentence of every article.
_Tokens = tuple[str, list[str], list[int], list[int], frozenset[str], bool]


class Analysis:
    """Everything the engine needs from one article, computed once."""

    __slots__ = ("__dict__", "_body", "counts", "names", "sketch")

    def __init__(
        self,
        counts: dict[str, int],
        names: frozenset[str],
        sketch: tuple[int, ...],
        body: list[tuple[_Tokens, list[int]]],
    ) -> None:
        self.counts = counts  # term -> occurrences (title counted TITLE_REPEAT times)
        self.names = names  # terms that are names (or figures) somewhere in the article
        self.sketch = sketch  # bottom-k hashes of the body's term-pair shingles
        self._body = body

    @property
    def is_empty(self) -> bool:
        return not self.counts

    @cached_property
    def sentences(self) -> tuple[Sentence, ...]:
        """The body's sentences in order, built on first use."""
        return tuple(_sentence(tokens, positions) for tokens, positions in self._body)

    def sentences_with_new_terms(self, known: AbstractSet[str]) -> Iterator[Sentence]:
        """The body's sentences, in order, that use a term not in ``known``.

        Only these can be novel; the others are skipped before their details are built, which
        matters for the many copies and rewrites a story receives.
        """
        for tokens, positions in self._body:
            new_terms = set(tokens[1]).difference(known)
            new_terms.discard("")
            if new_terms:
                yield _sentence(tokens, positions)


def split_sentences(text: str) -> list[str]:
    """Split text into sentences: at line breaks, and after ., !, ?, … before a capital."""
    return [sentence for paragraph in text.split("\n") for sentence in _paragraph_sentences(paragraph)]


def analyse(title: str, body: str) -> Analysis:
    """Compute the terms, names, sentences and duplicate sketch of one article."""
    body_sentences = _tokenised_sentences(body)
    names: set[str] = set()
    for _text, keys, kinds, capitalised, _quoted, title_case in body_sentences:
        if capitalised and not title_case:
            if capitalised[0] == 0 and not kinds[0] & _ALL_CAPS:
                names.update(map(keys.__getitem__, capitalised[1:]))
            else:
                names.update(map(keys.__getitem__, capitalised))
    all_keys: list[str] = []
    sentences: list[tuple[_Tokens, list[int]]] = []
    for tokens in body_sentences:
        positions = _name_positions(tokens, names)
        all_keys.extend(tokens[1])
        all_keys.extend(_name_pairs(tokens[1], positions, names))
        sentences.append((tokens, positions))
    sketch = _sketch(all_keys)
    for tokens in _tokenised_sentences(title):
        positions = _name_positions(tokens, names)
        title_keys = [*tokens[1], *_name_pairs(tokens[1], positions, names)]
        all_keys.extend(title_keys * TITLE_REPEAT)
    counts = Counter(all_keys)
    counts.pop("", None)
    names.update(term for term in counts if term[0].isdigit())  # figures weigh like names
    return Analysis(counts, frozenset(names), sketch, sentences)


def sketch_similarity(left: Sequence[int], right: Sequence[int]) -> float:
    """Estimated Jaccard resemblance of two bodies from their bottom-k sketches."""
    if not left or not right:
        return 0.0
    size = min(_SKETCH_SIZE, max(len(left), len(right)))
    union = sorted(set(left).union(right))[:size]
    shared = set(left).intersection(right)
    return sum(1 for value in union if value in shared) / len(union)


# --- sentences ---------------------------------------------------------------------------


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


def _ends_sentence(text: str) -> bool:
    return text.rstrip('"”’)]').endswith((".", "!", "?", "…"))


# --- tokens ------------------------------------------------------------------------------


def _tokenised_sentences(text: str) -> list[_Tokens]:
    """Each sentence's tokens; a quotation may run over several sentences of a paragraph."""
    result: list[_Tokens] = []
    for paragraph in text.split("\n"):
        in_quote = False
        for sentence in _paragraph_sentences(paragraph):
            keys, kinds = _classified(sentence)
            capitalised = list(compress(count(), map(and_, kinds, repeat(_CAPITALISED))))
            quoted: frozenset[str] = frozenset()
            if in_quote or _QUOTE_MARK.search(sentence):
                quoted, in_quote = _quoted_keys(sentence, in_quote)
            content_count = len(keys) - keys.count("")
            title_case = (
                content_count >= 3
                and len(capitalised) >= _TITLE_CASE_SHARE * content_count
                and not _ends_sentence(sentence)
            )
            result.append((sentence, keys, kinds, capitalised, quoted, title_case))
    return result


def _classified(text: str) -> tuple[list[str], list[int]]:
    # Splitting on whitespace and stripping punctuation through the cache is several times
    # faster than a token regular expression; hyphenated words count as their parts.
    tokens = (text.replace("-", " ") if "-" in text else text).split()
    try:
        return list(map(_key_cache.__getitem__, tokens)), list(map(_kind_cache.__getitem__, tokens))
    except KeyError:
        for token in set(tokens).difference(_key_cache):
            _remember(token)
    try:
        return list(map(_key_cache.__getitem__, tokens)), list(map(_kind_cache.__getitem__, tokens))
    except KeyError:  # the bounded cache was emptied meanwhile
        classified = [_remember(token) for token in tokens]
        return [key for key, _kind in classified], [kind for _key, kind in classified]


def _remember(token: str) -> tuple[str, int]:
    """Classify a token through the caches, adding it when new (the caches are bounded)."""
    key = _key_cache.get(token)
    if key is not None:
        return key, _kind_cache[token]
    if len(_key_cache) >= _TOKEN_CACHE_LIMIT:
        _key_cache.clear()
        _kind_cache.clear()
    key, kind = _classify(token)
    _key_cache[token] = key
    _kind_cache[token] = kind
    return key, kind


def _classify(raw: str) -> tuple[str, int]:
    """The term key ("" for a stop word or noise) and kind bits of one token as written."""
    token = raw.strip(_EDGE_PUNCTUATION)
    if not token:
        return "", 0
    if token[0].isdigit():
        return token.replace(",", ""), _NUMBER
    lower = token.lower().replace("’", "'")
    if lower.endswith("'s"):
        lower = lower[:-2]
    is_acronym = "." in lower
    if is_acronym or "," in lower:
        lower = lower.replace(".", "").replace(",", "")
    kind = 0
    if token[0].isupper():
        kind = _CAPITALISED
        if len(lower) > 1 and (token.isupper() or is_acronym):
            kind |= _ALL_CAPS
    if lower in STOP_WORDS:
        # "US" in capitals is the country, not the pronoun.
        return ("us", kind) if lower == "us" and kind & _ALL_CAPS else ("", 0)
    if len(lower) < 2 or "'" in lower:
        return "", 0
    if lower in NUMBER_WORDS:
        return lower, _NUMBER
    if lower in CALENDAR_WORDS:
        return lower, _CALENDAR
    return _stemmer.stemWord(lower), kind


def _quoted_keys(text: str, in_quote: bool) -> tuple[frozenset[str], bool]:
    """The keys inside quotation marks, and whether the quotation is still open at the end."""
    quoted: list[str] = []
    for segment in _QUOTE_MARK.split(text):
        if segment in ('"', "“", "”"):
            in_quote = segment == "“" or (segment == '"' and not in_quote)
        elif in_quote:
            quoted.extend(_classified(segment)[0])
    return frozenset(quoted).difference(("",)), in_quote


# --- names -------------------------------------------------------------------------------


def _name_positions(tokens: _Tokens, names: set[str]) -> list[int]:
    """Positions of the tokens that are names (see the module docstring)."""
    _text, keys, kinds, capitalised, _quoted, title_case = tokens
    if not capitalised:
        return []
    if title_case:
        return [position for position in capitalised if keys[position] in names]
    if capitalised[0] != 0:
        return capitalised
    # A capitalised sentence start is a name only when the article uses it as one, when it
    # is in capitals, or when another capitalised word follows ("Lindsay Lohan checks in").
    if keys[0] in names or kinds[0] & _ALL_CAPS or (len(capitalised) > 1 and capitalised[1] == 1):
        return capitalised
    return capitalised[1:]


def _name_pairs(keys: list[str], positions: list[int], names: set[str]) -> list[str]:
    """Two-word names from adjacent name tokens; records them and every name in ``names``."""
    if not positions:
        return []
    names.update(map(keys.__getitem__, positions))
    pairs = [keys[first] + " " + keys[second] for first, second in pairwise(positions) if second == first + 1]
    names.update(pairs)
    return pairs


# --- sentence details --------------------------------------------------------------------


def _sentence(tokens: _Tokens, name_positions: list[int]) -> Sentence:
    text, keys, kinds, _capitalised, quoted, title_case = tokens
    numbers = frozenset(compress(keys, map(and_, kinds, repeat(_NUMBER))))
    dates = compress(keys, map(and_, kinds, repeat(_CALENDAR)))
    anchors = numbers.union(dates, map(keys.__getitem__, name_positions))
    terms = frozenset(keys).difference(("",))
    return Sentence(text, terms, anchors, numbers, quoted, len(keys) - keys.count(""), title_case)


def _sketch(all_keys: list[str]) -> tuple[int, ...]:
    """Bottom-k hashes of consecutive term pairs: a MinHash-style sketch of the body."""
    keys = list(filter(None, all_keys))
    if len(keys) < 2:
        return tuple(sorted({hash(key) for key in keys}))
    hashes = np.fromiter(map(hash, pairwise(keys)), np.int64, len(keys) - 1)
    if len(hashes) > 4 * _SKETCH_SIZE:
        # Only the smallest hashes matter: cut to a few times k before the exact sort.
        hashes = np.partition(hashes, 4 * _SKETCH_SIZE)[: 4 * _SKETCH_SIZE + 1]
    return tuple(np.unique(hashes)[:_SKETCH_SIZE].tolist())
