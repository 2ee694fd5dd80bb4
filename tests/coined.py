"""Seeds-format articles about made-up events, for tests and benchmarks that need many of them.

Their people, places and organisations are coined from a seeded generator, so two articles
share nothing but the words every article has (and the marker a test topic can ask for), and
the story engine never has a reason to join them.
"""

from __future__ import annotations

import random
from collections.abc import Callable

SYLLABLES = (
    "ka",
    "lo",
    "mi",
    "ne",
    "ru",
    "sa",
    "ta",
    "vo",
    "zi",
    "be",
    "do",
    "fu",
    "ga",
    "hi",
    "ja",
    "ke",
    "pra",
    "sto",
    "vel",
    "mur",
    "dan",
    "tor",
    "lin",
    "qua",
    "rest",
)
#: The date line :func:`distinct_articles` gives every article.
TALKS_DATE = "2026-02-18"


def coined(rng: random.Random, syllables: int = 3) -> str:
    """A made-up lower-case word of ``syllables`` syllables."""
    return "".join(rng.choice(SYLLABLES) for _ in range(syllables))


def coined_name(rng: random.Random, syllables: int = 3) -> str:
    """A made-up capitalised word: a person's, a place's or a company's name."""
    return coined(rng, syllables).capitalize()


def distinct_event(seed: int, *, marker: str) -> tuple[str, str]:
    """(title, body) of an event no other seed reports; ``marker`` appears in the body."""
    rng = random.Random(f"event-{seed}")
    person = f"{coined_name(rng, 2)} {coined_name(rng)}"
    colleague = f"{coined_name(rng, 2)} {coined_name(rng)}"
    town, river, company = coined_name(rng), coined_name(rng), f"{coined_name(rng)} {coined_name(rng, 2)}"
    count, money = rng.randint(120, 9800), rng.randint(3, 950)
    title = f"{person} opened the {company} works in {town} on the {river} with {count} new jobs."
    body = "\n".join(
        [
            f"{town} council said the {company} plant would cost {money} million and employ {count} people.",
            f"{colleague}, who chairs the {town} {marker} committee, called the {river} site "
            "a turning point.",
            f"Residents of {town} and {coined_name(rng)} queued outside the {company} gates before dawn.",
            f"{person} promised that a second {company} line on the {river} would follow "
            f"by {rng.randint(2027, 2031)}.",
        ]
    )
    return title, body


def distinct_article(seed: int, *, marker: str, date: str = "2026-03-02") -> str:
    """A seeds-format article (with its `` date`` line) about event ``seed``."""
    title, body = distinct_event(seed, marker=marker)
    return f" date {date} {title}\n{body}\n"


def distinct_articles(
    count: int, *, seed: int = 7, marker: Callable[[int], str] = lambda _i: ""
) -> list[str]:
    """``count`` articles about different rounds of Russia-Ukraine talks (their words barely overlap).

    Each matches a topic on the talks (the shipped one, the tests' contract topic);
    ``marker(index)`` adds words to the body so a topic can pick some of them (``near Odesa``
    for a second desk, a desk's name where several desks share a run). The shared template
    weighs enough that about one pair in a hundred such articles joins one story: a few dozen
    stay apart; for more, use :func:`distinct_article`.
    """
    rng = random.Random(seed)
    articles = []
    for index in range(count):
        place = coined_name(rng) + "sk"
        accord = coined_name(rng)
        people = [f"{coined_name(rng, 2)} {coined_name(rng)}" for _ in range(2)]
        filler = [" ".join(coined(rng) for _ in range(14)) for _ in range(3)]
        extra = marker(index)
        articles.append(
            f" date {TALKS_DATE} Ukrainian and Russian envoys met in {place}"
            f" for talks on the {accord} pact.\n"
            f"The meeting was chaired by {people[0]}, who said the {filler[0]} would follow.\n"
            f"Kyiv and the Kremlin named {people[1]} to lead the {filler[1]} group.\n"
            f"Observers in {place} {extra} expected the {filler[2]} before the next round.\n"
        )
    return articles


def title_of(article: str) -> str:
    """The title the seeds reader gives one of :func:`distinct_articles`: its first sentence."""
    first_line = article.split("\n", 1)[0].strip()
    return first_line.removeprefix(f"date {TALKS_DATE} ")
