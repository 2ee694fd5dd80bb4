"""Turn one article's title and body into what the story engine compares: terms and sentences.

Terms are Snowball-stemmed lower-case words without stop words, links, addresses or handles; a
transliterated name's varying ending is folded ("Zelenskyy", "Zelensky") and a place's old
spelling is its new one ("Kiev" is "Kyiv"), token by token (:mod:`monitor.stories.tokens`).
Names weigh more than common words, without a named-entity library: a word is a name when it is
capitalised away from the start of its sentence, all in capitals ("GENEVA", "NATO"), part of a
run of capitalised words at a sentence start ("Lindsay Lohan checks in"), or capitalised at a
sentence start while being a name elsewhere in the same article. Two adjacent name words also
give a two-word term ("lindsay lohan"), so "Betty Ford" and "Ford" stay distinct. A title
written before a name ("President", "Prime Minister", see ``HONORIFICS``) is an ordinary word,
no part of the name: every report naming any holder of the office has it. Lines in title case
(headlines) and sentences shouted in capitals make no names of their own. A wire dateline
opening a paragraph ("GENEVA (AP) —") is a sentence of its own: its place is a name, and the
word after it starts a sentence. Page furniture in a body (bylines, wire and picture credits,
time stamps, rights lines, calls to subscribe; see :mod:`monitor.stories.furniture`), looked
for where it stands, in lines without sentence punctuation and in the block that closes the
body, is no part of the story, and neither are a dateline's date and agency ("LONDON, Feb 18
(Reuters) -" keeps "London"), nor a site's name after a title ("... - BBC News"): their words
count as stop words, so what an outlet puts on every report joins none of them to another.

Each body sentence also carries its *anchors*, the things a fact hangs on: its names, its
numbers (digits and number words), its weekdays and months, and the words it quotes.

Speed matters (every stored article passes here, possibly in another process): a text is
tokenised once into flat lists (one split per sentence, tokens classified once per spelling
and cached), names are found over those lists, and the per-sentence details novelty needs
are only built when asked for. An :class:`Analysis` pickles compactly (a few strings and
byte arrays, and its duplicate sketch).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from itertools import accumulate, chain, compress, count, groupby, pairwise, repeat
from operator import and_, itemgetter
from typing import Final, NamedTuple

import numpy as np
from rensa import RMinHash

from monitor.sentences import ends_with_stop, offsets_after, sentence_ends
from monitor.stories.copies import sketch_of
from monitor.stories.furniture import (
    DATELINE,
    dateline_extras,
    is_furniture,
    is_time_stamp,
    without_site_name,
)
from monitor.stories.tokens import (
    ALL_CAPS,
    CACHE_LIMIT,
    CALENDAR,
    CAPITALISED,
    DASHES,
    NUMERIC,
    classified,
    classified_tokens,
    spaced,
)

#: A title's words count this many times: the headline states what the article is about.
TITLE_REPEAT: Final = 2

_QUOTE_MARK = re.compile(r"([\"“”])")

# Fewer distinct content terms than this is a fragment ("he said", a bare quote), not a fact.
_MIN_SENTENCE_TERMS: Final = 4
# A line without sentence punctuation this share of whose words are capitalised is a headline.
_TITLE_CASE_SHARE: Final = 0.6
# A line without sentence punctuation is still prose from this many content words on.
_MIN_UNPUNCTUATED_PROSE_TERMS: Final = 12
# A quotation running on over at most this many more sentences is quoted whole.
_MAX_QUOTATION_RUN: Final = 2
# Joins terms (which never hold a line break) into one string for pickling.
_JOIN: Final = "\n"

# Term -> the one string object that stands for it among unpickled analyses. Analyses made in
# helper processes arrive with fresh strings for every term, and the story window keeps the
# terms of every article it holds: sharing them cuts what a held article costs by more than half.
_term_pool: dict[str, str] = {}
_NO_TERMS: Final[frozenset[str]] = frozenset()


class Sentence(NamedTuple):
    """One body sentence, with the terms novelty is judged on (a tuple: built by the thousand)."""

    text: str
    terms: frozenset[str]  # content term keys
    names: frozenset[str]  # the terms that are names, numbers or dates
    numbers: frozenset[str]  # digits and number words
    quoted: frozenset[str]  # terms inside quotation marks
    content_count: int  # content tokens, repeats included
    title_case: bool  # a headline-style line
    # When a quotation runs over this and other sentences of its paragraph, all of them
    # ("... a direct message: “Come fast. That’s all.”"), else "".
    with_quotation: str = ""

    @property
    def prose(self) -> bool:
        """Reads as a sentence of prose, not a headline, a fragment or page furniture."""
        if len(self.terms) < _MIN_SENTENCE_TERMS:
            return False
        if is_furniture(self.text):
            return False
        if not ends_with_stop(self.text):
            # No sentence punctuation: a heading or a headline unless it is long, lower-case prose.
            return self.content_count >= _MIN_UNPUNCTUATED_PROSE_TERMS and not self.title_case
        return True


class SentenceTable(NamedTuple):
    """Every body sentence's terms and what they are there, as arrays built once.

    The distinct terms of sentence ``i`` are the pairs ``offsets[i]:offsets[i + 1]`` (in
    order of sentence, then term): ``sentence`` is the pair's sentence, ``term`` an index
    into :attr:`Analysis.terms`, and ``flags`` says whether the term is among the sentence's
    anchors (:data:`ANCHOR`) and numbers (:data:`NUMBER`). Per sentence, ``content`` counts
    its content tokens, ``headline`` is :attr:`Sentence.title_case`, and ``prose`` is
    :attr:`Sentence.prose` but for the page-furniture test (so a sentence without it is no
    prose; one with it may still be furniture). ``figure`` says of each term of the article
    whether it is a figure (starts with a digit).
    """

    offsets: np.ndarray
    sentence: np.ndarray
    term: np.ndarray
    flags: np.ndarray
    content: np.ndarray
    headline: np.ndarray
    prose: np.ndarray
    figure: np.ndarray


#: :attr:`SentenceTable.flags` bits.
ANCHOR: Final = 1
NUMBER: Final = 2
# The flags a token's kind gives it: numbers are anchors and numbers, dates anchors.
_TOKEN_CODES: Final = np.array(
    [(ANCHOR | NUMBER) if kind & NUMERIC else ANCHOR if kind & CALENDAR else 0 for kind in range(256)],
    np.int64,
)


class _Flat:
    """A text's sentences and tokens as flat lists: sentence ``i`` holds the tokens
    ``bounds[i]:bounds[i + 1]``; ``keys`` are term keys ("" for a stop word, so positions
    stay meaningful) and ``kinds`` their kind bits."""

    __slots__ = ("bounds", "keys", "kinds", "quotations", "quoted", "texts", "title_case")

    def __init__(
        self,
        texts: list[str],
        keys: list[str],
        kinds: bytes,
        bounds: list[int],
        quoted: dict[int, frozenset[str]],
        title_case: AbstractSet[int],
        quotations: dict[int, str],
    ) -> None:
        self.texts = texts
        self.keys = keys
        self.kinds = kinds
        self.bounds = bounds
        self.quoted = quoted  # sentence index -> the keys it quotes (only non-empty ones)
        self.title_case = title_case  # indexes of the headline-style sentences
        self.quotations = quotations  # sentence index -> Sentence.with_quotation, when not ""

    def capitalised(self, sentence: int) -> list[int]:
        """Positions, within the sentence, of its capitalised tokens."""
        begin, end = self.bounds[sentence], self.bounds[sentence + 1]
        return list(compress(count(), map(and_, self.kinds[begin:end], repeat(CAPITALISED))))


class Analysis:
    """Everything the engine needs from one article, computed once.

    ``terms`` lists the article's distinct terms in order of first use; ``term_counts`` and
    ``name_flags`` hold, at the same positions, how often each occurs (title counted
    :data:`TITLE_REPEAT` times) and whether it is a name (or a figure) somewhere in the
    article. The body's sentences are in ``table``, built into :class:`Sentence` s only when
    asked for. It pickles as a few strings and byte arrays: thousands cross between processes.
    """

    __slots__ = (
        "_counts",
        "_names",
        "_offsets",
        "_sentences",
        "_texts",
        "name_flags",
        "quotations",
        "quoted",
        "sketch",
        "table",
        "term_counts",
        "terms",
    )

    def __init__(
        self,
        terms: list[str],
        term_counts: np.ndarray,
        name_flags: np.ndarray,
        sketch: RMinHash | None,
        table: SentenceTable,
        texts: list[str] | str,
        quoted: dict[int, frozenset[str]],
        quotations: dict[int, str],
    ) -> None:
        self.terms = terms
        self.term_counts = term_counts
        self.name_flags = name_flags
        self.sketch = sketch  # MinHash of the body's term-pair shingles
        self.table = table
        self.quoted = quoted  # sentence index -> the keys it quotes (only non-empty ones)
        self.quotations = quotations  # sentence index -> Sentence.with_quotation, when not ""
        self._texts = texts  # the body's sentences, or them joined (as pickled) until needed
        self._offsets: list[int] | None = None
        self._counts: dict[str, int] | None = None
        self._names: frozenset[str] | None = None
        self._sentences: tuple[Sentence, ...] | None = None

    @property
    def counts(self) -> dict[str, int]:
        """Term -> occurrences (title counted TITLE_REPEAT times)."""
        if self._counts is None:
            self._counts = dict(zip(self.terms, self.term_counts.tolist(), strict=True))
        return self._counts

    @property
    def names(self) -> frozenset[str]:
        """The terms that are names (or figures) somewhere in the article."""
        if self._names is None:
            self._names = frozenset(compress(self.terms, self.name_flags.tolist()))
        return self._names

    @property
    def is_empty(self) -> bool:
        return not self.terms

    @property
    def sentences(self) -> tuple[Sentence, ...]:
        """The body's sentences in order, built on first use."""
        if self._sentences is None:
            self._sentences = tuple(map(self.sentence, range(len(self.table.content))))
        return self._sentences

    def sentence(self, index: int) -> Sentence:
        """The body's sentence at ``index``, with its details."""
        if self._offsets is None:
            self._offsets = self.table.offsets.tolist()
        if isinstance(self._texts, str):
            self._texts = self._texts.split(_JOIN) if self._texts else []
        begin, end = self._offsets[index], self._offsets[index + 1]
        words = list(map(self.terms.__getitem__, self.table.term[begin:end].tolist()))
        flags = self.table.flags[begin:end].tolist()
        return Sentence(
            self._texts[index],
            frozenset(words),
            frozenset(compress(words, map(and_, flags, repeat(ANCHOR)))),
            frozenset(compress(words, map(and_, flags, repeat(NUMBER)))),
            self.quoted.get(index, _NO_TERMS),
            int(self.table.content[index]),
            bool(self.table.headline[index]),
            self.quotations.get(index, ""),
        )

    def sentences_with_new_terms(self, known: AbstractSet[str]) -> Iterator[Sentence]:
        """The body's sentences, in order, that use a term not in ``known``."""
        return (sentence for sentence in self.sentences if not sentence.terms <= known)

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        texts = self._texts if isinstance(self._texts, str) else _JOIN.join(self._texts)
        return _restore_analysis, (
            _JOIN.join(self.terms),
            self.term_counts.astype(np.int32).tobytes(),
            self.name_flags.tobytes(),
            self.sketch,
            tuple(column.tobytes() for column in self.table),
            texts,
            {index: _JOIN.join(keys) for index, keys in self.quoted.items()},
            self.quotations,
        )


