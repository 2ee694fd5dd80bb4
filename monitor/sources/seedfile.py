"""Read one seed-format text file into a :class:`SeedArticle`: bytes in, plain data out.

The seed format is what a drop folder receives: a plain-text news story with one paragraph
per line, no title line and no markup. This module only interprets bytes; finding files,
the size limit and storage belong to the caller.

Decoding
    A UTF-8 byte-order mark gives ``utf-8-sig``; valid UTF-8 gives ``utf-8``; anything else
    is decoded as ``cp1252`` with the note "decoded as cp1252 fallback". Bytes that cp1252
    leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) make the file undecodable.

Rejections (:class:`~monitor.errors.ArticleRejected`)
    an empty or whitespace-only file; a binary one (a NUL byte, a known binary signature:
    PNG, JPEG, GIF, PDF, ZIP, gzip, ELF, 7-Zip; a UTF-16/32 byte-order mark; or more than 5%
    control bytes); an undecodable one; a date marker with no text after it.

Layout
    CRLF and CR become LF, each line is stripped of surrounding whitespace, stray control
    characters are removed (with a note), and blank lines only separate: the body is the
    non-blank lines joined by "\\n". Typography (curly quotes, dashes) is kept as it is.

Date marker
    The first non-blank line may begin with `` date YYYY-MM-DD `` (the leading space and the
    case of "date" do not matter), followed on the same line by the story's first sentence.
    The date becomes ``published`` at 00:00 UTC. Without a marker, ``published`` is the
    caller's ``mtime`` (a naive one is taken as UTC) and ``published_estimated`` is true. A
    marker whose date does not exist (``2026-13-45``) is still cut from the text, but its
    date is treated as absent and a note says so.

Related headlines
    News sites append a block of "related stories" headlines after the last sentence. The
    longest trailing run of headline-like lines is moved from the body to
    ``related_headlines``. A line is headline-like when it has 3 to 24 words and at most 180
    characters, ends in a letter, digit, ``%`` or ``)`` (no sentence punctuation, no closing
    quote), is not a byline, and is in title case: at least 75% of its words, not counting
    short function words ("of", "in", "as"...), start with a capital, with at least three
    such words. One such line is enough; a sentence-case line without punctuation stays in
    the body. Two or more lines make a block in sentence case as well ("Ukraine says talks
    will resume next week"), each of at most 16 words, as many outlets write headlines that
    way and prose rarely ends twice without punctuation. A label line such as "Related
    stories" just before the block is dropped as well. Only the end of the text is examined,
    so a subheading mid-body stays, and the lead paragraph always stays.

Title
    There is no title line, so the title is the first sentence of the lead paragraph (the
    first line after the marker). That serves both shapes seen in practice: a short headline
    line is its own single sentence, and a standfirst paragraph (often two sentences,
    followed by a blank line) gives its first sentence, which reads better as a title than
    the whole standfirst. Sentences end where :mod:`monitor.sentences` says, the rule story
    analysis uses too: at ``.``, ``!``, ``?`` or ``…`` (plus any closing quotes or brackets)
    followed by whitespace and a capital letter or a digit, perhaps after an opening quote,
    except after a known abbreviation ("Mr.", "Gen.", "Jan."), a single-capital initial
    ("John F. Kennedy") or a dotted acronym ("U.S.", "a.m."). A title longer than
    250 characters is cut at a word boundary and ends in "…". The lead paragraph also stays
    the first paragraph of the body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from monitor.clock import as_utc
from monitor.errors import ArticleRejected
from monitor.sentences import sentence_ends

#: Long enough for a full first sentence of a wire story (the sample seeds reach ~240).
TITLE_MAX_CHARS = 250

#: Binary files with more control bytes than this share are not text.
_MAX_CONTROL_BYTE_RATIO = 0.05

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"%PDF-", "PDF document"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"PK\x05\x06", "ZIP archive"),
    (b"\x1f\x8b", "gzip archive"),
    (b"\x7fELF", "ELF executable"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
)
# Tab, LF and CR are ordinary in text; every other C0 byte and DEL counts as a control byte.
_CONTROL_BYTES = bytes(b for b in range(0x20) if b not in (0x09, 0x0A, 0x0D)) + b"\x7f"
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

_DATE_MARKER = re.compile(r"date\s+(?P<date>(\d{4})-(\d{1,2})-(\d{1,2}))(?:\s+|$)", re.IGNORECASE)


_HEADLINE_MAX_CHARS = 180
_HEADLINE_WORDS = range(3, 25)
_HEADLINE_MIN_CAPITALISED_SHARE = 0.75
_HEADLINE_MIN_CAPITALISED_WORDS = 3
# A sentence-case headline is short; a longer unpunctuated line is more likely prose.
_SENTENCE_CASE_HEADLINE_MAX_WORDS = 16
# Function words that title case leaves in lower case; they count neither way.
_MINOR_WORD_LIST = (
    "a an the and but or nor for so yet as at by in of off on per to up via vs vs. with from "
    "into onto over than"
)
_MINOR_WORDS = frozenset(_MINOR_WORD_LIST.split())
_WORD_EDGE_MARKS = "\"'“”‘’«»()[]"
_BYLINE = re.compile(r"(?:(?:additional\s+)?reporting|written|editing|edited|photos?)?\s*by\b", re.IGNORECASE)
_RELATED_LABEL = re.compile(
    r"(?:related(?:\s+(?:stories|articles|news|coverage|content|links|headlines|reading))?"
    r"|read\s+more|read\s+next|more\s+on\s+this(?:\s+(?:story|topic))?|see\s+also|also\s+read"
    r"|you\s+may\s+also\s+like|recommended(?:\s+for\s+you)?|more\s+stories)\s*:?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SeedArticle:
    """One story read from a seed file; see the module docstring for how each field is derived."""

    title: str
    body: str  # paragraphs joined by "\n", related headlines removed
    published: datetime  # timezone-aware UTC; the date marker at 00:00 UTC, else the given mtime
    published_estimated: bool
    related_headlines: tuple[str, ...]
    encoding: str
    notes: tuple[str, ...]  # human-readable notes, e.g. the cp1252 fallback


def parse_seed(data: bytes, *, mtime: datetime) -> SeedArticle:
    """Interpret a seed file's bytes; ``mtime`` dates it when it has no valid date marker.

    Raises :class:`ArticleRejected` for empty, binary, undecodable or marker-only input.
    """
    text, encoding, decode_notes, may_hold_controls = _decode(data)
    notes = list(decode_notes)
    if may_hold_controls:
        text, removed = _CONTROL_CHARS.subn("", text)
        if removed:
            notes.append(f"removed {removed} control character{'s' if removed != 1 else ''}")

    lines = [line.strip() for line in text.splitlines()]
    first = next((index for index, line in enumerate(lines) if line), None)
    if first is None:
        raise ArticleRejected("empty file (nothing but whitespace and control characters)")

    published = as_utc(mtime)
    estimated = True
    marker = _DATE_MARKER.match(lines[first])
    if marker:
        lines[first] = lines[first][marker.end() :]
        try:
            published = datetime(int(marker[2]), int(marker[3]), int(marker[4]), tzinfo=UTC)
            estimated = False
        except ValueError:
            notes.append(
                f"invalid date marker {marker['date']!r} ignored; "
                "publication time estimated from the file's modification time"
            )

    paragraphs = [line for line in lines[first:] if line]
    if not paragraphs:
        raise ArticleRejected("no text after the date marker")
    body_paragraphs, related = _split_related_headlines(paragraphs)
    return SeedArticle(
        title=_cap_title(_first_sentence(paragraphs[0])),
        body="\n".join(body_paragraphs),
        published=published,
        published_estimated=estimated,
        related_headlines=related,
        encoding=encoding,
        notes=tuple(notes),
    )


def decode_text(data: bytes) -> tuple[str, str, tuple[str, ...]]:
    """Return ``(text, encoding, notes)`` for a text file's bytes, or raise :class:`ArticleRejected`.

    The encoding is ``utf-8-sig``, ``utf-8`` or ``cp1252`` (the fallback, which adds a note).
    Empty, whitespace-only and binary input is rejected here too.
    """
    text, encoding, notes, _ = _decode(data)
    return text, encoding, notes


def _decode(data: bytes) -> tuple[str, str, tuple[str, ...], bool]:
    """:func:`decode_text` plus whether the text may hold control characters to remove.

    Scanning the decoded text for them costs about a quarter of a whole parse, so the byte
    counts decide: C0 controls are the same bytes in every accepted encoding, and C1
    controls can only come from UTF-8 sequences that start with 0xC2.
    """
    if not data:
        raise ArticleRejected("empty file")
    may_hold_controls = _reject_binary(data) > 0 or b"\xc2" in data

    notes: tuple[str, ...] = ()
    payload = data
    if data.startswith(_UTF8_BOM):
        payload = data[len(_UTF8_BOM) :]
        try:
            return _reject_blank(payload.decode("utf-8")), "utf-8-sig", (), may_hold_controls
        except UnicodeDecodeError:
            notes = ("UTF-8 byte-order mark present but the content is not valid UTF-8",)
    else:
        try:
            return _reject_blank(payload.decode("utf-8")), "utf-8", (), may_hold_controls
        except UnicodeDecodeError:
            pass
    try:
        text = payload.decode("cp1252")
    except UnicodeDecodeError as error:
        offset = error.start + len(data) - len(payload)
        raise ArticleRejected(
            f"undecodable: not valid UTF-8, and byte 0x{payload[error.start]:02X} "
            f"at offset {offset} is undefined in cp1252"
        ) from None
    return _reject_blank(text), "cp1252", (*notes, "decoded as cp1252 fallback"), may_hold_controls


def _reject_binary(data: bytes) -> int:
    """Raise if ``data`` is binary; otherwise return how many control bytes it holds."""
    for signature, kind in _BINARY_SIGNATURES:
        if data.startswith(signature):
            raise ArticleRejected(f"binary file ({kind} signature)")
    if data.startswith(_UTF16_BOMS):
        raise ArticleRejected("binary file (UTF-16/UTF-32 byte-order mark; only UTF-8 and cp1252 are read)")
    if b"\x00" in data:
        raise ArticleRejected("binary file (contains NUL bytes)")
    control_bytes = len(data) - len(data.translate(None, _CONTROL_BYTES))
    if control_bytes > _MAX_CONTROL_BYTE_RATIO * len(data):
        raise ArticleRejected(f"binary file ({control_bytes} of {len(data)} bytes are control characters)")
    return control_bytes


def _reject_blank(text: str) -> str:
    if not text.strip():
        raise ArticleRejected("empty file (whitespace only)")
    return text


def _split_related_headlines(paragraphs: list[str]) -> tuple[list[str], tuple[str, ...]]:
    """Split off the trailing headline block, never touching the lead paragraph.

    The block is the run of unpunctuated headline-shaped lines at the end. One such line
    alone must be in title case ("Mayor Vows to Fight Budget Cuts"): a prose paragraph may
    end without its full stop. Two or more may be in sentence case, as many outlets write
    headlines ("Ukraine says talks will resume next week"): prose rarely ends that way twice.
    """
    start = len(paragraphs)
    while start > 1 and _looks_like_headline(paragraphs[start - 1], title_case=False):
        start -= 1
    if len(paragraphs) - start == 1 and not _looks_like_headline(paragraphs[start]):
        start = len(paragraphs)
    if start == len(paragraphs):
        return paragraphs, ()
    body_end = start
    if body_end > 1 and _RELATED_LABEL.fullmatch(paragraphs[body_end - 1]):
        body_end -= 1
    return paragraphs[:body_end], tuple(paragraphs[start:])


def _looks_like_headline(line: str, *, title_case: bool = True) -> bool:
    """A short unpunctuated line that opens with a capital or a figure, not a byline; with
    ``title_case``, most of its words capitalised too."""
    if len(line) > _HEADLINE_MAX_CHARS:
        return False
    tail = line.rstrip(")")
    if not tail or not (tail[-1].isalnum() or tail[-1] == "%"):
        return False
    words = line.split()
    if len(words) not in _HEADLINE_WORDS or _BYLINE.match(line):
        return False
    first_word = words[0].lstrip(_WORD_EDGE_MARKS)
    if not first_word or not (first_word[0].isupper() or first_word[0].isdigit()):
        return False
    if not title_case:
        return len(words) <= _SENTENCE_CASE_HEADLINE_MAX_WORDS
    counted = capitalised = 0
    for word in words:
        core = word.strip(_WORD_EDGE_MARKS)
        if not core or not core[0].isalpha() or core.lower() in _MINOR_WORDS:
            continue
        counted += 1
        capitalised += core[0].isupper()
    return (
        capitalised >= _HEADLINE_MIN_CAPITALISED_WORDS
        and capitalised >= _HEADLINE_MIN_CAPITALISED_SHARE * counted
    )


def _first_sentence(paragraph: str) -> str:
    ends = sentence_ends(paragraph)
    return paragraph[: ends[0]] if ends else paragraph


def _cap_title(sentence: str) -> str:
    if len(sentence) <= TITLE_MAX_CHARS:
        return sentence
    cut = sentence[: TITLE_MAX_CHARS - 1]  # one character is left for the "…"
    if not sentence[len(cut)].isspace():
        space = cut.rfind(" ")
        if space > TITLE_MAX_CHARS // 2:
            cut = cut[:space]
    return cut.rstrip(" ,;:–—-") + "…"
