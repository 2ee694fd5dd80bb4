"""Near-duplicate detection: MinHash sketches of articles' shingles, and an LSH index over them.

Two bodies are copies when they share almost all of their *shingles*, the pairs of consecutive
terms: wire copy re-published with other furniture, a changed headline or a few edited words
keeps nearly all of them, a rewrite of the same facts few. Their Jaccard resemblance is
estimated from MinHash sketches, and the copies of a new article are found through
locality-sensitive hashing (banding) of the sketches, so finding them costs the same however
many articles the window holds. Both come from rensa, a MinHash and LSH library written in
Rust, whose hashes are the same in every process: a sketch made in a helper process compares
with one made here. (datasketch was measured first: importing it loads scipy, a third of a
second of every worker's start-up, and its sketches and index cost the ingest benchmark some
15 % of its throughput and 4 KB more memory per article in the window.)
"""

from __future__ import annotations

from functools import cache
from itertools import pairwise
from typing import Final

from rensa import RMinHash, RMinHashLSH

#: Hash functions per sketch. The estimate's standard error is sqrt(J (1 - J) / 64): 0.06 at a
#: resemblance of 0.7, where copies are told from rewrites.
SKETCH_PERMUTATIONS: Final = 64
#: The index must find a copy that only just reaches the duplicate threshold with at least this
#: probability (a copy resembling its original more is found more surely still); what it finds
#: besides is checked against the sketches.
RECALL_AT_THRESHOLD: Final = 0.98
_SEED: Final = 1


def sketch_of(terms: list[str]) -> RMinHash | None:
    """The MinHash sketch of a body's shingles, from its terms in order (stop words left out);
    a body of one term is sketched by that term, a body of none has no sketch."""
    if not terms:
        return None
    shingles = [first + " " + second for first, second in pairwise(terms)] if len(terms) > 1 else terms
    sketch = RMinHash(SKETCH_PERMUTATIONS, _SEED)
    sketch.update(shingles)
    return sketch


def resemblance(left: RMinHash | None, right: RMinHash | None) -> float:
    """Estimated Jaccard resemblance of two bodies' shingles (0 when either has none)."""
    if left is None or right is None:
        return 0.0
    return float(left.jaccard(right))


class CopyIndex:
    """The sketches of the articles in the window, by article id, with an LSH index over them."""

    def __init__(self, duplicate_threshold: float) -> None:
        bands = _bands_for(duplicate_threshold)
        self._index = RMinHashLSH(duplicate_threshold, SKETCH_PERMUTATIONS, bands)
        self._sketches: dict[int, RMinHash] = {}

    def add(self, article_id: int, sketch: RMinHash | None) -> None:
        """Hold an article's sketch (replacing an earlier one of the same article)."""
        self.remove(article_id)
        if sketch is not None:
            self._sketches[article_id] = sketch
            self._index.insert(article_id, sketch)

    def sketch(self, article_id: int) -> RMinHash | None:
        return self._sketches.get(article_id)

    def candidates(self, sketch: RMinHash) -> list[tuple[int, float]]:
        """Articles likely to resemble ``sketch`` as much as the duplicate threshold, each with
        its estimated resemblance."""
        sketches = self._sketches
        found = self._index.query(sketch)
        return [(article_id, sketch.jaccard(sketches[article_id])) for article_id in found]

    def remove(self, article_id: int) -> None:
        if self._sketches.pop(article_id, None) is not None:
            self._index.remove(article_id)

    def __len__(self) -> int:
        return len(self._sketches)


@cache
def _bands_for(threshold: float) -> int:
    """The fewest bands (the most rows per band, so the fewest chance candidates) with which two
    sketches resembling each other exactly as much as ``threshold`` still share a whole band
    with probability RECALL_AT_THRESHOLD. A band has as many rows as the others: the number of
    bands divides the number of permutations."""
    for bands in range(1, SKETCH_PERMUTATIONS + 1):
        if SKETCH_PERMUTATIONS % bands:
            continue
        rows = SKETCH_PERMUTATIONS // bands
        if 1.0 - (1.0 - threshold**rows) ** bands >= RECALL_AT_THRESHOLD:
            return bands
    return SKETCH_PERMUTATIONS
