"""Feed item text and identity: HTML to text, canonical URLs, link resolution, fingerprints.

Tables: tests/data/feed_text_cases.yaml and tests/data/feed_url_cases.yaml.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from monitor.sources.feed import canonical_url, content_fingerprint
from monitor.sources.feed.html_text import html_to_text, plain_text
from monitor.sources.feed.urls import resolve_link

DATA = Path(__file__).parent / "data"
TEXT_CASES: dict[str, list[str]] = yaml.safe_load((DATA / "feed_text_cases.yaml").read_text(encoding="utf-8"))
URL_CASES: dict[str, list[str]] = yaml.safe_load((DATA / "feed_url_cases.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(TEXT_CASES))
def test_html_to_text(name: str) -> None:
    html, expected = TEXT_CASES[name]
    assert html_to_text(html) == expected


def test_plain_text_keeps_paragraphs_and_unwraps_lines() -> None:
    assert (
        plain_text("First line\nwrapped.\r\n\r\nSecond   paragraph.\n\n\n")
        == "First line wrapped.\nSecond paragraph."
    )


@pytest.mark.parametrize("name", sorted(URL_CASES))
def test_canonical_url(name: str) -> None:
    url, expected = URL_CASES[name]
    assert canonical_url(url) == expected
    assert canonical_url(expected) == expected, "canonical form must be stable"


@pytest.mark.parametrize(
    ("link", "base", "expected"),
    [
        ("/a/b", "https://example.com/feed.xml", "https://example.com/a/b"),
        ("c", "https://example.com/dir/feed.xml", "https://example.com/dir/c"),
        ("//cdn.example.net/x", "https://example.com/", "https://cdn.example.net/x"),
        ("https://other.example.org/y", "https://example.com/", "https://other.example.org/y"),
        ("  /padded ", "https://example.com/", "https://example.com/padded"),
        ("javascript:alert(1)", "https://example.com/", None),
        ("mailto:x@example.com", "https://example.com/", None),
        ("", "https://example.com/", None),
        (None, "https://example.com/", None),
    ],
)
def test_resolve_link(link: str | None, base: str, expected: str | None) -> None:
    assert resolve_link(link, base) == expected


def test_fingerprint_ignores_case_whitespace_and_compatibility_forms() -> None:
    reference = content_fingerprint("Floods close roads", "Heavy rain.\nMore rain expected.")
    assert len(reference) == 32
    assert content_fingerprint("  FLOODS   close roads ", "Heavy rain. More rain expected.") == reference
    assert content_fingerprint("Ｆｌｏｏｄｓ close roads", "Heavy rain.\n\nMore rain expected.") == reference


def test_fingerprint_changes_with_the_words() -> None:
    reference = content_fingerprint("Floods close roads", "Heavy rain.")
    assert content_fingerprint("Floods close road", "Heavy rain.") != reference
    assert content_fingerprint("Floods close roads", "Heavy snow.") != reference
    # the title/body boundary matters: moving a word across it is a different item
    assert content_fingerprint("Floods close", "roads Heavy rain.") != reference