# The dtypes of SentenceTable's columns, in order.
_TABLE_TYPES: Final = (np.int32, np.int32, np.int32, np.uint8, np.int32, np.bool_, np.bool_, np.bool_)


def _restore_analysis(
    terms: str,
    counts: bytes,
    flags: bytes,
    sketch: RMinHash | None,
    table: tuple[bytes, ...],
    texts: str,
    quoted: dict[int, str],
    quotations: dict[int, str],
) -> Analysis:
    if len(_term_pool) >= CACHE_LIMIT:
        _term_pool.clear()
    fresh = terms.split(_JOIN) if terms else []
    return Analysis(
        list(map(_term_pool.setdefault, fresh, fresh)),
        np.frombuffer(counts, np.int32),
        np.frombuffer(flags, np.bool_),
        sketch,
        SentenceTable(
            *(np.frombuffer(column, kind) for column, kind in zip(table, _TABLE_TYPES, strict=True))
        ),
        texts,
        {index: frozenset(joined.split(_JOIN)) for index, joined in quoted.items()},
        quotations,
    )


def split_sentences(text: str) -> list[str]:
    """Split text into sentences: at line breaks, and after ., !, ?, … before a capital."""
    return [sentence for paragraph in text.split("\n") for sentence in _paragraph_sentences(paragraph)]


