"""Online story assignment: which story an incoming article belongs to, and what role it plays.

Articles arrive one at a time, in storage order. :meth:`StoryEngine.assign` decides, without
changing anything, whether the article starts a story or joins one, and as what:

``duplicate``
    a near-identical copy of an article the story holds (estimated Jaccard resemblance of the
    bodies' word-pair shingles at least ``duplicate_threshold``, see
    :mod:`monitor.stories.copies`) that adds no new sentence;
``update``
    it belongs to the story and has informative novel sentences (see
    :mod:`monitor.stories.novelty`), returned in article order;
``related``
    it belongs to the story but says nothing new enough.

An article belongs to the story it resembles most when that resemblance reaches
``join_threshold``: the cosine similarity of its TF-IDF vector (its :data:`VECTOR_TERMS`
strongest terms) with the story's centroid (the sum of its articles' unit vectors). Names and
figures weigh double (see :mod:`monitor.stories.text` for how names are found without a
named-entity library), except the names of countries, which too many unrelated reports share
(:mod:`monitor.stories.places`); document frequencies are learned from the stream itself, and the
similarity decays linearly with the time between the article and the story's nearest report,
by up to a quarter at ``window``; beyond the window a story cannot be joined. A
near-duplicate of a story's article joins that story whatever the cosine says. An article
whose publication time is only estimated (``published_estimated``) is judged by its text
against every story the window holds.

Candidate stories come from an inverted index over each article's highest-weighted terms
(its rarest words and names), capped per term, and copies from an LSH index of the
articles' MinHash sketches, so the cost per article does not grow with the number of
articles stored. Memory is bounded by the window: :meth:`evict` forgets stories whose
latest article is older than it; and by ``max_stories`` whatever the dates: beyond it,
:meth:`add` forgets the stories quiet the longest.

:meth:`add` registers an article once it is stored (also to rebuild the window at start-up,
in arrival order); calling it again with the same article id registers a revision.

Story titles are stable: a story keeps its first article's title. Only a title of fewer than
:data:`MIN_TITLE_WORDS` words (an empty or one-word headline) is replaced, once, by the first
later non-duplicate article with a proper one; a desk recognises a story by its title, and a
title that keeps changing is worse than one that is merely not the best.
"""

from __future__ import annotations

import heapq
import logging
import math
from array import array
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from operator import add, itemgetter, mul
from typing import Final

import numpy as np

from monitor.model import Role
from monitor.stories.copies import CopyIndex, resemblance
from monitor.stories.index import TermIndex
from monitor.stories.novelty import novel_sentences_in
from monitor.stories.places import country_terms
from monitor.stories.reference import REFERENCE_DOCUMENT_WORDS, stem_frequencies
from monitor.stories.settings import StorySettings
from monitor.stories.text import Analysis, analyse

log = logging.getLogger(__name__)

#: Names, two-word names and figures weigh this much more than common words: they tell one
#: event from another of the same kind (two actresses' rehab stays, two earthquakes). Country
#: names and demonyms do not (see :mod:`monitor.stories.places`).
NAME_WEIGHT: Final = 2.0

#: An article is looked up by this many of its highest-weighted terms...
QUERY_TERMS: Final = 16
#: ...and indexed under this many, so rare terms and names lead to its story.
INDEXED_TERMS: Final = 32
#: An article's vector keeps its strongest terms only: the tail of rare-but-incidental words
#: adds cost, not accuracy.
VECTOR_TERMS: Final = 64
#: The best-sharing candidates whose full similarity is computed.
SCORED_CANDIDATES: Final = 6
#: A story's term vector is pruned to its strongest terms beyond this size.
MAX_STORY_TERMS: Final = 6000
#: Document frequencies are pruned (of one-off terms first) beyond this many terms.
MAX_TRACKED_TERMS: Final = 400_000
#: Similarity loses up to this share across the window: a close match still joins a story
#: that went quiet for days, a borderline one only while the story is fresh.
WINDOW_DECAY: Final = 0.25
#: Titles shorter than this are placeholders, replaced by the first proper one.
MIN_TITLE_WORDS: Final = 3
#: An article of at least ROUNDUP_MIN_SENTENCES sentences that puts less than this share of
#: its (squared, unit) weight on its story's terms is mostly about other things: a news
#: roundup or a briefing giving the story one paragraph among many. It joins the story by
#: that paragraph, but only that part of it enters the centroid, or the story would draw in
#: reports of every other item it lists; and only its sentences that use the story's terms
#: can be news of it.
ROUNDUP_SHARE: Final = 0.25
ROUNDUP_MIN_SENTENCES: Final = 3


