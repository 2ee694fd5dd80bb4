"""The story engine's candidate lookup: term -> the stories that used it lately.

It keeps a fixed number of stories per term, so a lookup costs the same whether a thousand or
a million articles were stored, and forgets a story as soon as it is evicted. It is plain
dicts: the engine holds hundreds of thousands of terms. (Copies are found through
:mod:`monitor.stories.copies`.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from itertools import chain


class TermIndex:
    """Term -> the stories that used it lately, least recently active first, at most ``cap`` each."""

    def __init__(self, cap: int) -> None:
        self._cap = cap
        # Most terms (names above all) belong to one story: a 1-tuple holds it. Beyond that a
        # dict keeps insertion order, and re-inserting a story moves it to the most recent end.
        self._postings: dict[str, tuple[int] | dict[int, None]] = {}

    def add(self, story_id: int, terms: Iterable[str]) -> None:
        postings = self._postings
        for term in terms:
            stories = postings.get(term)
            if stories is None:
                postings[term] = (story_id,)
            elif isinstance(stories, tuple):
                if stories[0] != story_id:
                    postings[term] = {stories[0]: None, story_id: None} if self._cap > 1 else (story_id,)
            else:
                if story_id in stories:
                    del stories[story_id]
                elif len(stories) >= self._cap:
                    del stories[next(iter(stories))]
                stories[story_id] = None

    def candidates(self, terms: Iterable[str]) -> Counter[int]:
        """Each story sharing a query term, with the number of terms it shares."""
        return Counter(chain.from_iterable(filter(None, map(self._postings.get, terms))))

    def remove(self, story_id: int, terms: Iterable[str]) -> None:
        postings = self._postings
        for term in terms:
            stories = postings.get(term)
            if stories is None:
                continue
            if isinstance(stories, tuple):
                if stories[0] == story_id:
                    del postings[term]
                continue
            stories.pop(story_id, None)
            if not stories:
                del postings[term]

    def __len__(self) -> int:
        return len(self._postings)
