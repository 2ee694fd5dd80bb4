"""StorySettings: one documented default set, strict overrides."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from monitor import defaults
from monitor.stories import StoryEngine, StorySettings


def test_defaults_come_from_monitor_defaults() -> None:
    settings = StorySettings()
    assert settings.window == defaults.STORY_WINDOW_SECONDS == 3 * 24 * 3600
    assert settings.join_threshold == defaults.STORY_JOIN_THRESHOLD
    assert settings.duplicate_threshold == defaults.STORY_DUPLICATE_THRESHOLD
    assert settings.novelty_threshold == defaults.STORY_NOVELTY_THRESHOLD
    assert settings.max_novel_sentences == defaults.STORY_MAX_NOVEL_SENTENCES == 3
    assert settings.max_postings_per_term == defaults.STORY_MAX_POSTINGS_PER_TERM
    assert settings.max_stories == defaults.STORY_MAX_STORIES
    assert settings.reference_documents == defaults.STORY_REFERENCE_DOCUMENTS


def test_overrides_are_taken() -> None:
    settings = StorySettings.model_validate({"window": 86400.0, "join_threshold": 0.4})
    assert settings.window == 86400.0
    assert settings.join_threshold == 0.4
    assert StoryEngine(settings).settings is settings


def test_unknown_keys_are_rejected() -> None:
    with pytest.raises(ValidationError, match="window_hours"):
        StorySettings.model_validate({"window_hours": 72})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("window", 0),
        ("window", -5),
        ("window", "3 days"),  # durations are written 3d, 72h...
        ("join_threshold", 0),
        ("join_threshold", 1.5),
        ("duplicate_threshold", -0.1),
        ("novelty_threshold", 2),
        ("max_novel_sentences", -1),
        ("max_postings_per_term", 0),
        ("max_stories", 0),
        ("reference_documents", -1),
    ],
)
def test_out_of_range_values_are_rejected(key: str, value: object) -> None:
    with pytest.raises(ValidationError, match=key):
        StorySettings.model_validate({key: value})


def test_settings_are_frozen() -> None:
    settings = StorySettings()
    with pytest.raises(ValidationError):
        settings.join_threshold = 0.9  # type: ignore[misc]


def test_window_is_written_as_a_duration() -> None:
    assert StorySettings.model_validate({"window": "3d"}).window == 3 * 86400
    assert StorySettings.model_validate({"window": "36h"}).window == 36 * 3600
