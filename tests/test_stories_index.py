"""The engine's bounded indexes: postings capped per key, entries removed with their story."""

from __future__ import annotations

from monitor.stories.index import SketchIndex, TermIndex


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


def test_sketch_index_finds_articles_sharing_enough_hashes() -> None:
    index = SketchIndex()
    index.add(10, [1, 2, 3, 4, 5])
    index.add(11, [6, 7, 9])
    assert index.candidates([1, 2, 3, 9], min_shared=3) == [10]
    assert sorted(index.candidates([1, 2, 3, 9], min_shared=1)) == [10, 11]
    index.remove(10, [1, 2, 3, 4, 5])
    assert index.candidates([1, 2, 3, 9], min_shared=1) == [11]
    assert len(index) == 3


def test_sketch_index_remembers_the_latest_holder_of_a_hash() -> None:
    index = SketchIndex()
    index.add(1, [7, 8])
    index.add(2, [7, 8])  # a copy of article 1
    assert index.candidates([7, 8], min_shared=2) == [2]
    index.remove(1, [7, 8])  # removing the older copy leaves the newer one findable
    assert index.candidates([7, 8], min_shared=2) == [2]
