"""Bounded lookup structures of the story engine: term -> stories, and shingle hash -> articles.

Both keep a fixed number of entries per key (the most recently active ones), so a lookup
costs the same whether a thousand or a million articles were stored, and both forget a
story or an article as soon as it is evicted.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Iterable
from itertools import chain


class TermIndex:
    """Term -> the stories that used it lately, least recently active first, at most ``cap`` each."""

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._postings: dict[str, OrderedDict[int, None]] = {}

    def add(self, story_id: int, terms: Iterable[str]) -> None:
        for term in terms:
            stories = self._postings.get(term)
            if stories is None:
                self._postings[term] = OrderedDict(((story_id, None),))
                continue
            if story_id in stories:
                stories.move_to_end(story_id)
                continue
            stories[story_id] = None
            if len(stories) > self._cap:
                stories.popitem(last=False)

    def candidates(self, terms: Iterable[str]) -> Counter[int]:
        """Each story sharing a query term, with the number of terms it shares."""
        return Counter(chain.from_iterable(filter(None, map(self._postings.get, terms))))

    def remove(self, story_id: int, terms: Iterable[str]) -> None:
        for term in terms:
            stories = self._postings.get(term)
            if stories is None:
                continue
            stories.pop(story_id, None)
            if not stories:
                del self._postings[term]

    def __len__(self) -> int:
        return len(self._postings)


class SketchIndex:
    """Shingle hash -> the articles whose duplicate sketch holds it, at most ``cap`` each."""

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._articles: dict[int, list[int]] = {}

    def add(self, article_id: int, sketch: Iterable[int]) -> None:
        for value in sketch:
            articles = self._articles.setdefault(value, [])
            if article_id not in articles:
                articles.append(article_id)
                if len(articles) > self._cap:
                    del articles[0]

    def candidates(self, sketch: Iterable[int], min_shared: int) -> list[int]:
        """Articles sharing at least ``min_shared`` hashes with ``sketch``."""
        shared = Counter(chain.from_iterable(filter(None, map(self._articles.get, sketch))))
        return [article_id for article_id, count in shared.items() if count >= min_shared]

    def remove(self, article_id: int, sketch: Iterable[int]) -> None:
        for value in sketch:
            articles = self._articles.get(value)
            if articles is not None and article_id in articles:
                articles.remove(article_id)
                if not articles:
                    del self._articles[value]
