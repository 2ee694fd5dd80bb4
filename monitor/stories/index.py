"""Bounded lookup structures of the story engine: term -> stories, and shingle hash -> article.

Both keep a fixed number of entries per key, so a lookup costs the same whether a thousand or
a million articles were stored, and both forget a story or an article as soon as it is
evicted. They are plain dicts: the engine holds hundreds of thousands of them.
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


class SketchIndex:
    """Shingle hash -> the latest article whose duplicate sketch holds it.

    Copies of one text share their hashes; remembering only the latest holder still leads a
    new copy to a copy of its text, which is all duplicate detection needs, at one int per hash.
    """

    def __init__(self) -> None:
        self._articles: dict[int, int] = {}

    def add(self, article_id: int, sketch: Iterable[int]) -> None:
        self._articles.update(dict.fromkeys(sketch, article_id))

    def candidates(self, sketch: Iterable[int], min_shared: int) -> list[int]:
        """Articles holding at least ``min_shared`` of the hashes of ``sketch``."""
        shared: Counter[int | None] = Counter(map(self._articles.get, sketch))
        shared.pop(None, None)
        return [
            article_id
            for article_id, count in shared.items()
            if article_id is not None and count >= min_shared
        ]

    def remove(self, article_id: int, sketch: Iterable[int]) -> None:
        articles = self._articles
        for value in sketch:
            if articles.get(value) == article_id:
                del articles[value]

    def __len__(self) -> int:
        return len(self._articles)
