"""Tests for monitor.sources.seedfile: the seed-format reader (decoding, date, title, headlines)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.errors import ArticleRejected
from monitor.sources.seedfile import TITLE_MAX_CHARS, SeedArticle, decode_text, parse_seed

REPO_ROOT = Path(__file__).resolve().parent.parent
CASES: dict[str, dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "data" / "seedfile_cases.yaml").read_text(encoding="utf-8")
)
MTIME = datetime(2026, 3, 1, 12, 34, 56, tzinfo=UTC)
NEWLINES = {"crlf": "\r\n", "cr": "\r"}


def case_bytes(case: dict[str, Any]) -> bytes:
    if "raw" in case:
        return str(case["raw"]).encode("latin-1")
    text = (REPO_ROOT / case["file"]).read_bytes().decode("utf-8") if "file" in case else case["text"]
    if "newline" in case:
        text = text.replace("\n", NEWLINES[case["newline"]])
    return str(text).encode(case.get("encode_as", "utf-8"))


@pytest.mark.parametrize("name", sorted(CASES))
def test_seed_case(name: str) -> None:
    case = CASES[name]
    expect = case["expect"]
    article = parse_seed(case_bytes(case), mtime=MTIME)

    if "title" in expect:
        assert article.title == expect["title"]
    if "title_max_len" in expect:
        assert len(article.title) <= expect["title_max_len"]
    if "published" in expect:
        wanted = MTIME if expect["published"] == "mtime" else datetime.fromisoformat(expect["published"])
        assert article.published == wanted
    if "estimated" in expect:
        assert article.published_estimated is expect["estimated"]
    if "headlines" in expect:
        assert len(article.related_headlines) == expect["headlines"], article.related_headlines
    if "headlines_list" in expect:
        assert list(article.related_headlines) == expect["headlines_list"]
    if "paragraphs" in expect:
        assert len(article.body.split("\n")) == expect["paragraphs"], article.body
    if "body_startswith" in expect:
        assert article.body.startswith(expect["body_startswith"]), article.body[:200]
    if "body_endswith" in expect:
        assert article.body.endswith(expect["body_endswith"]), article.body[-200:]
    for fragment in expect.get("body_contains", []):
        assert fragment in article.body
    for fragment in expect.get("body_not_contains", []):
        assert fragment not in article.body
    if "encoding" in expect:
        assert article.encoding == expect["encoding"]
    if "notes" in expect:
        assert list(article.notes) == expect["notes"]
    for fragment in expect.get("notes_contain", []):
        assert any(fragment in note for note in article.notes), article.notes

    assert_well_formed(article)


def assert_well_formed(article: SeedArticle) -> None:
    """Invariants every accepted article keeps, whatever the input."""
    assert article.title and article.title == article.title.strip()
    assert len(article.title) <= TITLE_MAX_CHARS
    assert article.body
    assert "\r" not in article.body and "\n\n" not in article.body
    assert all(line == line.strip() and line for line in article.body.split("\n"))
    assert article.published.tzinfo is not None
    assert article.published.utcoffset() == timedelta(0)
    assert article.encoding in {"utf-8", "utf-8-sig", "cp1252"}


def test_cases_file_covers_both_real_seeds() -> None:
    files = {case.get("file") for case in CASES.values()}
    for seed in sorted((REPO_ROOT / "seeds").glob("*.txt")):
        assert f"seeds/{seed.name}" in files


def test_naive_mtime_is_taken_as_utc() -> None:
    article = parse_seed(b"Undated story.\n", mtime=datetime(2026, 3, 1, 8, 0))
    assert article.published == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert article.published_estimated


def test_aware_mtime_is_converted_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    article = parse_seed(b"Undated story.\n", mtime=datetime(2026, 3, 1, 8, 0, tzinfo=plus_two))
    assert article.published == datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    assert article.published.tzinfo is UTC


def test_date_marker_wins_over_mtime() -> None:
    article = parse_seed(b" date 2020-01-31 Old story.", mtime=MTIME)
    assert article.published == datetime(2020, 1, 31, tzinfo=UTC)
    assert not article.published_estimated


# --- decode_text -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "text", "encoding", "notes"),
    [
        ("Trump’s “deal” – maybe".encode(), "Trump’s “deal” – maybe", "utf-8", ()),
        (b"\xef\xbb\xbfplain", "plain", "utf-8-sig", ()),
        (
            b"Trump\x92s \x93deal\x94 \x96 maybe",
            "Trump’s “deal” – maybe",
            "cp1252",
            ("decoded as cp1252 fallback",),
        ),
    ],
)
def test_decode_text(data: bytes, text: str, encoding: str, notes: tuple[str, ...]) -> None:
    assert decode_text(data) == (text, encoding, notes)


# --- rejections ------------------------------------------------------------------------


def test_rejects_empty_file() -> None:
    with pytest.raises(ArticleRejected, match=r"^empty file$"):
        parse_seed(b"", mtime=MTIME)


def test_rejects_whitespace_only_file() -> None:
    with pytest.raises(ArticleRejected, match="empty file"):
        parse_seed(b" \n\r\n\t  \n", mtime=MTIME)


def test_rejects_bom_only_file() -> None:
    with pytest.raises(ArticleRejected, match="empty file"):
        parse_seed(b"\xef\xbb\xbf\n", mtime=MTIME)


def test_rejects_nul_bytes() -> None:
    with pytest.raises(ArticleRejected, match="NUL"):
        parse_seed(b"Some text\x00 with a NUL byte.\n", mtime=MTIME)


def test_rejects_png_header() -> None:
    with pytest.raises(ArticleRejected, match="PNG image"):
        parse_seed(b"\x89PNG\r\n\x1a\n" + b"IHDR plus some text-looking bytes", mtime=MTIME)


@pytest.mark.parametrize(
    ("magic", "kind"),
    [
        (b"\xff\xd8\xff\xe0", "JPEG image"),
        (b"GIF89a", "GIF image"),
        (b"%PDF-1.7\n", "PDF document"),
        (b"PK\x03\x04", "ZIP archive"),
        (b"\x1f\x8b\x08", "gzip archive"),
    ],
)
def test_rejects_other_binary_signatures(magic: bytes, kind: str) -> None:
    with pytest.raises(ArticleRejected, match=kind):
        parse_seed(magic + b"A perfectly normal sentence follows.", mtime=MTIME)


def test_rejects_utf16_text() -> None:
    with pytest.raises(ArticleRejected, match="UTF-16"):
        parse_seed("A story.".encode("utf-16"), mtime=MTIME)


def test_rejects_mostly_control_characters() -> None:
    with pytest.raises(ArticleRejected, match="control characters"):
        parse_seed(b"ab\x01\x02cd\x03\x04ef\x05\x06 text", mtime=MTIME)


def test_rejects_undecodable_bytes() -> None:
    with pytest.raises(ArticleRejected, match=r"undecodable.*0x81 at offset 5"):
        parse_seed(b"Hello\x81 world.", mtime=MTIME)


def test_rejects_marker_without_text() -> None:
    with pytest.raises(ArticleRejected, match="no text after the date marker"):
        parse_seed(b" date 2026-02-18 \n\n  \n", mtime=MTIME)


# --- robustness ------------------------------------------------------------------------


def random_inputs(count: int) -> list[bytes]:
    """Random bytes, random near-text, and mutilated real seeds, from a fixed seed."""
    rng = random.Random(20260218)
    seeds = [path.read_bytes() for path in sorted((REPO_ROOT / "seeds").glob("*.txt"))]
    alphabet = b" .!?\"'\n\r\tabcXYZ019-" + b" date 2026-02-18 " + "“”’–".encode()
    inputs: list[bytes] = []
    for index in range(count):
        kind = index % 4
        if kind == 0:
            inputs.append(rng.randbytes(rng.randint(0, 64)))
        elif kind == 1:
            inputs.append(bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 200))))
        elif kind == 2:
            mutated = bytearray(rng.choice(seeds))
            for _ in range(rng.randint(1, 8)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            inputs.append(bytes(mutated))
        else:
            seed = rng.choice(seeds)
            start = rng.randrange(len(seed))
            inputs.append(seed[start : start + rng.randint(0, 400)])
    return inputs


def test_random_input_only_ever_raises_article_rejected() -> None:
    accepted = rejected = 0
    for data in random_inputs(400):
        try:
            article = parse_seed(data, mtime=MTIME)
        except ArticleRejected as error:
            assert str(error)
            rejected += 1
        else:
            assert_well_formed(article)
            accepted += 1
    # Both outcomes must occur, or the generator is not exercising the parser.
    assert accepted > 50 and rejected > 50


def test_long_title_is_cut_at_a_word() -> None:
    article = parse_seed(("words " * 60).encode(), mtime=MTIME)
    assert article.title == " ".join(["words"] * 41) + "…"


def test_long_title_without_spaces_is_cut_hard() -> None:
    article = parse_seed(b"x" * 400, mtime=MTIME)
    assert article.title == "x" * (TITLE_MAX_CHARS - 1) + "…"