def analyse(title: str, body: str) -> Analysis:
    """Compute the terms, names, sentences and duplicate sketch of one article."""
    flat = _flatten(body, with_quotes=True)
    keys, kinds, bounds = flat.keys, flat.kinds, flat.bounds
    starts = set(bounds)
    starts.discard(len(keys))
    capitalised: list[int] = np.flatnonzero(np.frombuffer(kinds, np.uint8) & CAPITALISED).tolist()
    in_headlines = _positions_of(flat, flat.title_case) if flat.title_case else frozenset()
    # First pass: every capitalised word but a sentence's first (unless in capitals) is a name.
    names = {
        keys[position]
        for position in capitalised
        if (position not in starts or kinds[position] & ALL_CAPS) and position not in in_headlines
    }
    # Second pass, in order: a capitalised first word is a name when the article uses it as
    # one (so far), or when a capitalised word follows; a headline names only known names.
    unnamed_starts: set[int] = set()
    headline_names: list[int] = []
    special = {bisect_right(bounds, position) - 1 for position in capitalised if position in starts}
    for sentence in sorted(special.union(flat.title_case)):
        begin, stop = bounds[sentence], bounds[sentence + 1]
        if sentence in flat.title_case:
            headline_names.extend(
                position
                for position in range(begin, stop)
                if kinds[position] & CAPITALISED and keys[position] in names
            )
        elif not kinds[begin] & ALL_CAPS:
            if keys[begin] in names or (begin + 1 < stop and kinds[begin + 1] & CAPITALISED):
                names.add(keys[begin])
            else:
                unnamed_starts.add(begin)
    name_positions = [
        position
        for position in capitalised
        if position not in unnamed_starts and position not in in_headlines
    ]
    if headline_names:
        name_positions = sorted(set(name_positions).union(headline_names))
    pairs = [
        (second, keys[first] + " " + keys[second])
        for first, second in pairwise(name_positions)
        if second == first + 1 and second not in starts
    ]
    all_keys = _with_pairs(keys, bounds, pairs)
    names.update(pair for _position, pair in pairs)
    sketch = sketch_of(list(filter(None, all_keys)))
    headline = without_site_name(title)
    title_flat = _flatten("" if is_time_stamp(headline) else headline, with_quotes=False)
    for sentence in range(len(title_flat.texts)):
        begin, stop = title_flat.bounds[sentence], title_flat.bounds[sentence + 1]
        title_keys = title_flat.keys[begin:stop]
        positions = _name_positions(
            title_keys,
            title_flat.kinds[begin:stop],
            title_flat.capitalised(sentence),
            sentence in title_flat.title_case,
            names,
        )
        title_keys.extend(_name_pairs(title_keys, positions, names))
        all_keys.extend(title_keys * TITLE_REPEAT)
    counts = Counter(all_keys)
    counts.pop("", None)
    terms = list(counts)
    figures = list(map(str.isdigit, map(itemgetter(0), terms)))
    names.update(compress(terms, figures))  # figures weigh like names
    size = len(terms)
    analysis = Analysis(
        terms,
        np.fromiter(counts.values(), np.int32, size),
        np.fromiter(map(names.__contains__, terms), np.bool_, size),
        sketch,
        _sentence_table(flat, name_positions, terms, figures),
        flat.texts,
        flat.quoted,
        flat.quotations,
    )
    analysis._counts = counts
    analysis._names = frozenset(names)
    return analysis


