"""The story engine: group reports of one event, tell copies from updates, say what is new."""

from monitor.stories.engine import Assignment, StoryDoc, StoryEngine
from monitor.stories.settings import StorySettings

__all__ = ["Assignment", "StoryDoc", "StoryEngine", "StorySettings"]
