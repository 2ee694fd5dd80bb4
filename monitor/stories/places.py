"""Country names and demonyms: places too broad to tell one event from another.

"Russia", "Ukraine" and "Ukrainian" turn up in a thousand unrelated reports a month, and a
report of drone strikes shares them, and little else, with a report of peace talks. The story
engine therefore weighs them as ordinary words rather than as names; cities, people and
organisations still weigh more. The list comes from countryinfo: every country's name, its
alternative spellings ("Ukrayina") and its demonyms, each turned into terms the way article
text is. A name of several words counts by its two-word terms ("new zealand", as the text
analysis pairs adjacent names), not by its single words, which may be anything ("new",
"south"). ISO codes ("GUY", "BEN", "AGO") are left out, being words too, except the few
that prose uses as names (:data:`CODES_USED_AS_NAMES`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from itertools import pairwise

from countryinfo import all_countries

from monitor.stories.tokens import term_of

#: Country codes that news prose writes as the country's name.
CODES_USED_AS_NAMES = ("US", "USA", "UK", "UAE")


@cache
def country_terms() -> frozenset[str]:
    """The terms of every country's names and demonyms."""
    terms: set[str] = set()
    for name in _country_names():
        keys = [term_of(word) for word in name.split()]
        if len(keys) == 1:
            terms.add(keys[0])
        else:
            terms.update(f"{first} {second}" for first, second in pairwise(keys) if first and second)
    terms.discard("")
    return frozenset(terms)


def _country_names() -> Iterator[str]:
    yield from CODES_USED_AS_NAMES
    for country in all_countries():
        spellings = [spelling for spelling in country.alt_spellings() if not spelling.isupper()]
        # Some demonyms are lists ("Antiguan,Barbudan").
        demonyms = (country.demonym() or "").split(",")
        for name in [country.name(), *spellings, *demonyms]:
            # Brackets, commas and hyphens part a name's words as spaces do ("Guinea-Bissau",
            # "Cocos (Keeling) Islands"), as the text analysis splits them.
            yield " ".join(re.split(r"[\s(),-]+", name)).strip()