def _sentence_table(
    flat: _Flat, name_positions: list[int], terms: list[str], figures: list[bool]
) -> SentenceTable:
    """The :class:`SentenceTable` of a body: which distinct terms each sentence has, and as what.

    Each token gets a code, 0 (plain), ANCHOR (a date or name) or ANCHOR | NUMBER; the codes
    nest, so the largest code among a term's tokens in a sentence is the union of their flags.
    """
    term_count, sentence_count = len(terms), len(flat.texts)
    width = max(term_count, 1)
    index = dict(zip(terms, range(term_count), strict=True))
    token_terms = np.fromiter(map(index.get, flat.keys, repeat(-1)), np.int64, len(flat.keys))
    bounds = np.array(flat.bounds, np.int64)
    token_sentences = np.repeat(np.arange(sentence_count, dtype=np.int64), bounds[1:] - bounds[:-1])
    codes = _TOKEN_CODES[np.frombuffer(flat.kinds, np.uint8)]
    codes[name_positions] |= ANCHOR
    words = token_terms >= 0  # "" (a stop word) is no term
    token_sentences = token_sentences[words]
    keys = np.sort((token_sentences * width + token_terms[words]) * 4 + codes[words])
    pairs = keys >> 2
    last = np.append(np.flatnonzero(pairs[1:] != pairs[:-1]), len(pairs) - 1) if len(pairs) else pairs
    pair_keys = pairs[last]
    pair_sentences = pair_keys // width
    distinct = np.bincount(pair_sentences, minlength=sentence_count)
    content = np.bincount(token_sentences, minlength=sentence_count)
    headline = np.zeros(sentence_count, np.bool_)
    if flat.title_case:
        headline[list(flat.title_case)] = True
    ends = np.fromiter(_sentence_ends(flat.texts), np.bool_, sentence_count)
    offsets = np.zeros(sentence_count + 1, np.int32)
    np.cumsum(distinct, out=offsets[1:])
    return SentenceTable(
        offsets,
        pair_sentences.astype(np.int32),
        (pair_keys - pair_sentences * width).astype(np.int32),
        (keys[last] & 3).astype(np.uint8),
        content.astype(np.int32),
        headline,
        (distinct >= _MIN_SENTENCE_TERMS) & (ends | ((content >= _MIN_UNPUNCTUATED_PROSE_TERMS) & ~headline)),
        np.array(figures, np.bool_),
    )


