"""Refuse XML documents that declare entities, before the feed parser sees them.

Entity declarations are the vehicle of the "billion laughs" and quadratic blow-up attacks
and of external entities (``SYSTEM "file:///etc/passwd"`` or an http URL). Feeds have no
use for them, so the prolog is parsed on its own first (expat, stopping at the root element,
never loading anything external) and every entity declaration is refused except a name for
one character (``<!ENTITY nbsp "&#160;">``, the one form real feeds use). An external DTD
reference such as RSS 0.91's is allowed: nothing ever fetches it.

This is the first of three layers: feedparser also strips unsafe declarations by pattern,
and expat (2.4+) bounds entity amplification and is told not to load external entities.
"""

from __future__ import annotations

import re
from xml.parsers import expat

from monitor.errors import NotAFeed

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


class _RootReached(Exception):
    """The prolog ended without an unsafe declaration."""


def screen_xml(body: bytes, encoding: str) -> None:
    """Raise :class:`NotAFeed` if ``body`` (to be decoded as ``encoding``) declares unsafe entities."""
    try:
        text = body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        # The parser will fall back to other encodings; markup is ASCII in all of those it tries.
        readings = [body.decode(encoding, errors="replace"), body.decode("latin-1")]
    else:
        readings = [text]
    for reading in readings:
        _screen_text(reading)


def _screen_text(text: str) -> None:
    text = _XML_DECLARATION.sub("", text.lstrip("\ufeff"), count=1)
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.EntityDeclHandler = _check_entity

    def stop(name: str, attributes: dict[str, str]) -> None:
        raise _RootReached

    parser.StartElementHandler = stop
    try:
        parser.Parse(text, True)
    except _RootReached:
        return
    except expat.ExpatError:
        # A prolog expat cannot read cannot be vouched for by it: refuse any declaration at all.
        if "<!ENTITY" in text:
            raise NotAFeed(
                "not a feed: a malformed document type declares XML entities, refused for safety"
            ) from None


def _check_entity(
    name: str,
    is_parameter_entity: bool,
    value: str | None,
    base: str | None,
    system_id: str | None,
    public_id: str | None,
    notation_name: str | None,
) -> None:
    if is_parameter_entity or value is None or len(value) != 1:
        kind = "external " if system_id or public_id else ""
        raise NotAFeed(f"not a feed: the document declares the {kind}XML entity {name!r}, refused for safety")
