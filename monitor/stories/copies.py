"""Near-duplicate detection: MinHash sketches of articles' shingles, and an LSH index over them.

Two bodies are copies when they share almost all of their *shingles*, the pairs of consecutive
terms: wire copy re-published with other furniture, a changed headline or a few edited words
keeps nearly all of them, a rewrite of the same facts few. Their Jaccard resemblance is
estimated from MinHash sketches, and the copies of a new article are found through
locality-sensitive hashing (banding) of the sketches, both from datasketch, so finding them
costs the same however many articles the window holds.

The terms arrive already hashed, with a hash that is the same in every process (see
:mod:`monitor.stories.text`), so a sketch made in a helper process compares with one made here.
"""

from __future__ import annotations

from functools import cache
from typing import Final

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

#: Hash functions per sketch. The estimate's standard error is sqrt(J (1 - J) / 64): 0.06 at a
#: resemblance of 0.7, where copies are told from rewrites.
SKETCH_PERMUTATIONS: Final = 64
#: The index must find a copy that only just reaches the duplicate threshold with at least this
#: probability; what it finds besides is checked against the sketches, at some 2 µs each.
RECALL_AT_THRESHOLD: Final = 0.99
_SEED: Final = 1
_SCHEME: Final = "affine32"
# 64-bit mixing constants (golden ratio; splitmix64's finaliser) for the term-pair hash.
_PAIR_MULTIPLIER: Final = np.uint64(0x9E3779B97F4A7C15)
_MIX_1: Final = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2: Final = np.uint64(0x94D049BB133111EB)
_LOW_32_BITS: Final = np.uint64(0xFFFFFFFF)


def sketch_of(term_hashes: np.ndarray) -> LeanMinHash | None:
    """The MinHash sketch of a body's shingles, from the 64-bit hashes of its terms in order
    (stop words left out); a body of one term is sketched by that term."""
    if not len(term_hashes):
        return None
    words = term_hashes.astype(np.int64).view(np.uint64)
    if len(words) == 1:
        shingles = words
    else:
        shingles = words[:-1] * _PAIR_MULTIPLIER + words[1:]
        shingles ^= shingles >> np.uint64(30)
        shingles *= _MIX_1
        shingles ^= shingles >> np.uint64(27)
        shingles *= _MIX_2
        shingles ^= shingles >> np.uint64(31)
    minhash = MinHash(
        num_perm=SKETCH_PERMUTATIONS,
        seed=_SEED,
        hashfunc=int,  # the shingles are hashes already
        permutations=_permutations(),
        scheme=_SCHEME,
    )
    minhash.update_batch((shingles & _LOW_32_BITS).tolist())
    sketch: LeanMinHash = LeanMinHash(minhash)
    return sketch


def resemblance(left: LeanMinHash | None, right: LeanMinHash | None) -> float:
    """Estimated Jaccard resemblance of two bodies' shingles (0 when either has none)."""
    if left is None or right is None:
        return 0.0
    return float(left.jaccard(right))


def sketch_bytes(sketch: LeanMinHash | None) -> bytes:
    """The sketch as bytes, to cross between processes (empty for None)."""
    return b"" if sketch is None else sketch.hashvalues.tobytes()


def sketch_from_bytes(data: bytes) -> LeanMinHash | None:
    if not data:
        return None
    sketch: LeanMinHash = LeanMinHash(seed=_SEED, hashvalues=np.frombuffer(data, np.uint32), scheme=_SCHEME)
    return sketch


class CopyIndex:
    """The sketches of the articles in the window, by article id, with an LSH index over them."""

    def __init__(self, duplicate_threshold: float) -> None:
        self._index = MinHashLSH(num_perm=SKETCH_PERMUTATIONS, params=_bands_for(duplicate_threshold))
        self._sketches: dict[int, LeanMinHash] = {}

    def add(self, article_id: int, sketch: LeanMinHash | None) -> None:
        """Hold an article's sketch (replacing an earlier one of the same article)."""
        self.remove(article_id)
        if sketch is not None:
            self._sketches[article_id] = sketch
            self._index.insert(article_id, sketch, check_duplication=False)

    def sketch(self, article_id: int) -> LeanMinHash | None:
        return self._sketches.get(article_id)

    def candidates(self, sketch: LeanMinHash) -> list[tuple[int, float]]:
        """Articles likely to resemble ``sketch`` as much as the duplicate threshold, each with
        its estimated resemblance."""
        sketches = self._sketches
        found = self._index.query(sketch)
        return [(article_id, resemblance(sketch, sketches[article_id])) for article_id in found]

    def remove(self, article_id: int) -> None:
        if self._sketches.pop(article_id, None) is not None:
            self._index.remove(article_id)

    def __len__(self) -> int:
        return len(self._sketches)


@cache
def _permutations() -> np.ndarray:
    # Drawing them costs more than sketching an article: every sketch shares one set.
    permutations: np.ndarray = MinHash(num_perm=SKETCH_PERMUTATIONS, seed=_SEED, scheme=_SCHEME).permutations
    return permutations


@cache
def _bands_for(threshold: float) -> tuple[int, int]:
    """(bands, rows per band): the most rows per band (the fewest chance candidates) with which
    two sketches resembling each other exactly as much as ``threshold`` still share a whole
    band with probability RECALL_AT_THRESHOLD."""
    for rows in range(SKETCH_PERMUTATIONS, 0, -1):
        bands = SKETCH_PERMUTATIONS // rows
        if 1.0 - (1.0 - threshold**rows) ** bands >= RECALL_AT_THRESHOLD:
            return bands, rows
    return SKETCH_PERMUTATIONS, 1