# --- sentences ---------------------------------------------------------------------------


def _paragraph_sentences(paragraph: str) -> list[str]:
    dateline = DATELINE.match(paragraph)
    starts = [0] if dateline is None else [0, dateline.end()]
    bounds = [*starts, *sentence_ends(paragraph, starts[-1]), len(paragraph)]
    pieces = map(str.strip, map(paragraph.__getitem__, map(slice, bounds, bounds[1:])))
    return [piece for piece in pieces if piece]


def _sentence_stops(text: str) -> list[int]:
    """Where the text's sentences end, in order: after each line break, after a wire dateline
    opening a paragraph, and where :func:`monitor.sentences.sentence_ends` says."""
    stops = offsets_after(text, "\n")
    for paragraph_start in [0, *stops]:
        dateline = DATELINE.match(text, paragraph_start)
        if dateline is not None:
            stops.append(dateline.end())
    stops.extend(sentence_ends(text))
    stops.sort()
    return stops


# --- tokens ------------------------------------------------------------------------------


def _flatten(text: str, *, with_quotes: bool) -> _Flat:
    """Split a text into sentences and classified tokens; a quotation may run over several
    sentences of a paragraph. Hyphenated words count as their parts."""
    stops = _sentence_stops(text)
    starts = [0, *stops]
    stops.append(len(text))
    # A line break ends a sentence, so it may stay at the end of one: strip() removes it.
    pieces = list(map(str.strip, map(text.__getitem__, map(slice, starts, stops))))
    kept = list(map(bool, pieces))
    texts = list(compress(pieces, kept))
    starts = list(compress(starts, kept))
    stops = list(compress(stops, kept))
    # Splitting on whitespace is several times faster than a token regular expression; a
    # hyphen, a dash or a link becomes spaces, which keeps every offset.
    spaced_text = spaced(text)
    token_lists = list(map(str.split, map(spaced_text.__getitem__, map(slice, starts, stops))))
    bounds = [0, *accumulate(map(len, token_lists))]
    keys, kinds = classified_tokens(list(chain.from_iterable(token_lists)))
    ends = list(_sentence_ends(texts))
    if with_quotes:
        furniture = _furniture_positions(texts, ends, bounds, token_lists, kinds)
        if furniture:
            keys, kinds = _without(furniture, keys, kinds)
    quoted: dict[int, frozenset[str]] = {}
    quotations: dict[int, str] = {}
    if with_quotes and ('"' in text or "“" in text or "”" in text):
        in_quote = False
        opened: int | None = None  # the sentence whose quotation is still open
        for index, (start, piece) in enumerate(zip(starts, texts, strict=True)):
            if start == 0 or text[start - 1] == "\n":
                in_quote = False  # a quotation left open ends with its paragraph
                opened = None
            if in_quote or _QUOTE_MARK.search(piece):
                quoted_keys, in_quote = _quoted_keys(piece, in_quote)
                if quoted_keys:
                    quoted[index] = quoted_keys
            if opened is not None and not in_quote:
                if index - opened <= _MAX_QUOTATION_RUN:
                    whole = text[starts[opened] : stops[index]].strip()
                    quotations.update(dict.fromkeys(range(opened, index + 1), whole))
                opened = None
            elif in_quote and opened is None:
                opened = index
    title_case = set()
    for index, stopped in enumerate(ends):
        if (stopped and not texts[index].isupper()) or texts[index].endswith(DASHES):
            continue  # prose, or a dateline (its place is a name)
        begin, end = bounds[index], bounds[index + 1]
        content_count = end - begin - keys[begin:end].count("")
        if content_count < 3:
            continue
        if stopped:
            # A sentence shouted in capitals ("BREAKING: ... IN GENEVA.") is a headline too:
            # its capitals say nothing about which of its words are names.
            title_case.add(index)
        elif sum(map(and_, kinds[begin:end], repeat(CAPITALISED))) >= _TITLE_CASE_SHARE * content_count:
            title_case.add(index)
    return _Flat(texts, keys, kinds, bounds, quoted, title_case, quotations)


