"""How often each term occurs in English at large: a reference corpus the stream's own counts add to.

Inverse document frequencies learned from the stream alone know nothing at first: the first
report of a new kind of event ("earthquake", "rehab", "arrested") finds its words as unseen as
the names that tell one such event from another, so two earthquakes look alike. The engine
therefore counts a term's documents as if the stream followed a reference corpus of general
English (``stories.reference_documents`` documents, 10,000 by default) in which the term
occurred as often as word-frequency data says (wordfreq's English list, built from Wikipedia,
subtitles, news, books and the web). A common word starts out common; a name, or a word that
general English rarely uses, starts out rare; and as the stream grows, its own counts take over.

Terms are keyed as the text analysis makes them (:func:`monitor.stories.tokens.stemmed_terms`:
Snowball stems of a place's new spelling, with transliterations' endings folded), so a stem's
frequency is the sum of its spellings' (``arrest``: "arrest", "arrested", "arrests", ...),
except the number and calendar words the analysis keeps as written ("dozens", "january"), which
are looked up as written too; under their stems ("dozen", "januari") they would be missed, and
weigh as a name general English never uses. Only words at least :data:`MIN_WORD_FREQUENCY`
common are kept: rarer ones would count in fewer than a handful of reference documents, which
is what an unseen term counts as anyway, and leaving them out keeps the table small (some
63,000 stems, a few MB).

Building the table takes a few tenths of a second and imports wordfreq (some 40 MB with its
word list), so the first process to build it keeps it in the user's cache directory
(``$MONITOR_CACHE_DIR``, else ``$XDG_CACHE_HOME/monitor``, else ``~/.cache/monitor``), under
a name that changes with wordfreq's and the stemmer's versions; later processes load it in a
few milliseconds. A cache that cannot be read is rebuilt, and one that cannot be written is
skipped: the table is then built in memory each time, which changes nothing but start-up.
"""

from __future__ import annotations

import contextlib
import logging
import marshal
import math
import os
from collections.abc import Mapping
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Final

import Stemmer

from monitor.stories.tokens import stemmed_terms
from monitor.stories.words import CALENDAR_WORDS, NUMBER_WORDS

log = logging.getLogger(__name__)

#: A reference document's length in words (a news article's), which turns a word's frequency
#: per word into the share of documents using it.
REFERENCE_DOCUMENT_WORDS: Final = 400
#: Rarer words are left out of the table (see the module docstring).
MIN_WORD_FREQUENCY: Final = 1e-7
#: wordfreq's largest English list; its buckets are frequencies in centibels (0.1 dB).
_WORDLIST: Final = "large"
_LANGUAGE: Final = "en"
#: Bumped whenever the way the table is built changes, so an older cache is not read.
_TABLE_FORMAT: Final = 4
#: Words the text analysis keeps unstemmed, keyed here as written.
_UNSTEMMED: Final = NUMBER_WORDS | CALENDAR_WORDS


@cache
def stem_frequencies() -> Mapping[str, float]:
    """Stem -> its frequency per word of general English, for stems at least
    :data:`MIN_WORD_FREQUENCY` common: from the cache, else built (and cached)."""
    path = cache_path()
    table = _load(path)
    if table is None:
        table = build_table()
        _store(path, table)
    return table


def cache_path() -> Path:
    """Where the table is cached: its name says which data and code built it."""
    directory = os.environ.get("MONITOR_CACHE_DIR")
    if not directory:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        directory = os.path.join(base, "monitor")
    name = (
        f"reference-{_LANGUAGE}-wordfreq{version('wordfreq')}-pystemmer{Stemmer.version()}"
        f"-{MIN_WORD_FREQUENCY:g}-v{_TABLE_FORMAT}.marshal"
    )
    return Path(directory) / name


def build_table() -> dict[str, float]:
    """The table, from wordfreq's English word list."""
    from wordfreq import available_languages, read_cBpack

    buckets = read_cBpack(available_languages(_WORDLIST)[_LANGUAGE])
    # Bucket i holds the words of frequency 10^(-i/100).
    last_bucket = round(-100 * math.log10(MIN_WORD_FREQUENCY))
    words: list[str] = []
    frequencies: list[float] = []
    for bucket, bucket_words in enumerate(buckets[: last_bucket + 1]):
        kept = [word for word in bucket_words if word.isalnum()]
        words += kept
        frequencies += [10.0 ** (-bucket / 100)] * len(kept)
    table: dict[str, float] = {}
    for word, stem, frequency in zip(words, stemmed_terms(words), frequencies, strict=True):
        term = word if word in _UNSTEMMED else stem
        table[term] = table.get(term, 0.0) + frequency
    return table


def _load(path: Path) -> dict[str, float] | None:
    try:
        table = marshal.loads(path.read_bytes())  # five times faster than marshal.load(file)
    except FileNotFoundError:
        return None
    except (OSError, EOFError, ValueError, TypeError) as error:
        log.warning("rebuilding the reference word table: cannot read %s (%s)", path, error)
        return None
    if not isinstance(table, dict) or not table:
        log.warning("rebuilding the reference word table: %s is not one", path)
        return None
    return table


def _store(path: Path, table: dict[str, float]) -> None:
    # Written aside and renamed into place, so a reader never sees half a table.
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(marshal.dumps(table))
        os.replace(partial, path)
    except OSError as error:
        log.info("the reference word table is not cached (%s): it is rebuilt at each start", error)
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