@dataclass(frozen=True)
class StoryDoc:
    """An article as the story engine sees it."""

    article_id: int
    title: str
    body: str
    published: datetime  # a naive time is taken as UTC
    source: str
    # True when ``published`` is a guess (a file's modification time): time then says nothing
    # about which story the article belongs to, and only its text decides.
    published_estimated: bool = False


@dataclass(frozen=True)
class Assignment:
    """The engine's decision for one article."""

    story_id: int | None  # None: the article starts a new story
    role: Role
    novel_sentences: tuple[str, ...] = ()  # informative novel sentences, in article order
    similarity: float = 0.0


class _Vector:
    """A TF-IDF vector as parallel sequences, strongest term first: a unit one, or a part of one."""

    __slots__ = ("_mapping", "norm_squared", "terms", "weights")

    def __init__(self, terms: Sequence[str], weights: Sequence[float], norm_squared: float = 1.0) -> None:
        self.terms = terms
        self.weights = weights
        self.norm_squared = norm_squared
        self._mapping: dict[str, float] | None = None

    def mapping(self) -> dict[str, float]:
        """Term -> weight (built on first use)."""
        if self._mapping is None:
            self._mapping = dict(zip(self.terms, self.weights, strict=True))
        return self._mapping


@dataclass(slots=True)
class _Story:
    """One story of the window. A story of one article (most of them) is kept compact: its
    article's vector and a tuple of its terms; the dict and set come with a second article."""

    story_id: int
    title: str
    first_seen: float
    last_seen: float
    vocabulary: set[str] | tuple[str, ...] = ()  # every term its articles used
    centroid: dict[str, float] | None = None  # the sum of its articles' vectors...
    lone: _Vector | None = None  # ...or the only vector it has
    norm_squared: float = 0.0
    article_ids: list[int] = field(default_factory=list)
    #: Whether any of its articles has a real date; until one does, its span is only estimated.
    dated: bool = True

    def known_terms(self) -> AbstractSet[str]:
        vocabulary = self.vocabulary
        return vocabulary if isinstance(vocabulary, set) else frozenset(vocabulary)

    def learn(self, terms: Iterable[str]) -> None:
        if isinstance(self.vocabulary, set):
            self.vocabulary.update(terms)
        elif self.vocabulary:
            self.vocabulary = set(self.vocabulary)
            self.vocabulary.update(terms)
        else:
            self.vocabulary = tuple(terms)

    def indexed_terms(self) -> Iterable[str]:
        """Every term the story may be indexed under."""
        if self.centroid is not None:
            return self.centroid
        return self.lone.terms if self.lone is not None else ()


