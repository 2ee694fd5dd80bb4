"""The identity of an article's text, apart from the SQL layer so that processes preparing
texts ahead of storage compute it without loading the database machinery."""

from __future__ import annotations

import hashlib


def text_hash(title: str, body: str) -> str:
    """The identity of an article's text: whitespace- and case-folded.

    A body long enough to stand alone is hashed without its title, so a re-titled copy is
    still the same article; a short item (a headline-only feed entry) needs its title.
    """
    normal_body = " ".join(body.split()).casefold()
    basis = normal_body if len(normal_body) >= 200 else " ".join(f"{title}\n{body}".split()).casefold()
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()