def _furniture_positions(
    texts: list[str], ends: list[bool], bounds: list[int], token_lists: list[list[str]], kinds: bytes
) -> list[int]:
    """The positions of a body's tokens that are page furniture, not story text: whole
    sentences of it (wire credits, rights lines, calls to subscribe), and a wire dateline's
    date and agency ("LONDON, Feb 18 (Reuters) -" keeps only its place). An outlet's
    furniture would otherwise be shared, names and all, by every report it publishes.

    Furniture is looked for where it stands: in lines without sentence punctuation, and in
    the block that closes a body, its last two sentences and each one before them that
    furniture follows (a wire service's three-sentence footer). Trying every sentence of
    every article would cost a tenth of its analysis.
    """
    # The closing block, looked at from the end: what each sentence in it is.
    closing: dict[int, bool] = {}
    index = len(texts) - 1
    while index >= 0 and (index >= len(texts) - 2 or closing[index + 1]):
        closing[index] = _is_furniture_line(texts[index])
        index -= 1
    positions: list[int] = []
    for index, stopped in enumerate(ends):
        furniture = closing.get(index)
        if furniture is None:
            if stopped:
                continue
            furniture = _is_furniture_line(texts[index])
        begin, end = bounds[index], bounds[index + 1]
        if furniture:
            positions.extend(range(begin, end))
        elif not stopped and begin < end and kinds[begin] & ALL_CAPS and texts[index].endswith(DASHES):
            dated = [bool(kind & (NUMERIC | CALENDAR)) for kind in kinds[begin:end]]
            positions.extend(dateline_extras(token_lists[index], dated, begin))
    return positions