class StoryEngine:
    """Groups articles into stories online; see the module docstring for the method."""

    def __init__(self, settings: StorySettings | None = None) -> None:
        self._settings = settings if settings is not None else StorySettings()
        self._stories: dict[int, _Story] = {}
        self._doc_freq: dict[str, int] = {}  # term -> 1 + the number of documents using it
        self._doc_count = 0
        self._reference = stem_frequencies() if self._settings.reference_documents else {}
        self._countries = country_terms()
        self._terms = TermIndex(self._settings.max_postings_per_term)
        self._copies = CopyIndex(self._settings.duplicate_threshold)
        self._story_of: dict[int, int] = {}  # article id -> story id, for every article in the window
        self._expiry: list[tuple[float, int]] = []  # (last_seen, story_id), lazily outdated
        self._last_analysis: tuple[StoryDoc, Analysis] | None = None
        self._last_vector: tuple[Analysis, int, _Vector] | None = None
        # (analysis, story id, the story's article count, the roundup part): add() reuses assign()'s.
        self._last_roundup: tuple[Analysis, int, int, _Vector | None] | None = None
        self._warned_full = False

    @property
    def settings(self) -> StorySettings:
        return self._settings

    def __len__(self) -> int:
        """The number of stories in the active window."""
        return len(self._stories)

    # --- decisions ------------------------------------------------------------------

    def assign(self, doc: StoryDoc, analysis: Analysis | None = None) -> Assignment:
        """Decide the story and role of a new article; changes nothing.

        ``analysis`` is ``analyse(doc.title, doc.body)`` when the caller has it already (made
        ahead, perhaps in another process); :meth:`add` of the same document then reuses it.
        """
        analysis = self._analyse(doc, analysis)
        if analysis.is_empty:
            return Assignment(None, Role.FIRST)
        when = _comparable_time(doc)
        vector = self._vector(analysis)
        duplicate_of = self._nearest_copy(analysis, when, exclude=doc.article_id)
        story, similarity = self._best_story(vector, when)
        if duplicate_of is not None:
            if duplicate_of is not story:
                similarity = self._similarity(vector, duplicate_of, when)
            story = duplicate_of
        elif story is None or similarity < self._settings.join_threshold:
            return Assignment(None, Role.FIRST, similarity=similarity)
        known = story.known_terms()
        roundup_part = None if duplicate_of is not None else self._roundup_part(analysis, vector, story)
        about = None if roundup_part is None else frozenset(roundup_part.terms)
        novel = novel_sentences_in(analysis, known, self._settings.novelty_threshold, about)
        if novel:
            role = Role.UPDATE
        elif duplicate_of is not None:
            role = Role.DUPLICATE
        else:
            role = Role.RELATED
        return Assignment(story.story_id, role, novel, similarity)

    def assess_revision(self, doc: StoryDoc, story_id: int) -> Assignment:
        """Judge a changed version of a stored article against its story; changes nothing.

        A revision that adds a real fact is an ``update`` with its novel sentences; one that
        only rewrites is ``duplicate`` (still resembling its earlier version) or ``related``.
        A story that has left the window can no longer be judged: the revision is ``related``.
        """
        story = self._stories.get(story_id)
        if story is None:
            return Assignment(story_id, Role.RELATED)
        analysis = self._analyse(doc)
        similarity = self._similarity(self._vector(analysis), story, _comparable_time(doc))
        known = story.known_terms()
        novel = novel_sentences_in(analysis, known, self._settings.novelty_threshold)
        if novel:
            return Assignment(story_id, Role.UPDATE, novel, similarity)
        earlier = self._copies.sketch(doc.article_id)
        alike = resemblance(analysis.sketch, earlier) >= self._settings.duplicate_threshold
        role = Role.DUPLICATE if alike else Role.RELATED
        return Assignment(story_id, role, (), similarity)

    def title(self, story_id: int) -> str | None:
        """The story's title, or None for a story the engine does not hold (never seen or evicted)."""
        story = self._stories.get(story_id)
        return story.title if story is not None else None

    # --- registration ---------------------------------------------------------------

    def add(self, doc: StoryDoc, story_id: int, role: Role, analysis: Analysis | None = None) -> None:
        """Register a stored article under ``story_id`` (created when new) with its role.

        ``analysis`` is as for :meth:`assign`; without it, the one :meth:`assign` made is reused.
        """
        analysis = self._analyse(doc, analysis)
        when = _seconds(doc.published)
        dated = not doc.published_estimated
        revision = doc.article_id in self._story_of
        vector = self._vector(analysis)  # before counting it, as assign() saw it
        if not revision:
            self._count_document(analysis)
        story = self._stories.get(story_id)
        is_new_story = story is None
        if story is None:
            story = _Story(story_id, doc.title.strip(), when, when, dated=dated)
            self._stories[story_id] = story
        elif role is not Role.DUPLICATE and _is_placeholder(story.title) and not _is_placeholder(doc.title):
            story.title = doc.title.strip()
        story.learn(analysis.terms)
        if role is not Role.DUPLICATE:
            # A copy must not pull the centroid towards itself.
            roundup_part = None if is_new_story else self._roundup_part(analysis, vector, story)
            self._add_to_centroid(story, vector if roundup_part is None else roundup_part)
        if not revision:
            story.article_ids.append(doc.article_id)
        if dated and not story.dated:
            # Its span so far was only estimated (arrival times): the first real date replaces it.
            story.first_seen = story.last_seen = when
            story.dated = True
            heapq.heappush(self._expiry, (when, story_id))
        elif dated or not story.dated:
            story.first_seen = min(story.first_seen, when)
            if is_new_story or when > story.last_seen:
                story.last_seen = when
                heapq.heappush(self._expiry, (when, story_id))
        self._story_of[doc.article_id] = story_id
        self._copies.add(doc.article_id, analysis.sketch)
        if is_new_story:
            self._hold_at_most(self._settings.max_stories)

    def evict(self, now: datetime) -> None:
        """Forget every story whose latest article is older than the window before ``now``."""
        cutoff = _seconds(now) - self._settings.window
        while self._expiry and self._expiry[0][0] < cutoff:
            self._forget_stalest()

    def _hold_at_most(self, limit: int) -> None:
        """Forget the stories quiet the longest until ``limit`` remain (``max_stories``)."""
        if len(self._stories) <= limit:
            return
        if not self._warned_full:
            self._warned_full = True
            log.warning(
                "the story window holds %d stories, its limit (stories.max_stories): the stories "
                "quiet the longest are forgotten before the window ends",
                limit,
            )
        while len(self._stories) > limit and self._expiry:
            self._forget_stalest()

    def _forget_stalest(self) -> None:
        """Forget the story at the head of the expiry heap, unless that entry is outdated."""
        last_seen, story_id = heapq.heappop(self._expiry)
        story = self._stories.get(story_id)
        if story is None or story.last_seen > last_seen:
            return  # evicted already, or seen again since this entry was pushed
        del self._stories[story_id]
        self._terms.remove(story_id, story.indexed_terms())
        for article_id in story.article_ids:
            self._story_of.pop(article_id, None)
            self._copies.remove(article_id)

    # --- internals ------------------------------------------------------------------

    def _analyse(self, doc: StoryDoc, analysis: Analysis | None = None) -> Analysis:
        # assign() and add() see the same document back to back: analyse it once.
        if analysis is None:
            cached = self._last_analysis
            if cached is not None and cached[0] == doc:
                return cached[1]
            analysis = analyse(doc.title, doc.body)
        self._last_analysis = (doc, analysis)
        return analysis

    def _count_document(self, analysis: Analysis) -> None:
        self._doc_count += 1
        doc_freq = self._doc_freq
        terms = analysis.terms
        doc_freq.update(zip(terms, map(add, map(doc_freq.get, terms, repeat(1)), repeat(1)), strict=False))
        if len(doc_freq) > MAX_TRACKED_TERMS:
            self._doc_freq = _pruned(doc_freq)

    def _vector(self, analysis: Analysis) -> _Vector:
        """Unit TF-IDF vector of the strongest terms.

        A term weighs (1 + ln tf) x (1 + ln((N + R + 1) / (df + r + 1))) x its name weight
        (none for a country's name), where N and df count the stream's documents and R and r a
        reference corpus of general English (see :mod:`monitor.stories.reference`). The
        smoothed IDF gives a term never seen anywhere the highest weight, not an infinite one.
        """
        cached = self._last_vector
        if cached is not None and cached[0] is analysis and cached[1] == self._doc_count:
            return cached[2]
        terms = analysis.terms
        size = len(terms)
        reference_documents = self._settings.reference_documents
        scale = math.log(self._doc_count + reference_documents + 1) + 1.0
        doc_frequency = np.fromiter(map(self._doc_freq.get, terms, repeat(1)), np.float64, size)
        if reference_documents:
            frequency = np.fromiter(map(self._reference.get, terms, repeat(0.0)), np.float64, size)
            doc_frequency -= reference_documents * np.expm1(-REFERENCE_DOCUMENT_WORDS * frequency)
        raw = (1.0 + np.log(analysis.term_counts, dtype=np.float64)) * (scale - np.log(doc_frequency))
        countries = np.fromiter(map(self._countries.__contains__, terms), np.bool_, size)
        raw[analysis.name_flags & ~countries] *= NAME_WEIGHT
        if size > VECTOR_TERMS:
            strongest = np.argpartition(raw, size - VECTOR_TERMS)[size - VECTOR_TERMS :]
        else:
            strongest = np.arange(size)
        order = strongest[np.argsort(-raw[strongest], kind="stable")]
        weights = raw[order]
        weights /= math.sqrt(float(weights @ weights))
        vector = _Vector(tuple(map(terms.__getitem__, order.tolist())), array("d", weights.tolist()))
        self._last_vector = (analysis, self._doc_count, vector)
        return vector

    def _roundup_part(self, analysis: Analysis, vector: _Vector, story: _Story) -> _Vector | None:
        # assign() and add() ask it of the same article and story back to back: work it out once.
        cached = self._last_roundup
        if (
            cached is not None
            and cached[0] is analysis
            and cached[1] == story.story_id
            and cached[2] == len(story.article_ids)
        ):
            return cached[3]
        part = _part_about(story, analysis, vector)
        self._last_roundup = (analysis, story.story_id, len(story.article_ids), part)
        return part

    def _add_to_centroid(self, story: _Story, vector: _Vector) -> None:
        self._terms.add(story.story_id, vector.terms[:INDEXED_TERMS])
        if story.centroid is None:
            if story.lone is None:
                story.lone, story.norm_squared = vector, vector.norm_squared
                return
            story.centroid = dict(zip(story.lone.terms, story.lone.weights, strict=True))
            story.lone = None
        centroid = story.centroid
        old = list(map(centroid.get, vector.terms, repeat(0.0)))
        story.norm_squared += 2.0 * sum(map(mul, old, vector.weights)) + vector.norm_squared
        centroid.update(zip(vector.terms, map(add, old, vector.weights), strict=True))
        if len(centroid) > MAX_STORY_TERMS:
            strongest = heapq.nlargest(MAX_STORY_TERMS // 2, centroid.items(), key=lambda item: item[1])
            story.centroid = dict(strongest)
            self._terms.remove(story.story_id, [term for term in centroid if term not in story.centroid])
            story.norm_squared = sum(weight * weight for weight in story.centroid.values())

    def _best_story(self, vector: _Vector, when: float | None) -> tuple[_Story | None, float]:
        shared = self._terms.candidates(vector.terms[:QUERY_TERMS])
        ranked = sorted(shared.items(), key=itemgetter(1), reverse=True)[:SCORED_CANDIDATES]
        best: _Story | None = None
        best_similarity = 0.0
        for story_id, _shared_terms in ranked:
            story = self._stories[story_id]
            similarity = self._similarity(vector, story, when)
            if similarity > best_similarity:
                best, best_similarity = story, similarity
        return best, best_similarity

    def _similarity(self, vector: _Vector, story: _Story, when: float | None) -> float:
        decay = self._decay(story, when)
        if decay <= 0.0 or story.norm_squared <= 0.0:
            return 0.0
        dot: float
        if story.centroid is not None:
            dot = sum(map(mul, vector.weights, map(story.centroid.get, vector.terms, repeat(0.0))))
        elif story.lone is not None:
            dot = sum(map(mul, story.lone.weights, map(vector.mapping().get, story.lone.terms, repeat(0.0))))
        else:
            return 0.0
        return decay * dot / math.sqrt(story.norm_squared)

    def _decay(self, story: _Story, when: float | None) -> float:
        """1 within the story's span, falling linearly by WINDOW_DECAY across the window, then 0.

        An article whose time is unknown (``None``), or a story whose articles all have
        estimated dates, is compared by its text alone, whatever order they arrive in.
        """
        if when is None or not story.dated:
            return 1.0
        gap = max(0.0, story.first_seen - when, when - story.last_seen)
        window = self._settings.window
        return 0.0 if gap > window else 1.0 - WINDOW_DECAY * gap / window

    def _nearest_copy(self, analysis: Analysis, when: float | None, exclude: int) -> _Story | None:
        """The live story holding the article this one most resembles, if a near-duplicate."""
        if analysis.sketch is None:
            return None
        best: _Story | None = None
        best_resemblance = 0.0
        for article_id, alike in self._copies.candidates(analysis.sketch):
            if article_id == exclude or alike <= best_resemblance:
                continue
            story = self._stories.get(self._story_of[article_id])
            if story is None or self._decay(story, when) <= 0.0:
                continue
            best, best_resemblance = story, alike
        return best if best_resemblance >= self._settings.duplicate_threshold else None


def _part_about(story: _Story, analysis: Analysis, vector: _Vector) -> _Vector | None:
    """The part of the article's vector about the story, when the article is mostly about
    other things (see :data:`ROUNDUP_SHARE`); None for an article about the story."""
    if int(analysis.table.prose.sum()) < ROUNDUP_MIN_SENTENCES:
        return None
    story_terms = story.centroid if story.centroid is not None else story.lone.mapping() if story.lone else {}
    shared = [
        (term, weight)
        for term, weight in zip(vector.terms, vector.weights, strict=True)
        if term in story_terms
    ]
    share = sum(weight * weight for _term, weight in shared)
    if share >= ROUNDUP_SHARE:
        return None
    terms = tuple(term for term, _weight in shared)
    return _Vector(terms, array("d", [weight for _term, weight in shared]), share)


def _pruned(doc_freq: dict[str, int]) -> dict[str, int]:
    """Drop terms seen once (a one-off name is most of them); if that is not enough, keep the
    most frequent half, so pruning stays rare however the vocabulary grows."""
    kept = {term: count for term, count in doc_freq.items() if count > 2}
    if len(kept) > MAX_TRACKED_TERMS // 2:
        kept = dict(heapq.nlargest(MAX_TRACKED_TERMS // 2, kept.items(), key=itemgetter(1)))
    return kept


def _comparable_time(doc: StoryDoc) -> float | None:
    """The article's time for the window and decay, or None when it is only an estimate."""
    return None if doc.published_estimated else _seconds(doc.published)


def _seconds(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _is_placeholder(title: str) -> bool:
    return len(title.split()) < MIN_TITLE_WORDS
