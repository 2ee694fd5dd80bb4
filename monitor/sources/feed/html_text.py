"""HTML fragments from feeds turned into clean text: one paragraph per line.

Scripts, styles and other non-content elements are dropped with their text, entities are
decoded, whitespace inside a paragraph collapses to single spaces, and every block element
(``<p>``, ``<div>``, ``<li>``, ``<br>``, headings...) ends a paragraph.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser

#: Elements whose text is never article text: code and embeds, and the page furniture that
#: full-content feeds carry along (related links, share buttons, sign-up forms, footers), which
#: would otherwise bring other stories' names into this one's terms.
_DROPPED = [
    "script",
    "style",
    "noscript",
    "template",
    "iframe",
    "object",
    "embed",
    "svg",
    "math",
    "head",
    "nav",
    "aside",
    "footer",
    "form",
    "button",
]

#: The line WordPress feeds end every item with ("The post X appeared first on Y.").
_WORDPRESS_TRAILER = re.compile(r"The post .+ appeared first on .+")

#: Elements that start and end a paragraph of text.
_BLOCKS = (
    "address,article,aside,blockquote,br,caption,dd,details,div,dl,dt,figcaption,figure,footer,"
    "h1,h2,h3,h4,h5,h6,header,hr,li,main,nav,ol,p,pre,section,summary,table,td,th,tr,ul"
)

#: Marks a paragraph break in the flattened text; never produced by the parser itself, and a
#: stray one in the input only adds a harmless break.
_BREAK = "\u2029"


def html_to_text(html: str) -> str:
    """Clean text of an HTML fragment, paragraphs joined with ``"\\n"``."""
    if "<" not in html and "&" not in html:
        return plain_text(html)
    tree = LexborHTMLParser(html)
    tree.strip_tags(_DROPPED, recursive=True)
    body = tree.body
    if body is None:
        return ""
    for node in body.css(_BLOCKS):
        node.insert_before(_BREAK)
        node.insert_after(_BREAK)
    text = _join_paragraphs(body.text(separator="").split(_BREAK))
    head, _, last = text.rpartition("\n")
    return head if _WORDPRESS_TRAILER.fullmatch(last) else text


def plain_text(text: str) -> str:
    """Plain text tidied like :func:`html_to_text` output: blank lines separate paragraphs.

    Single line breaks inside a paragraph are only wrapping, so they become spaces.
    """
    return _join_paragraphs(text.replace("\r\n", "\n").split("\n\n"))


def _join_paragraphs(pieces: list[str]) -> str:
    paragraphs = (" ".join(piece.split()) for piece in pieces)
    return "\n".join(p for p in paragraphs if p)
