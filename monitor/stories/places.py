"""Country names and demonyms: places too broad to tell one event from another.

"Russia", "Ukraine" and "Ukrainian" turn up in a thousand unrelated reports a month, and a
report of drone strikes shares them, and little else, with a report of peace talks. The story
engine therefore weighs them as ordinary words rather than as names; cities, people and
organisations still weigh more. The list comes from countryinfo: every country's one-word
name, its one-word alternative spellings ("Ukrayina") and its demonyms, each turned into a
term the way article text is. Multi-word names ("South Korea") are left to their words, and
ISO codes ("GUY", "BEN", "AGO") are left out, being words too, except the few that prose uses
as names (:data:`CODES_USED_AS_NAMES`).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from countryinfo import all_countries

from monitor.stories.text import term_of

#: Country codes that news prose writes as the country's name.
CODES_USED_AS_NAMES = ("US", "USA", "UK", "UAE")


@cache
def country_terms() -> frozenset[str]:
    """The terms of every country's one-word names and demonyms."""
    return frozenset(filter(None, map(term_of, _country_words())))


def _country_words() -> Iterator[str]:
    yield from CODES_USED_AS_NAMES
    for country in all_countries():
        spellings = [spelling for spelling in country.alt_spellings() if not spelling.isupper()]
        # Some demonyms are lists ("Antiguan,Barbudan").
        demonyms = (country.demonym() or "").split(",")
        for word in map(str.strip, [country.name(), *spellings, *demonyms]):
            if word.isalpha():
                yield word
