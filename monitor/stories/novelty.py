"""Find the sentences of an article that tell its story something new.

A sentence is judged against everything the story already held (the union of the terms of
its articles), not against one earlier sentence, so a paraphrase that spreads a known fact
over other words, or a quote moved to another paragraph, still counts as known.

A sentence is novel when all of these hold:

* it reads as prose: enough content words, sentence punctuation, no page furniture
  ("Read more", related headlines), see :func:`monitor.stories.text.analyse`;
* the weighted share of its terms the story never had reaches the novelty threshold, names,
  numbers and dates weighing twice as much as other words; a sentence with a figure (digits)
  the story never had and :data:`MIN_NEW_WORDS` new words, or another new name or date,
  needs only half of it, with the known names it repeats weighing as other words do, since
  new figures are often told in the story's own words ("agreed to exchange 300 prisoners",
  "agreed to meet again in Istanbul on March 3"), and a report's lead names again who met
  where before it gives the outcome;
* it brings a new anchor (a name, number or date the story never had, or a quotation whose
  words are mostly new) or at least :data:`MIN_NEW_WORDS` new words;
* it does not merely restate a known fact: a sentence that repeats a known quotation or a
  known number and brings no new anchor is a paraphrase ("Russian media described the talks
  as 'very tense', lasting six hours" after "the talks were 'very tense' ... lasted six hours");
* its new terms are not mostly those of a novel sentence before it in the same article.

A novel sentence that is part of a quotation running over several sentences of its
paragraph is given with the whole of it (``Sentence.with_quotation``), so an alert never
quotes half of what someone said; the quotation's other sentences are not given again.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from typing import Final

import numpy as np

from monitor.stories.text import ANCHOR, Analysis, Sentence

#: Names, numbers and dates carry facts: they weigh this much more than other words.
ANCHOR_WEIGHT: Final = 2.0
#: Without a new anchor, a sentence needs this many new words to say something new.
MIN_NEW_WORDS: Final = 3
#: A sentence with a new figure (digits) needs only this share of the novelty threshold.
FIGURE_SHARE: Final = 0.5
#: A quotation counts as known when this share of its words is known.
KNOWN_QUOTE_SHARE: Final = 0.6
#: A novel sentence whose new terms are mostly those of an earlier one says the same thing.
REPEAT_SHARE: Final = 0.7


def novel_sentences(
    sentences: Iterable[Sentence],
    known: AbstractSet[str],
    threshold: float,
    about: AbstractSet[str] | None = None,
) -> tuple[str, ...]:
    """The informative sentences, in article order, that the ``known`` terms do not cover;
    with ``about``, only those using one of these terms (the part of a roundup about the story)."""
    found: list[str] = []
    already_new: set[str] = set()
    quotation = ""  # the whole quotation the last novel sentence was part of, if any
    for sentence in sentences:
        if quotation and sentence.text in quotation:
            continue  # given already, with the rest of its quotation
        if about is not None and sentence.terms.isdisjoint(about):
            continue
        new_terms = sentence.terms.difference(known)
        if not new_terms or not _is_novel(sentence, new_terms, known, threshold) or not sentence.prose:
            continue
        if len(new_terms.intersection(already_new)) >= REPEAT_SHARE * len(new_terms):
            continue
        already_new.update(new_terms)
        quotation = sentence.with_quotation
        found.append(quotation or sentence.text)
    return tuple(found)


def novel_sentences_in(
    analysis: Analysis, known: AbstractSet[str], threshold: float, about: AbstractSet[str] | None = None
) -> tuple[str, ...]:
    """:func:`novel_sentences` of an analysed article's body.

    The tests that do not depend on earlier sentences (something new at all, prose, and the
    first test of :func:`_is_novel`: enough of the sentence is new) are made for every
    sentence at once on the analysis's :class:`~monitor.stories.text.SentenceTable`; only
    the sentences that pass are built and judged one by one. Most sentences of a story's
    later reports are mostly known, so this is most of the work saved.
    """
    table = analysis.table
    sentence_count = len(table.prose)
    if not sentence_count:
        return ()
    terms = analysis.terms
    new = ~np.fromiter(map(known.__contains__, terms), np.bool_, len(terms))[table.term]
    anchor = (table.flags & ANCHOR) != 0
    new_count = np.bincount(table.sentence, weights=new, minlength=sentence_count)
    new_anchors = np.bincount(table.sentence, weights=new & anchor, minlength=sentence_count)
    new_figures = np.bincount(
        table.sentence, weights=new & table.figure[table.term], minlength=sentence_count
    )
    term_count = np.diff(table.offsets)
    anchor_count = np.bincount(table.sentence, weights=anchor, minlength=sentence_count)
    # The arithmetic of _is_novel, in its order, so the same floating-point results.
    extra = ANCHOR_WEIGHT - 1.0
    total = term_count + extra * anchor_count
    fresh = new_count + extra * new_anchors
    plain_new = new_count - new_anchors
    enough = (fresh >= threshold * total) | (
        (new_figures > 0)
        & ((plain_new >= MIN_NEW_WORDS) | (new_anchors >= 2))
        & (fresh >= FIGURE_SHARE * threshold * (term_count + extra * new_anchors))
    )
    candidates = np.flatnonzero((new_count > 0) & table.prose & enough).tolist()
    return novel_sentences(map(analysis.sentence, candidates), known, threshold, about)


def _is_novel(
    sentence: Sentence, new_terms: frozenset[str], known: AbstractSet[str], threshold: float
) -> bool:
    # Every term weighs 1, anchors ANCHOR_WEIGHT: sum the plain count and the anchors' extra.
    extra = ANCHOR_WEIGHT - 1.0
    total = len(sentence.terms) + extra * len(sentence.names)
    fresh = len(new_terms) + extra * len(sentence.names.intersection(new_terms))
    plain_new = len(new_terms.difference(sentence.names))
    if fresh < threshold * total:
        # Mostly known words, but a figure the story never had, stated with new words or with
        # another new name or date, is news told in the story's vocabulary ("agreed to
        # exchange 300 prisoners", "agreed to meet again in Istanbul on March 3").
        # Known names count once here: a lead restates who met where before its outcome,
        # and weighing that context double would bury the outcome under it.
        new_figure = any(term[0].isdigit() for term in new_terms)
        new_anchors = len(sentence.names.intersection(new_terms))
        return (
            new_figure
            and (plain_new >= MIN_NEW_WORDS or new_anchors >= 2)
            and fresh >= FIGURE_SHARE * threshold * (len(sentence.terms) + extra * new_anchors)
        )
    quote_is_new = False
    quote_is_known = False
    if len(sentence.quoted) >= 2:
        known_share = len(sentence.quoted.intersection(known)) / len(sentence.quoted)
        quote_is_known = known_share >= KNOWN_QUOTE_SHARE
        quote_is_new = not quote_is_known
    new_anchor = quote_is_new or not sentence.names.isdisjoint(new_terms)
    restates_known_fact = quote_is_known or not sentence.numbers.isdisjoint(known)
    if restates_known_fact and not new_anchor:
        return False
    return new_anchor or plain_new >= MIN_NEW_WORDS
