"""The shared text helpers of the notifiers, driven by tests/data/notify_render.yaml."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.notify import render

CASES: dict[str, list[dict[str, Any]]] = yaml.safe_load(
    (Path(__file__).parent / "data" / "notify_render.yaml").read_text(encoding="utf-8")
)

FUNCTIONS: dict[str, Callable[[dict[str, Any]], object]] = {
    "single_line": lambda case: render.single_line(case["input"]),
    "paragraph": lambda case: render.paragraph(case["input"]),
    "trim": lambda case: render.trim(case["input"], case["limit"]),
    "slack_escape": lambda case: render.slack_escape(case["input"]),
    "slack_text": lambda case: render.slack_text(case["input"], case["limit"]),
    "safe_link": lambda case: render.safe_link(case["input"]),
    "subject": lambda case: render.subject(case["topic"], case["title"], reply=case["reply"]),
}


@pytest.mark.parametrize(
    ("function", "case"),
    [
        pytest.param(function, case, id=f"{function}: {case['name']}")
        for function in CASES
        for case in CASES[function]
    ],
)
def test_render_table(function: str, case: dict[str, Any]) -> None:
    result = FUNCTIONS[function](case)
    assert result == case["expected"]
    if "limit" in case:
        assert isinstance(result, str) and len(result) <= case["limit"]


def test_every_table_section_has_a_function() -> None:
    assert set(CASES) == set(FUNCTIONS)


@pytest.mark.parametrize("limit", [1, 2, 5, 17, 150])
def test_slack_text_always_fits_whatever_the_mix(limit: int) -> None:
    text = "<&>" * 100 + " word " * 50
    assert len(render.slack_text(text, limit)) <= limit


def test_trim_rejects_a_non_positive_limit() -> None:
    with pytest.raises(ValueError, match="positive"):
        render.trim("abc", 0)


def test_format_published_converts_to_utc_and_reads_naive_as_utc() -> None:
    kyiv_summer = timezone(timedelta(hours=3))
    assert render.format_published(datetime(2024, 5, 1, 17, 3, tzinfo=kyiv_summer)) == "2024-05-01 14:03 UTC"
    assert render.format_published(datetime(2024, 5, 1, 14, 3)) == "2024-05-01 14:03 UTC"


def test_a_date_that_was_only_received_says_so() -> None:
    late_evening_utc = datetime(2024, 5, 1, 23, 30, tzinfo=UTC)
    assert render.format_published(late_evening_utc, estimated=True) == "received 2024-05-01 23:30 UTC"
    assert render.format_published(late_evening_utc, with_time=False) == "2024-05-01"
    # A date without a time of day (midnight UTC exactly) is shown as a date.
    assert render.format_published(datetime(2024, 5, 1, tzinfo=UTC)) == "2024-05-01"
    one_second_past = datetime(2024, 5, 1, 0, 0, 1, tzinfo=UTC)
    assert render.format_published(one_second_past) == "2024-05-01 00:00 UTC"
    kyiv_summer = timezone(timedelta(hours=3))
    after_midnight_in_kyiv = datetime(2024, 5, 2, 1, 30, tzinfo=kyiv_summer)
    assert render.format_published(after_midnight_in_kyiv, estimated=True, with_time=False) == (
        "received 2024-05-01"
    )


def test_plural() -> None:
    assert render.plural(1, "source") == "1 source"
    assert render.plural(3, "source") == "3 sources"
    assert render.plural(2, "story", "stories") == "2 stories"
