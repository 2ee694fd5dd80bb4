"""The engine's term index: postings capped per term, entries removed with their story."""

from __future__ import annotations

from monitor.stories.index import TermIndex


def test_term_index_counts_shared_terms() -> None:
    index = TermIndex(cap=10)
    index.add(1, ["geneva", "umerov", "talk"])
    index.add(2, ["geneva", "drone"])
    assert index.candidates(["geneva", "umerov", "unknown"]) == {1: 2, 2: 1}


def test_term_index_keeps_only_the_most_recently_active_stories_per_term() -> None:
    index = TermIndex(cap=3)
    for story_id in range(1, 6):
        index.add(story_id, ["ukrain"])
    assert set(index.candidates(["ukrain"])) == {3, 4, 5}
    index.add(3, ["ukrain"])  # story 3 is active again: story 4 is now the oldest
    index.add(6, ["ukrain"])
    assert set(index.candidates(["ukrain"])) == {3, 5, 6}


def test_term_index_forgets_removed_stories_and_empty_terms() -> None:
    index = TermIndex(cap=3)
    index.add(1, ["geneva", "umerov"])
    index.add(2, ["geneva"])
    index.remove(1, ["geneva", "umerov", "never-indexed"])
    assert index.candidates(["geneva", "umerov"]) == {2: 1}
    assert len(index) == 1
