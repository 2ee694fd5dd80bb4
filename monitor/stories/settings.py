"""The story engine's configuration: one documented default set, overridable under ``stories:``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from monitor import defaults
from monitor.durations import Duration


class StorySettings(BaseModel):
    """Tunable thresholds of the story engine; every default is explained in monitor.defaults.

    ``window`` is a duration as users write it (``3d``, ``72h``) or seconds.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: Duration = Field(default=defaults.STORY_WINDOW_SECONDS, gt=0)
    join_threshold: float = Field(default=defaults.STORY_JOIN_THRESHOLD, gt=0, le=1)
    duplicate_threshold: float = Field(default=defaults.STORY_DUPLICATE_THRESHOLD, gt=0, le=1)
    novelty_threshold: float = Field(default=defaults.STORY_NOVELTY_THRESHOLD, gt=0, le=1)
    max_novel_sentences: int = Field(default=defaults.STORY_MAX_NOVEL_SENTENCES, ge=0)
    max_postings_per_term: int = Field(default=defaults.STORY_MAX_POSTINGS_PER_TERM, ge=1)
    max_stories: int = Field(default=defaults.STORY_MAX_STORIES, ge=1)
    reference_documents: int = Field(default=defaults.STORY_REFERENCE_DOCUMENTS, ge=0)
