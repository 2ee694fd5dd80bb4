"""One token as written, to the term it counts as and the kind of word it is.

A token is stripped of its edge punctuation, lower-cased, looked up among stop words, number
and calendar words, respelled if it is an old spelling of a place ("Kiev" is "Kyiv"), and
Snowball-stemmed, with a transliterated name's varying ending folded ("Zelenskyy", "Zelensky").
Its kind bits say whether it was capitalised, all in capitals, a figure or a calendar word,
which the text analysis uses to find names and a sentence's anchors. Every stored article's
every token passes here, so each spelling is classified once and kept in bounded caches.
"""

from __future__ import annotations

import re
from typing import Final

import Stemmer

from monitor.stories.words import (
    CALENDAR_WORDS,
    HONORIFICS,
    NUMBER_WORDS,
    RELATIVE_DAYS,
    RESPELLED_PLACES,
    STOP_WORDS,
)

# Characters stripped from both ends of a whitespace-separated token.
_EDGE_PUNCTUATION: Final = (
    "".join(chr(code) for code in range(0x21, 0x7F) if not chr(code).isalnum()) + "“”‘’«»…–—•·¡¿£€¥₹₽₴"
)

#: The em dash, en dash and hyphen: they end a dateline, and join words without being part
#: of either ("Washington-led", "talks—and").
DASHES: Final = ("—", "–", "-")
#: A link, an e-mail address or a handle, blanked before words are split (see spaced). It ends
#: at an em or en dash as well as at whitespace: American style sets dashes without spaces
#: ("desk@example.com—Officials said"), and neither dash belongs in an address.
_LINK = re.compile(r"[^\s—–]*://[^\s—–]*|\bwww\.[^\s—–]+|[^\s—–]*@[^\s—–]+")

#: Token kinds, as bits.
CAPITALISED: Final = 1
ALL_CAPS: Final = 2
NUMERIC: Final = 4
CALENDAR: Final = 8

# Stem endings folded into "i" (see folded()).
_VARIANT_ENDINGS: Final = ("yy", "iy", "ii")

#: How many spellings (and, in the text analysis, shared terms) a cache holds before it starts over.
CACHE_LIMIT: Final = 300_000

_stemmer = Stemmer.Stemmer("english")
# Token as written -> its term key ("" for a stop word) and its kind bits. Bounded caches.
_key_cache: dict[str, str] = {}
_kind_cache: dict[str, int] = {}


def classified_tokens(tokens: list[str]) -> tuple[list[str], bytes]:
    """The term keys and kind bits of tokens as written, through the bounded caches."""
    try:
        return list(map(_key_cache.__getitem__, tokens)), bytes(map(_kind_cache.__getitem__, tokens))
    except KeyError:
        for token in set(tokens).difference(_key_cache):
            _remember(token)
    try:
        return list(map(_key_cache.__getitem__, tokens)), bytes(map(_kind_cache.__getitem__, tokens))
    except KeyError:  # the bounded cache was emptied meanwhile
        remembered = [_remember(token) for token in tokens]
        return [key for key, _kind in remembered], bytes(kind for _key, kind in remembered)


def classified(text: str) -> list[str]:
    """The term keys of a piece of text."""
    return classified_tokens(spaced(text).split())[0]


def spaced(text: str) -> str:
    """The text with links, addresses and handles blanked, and hyphens and dashes as spaces,
    every offset kept: "Washington-led" is two words, and so is "talks—and" (American style
    sets dashes without spaces). A link or a handle is often the outlet's own, on every report
    it sends; as a term it would be a rare name they all share."""
    if "://" in text or "www." in text or "@" in text:
        text = _LINK.sub(_blank, text)
    for dash in DASHES:
        if dash in text:
            text = text.replace(dash, " ")
    return text


def _blank(match: re.Match[str]) -> str:
    return " " * len(match[0])


def _remember(token: str) -> tuple[str, int]:
    """Classify a token through the caches, adding it when new (the caches are bounded)."""
    key = _key_cache.get(token)
    if key is not None:
        return key, _kind_cache[token]
    if len(_key_cache) >= CACHE_LIMIT:
        _key_cache.clear()
        _kind_cache.clear()
    key, kind = _classify(token)
    _key_cache[token] = key
    _kind_cache[token] = kind
    return key, kind


def folded(stem: str) -> str:
    """A Snowball stem with the endings that transliterations of one name vary in folded into
    one ("zelenskyy", "zelenskiy", "zelenskii" and Snowball's "zelenski" from "Zelensky";
    "dmitriy" and "dmitri"): outlets spell such names their own way, and as different terms
    one report's name would be another's new one."""
    if len(stem) > 4 and stem.endswith(_VARIANT_ENDINGS):
        return stem[:-2] + "i"
    return stem


def stemmed_terms(words: list[str]) -> list[str]:
    """The terms lower-case words become when they are stemmed: a place's old spelling taken as
    its new one, Snowball-stemmed, a transliteration's ending folded. (Stop words, number and
    calendar words and relative days are keyed otherwise, see :func:`term_of`.)"""
    respelled = [RESPELLED_PLACES.get(word, word) for word in words]
    return list(map(folded, _stemmer.stemWords(respelled)))


def term_of(word: str) -> str:
    """The term a single word as written becomes ("" for a stop word or noise)."""
    return _classify(word)[0]


def _classify(raw: str) -> tuple[str, int]:
    """The term key ("" for a stop word or noise) and kind bits of one token as written."""
    token = raw.strip(_EDGE_PUNCTUATION)
    if not token:
        return "", 0
    if token[0].isdigit():
        return token.replace(",", ""), NUMERIC
    lower = token.lower().replace("’", "'")
    if lower.endswith("'s"):
        lower = lower[:-2]
    is_acronym = "." in lower
    if is_acronym or "," in lower:
        lower = lower.replace(".", "").replace(",", "")
    kind = 0
    if token[0].isupper() and lower not in HONORIFICS:
        kind = CAPITALISED
        if len(lower) > 1 and (token.isupper() or is_acronym):
            kind |= ALL_CAPS
    if lower in STOP_WORDS:
        # "US" in capitals is the country, not the pronoun.
        return ("us", kind) if lower == "us" and kind & ALL_CAPS else ("", 0)
    if len(lower) < 2 or "'" in lower:
        return "", 0
    if lower in NUMBER_WORDS:
        return lower, NUMERIC
    if lower in CALENDAR_WORDS:
        return lower, CALENDAR
    if lower in RELATIVE_DAYS:
        return lower, 0
    return stemmed_terms([lower])[0], kind