def _is_furniture_line(text: str) -> bool:
    return is_furniture(text) or is_time_stamp(text)


def _without(positions: list[int], keys: list[str], kinds: bytes) -> tuple[list[str], bytes]:
    """The keys and kinds with the tokens at ``positions`` made stop words."""
    keys, blanked = list(keys), bytearray(kinds)
    for position in positions:
        keys[position] = ""
        blanked[position] = 0
    return keys, bytes(blanked)


def _sentence_ends(texts: list[str]) -> Iterator[bool]:
    """:func:`monitor.sentences.ends_with_stop` of each text."""
    return map(ends_with_stop, texts)


def _positions_of(flat: _Flat, sentences: AbstractSet[int]) -> frozenset[int]:
    return frozenset(
        position
        for sentence in sentences
        for position in range(flat.bounds[sentence], flat.bounds[sentence + 1])
    )


def _with_pairs(keys: list[str], bounds: Sequence[int], pairs: list[tuple[int, str]]) -> list[str]:
    """The body's keys with each sentence's two-word names after its own keys."""
    if not pairs:
        return list(keys)
    merged: list[str] = []
    done = 0
    for sentence_end, group in groupby(pairs, key=lambda pair: bounds[bisect_right(bounds, pair[0])]):
        merged += keys[done:sentence_end]
        merged += [pair for _position, pair in group]
        done = sentence_end
    merged += keys[done:]
    return merged


def _quoted_keys(text: str, in_quote: bool) -> tuple[frozenset[str], bool]:
    """The keys inside quotation marks, and whether the quotation is still open at the end."""
    quoted: list[str] = []
    for segment in _QUOTE_MARK.split(text):
        if segment in ('"', "“", "”"):
            in_quote = segment == "“" or (segment == '"' and not in_quote)
        elif in_quote:
            quoted.extend(classified(segment))
    return frozenset(quoted).difference(("",)), in_quote


# --- names -------------------------------------------------------------------------------


def _name_positions(
    keys: list[str], kinds: Sequence[int], capitalised: list[int], title_case: bool, names: set[str]
) -> list[int]:
    """Positions of one sentence's tokens that are names (see the module docstring)."""
    if not capitalised:
        return []
    if title_case:
        return [position for position in capitalised if keys[position] in names]
    if capitalised[0] != 0:
        return capitalised
    # A capitalised sentence start is a name only when the article uses it as one, when it
    # is in capitals, or when another capitalised word follows ("Lindsay Lohan checks in").
    if keys[0] in names or kinds[0] & ALL_CAPS or (len(capitalised) > 1 and capitalised[1] == 1):
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
