"""Tests for monitor.topics: the topic query language, its tokenizer and its error columns."""

from __future__ import annotations

import timeit
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.errors import ConfigError, QueryError
from monitor.topics import PreparedText, Query, tokenize

HERE = Path(__file__).parent
CASES: dict[str, list[dict[str, Any]]] = yaml.safe_load(
    (HERE / "data" / "topic_query_cases.yaml").read_text(encoding="utf-8")
)
SEEDS = sorted((HERE.parent / "seeds").glob("*.txt"))

UKRAINE_TALKS = (
    "(Ukraine OR Ukrainian OR Kyiv OR Kiev OR Zelenskyy) AND (Russia OR Russian OR Kremlin OR Moscow) "
    'AND (talks OR negotiat* OR "peace deal" OR ceasefire OR envoy)'
)


def _case_id(case: dict[str, Any]) -> str:
    return f"{case['query']!r}~{case.get('text', '')!r}"[:80]


@pytest.mark.parametrize("case", CASES["matches"], ids=_case_id)
def test_query_matches_table(case: dict[str, Any]) -> None:
    parts = (case["title"], case["text"]) if "title" in case else (case["text"],)
    assert Query.parse(case["query"]).matches(PreparedText.of(*parts)) is case["expected"]


@pytest.mark.parametrize("case", CASES["bad_queries"], ids=_case_id)
def test_bad_query_reports_reason_and_column(case: dict[str, Any]) -> None:
    with pytest.raises(QueryError) as caught:
        Query.parse(case["query"])
    assert case["message"] in caught.value.reason
    assert caught.value.column == case["column"]


def test_query_error_names_the_column_and_is_a_config_error() -> None:
    with pytest.raises(QueryError) as caught:
        Query.parse("Ukraine AND (Russia OR Moscow")
    assert str(caught.value) == "unbalanced parenthesis at column 13"
    assert isinstance(caught.value, ConfigError)


def test_nesting_too_deep_is_an_error_not_a_crash() -> None:
    with pytest.raises(QueryError, match="nested more than"):
        Query.parse("(" * 5000 + "Ukraine" + ")" * 5000)
    with pytest.raises(QueryError, match="nested more than"):
        Query.parse("Ukraine " + "NOT " * 5000 + "Russia")
    assert Query.parse("(" * 30 + "Ukraine" + ")" * 30).matches(PreparedText.of("Ukraine"))


def test_seeds_exist() -> None:
    assert len(SEEDS) >= 2


@pytest.mark.parametrize("seed", SEEDS, ids=lambda path: path.name)
def test_contract_query_matches_every_seed(seed: Path) -> None:
    query = Query.parse(UKRAINE_TALKS)
    assert query.matches(PreparedText.of(seed.read_text(encoding="utf-8")))


def test_one_parsed_query_is_reused_across_articles() -> None:
    query = Query.parse(UKRAINE_TALKS)
    assert query.text == UKRAINE_TALKS
    assert query.matches(PreparedText.of("Kremlin envoy in Kyiv", "")) is True
    assert query.matches(PreparedText.of("Kremlin", "weather in Kyiv")) is False
    assert query.matches(PreparedText.of()) is False


def test_terms_are_the_positive_terms_only() -> None:
    query = Query.parse('(Ukraine OR negotiat*) "peace deal" NOT Russia -(Moscow OR Kremlin) NOT NOT Kyiv')
    assert query.terms() == frozenset({"ukraine", "negotiat*", "peace deal", "kyiv"})


def test_matched_terms_explain_a_match() -> None:
    query = Query.parse(UKRAINE_TALKS)
    doc = PreparedText.of("Kyiv and Moscow", "Negotiators met after the peace-deal talks stalled.")
    assert query.matched_terms(doc) == frozenset({"kyiv", "moscow", "negotiat*", "peace deal", "talks"})


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Trump’s envoy, Steve Witkoff", ["trump", "s", "envoy", "steve", "witkoff"]),
        ("Russia-Ukraine war", ["russia", "ukraine", "war"]),
        ("CAFÉ Straße", ["café", "strasse"]),
        ("cafe\u0301", ["café"]),
        ("2026-02-18: U.S. talks", ["2026", "02", "18", "u", "s", "talks"]),
        ("snake_case", ["snake", "case"]),
        ("", []),
        ("¿¡ — !?", []),
    ],
)
def test_tokenize(text: str, words: list[str]) -> None:
    assert tokenize(text) == words


def test_evaluation_is_fast_once_the_article_is_prepared() -> None:
    # A loose bound (the measured figure is well under one microsecond) that still catches an
    # accidental per-evaluation re-tokenisation, which costs around a hundred microseconds.
    article = (SEEDS[0].read_text(encoding="utf-8") * 2)[:3072]
    doc = PreparedText.of("Envoy says talks progress", article)
    query = Query.parse(UKRAINE_TALKS)
    runs = 2000
    seconds = min(timeit.repeat(lambda: query.matches(doc), number=runs, repeat=3)) / runs
    assert seconds < 20e-6
