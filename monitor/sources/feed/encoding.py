"""Which character encoding a fetched XML feed is in, decided the way browsers decide.

Order (WHATWG, as browsers apply it to XML): a byte-order mark; else the ``charset`` of the
HTTP ``Content-Type``; else the XML declaration's ``encoding``; else UTF-8. Labels are mapped
like browsers map them: ``iso-8859-1`` and ``us-ascii`` mean windows-1252, ``gb2312`` means
gb18030. feedparser alone follows RFC 3023 instead (``text/xml`` without a charset would be
US-ASCII and the XML declaration ignored), so :func:`feedparser_headers` hands it the result
as an explicit ``application/xml; charset=...``.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

#: ``<?xm`` in encodings that are not ASCII-compatible, for documents without a BOM.
_MARKERS = (
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"\x4c\x6f\xa7\x94", "cp037"),
)

#: Labels browsers treat as another encoding (WHATWG Encoding Standard).
_BROWSER_LABELS = {
    "ascii": "windows-1252",
    "us-ascii": "windows-1252",
    "ansi_x3.4-1968": "windows-1252",
    "iso-8859-1": "windows-1252",
    "iso8859-1": "windows-1252",
    "iso_8859-1": "windows-1252",
    "latin1": "windows-1252",
    "latin-1": "windows-1252",
    "l1": "windows-1252",
    "cp819": "windows-1252",
    "iso-8859-9": "windows-1254",
    "latin5": "windows-1254",
    "iso-8859-11": "windows-874",
    "tis-620": "windows-874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "utf8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
}

_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';,\s]+)""", re.IGNORECASE)
_XML_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")


def sniff_bom(body: bytes) -> str | None:
    """The encoding a byte-order mark or a non-ASCII ``<?xml`` prefix announces, if any."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    for marker, name in _MARKERS:
        if body.startswith(marker):
            return name
    return None


def header_charset(content_type: str | None) -> str | None:
    match = _CHARSET.search(content_type or "")
    return match.group(1) if match else None


def declared_charset(body: bytes) -> str | None:
    """The ``encoding`` of an ASCII-compatible XML declaration at the start of ``body``."""
    match = _XML_DECLARED.match(body[:512])
    return match.group(1).decode("ascii") if match else None


def browser_label(label: str) -> str | None:
    """A charset label as browsers read it, or ``None`` when Python has no such codec."""
    name = _BROWSER_LABELS.get(label.strip().lower(), label.strip().lower())
    try:
        codecs.lookup(name)
    except LookupError:
        return None
    return name


def document_encoding(body: bytes, content_type: str | None) -> str:
    """The encoding to decode ``body`` with (see the module docstring for the order)."""
    bom = sniff_bom(body)
    if bom:
        return bom
    for label in (header_charset(content_type), declared_charset(body)):
        if label:
            name = browser_label(label)
            if name:
                return name
    return "utf-8"


def feedparser_headers(headers: Mapping[str, str], encoding: str) -> dict[str, str]:
    """Response headers for ``feedparser.parse(response_headers=...)``.

    The content type is replaced so that feedparser decodes with ``encoding`` (it falls back
    to its own guesses only when that fails). ``Content-Location`` is left out on purpose:
    feedparser would resolve non-URL GUIDs against it, so an id would change with the feed's
    address; links are resolved by the caller instead.
    """
    kept = {
        k.lower(): v for k, v in headers.items() if k.lower() in ("content-language", "last-modified", "etag")
    }
    kept["content-type"] = f"application/xml; charset={encoding}"
    return kept
