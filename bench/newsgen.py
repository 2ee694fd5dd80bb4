"""Synthetic news in the seeds format, for benchmarks: many distinct stories of about 3 KB.

Every story is an event (a topic, a place, an organisation, two to four people, figures and a
date) reported by one to four outlets, each report written from its own choice of sentence
templates, so reports of one event share their names and key terms while different events do
not. Most files begin with the `` date YYYY-MM-DD `` marker; the rest carry the publication
time as their modification time, as a file dropped on arrival would. A small share are
near-duplicates (a wire copy with a few words edited and another outlet's furniture), a few
are byte-identical copies under another name, some end in a block of related headlines, and a
few report Russia-Ukraine talks so that the shipped topic matches and alerts are planned.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from coined import coined_name  # type: ignore[import-not-found,unused-ignore]

FIRST_NAMES = [
    "Amara",
    "Anders",
    "Aiko",
    "Beatriz",
    "Boris",
    "Carmen",
    "Chidi",
    "Dmitri",
    "Elena",
    "Emeka",
    "Fatima",
    "Farid",
    "Gabriel",
    "Greta",
    "Hana",
    "Hugo",
    "Ines",
    "Ivan",
    "Jamal",
    "Jana",
    "Kenji",
    "Kofi",
    "Lars",
    "Leila",
    "Lucas",
    "Malik",
    "Marta",
    "Mei",
    "Nadia",
    "Niko",
    "Olga",
    "Omar",
    "Paola",
    "Pavel",
    "Priya",
    "Rafael",
    "Rania",
    "Sami",
    "Sofia",
    "Tariq",
    "Tomas",
    "Uma",
    "Valentina",
    "Viktor",
    "Wei",
    "Yara",
    "Yusuf",
    "Zofia",
    "Zoran",
]
SURNAMES = [
    "Abara",
    "Adeyemi",
    "Alvarez",
    "Andersson",
    "Bakker",
    "Banerjee",
    "Becker",
    "Bianchi",
    "Castillo",
    "Chen",
    "Costa",
    "Dimitrov",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Fontaine",
    "Garcia",
    "Haddad",
    "Hoffmann",
    "Ivanova",
    "Jensen",
    "Kaminski",
    "Kato",
    "Kowalski",
    "Larsen",
    "Lindqvist",
    "Moreau",
    "Mwangi",
    "Nakamura",
    "Novak",
    "Okafor",
    "Oliveira",
    "Petrov",
    "Quintero",
    "Rahman",
    "Rossi",
    "Santos",
    "Schmidt",
    "Silva",
    "Sokolov",
    "Tanaka",
    "Torres",
    "Varga",
    "Vasquez",
    "Weber",
    "Yilmaz",
    "Zhang",
    "Zielinski",
]
PLACES = [
    "Accra",
    "Ankara",
    "Athens",
    "Bangkok",
    "Berlin",
    "Bogota",
    "Brussels",
    "Cairo",
    "Caracas",
    "Dakar",
    "Dhaka",
    "Dublin",
    "Geneva",
    "Hanoi",
    "Helsinki",
    "Istanbul",
    "Jakarta",
    "Johannesburg",
    "Karachi",
    "Lagos",
    "Lima",
    "Lisbon",
    "Madrid",
    "Manila",
    "Melbourne",
    "Mexico",
    "Montreal",
    "Nairobi",
    "Oslo",
    "Ottawa",
    "Prague",
    "Quito",
    "Riga",
    "Santiago",
    "Seoul",
    "Stockholm",
    "Sydney",
    "Taipei",
    "Tallinn",
    "Tokyo",
    "Toronto",
    "Tunis",
    "Vienna",
    "Vilnius",
    "Warsaw",
    "Zagreb",
    "Zurich",
]
ORGANISATIONS = [
    "the central bank",
    "the health ministry",
    "the electoral commission",
    "the port authority",
    "the national grid operator",
    "the transport ministry",
    "the supreme court",
    "the coast guard",
    "the finance ministry",
    "the competition regulator",
    "the state broadcaster",
    "the teachers' union",
    "the farmers' association",
    "the aviation authority",
    "the energy regulator",
    "the water utility",
    "the chamber of commerce",
    "the statistics office",
    "the defence ministry",
    "the environment agency",
]
COMPANY_STEMS = [
    "Nordvik",
    "Altamira",
    "Kestrel",
    "Meridian",
    "Solaris",
    "Arcadia",
    "Brightwater",
    "Corvus",
    "Everline",
    "Halcyon",
    "Ironbridge",
    "Juniper",
    "Lakeshore",
    "Monarch",
    "Northgate",
    "Oakridge",
    "Pinnacle",
    "Quarry",
    "Redstone",
    "Silverline",
    "Tidewater",
    "Vantage",
]
COMPANY_KINDS = [
    "Holdings",
    "Energy",
    "Logistics",
    "Pharmaceuticals",
    "Motors",
    "Telecom",
    "Foods",
    "Airlines",
    "Mining",
    "Bank",
]
OUTLETS = [
    "Wire Service",
    "Daily Ledger",
    "Evening Courier",
    "Morning Post",
    "Regional Herald",
    "Business Desk",
]

TOPICS: dict[str, tuple[str, ...]] = {
    "strike": ("strike", "walkout", "workers", "wages", "picket", "negotiators", "shifts", "pay offer"),
    "flood": ("floods", "rainfall", "evacuation", "river", "levee", "rescuers", "shelters", "residents"),
    "election": ("election", "ballots", "turnout", "candidates", "coalition", "polling", "campaign", "seats"),
    "merger": ("merger", "shareholders", "acquisition", "valuation", "bid", "regulators", "deal", "shares"),
    "wildfire": (
        "wildfire",
        "firefighters",
        "hectares",
        "blaze",
        "evacuees",
        "winds",
        "containment",
        "smoke",
    ),
    "outbreak": ("outbreak", "cases", "vaccine", "clinics", "infections", "patients", "hospitals", "testing"),
    "budget": ("budget", "deficit", "spending", "taxes", "borrowing", "pensions", "revenue", "austerity"),
    "trial": ("trial", "prosecutors", "defendant", "verdict", "jurors", "testimony", "judge", "appeal"),
    "launch": ("launch", "satellite", "rocket", "orbit", "payload", "engineers", "countdown", "mission"),
    "earthquake": (
        "earthquake",
        "magnitude",
        "aftershocks",
        "collapsed",
        "survivors",
        "rubble",
        "epicentre",
        "tremor",
    ),
    "protest": ("protest", "demonstrators", "police", "march", "crowds", "slogans", "arrests", "square"),
    "outage": ("outage", "blackout", "power", "substations", "engineers", "customers", "restored", "grid"),
    "drought": (
        "drought",
        "harvest",
        "reservoirs",
        "rationing",
        "crops",
        "irrigation",
        "livestock",
        "prices",
    ),
    "summit": ("summit", "leaders", "communique", "delegations", "agenda", "trade", "climate", "talks"),
    "crash": ("crash", "passengers", "investigators", "wreckage", "runway", "pilot", "flight", "recorders"),
    "recall": ("recall", "vehicles", "defect", "brakes", "owners", "dealers", "safety", "inspection"),
}
UKRAINE_TALKS = ("talks", "Ukraine", "Russia", "Kremlin", "Kyiv", "ceasefire", "envoy", "negotiators")

VERBS = [
    "said",
    "told reporters",
    "confirmed",
    "warned",
    "announced",
    "insisted",
    "acknowledged",
    "argued",
    "estimated",
    "predicted",
    "denied",
    "suggested",
    "stressed",
    "noted",
    "added",
    "explained",
]
FILLER = [
    "The announcement came after weeks of uncertainty and mounting pressure from opposition lawmakers.",
    "Officials declined to give a timetable, saying more information would be released in the coming days.",
    "Analysts said the decision could have lasting consequences for households and small businesses.",
    "Local newspapers reported long queues outside government offices on Tuesday morning.",
    "The government has faced criticism over its handling of similar events in recent years.",
    "Critics said the measures did not go far enough and called for an independent review.",
    "Residents described a tense night as sirens sounded across several districts.",
    "Markets reacted cautiously, with the currency slipping slightly against the dollar.",
    "A spokesperson for the opposition called the response slow and poorly coordinated.",
    "International observers have been invited to monitor the situation over the weekend.",
    "Community groups have organised collections of food, water and blankets.",
    "Several schools were closed as a precaution, according to the education department.",
    "The issue is expected to dominate debate in parliament when it returns next week.",
    "Economists cautioned that official figures are often revised in the following months.",
    "Neighbouring countries said they were following developments closely.",
]
TEMPLATES = (
    "{person} {verb} that the {w0} in {place} had affected more than {n1:,} people since {weekday}.",
    "According to {org}, the {w1} began early on {weekday} and spread quickly through {place}.",
    "\u201cWe are doing everything we can,\u201d {person} {verb}, adding that {company} would help.",
    "{company} shares fell {pct}% in early trading as investors weighed the impact of the {w2}.",
    "In {place}, {n2:,} {w3} were reported by {org} by {hour} local time.",
    "{person}, who has led {org} since {year}, {verb} the {w4} was \u201cunprecedented in scale\u201d.",
    "The {w5} follows a similar episode in {year}, when {org} was accused of acting too slowly.",
    "{person} met {person2} in {place} on {weekday} to discuss the {w6} and the {w7}.",
    "Figures published by {org} show {n1:,} {w3} in the past week, up from {n2:,} a month earlier.",
    "{company} {verb} it had set aside {money} million to deal with the consequences of the {w0}.",
    "Speaking to local radio, {person2} {verb} that the {w1} could last until {month}.",
    "The {w2} in {place} has drawn comparisons with events in {place2} {years_ago} years ago.",
    "{org} {verb} that {pct}% of {w3} had been affected, a figure {person} described as worrying.",
    "Opposition leader {person2} demanded that {org} publish its full assessment of the {w4}.",
    "By {weekday} evening, {n2:,} {w5} had been recorded across {place} and {place2}.",
)
HEADLINE_TEMPLATES = (
    "{Place} Officials Promise Review After {W0}",
    "What the {W1} Means for Households in {Place}",
    "{Company} Chief Faces Questions Over {W2}",
    "Inside the Race to Contain the {W0}",
    "Five Things to Know About the {W1} in {Place}",
)
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


@dataclass(frozen=True)
class Event:
    """One news event: the facts every report of it shares."""

    number: int
    topic: tuple[str, ...]
    people: tuple[str, ...]
    place: str
    place2: str
    org: str
    company: str
    figures: tuple[int, int]
    published: datetime


class NewsGenerator:
    """Deterministic stream of seed files; ``per_day`` sets how many articles one day holds."""

    def __init__(self, seed: int, *, per_day: int = 1000) -> None:
        self.random = random.Random(seed)
        self.per_day = per_day
        self._written: list[tuple[Path, str]] = []
        self._surnames = SURNAMES + [self._coined_surname() for _ in range(400)]

    def _coined_surname(self) -> str:
        return coined_name(self.random, self.random.randint(2, 3))

    def event(self, number: int, published: datetime) -> Event:
        rand = self.random
        topic = UKRAINE_TALKS if rand.random() < 0.02 else TOPICS[rand.choice(list(TOPICS))]
        people = tuple(
            f"{rand.choice(FIRST_NAMES)} {rand.choice(self._surnames)}" for _ in range(rand.randint(2, 4))
        )
        place, place2 = rand.sample(PLACES, 2)
        company = f"{rand.choice(COMPANY_STEMS)} {rand.choice(COMPANY_KINDS)}"
        figures = (rand.randint(200, 90_000), rand.randint(10, 5_000))
        return Event(
            number, topic, people, place, place2, rand.choice(ORGANISATIONS), company, figures, published
        )

    def report(self, event: Event, outlet: str, target_bytes: int = 3000) -> tuple[str, list[str]]:
        """One outlet's article about ``event``: (lead sentence, further paragraphs)."""
        rand = self.random
        topic = event.topic
        lead_word = topic[0]
        title = (
            f"{event.people[0]} {rand.choice(VERBS)} the {lead_word} in {event.place} "
            f"had reached {event.figures[0]:,} {topic[rand.randint(1, 7)]} by {rand.choice(WEEKDAYS)}."
        )
        sentences: list[str] = []
        size = len(title)
        while size < target_bytes:
            if rand.random() < 0.2:
                sentence = rand.choice(FILLER)
            else:
                sentence = rand.choice(TEMPLATES).format(
                    person=rand.choice(event.people),
                    person2=rand.choice(event.people[1:]),
                    verb=rand.choice(VERBS),
                    place=event.place,
                    place2=event.place2,
                    org=event.org,
                    company=event.company,
                    weekday=rand.choice(WEEKDAYS),
                    month=rand.choice(MONTHS),
                    hour=f"{rand.randint(6, 22)}:00",
                    year=rand.randint(1998, 2023),
                    years_ago=rand.randint(2, 30),
                    pct=rand.randint(2, 60),
                    money=rand.randint(5, 900),
                    n1=event.figures[0] + rand.randint(-50, 50) * 10,
                    n2=event.figures[1] + rand.randint(-5, 5),
                    **{f"w{index}": topic[rand.randint(0, 7)] for index in range(8)},
                )
            sentence = sentence[0].upper() + sentence[1:]
            sentences.append(sentence)
            size += len(sentence) + 1
        paragraphs = []
        while sentences:
            take = rand.randint(1, 3)
            paragraphs.append(" ".join(sentences[:take]))
            sentences = sentences[take:]
        paragraphs.append(
            f"Reporting by {rand.choice(FIRST_NAMES)} {rand.choice(SURNAMES)} for the {outlet}."
        )
        if rand.random() < 0.2:
            paragraphs.append("Related stories")
            for template in rand.sample(HEADLINE_TEMPLATES, rand.randint(2, 4)):
                paragraphs.append(
                    template.format(
                        Place=event.place,
                        Company=event.company,
                        **{f"W{index}": topic[rand.randint(0, 7)].capitalize() for index in range(3)},
                    )
                )
        return title, paragraphs

    def _near_duplicate(self, text: str) -> str:
        """A wire copy: a few words swapped and another outlet's furniture line."""
        words = text.split(" ")
        for _ in range(3):
            index = self.random.randrange(len(words))
            if words[index].isalpha():
                words[index] = self.random.choice(("reportedly", "officially", "again", "also"))
        return " ".join(words) + f"\nDistributed by the {self.random.choice(OUTLETS)}.\n"

    def write(self, folder: Path, count: int, *, start: datetime, prefix: str = "a") -> list[Path]:
        """Write ``count`` files into ``folder`` (dated from ``start`` on); returns their paths."""
        folder.mkdir(parents=True, exist_ok=True)
        rand = self.random
        spacing = timedelta(days=1) / self.per_day
        paths: list[Path] = []
        event: Event | None = None
        reports_left = 0
        for index in range(count):
            published = start + index * spacing
            path = folder / f"{prefix}{index:07d}.txt"
            if self._written and rand.random() < 0.002:
                # A byte-identical copy under a new name: the store knows it by its content hash.
                text = self._written[rand.randrange(len(self._written))][1]
            elif self._written and rand.random() < 0.01:
                text = self._near_duplicate(self._written[rand.randrange(len(self._written))][1])
            else:
                if reports_left == 0 or event is None:
                    event = self.event(index, published)
                    reports_left = rand.choice((1, 1, 2, 2, 3, 4))
                reports_left -= 1
                title, paragraphs = self.report(event, rand.choice(OUTLETS))
                dated = rand.random() < 0.9
                marker = f" date {event.published:%Y-%m-%d} " if dated else ""
                text = marker + title + "\n" + "\n".join(paragraphs) + "\n"
            path.write_text(text, encoding="utf-8")
            # Undated files are dated by their modification time: the moment they arrived.
            arrival = published.timestamp()
            os.utime(path, (arrival, arrival))
            paths.append(path)
            if len(self._written) < 5000:
                self._written.append((path, text))
            elif rand.random() < 0.05:
                self._written[rand.randrange(len(self._written))] = (path, text)
        return paths


def days_back(count: int, per_day: int, now: datetime | None = None) -> datetime:
    """The start that makes ``count`` articles at ``per_day`` end today, at 00:00 UTC."""
    today = (now or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=count / per_day)


def sample(count: int = 3, seed: int = 1) -> Iterator[str]:
    """A few generated texts, for eyeballing the output."""
    generator = NewsGenerator(seed)
    for number in range(count):
        event = generator.event(number, datetime(2026, 1, 1, tzinfo=UTC))
        title, paragraphs = generator.report(event, OUTLETS[0])
        yield title + "\n" + "\n".join(paragraphs)
