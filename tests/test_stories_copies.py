"""Near-duplicate detection: MinHash sketches of shingles and the LSH index over them."""

from __future__ import annotations

import pickle

import pytest

from monitor.stories.copies import CopyIndex, resemblance
from monitor.stories.text import analyse

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
BODY = " ".join(
    f"The {first} met the {second} near {third} on {number} occasions."
    for number, (first, second, third) in enumerate(zip(WORDS, WORDS[3:], WORDS[6:], strict=False))
)
UNRELATED = (
    "Completely different words about weather, football and the stock market. "
    "Rain is expected in the north, the league resumes on Saturday and shares fell."
)


def test_resemblance_tells_copies_from_rewrites() -> None:
    original = analyse("", BODY).sketch
    edited = analyse("", BODY.replace("near", "beside", 1)).sketch
    half = analyse("", BODY[: len(BODY) // 2]).sketch
    unrelated = analyse("", UNRELATED).sketch
    assert resemblance(original, original) == 1.0
    assert resemblance(original, edited) > 0.8
    assert 0.2 < resemblance(original, half) < 0.8
    assert resemblance(original, unrelated) < 0.1
    assert resemblance(original, None) == resemblance(None, original) == 0.0


@pytest.mark.parametrize(
    "furniture",
    [
        "Read more: https://example.com/story",
        "Follow @Reuters on X.",
        "Copyright 2026 Reuters. All rights reserved.",
    ],
)
def test_a_sketch_ignores_furniture_and_stop_words_but_not_word_order(furniture: str) -> None:
    original = analyse("", BODY).sketch
    reshuffled = analyse("", " ".join(reversed(BODY.split()))).sketch
    assert resemblance(original, analyse("", BODY + "\n" + furniture).sketch) == 1.0
    assert resemblance(original, analyse("", BODY.replace(" the ", " a ")).sketch) == 1.0
    assert resemblance(original, reshuffled) < 0.2


def test_a_body_of_one_term_is_sketched_by_it() -> None:
    one = analyse("", "Geneva.").sketch
    assert one is not None
    assert resemblance(one, analyse("", "GENEVA!").sketch) == 1.0
    assert resemblance(one, analyse("", "Kyiv.").sketch) == 0.0


def test_a_sketch_crosses_processes_with_its_analysis() -> None:
    analysis = analyse("", BODY)
    back = pickle.loads(pickle.dumps(analysis))
    assert analysis.sketch is not None and back.sketch is not None
    assert back.sketch.digest() == analysis.sketch.digest()
    assert pickle.loads(pickle.dumps(analyse("", ""))).sketch is None


def test_the_index_finds_copies_with_their_resemblance() -> None:
    index = CopyIndex(duplicate_threshold=0.7)
    index.add(1, analyse("", BODY).sketch)
    index.add(2, analyse("", UNRELATED).sketch)
    found = dict(index.candidates(analyse("", BODY.replace("near", "beside", 1)).sketch))
    assert list(found) == [1]
    assert found[1] > 0.8
    assert len(index) == 2


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.9])
def test_the_index_finds_every_copy_at_its_threshold(threshold: float) -> None:
    # A copy of each of 200 bodies with the end rewritten: whatever the resemblance left, a
    # copy resembling its original at least as much as the threshold must be found.
    index = CopyIndex(duplicate_threshold=threshold)
    originals = {}
    for number in range(200):
        words = [f"w{number}x{position}" for position in range(60)]
        originals[number] = words
        index.add(number, analyse("", " ".join(words) + ".").sketch)
    missed = 0
    for number, words in originals.items():
        kept = 60 - number % 30
        copy = analyse("", " ".join(words[:kept] + [f"new{position}" for position in range(60 - kept)]) + ".")
        assert copy.sketch is not None
        found = dict(index.candidates(copy.sketch))
        original = index.sketch(number)
        if resemblance(copy.sketch, original) >= threshold and number not in found:
            missed += 1
        assert set(found) <= set(originals)
    assert missed <= 2  # the index's design recall is 0.99 at the threshold itself


def test_the_index_forgets_and_replaces_sketches() -> None:
    index = CopyIndex(duplicate_threshold=0.7)
    sketch = analyse("", BODY).sketch
    index.add(1, sketch)
    index.add(1, analyse("", UNRELATED).sketch)  # a revision replaces the earlier text
    assert index.candidates(sketch) == []
    index.add(2, sketch)
    index.remove(2)
    index.remove(2)  # removing twice is harmless: an evicted story's articles may be gone
    index.add(3, None)  # a body of no terms has nothing to find
    assert index.candidates(sketch) == []
    assert len(index) == 1
