"""How often each term occurs in English at large: a reference corpus the stream's own counts add to.

Inverse document frequencies learned from the stream alone know nothing at first: the first
report of a new kind of event ("earthquake", "rehab", "arrested") finds its words as unseen as
the names that tell one such event from another, so two earthquakes look alike. The engine
therefore counts a term's documents as if the stream followed a reference corpus of general
English (``stories.reference_documents`` documents, 10,000 by default) in which the term
occurred as often as word-frequency data says (wordfreq's English list, built from Wikipedia,
subtitles, news, books and the web). A common word starts out common; a name, or a word that
general English rarely uses, starts out rare; and as the stream grows, its own counts take over.

Terms are Snowball stems, so a stem's frequency is the sum of its spellings' (``arrest``:
"arrest", "arrested", "arrests", ...). Only words at least :data:`MIN_WORD_FREQUENCY` common
are kept: rarer ones would count in fewer than a handful of reference documents, which is
what an unseen term counts as anyway, and leaving them out keeps the table small (some 63,000
stems, a few MB). The table is built once per process, on first use (about 0.2 s).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cache
from typing import Final

import Stemmer

#: A reference document's length in words (a news article's), which turns a word's frequency
#: per word into the share of documents using it.
REFERENCE_DOCUMENT_WORDS: Final = 400
#: Rarer words are left out of the table (see the module docstring).
MIN_WORD_FREQUENCY: Final = 1e-7
#: wordfreq's largest English list; its buckets are frequencies in centibels (0.1 dB).
_WORDLIST: Final = "large"
_LANGUAGE: Final = "en"


@cache
def stem_frequencies() -> Mapping[str, float]:
    """Stem -> its frequency per word of general English, for stems at least
    :data:`MIN_WORD_FREQUENCY` common."""
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
    for stem, frequency in zip(Stemmer.Stemmer("english").stemWords(words), frequencies, strict=True):
        table[stem] = table.get(stem, 0.0) + frequency
    return table
