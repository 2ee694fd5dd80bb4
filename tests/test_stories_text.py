"""Text analysis for the story engine: sentences, terms, names and anchors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.stories.text import analyse, split_sentences

CASES = yaml.safe_load((Path(__file__).parent / "data" / "stories" / "text_cases.yaml").read_text("utf-8"))


@pytest.mark.parametrize("case", CASES["sentences"], ids=[case["name"] for case in CASES["sentences"]])
def test_split_sentences(case: dict[str, Any]) -> None:
    assert split_sentences(case["text"]) == case["expect"]
    # The analysis splits the same way, by a faster road.
    assert [sentence.text for sentence in analyse("", case["text"]).sentences] == case["expect"]


@pytest.mark.parametrize("case", CASES["names"], ids=[case["name"] for case in CASES["names"]])
def test_names(case: dict[str, Any]) -> None:
    analysis = analyse(case.get("title", ""), case["body"])
    for term in case.get("names", []):
        assert term in analysis.names, f"{term!r} should be a name in {sorted(analysis.names)}"
    for term in case.get("not_names", []):
        assert term in analysis.counts, f"{term!r} should be a term of {sorted(analysis.counts)}"
        assert term not in analysis.names, f"{term!r} should not be a name"
    for term in case.get("absent", []):
        assert term not in analysis.counts, f"{term!r} should not be a term"


def test_terms_are_stemmed_without_stop_words_and_count_the_title_twice() -> None:
    analysis = analyse("Negotiations resume", "The negotiators said negotiations resumed.")
    assert analysis.counts == {"negoti": 4, "resum": 3}


def test_hyphenated_words_and_possessives_count_as_their_parts() -> None:
    analysis = analyse("", "Kyiv's four-year war with Moscow's army.")
    assert {"kyiv", "four", "year", "war", "moscow", "armi"} == set(analysis.counts)


@pytest.mark.parametrize(
    ("title", "kept", "dropped"),
    [
        ("UK inflation falls to 2.8% in January - BBC News", {"inflat", "january"}, {"bbc", "bbc news"}),
        ("Ukraine talks resume in Geneva | Reuters", {"talk", "geneva"}, {"reuter"}),
        ("Zelenskyy says the pressure is not fair – Axios", {"zelenski", "fair"}, {"axio"}),
        # After a dash, a lower-case word is the headline's own, and so is what a short
        # headline has after it.
        ("Plane bombs refugee camp in South Sudan - witness", {"wit", "camp"}, set()),
        ("Talks resume – Voice of America", {"talk", "voic", "america"}, set()),
    ],
)
def test_a_titles_trailing_site_name_is_no_term(title: str, kept: set[str], dropped: set[str]) -> None:
    terms = set(analyse(title, "").counts)
    assert kept <= terms
    assert not dropped & terms


@pytest.mark.parametrize(
    "furniture",
    [
        "Read more: Ukraine war latest",
        "Subscribe to our newsletter",
        "© Agence France-Presse 2026. All rights reserved.",
        "Share on Facebook Share via WhatsApp",
        "Listen to this article",
        "5 min read",
        "Reporting by Olena Harmash; Editing by Mark Heinrich",
        "By Olena Harmash and Guy Faulconbridge",
        "Image copyright Getty Images",
        "Last updated at 11:11 GMT",
        "(Corrects paragraph five)",
        "The post Talks resume appeared first on Kyiv Daily Monitor.",
        "Originally published on The Conversation",
        "Associated Press writer Jane Doe in Kyiv contributed to this report.",
        "(AP Photo/Efrem Lukatsky, File)",
        "(Reuters/Gleb Garanich)",
        "(AFP via Getty Images)",
        "Follow @KyivIndependent on X for the latest updates.",
        "Follow AP's coverage of the war in Ukraine at https://apnews.com/hub/russia-ukraine",
        "Source: Reuters",
        "Thursday, February 19, 2026 | 9:53 AM",
        "— Kyiv Post (@KyivPost) February 18, 2026",
        "Get the latest news from Kyiv Post with our free app.",
        "Support independent journalism in Ukraine. Become a member of the Kyiv Independent today.",
        "Our Standards: The Thomson Reuters Trust Principles.",
        (
            "The Associated Press receives support from several private foundations to enhance its "
            "explanatory coverage. AP is solely responsible for all content. Find AP’s standards for "
            "working with philanthropies at AP.org."
        ),
    ],
)
def test_furniture_ending_a_body_adds_no_terms(furniture: str) -> None:
    story = "Negotiators from Ukraine and Russia met in Geneva on Wednesday for a second day of talks."
    assert analyse("", story + "\n" + furniture).counts == analyse("", story).counts


def test_links_and_handles_are_no_terms() -> None:
    # An outlet's own links and handles end many of its reports: as terms they would be
    # rare names that every one of them shares.
    analysis = analyse("", "Trump posted at https://truthsocial.com/p/1 and www.wh.gov, tagging @POTUS.")
    assert set(analysis.counts) == {"trump", "post", "tag"}
    assert set(analyse("", "Write to olena.harmash@kyivpost.com today.").counts) == {"write", "today"}


@pytest.mark.parametrize(
    "spellings",
    [
        ("Zelenskyy", "Zelenskiy", "Zelensky", "Zelenskii"),
        ("Dmitriy", "Dmitry"),
        ("Andriy", "Andrii"),
        ("Kyiv", "Kiev"),
        ("Odesa", "Odessa"),
    ],
)
def test_transliterations_of_one_name_are_one_term(spellings: tuple[str, ...]) -> None:
    # One spelling per outlet: "Zelenskiy" (Reuters until 2023), "Kiev" (some outlets still).
    terms = {frozenset(analyse("", f"Officials said {name} met the envoys.").names) for name in spellings}
    assert len(terms) == 1, terms


def test_words_joined_by_a_dash_count_as_their_parts() -> None:
    # American style sets dashes without spaces: "talks—and" is two words, not one.
    analysis = analyse("", "The talks—and the ceasefire–were delayed again.")
    assert {"talk", "ceasefir", "delay"} == set(analysis.counts)


def test_an_amount_in_any_currency_is_a_figure() -> None:
    analysis = analyse("", "The club paid £88m, the rival €75m and the third $60m for the striker.")
    assert {"88m", "75m", "60m"} <= analysis.names
    assert not any(term[0] in "£€$" for term in analysis.counts)


def test_sentence_anchors_numbers_and_quotes() -> None:
    body = 'The latest talks "were very tense", a source told AFP. "They lasted six hours.\nNo quote here.'
    first, second, third = analyse("", body).sentences
    assert first.quoted == {"tens"}
    assert {"afp"} <= first.names
    assert second.numbers == {"six"}
    assert second.quoted == {"last", "six", "hour"}
    # A quotation left open ends with its paragraph.
    assert third.quoted == frozenset()


def test_a_quotation_runs_over_sentences_of_one_paragraph() -> None:
    body = '"They lasted six hours. They have now concluded," the source said, speaking anonymously.'
    _first, second = analyse("", body).sentences
    assert second.quoted == {"conclud"}
    assert "speak" in second.terms and "speak" not in second.quoted


@pytest.mark.parametrize(
    ("text", "prose"),
    [
        ("Ukraine's negotiators met Russian officials in Geneva for six hours on Wednesday.", True),
        ("Read more: Ukraine's negotiators met Russian officials in Geneva on Wednesday.", False),
        ("Subscribe to our newsletter for the latest news from Ukraine and Russia every morning.", False),
        ("Copyright 2026 Agence France-Presse, all rights reserved, no redistribution allowed.", False),
        ("Reporting by Olena Harmash in Kyiv; Editing by Alexandra Hudson and Mark Heinrich.", False),
        ("(Additional reporting by Pavel Polityuk in Kyiv and Guy Faulconbridge in Moscow.)", False),
        ("By Olena Harmash and Guy Faulconbridge", False),
        ("Image copyright Getty Images Image caption Delegations met in Geneva on Wednesday", False),
        ("Last updated at 11:11 GMT on Wednesday 18 February 2026", False),
        ("(Corrects name of Ukraine's negotiator in paragraph five to Rustem Umerov)", False),
        ("Share on Facebook Share on X Share via WhatsApp Share via email Print this page", False),
        ("Listen to this article and hear the Ukrainian delegation speak from Geneva today", False),
        ("The post Talks resume in Geneva appeared first on Kyiv Daily Monitor.", False),
        ("This article was originally published on The Conversation under a Creative Commons licence", False),
        ("Continue reading the main story about the Geneva talks on our website", False),
        ("Follow @KyivIndependent on X and Telegram for the latest updates from the front.", False),
        # Prose that only mentions what furniture is about is still prose.
        ("The plan was originally drafted by Witkoff and Umerov in Miami in November.", True),
        ("The study, originally published in Nature in 2019, found the ice was melting faster.", True),
        ("Correct information about the talks in Geneva is vital, the Ukrainian envoy said.", True),
        ("Posted on Monday, the video showed delegations arriving at the villa in Geneva.", True),
        ("Countries that sign up to the treaty will cut their coal use by half within ten years.", True),
        ("Viewers who subscribe to the service in Ukraine will pay 30% more from March.", True),
        ("Advertisement spending in Russia fell by a third after the invasion, the agency said.", True),
        ("Pupils in Kyiv read more books last year than in any year since 2014, the survey found.", True),
        ("Drivers were told to download the app before the new toll road opened near Lviv.", True),
        ("Politico's daily newsletter reported on Tuesday that the envoys would meet in Geneva.", True),
        ("Pictures by local residents showed the damage to the power plant in Kharkiv region.", True),
        ('"Follow us," the soldier told the reporters as the convoy left the village at dawn.', True),
        ("Follow-up talks on energy were held on Telegram's video service, the ministry said.", True),
        ("The charity receives support from two foundations in Geneva, its director said.", True),
        ("“Millions use our app every day,” the company's chief executive said on Tuesday.", True),
        ("Sources: the ministry and two diplomats said the envoys would meet again in Geneva.", True),
        ("The delegations arrived via Istanbul (Kyiv/Moscow flights are banned) on Wednesday.", True),
        ("Share prices in Kyiv and Moscow rose after the delegations met in Geneva on Wednesday.", True),
        ("By Tuesday the delegations in Geneva had agreed on a prisoner exchange of 300 soldiers.", True),
        ("Updated figures published by the ministry showed 300 soldiers had been exchanged.", True),
        ("Photographers waited outside the villa in Geneva where the delegations met for talks.", True),
        ("Netflix said it added nine million paying subscribers in the quarter, beating forecasts.", True),
        ("A judge ruled that the copyright lawsuit against the studio could go to trial in June.", True),
        ("Regulators fined the retailer for tracking shoppers with cookies without their consent.", True),
        ("Ukrainian Ambassador Reveals Secret Intelligence Raid, Rift with Zelenskyy", False),
        ("“That’s all I’m telling you.”", False),
        ("he said.", False),
        (
            "negotiators from both countries met again in geneva on wednesday and talked for six long "
            "hours about territory prisoners and energy without any agreement",
            True,
        ),
    ],
)
def test_prose_excludes_furniture_headlines_and_fragments(text: str, prose: bool) -> None:
    (sentence,) = analyse("", text).sentences
    assert sentence.prose is prose


def test_empty_text_has_nothing() -> None:
    analysis = analyse("", "   \n ")
    assert analysis.is_empty
    assert analysis.sentences == ()
    assert analysis.sketch is None
