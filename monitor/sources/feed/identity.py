"""Stable identities for feed items and a fingerprint of their content.

An item's ``external_id`` is its GUID / Atom id / JSON Feed id when the feed gives one that
is unique in the document; otherwise its canonical link; otherwise a hash of its title and
text. :func:`content_fingerprint` lets the store recognise an item whose id changed while
its content did not.
"""

from __future__ import annotations

import hashlib
import unicodedata


def normalise_text(text: str) -> str:
    """Text reduced to what a reader sees: NFKC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def content_fingerprint(title: str, body: str) -> str:
    """A 32-hex-digit hash of the normalised title and body.

    Case, Unicode compatibility forms and whitespace (including line breaks) do not change it;
    any change of words does.
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(normalise_text(title).encode("utf-8"))
    digest.update(b"\x00")
    digest.update(normalise_text(body).encode("utf-8"))
    return digest.hexdigest()


def content_id(title: str, body: str) -> str:
    """The external id of an item that has neither a usable GUID nor a link."""
    return f"hash:{content_fingerprint(title, body)}"
