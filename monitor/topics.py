"""Topic queries: parse the boolean query language once, then match it fast against prepared articles.

The language, as media-monitoring tools know it:

* ``Ukraine`` is a word. It matches whole words only and ignores case: ``Russia`` does not match
  ``Russian``, and ``KYIV`` matches ``Kyiv``.
* ``negotiat*`` is a prefix: it matches ``negotiations`` and ``negotiator``. ``*`` may stand only at the
  end of a word.
* ``"peace deal"`` is a phrase: the words must come one after the other, and any punctuation or line
  break between them is ignored. Curly quotes (``“peace deal”``) work too, and a phrase may hold
  prefixes (``"peace deal*"``). A bare term with several words in it (``Russia-Ukraine``, ``U.S.``,
  ``Trump's``) is the phrase of those words.
* ``AND``, ``OR`` and ``NOT`` are operators only in upper case. In lower case, ``and``, ``or`` and
  ``not`` are ordinary words. ``-word``, ``-"phrase"`` and ``-(...)`` mean ``NOT``.
* Terms side by side are joined by AND: ``Ukraine talks`` means ``Ukraine AND talks``, and
  ``Ukraine NOT Russia`` means ``Ukraine AND NOT Russia``.
* ``NOT`` binds tighter than ``AND``, and ``AND`` binds tighter than ``OR``. Parentheses group.
* A query that would match an article containing none of its words (``NOT sport``) is rejected,
  because it would alert on nearly everything.

For the words themselves, see :func:`tokenize`. ``Trump`` matches ``Trump’s`` and ``Trump's``, because
apostrophes split words. Matching covers every part given to :meth:`PreparedText.of` (title and body),
but a phrase never runs from the end of one part into the start of the next.
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import NamedTuple

from monitor.errors import QueryError


def _combining_mark_ranges(codepoints: Iterable[int]) -> str:
    """Regex class body for the combining marks among ``codepoints``. ``\\w`` leaves them out, which would
    split words written in decomposed form or in Indic scripts."""
    spans: list[list[int]] = []
    for cp in codepoints:
        if unicodedata.category(chr(cp)).startswith("M"):
            if spans and spans[-1][1] == cp - 1:
                spans[-1][1] = cp
            else:
                spans.append([cp, cp])
    return "".join(f"\\U{first:08x}-\\U{last:08x}" for first, last in spans)


# A word is a run of letters, digits and combining marks. Everything else (spaces, punctuation, hyphens,
# straight and curly apostrophes, underscores) separates words. Underscores are replaced by spaces before
# these patterns run, because \w includes them.
class _Patterns(NamedTuple):
    word: re.Pattern[str]
    # The astral mark ranges make every character test about three times slower, so text that has
    # no character beyond the BMP (nearly all news) is split with the shorter pattern: the same words.
    bmp_word: re.Pattern[str]
    term_part: re.Pattern[str]


@functools.cache
def _patterns() -> _Patterns:
    """The word patterns for any text. Finding the combining marks takes a good part of a start-up,
    and ASCII text (most queries, most news once its punctuation is set aside) never needs them."""
    bmp_marks = _combining_mark_ranges(range(0x0300, 0x10000))
    astral_marks = _combining_mark_ranges(chain(range(0x10000, 0x20000), range(0xE0100, 0xE01F0)))
    word = re.compile(f"[\\w{bmp_marks}{astral_marks}]+")
    return _Patterns(word, re.compile(f"[\\w{bmp_marks}]+"), re.compile(f"{word.pattern}\\*?|\\*"))


# The same patterns for ASCII text, where a word character is a letter, a digit or "_".
_ASCII_WORD = re.compile("[A-Za-z0-9_]+")
_ASCII_TERM_PART = re.compile("[A-Za-z0-9_]+\\*?|\\*")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_QUOTES = '"“”„'
_QUOTE = re.compile(f"[{_QUOTES}]")
_BARE_TERM = re.compile(f"[^\\s(){_QUOTES}]+")
_OPERATORS = frozenset({"AND", "OR", "NOT"})
_SOFT_HYPHEN = "\u00ad"
# Every ASCII character that is not a letter or a digit becomes a space: then str.split() finds the words.
_ASCII_SEPARATORS = str.maketrans({chr(code): " " for code in range(128) if not chr(code).isalnum()})
# Punctuation common in news that separates words: replaced by spaces, it leaves most texts ASCII.
_PUNCTUATION = "“”‘’–—«»•·"
# This sits in the token list between the parts of a PreparedText so that no phrase can span two parts.
# No word can be empty, so it never matches anything.
_PART_BREAK = ""
# Joins tokens (words never hold one) when a prepared text is pickled.
_TOKEN_JOIN = "\n"
# Deeper nesting than this is a mistake, not a real query, and would otherwise exhaust the stack.
_MAX_NESTING = 64


def tokenize(text: str) -> list[str]:
    """Split text into case-folded words: NFKC-normalised, so ``café`` matches whether it was typed as one
    character or as ``e`` plus a combining accent, and with soft hyphens removed."""
    text = unicodedata.normalize("NFKC", text.replace(_SOFT_HYPHEN, "")).casefold().replace("_", " ")
    plain = text
    if not plain.isascii():
        for mark in _PUNCTUATION:
            if mark in plain:
                plain = plain.replace(mark, " ")
    if plain.isascii():
        # The same words, several times faster: in ASCII a word is a run of letters and digits.
        return plain.translate(_ASCII_SEPARATORS).split()
    patterns = _patterns()
    return (patterns.word if _ASTRAL.search(text) else patterns.bmp_word).findall(text)


class PreparedText:
    """An article tokenised once, so that any number of queries can be checked against it cheaply.

    ``verdicts`` may hold, by query text, whether a query matches: a text prepared in another
    process carries them (see :meth:`judge`), and is then only tokenised again (lazily, from
    one string) if a query it has no verdict for is checked.
    """

    __slots__ = ("_joined", "_positions", "_sorted_words", "_tokens", "_words", "verdicts")

    def __init__(self, tokens: list[str]) -> None:
        self._tokens: list[str] | None = tokens
        self._joined: str | None = None
        self._words: frozenset[str] | None = None
        self._sorted_words: list[str] | None = None
        self._positions: dict[str, list[int]] | None = None
        self.verdicts: dict[str, bool] | None = None

    @classmethod
    def of(cls, *parts: str) -> PreparedText:
        tokens: list[str] = []
        for part in parts:
            if tokens:
                tokens.append(_PART_BREAK)
            tokens.extend(tokenize(part))
        return cls(tokens)

    @property
    def tokens(self) -> list[str]:
        if self._tokens is None:
            # No token holds a line break, and a text's tokens never begin with a part break.
            self._tokens = self._joined.split(_TOKEN_JOIN) if self._joined else []
        return self._tokens

    @property
    def words(self) -> frozenset[str]:
        if self._words is None:
            self._words = frozenset(self.tokens)
        return self._words

    def judge(self, queries: Iterable[Query]) -> None:
        """Record whether each query matches, for a process that receives this text pickled."""
        self.verdicts = {query.text: query.matches(self) for query in queries}

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # One string (and the verdicts): a prepared text crosses to the storing process by the thousand.
        joined = self._joined if self._tokens is None else _TOKEN_JOIN.join(self._tokens)
        return _restored, (joined or "", self.verdicts)

    def has_prefix(self, prefix: str) -> bool:
        return next(self._words_starting(prefix), None) is not None

    def has_phrase(self, elements: tuple[tuple[str, bool], ...]) -> bool:
        """True if the words (each an exact word, or a prefix when its flag is set) occur consecutively."""
        tokens, length = self.tokens, len(elements)
        first, first_is_prefix = elements[0]
        for start in self._positions_of(first, first_is_prefix):
            if start + length > len(tokens):
                continue
            for offset in range(1, length):
                word, is_prefix = elements[offset]
                token = tokens[start + offset]
                if not (token.startswith(word) if is_prefix else token == word):
                    break
            else:
                return True
        return False

    def _words_starting(self, prefix: str) -> Iterator[str]:
        if self._sorted_words is None:
            self._sorted_words = sorted(self.words)
        words = self._sorted_words
        index = bisect.bisect_left(words, prefix)
        while index < len(words) and words[index].startswith(prefix):
            yield words[index]
            index += 1

    def _positions_of(self, word: str, is_prefix: bool) -> list[int]:
        positions = self._positions
        if positions is None:  # built whole before it is published, so threads may share a PreparedText
            positions = {}
            for position, token in enumerate(self.tokens):
                positions.setdefault(token, []).append(position)
            self._positions = positions
        if not is_prefix:
            return positions.get(word, [])
        return [position for match in self._words_starting(word) for position in positions[match]]


def _restored(joined: str, verdicts: dict[str, bool] | None) -> PreparedText:
    text = PreparedText.__new__(PreparedText)
    text._tokens, text._joined, text._words = None, joined, None
    text._sorted_words = text._positions = None
    text.verdicts = verdicts
    return text


@dataclass(frozen=True, slots=True)
class _Term:
    elements: tuple[tuple[str, bool], ...]  # (word, is_prefix); several elements make a phrase

    @property
    def label(self) -> str:
        return " ".join(word + "*" if is_prefix else word for word, is_prefix in self.elements)

    @property
    def single_word(self) -> str | None:
        return self.elements[0][0] if len(self.elements) == 1 and not self.elements[0][1] else None


@dataclass(frozen=True, slots=True)
class _Not:
    child: _Node


@dataclass(frozen=True, slots=True)
class _And:
    children: tuple[_Node, ...]


@dataclass(frozen=True, slots=True)
class _Or:
    children: tuple[_Node, ...]


_Node = _Term | _Not | _And | _Or
_Matcher = Callable[[PreparedText], bool]


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "(", ")", "AND", "OR", "NOT", "TERM" or "PHRASE"
    column: int
    text: str
    text_column: int  # column of text[0]; differs from column for a phrase, which starts with its quote


def _lex(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    index = 0
    while index < len(query):
        char, column = query[index], index + 1
        if char.isspace():
            index += 1
        elif char in "()":
            tokens.append(_Token(char, column, char, column))
            index += 1
        elif char in _QUOTES:
            closing = _QUOTE.search(query, index + 1)
            if closing is None:
                raise QueryError("unterminated quote", column)
            tokens.append(_Token("PHRASE", column, query[index + 1 : closing.start()], column + 1))
            index = closing.end()
        elif char == "-" and index + 1 < len(query) and not query[index + 1].isspace():
            tokens.append(_Token("NOT", column, "-", column))
            index += 1
        else:
            bare = _BARE_TERM.match(query, index)
            assert bare is not None  # the branches above took every character the pattern refuses
            kind = bare.group() if bare.group() in _OPERATORS else "TERM"
            tokens.append(_Token(kind, column, bare.group(), column))
            index = bare.end()
    return tokens


def _term(token: _Token) -> _Term:
    elements: list[tuple[str, bool]] = []
    text = token.text.replace("_", " ")  # as tokenize does; same length, so columns stay right
    word, term_part = (_ASCII_WORD, _ASCII_TERM_PART) if text.isascii() else _patterns()[::2]
    for part in term_part.finditer(text):
        star_column = token.text_column + part.end() - 1
        if word.match(text, part.end()) and part.group().endswith("*"):
            raise QueryError("wildcard * is only allowed at the end of a word", star_column)
        if part.group() == "*":
            raise QueryError("wildcard * must follow a word", star_column)
        words = tokenize(part.group().rstrip("*"))
        elements.extend((word, False) for word in words)
        if words and part.group().endswith("*"):
            elements[-1] = (words[-1], True)
    if not elements:
        reason = "empty phrase" if token.kind == "PHRASE" else f"{token.text!r} has no letters or digits"
        raise QueryError(reason, token.column)
    return _Term(tuple(elements))


class _Parser:
    """Recursive descent: or := and (OR and)*; and := unary ([AND] unary)*; unary := NOT unary | primary."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.position = 0
        self.depth = 0

    def parse(self) -> _Node:
        node = self._or()
        if self.position < len(self.tokens):  # only an unmatched ")" stops _or early
            raise QueryError("unbalanced parenthesis", self.tokens[self.position].column)
        return node

    def _peek(self) -> str | None:
        return self.tokens[self.position].kind if self.position < len(self.tokens) else None

    def _or(self) -> _Node:
        children = [self._and()]
        while self._peek() == "OR":
            self.position += 1
            children.append(self._and())
        return children[0] if len(children) == 1 else _Or(tuple(children))

    def _and(self) -> _Node:
        children = [self._unary()]
        while self._peek() not in (None, "OR", ")"):
            if self._peek() == "AND":
                self.position += 1
            children.append(self._unary())
        return children[0] if len(children) == 1 else _And(tuple(children))

    def _unary(self) -> _Node:
        if self._peek() != "NOT":
            return self._primary()
        self._descend(self.tokens[self.position])
        self.position += 1
        node = _Not(self._unary())
        self.depth -= 1
        return node

    def _primary(self) -> _Node:
        kind = self._peek()
        if kind in (None, ")", "AND", "OR"):
            raise self._missing_term()
        token = self.tokens[self.position]
        self.position += 1
        if kind != "(":
            return _term(token)
        self._descend(token)
        inner = self._or()
        if self._peek() != ")":
            raise QueryError("unbalanced parenthesis", token.column)
        self.position += 1
        self.depth -= 1
        return inner

    def _descend(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > _MAX_NESTING:
            raise QueryError(f"nested more than {_MAX_NESTING} levels deep", token.column)

    def _missing_term(self) -> QueryError:
        found = self.tokens[self.position] if self.position < len(self.tokens) else None
        before = self.tokens[self.position - 1] if self.position else None
        if before is not None and before.kind in _OPERATORS:
            if found is None or found.kind == ")":
                return QueryError(f"nothing after {before.text}", before.column)
            return QueryError(f"{found.text} cannot follow {before.text}", found.column)
        if found is not None and found.kind in _OPERATORS:
            return QueryError(f"nothing before {found.text}", found.column)
        if before is not None and found is not None:  # "(" directly followed by ")"
            return QueryError("empty parentheses", before.column)
        unmatched = before or found  # an opening "(" at the end, or a ")" at the start
        return QueryError("unbalanced parenthesis", unmatched.column if unmatched else 1)


def _compile(node: _Node) -> _Matcher:
    if isinstance(node, _Term):
        word, is_prefix = node.elements[0]
        if len(node.elements) > 1:
            elements = node.elements
            required = frozenset(word for word, is_prefix in elements if not is_prefix)
            return lambda doc: required <= doc.words and doc.has_phrase(elements)
        if is_prefix:
            return lambda doc: doc.has_prefix(word)
        return lambda doc: word in doc.words
    if isinstance(node, _Not):
        child = _compile(node.child)
        return lambda doc: not child(doc)
    # Bare words in an AND or OR are checked at once with one set operation, the common case.
    words = frozenset(w for child in node.children if isinstance(child, _Term) and (w := child.single_word))
    others = tuple(_compile(c) for c in node.children if not (isinstance(c, _Term) and c.single_word))
    if isinstance(node, _And):
        if not others:
            return lambda doc: words <= doc.words
        return lambda doc: words <= doc.words and all(matcher(doc) for matcher in others)
    if not others:
        return lambda doc: not words.isdisjoint(doc.words)
    return lambda doc: not words.isdisjoint(doc.words) or any(matcher(doc) for matcher in others)


def _positive_terms(node: _Node, negated: bool = False) -> Iterator[_Term]:
    if isinstance(node, _Term):
        if not negated:
            yield node
    elif isinstance(node, _Not):
        yield from _positive_terms(node.child, not negated)
    else:
        for child in node.children:
            yield from _positive_terms(child, negated)


class Query:
    """A parsed topic query; see the module docstring for the language."""

    __slots__ = ("_matcher", "_positive", "text")

    def __init__(self, text: str, root: _Node) -> None:
        self.text = text
        self._matcher = _compile(root)
        self._positive = {term.label: _compile(term) for term in _positive_terms(root)}

    @classmethod
    def parse(cls, text: str) -> Query:
        tokens = _lex(text)
        if not tokens:
            raise QueryError("empty query", 1)
        query = cls(text, _Parser(tokens).parse())
        if query.matches(PreparedText([])):
            raise QueryError("query matches articles containing none of its terms; add a term to look for", 1)
        return query

    def matches(self, doc: PreparedText) -> bool:
        if doc.verdicts is not None:
            verdict = doc.verdicts.get(self.text)
            if verdict is not None:
                return verdict
        return self._matcher(doc)

    def terms(self) -> frozenset[str]:
        """The terms not under NOT, which count toward a match: ``kyiv``, ``negotiat*``, ``peace deal``."""
        return frozenset(self._positive)

    def matched_terms(self, doc: PreparedText) -> frozenset[str]:
        """The terms from :meth:`terms` that occur in ``doc``, to explain why an article matched."""
        return frozenset(label for label, matcher in self._positive.items() if matcher(doc))

    def __repr__(self) -> str:
        return f"Query({self.text!r})"
