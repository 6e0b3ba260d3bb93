"""Quotations and their speakers in several languages and quotation styles.

Mentions are made here from the names given (linked with tidings.entities.link), so these
tests check attribution alone, independent of the recogniser.
"""

from __future__ import annotations

import pytest

from tidings.entities import link
from tidings.models import Mention
from tidings.quotes import find_quotations, find_quotes


def _mentions(text: str, lang: str, names: list[tuple[str, str]]):
    mentions, entities = [], {}
    for name, label in names:
        start = 0
        while (i := text.find(name, start)) >= 0:
            linked = link(name, label, lang)
            mentions.append(Mention(linked.id, linked.label, name, i, i + len(name)))
            entities[linked.id] = linked.entity
            start = i + len(name)
    mentions.sort(key=lambda m: m.start)
    return mentions, entities


def _quotes(text, lang, names):
    mentions, entities = _mentions(text, lang, names)
    return find_quotes(text, lang, mentions, entities)


CASES = [
    ("en", "“The corridors are intended to reduce the number of civilians,” said Arabic scholar Leonid Isayev.",
     [("Leonid Isayev", "PER")], "per:isaev"),
    ("en", "John Smith told reporters: “We will not leave this city again.”", [("John Smith", "PER")], "per:smit"),
    ("en", "John Kerry said that if Assad launches an offensive there is a risk “of completely breaking apart the "
           "level of cooperation”.", [("John Kerry", "PER"), ("Assad", "PER")], "per:kerry"),
    ("hr", "\"Ruski predsjednik drži da bi bilo neprikladno obnoviti napade na Alep\", rekao je glasnogovornik "
           "Kremlja Dmitrij Peskov.", [("Kremlja", "ORG"), ("Dmitrij Peskov", "PER"), ("Alep", "LOC")], "per:peskov"),
    ("hr", "„Voljni smo proučiti sve prijedloge za poboljšanje stanja“, izjavio je general Sergej Rudskoj.",
     [("Sergej Rudskoj", "PER")], "per:rudsk"),
    ("fr", "« Nous ne laisserons pas faire cela », a déclaré Emmanuel Macron à Paris.",
     [("Emmanuel Macron", "PER"), ("Paris", "LOC")], "per:macron"),
    ("de", "„Wir schaffen das auch diesmal wieder“, sagte Angela Merkel am Montag.", [("Angela Merkel", "PER")],
     "per:merkel"),
    ("es", "\"No vamos a negociar con los terroristas\", dijo Nicolás Maduro en Caracas.",
     [("Nicolás Maduro", "PER"), ("Caracas", "LOC")], "per:maduro"),
    ("ru", "«Мы не видим оснований для возобновления ударов», — заявил Дмитрий Песков журналистам.",
     [("Дмитрий Песков", "PER")], "per:peskov"),
    ("it", "\"Non ci fermeremo davanti a nessuno\", ha detto Matteo Renzi a Roma.", [("Matteo Renzi", "PER")],
     "per:renzi"),
    ("pt", "\"O Brasil não vai aceitar esta proposta\", disse Lula em Brasília.", [("Lula", "PER")], "per:lula"),
    ("en", "The Kremlin said: “The operation will continue as long as needed.”", [("Kremlin", "ORG")], "org:kremlin"),
]


@pytest.mark.parametrize("lang,text,names,speaker", CASES, ids=[f"{c[0]}:{c[3]}" for c in CASES])
def test_speaker(lang, text, names, speaker):
    quotes = _quotes(text, lang, names)
    assert len(quotes) == 1, quotes
    assert quotes[0].speaker_entity_id == speaker
    assert text[quotes[0].start_char:quotes[0].end_char] == quotes[0].text


def test_pronoun_means_the_person_named_before():
    text = ("At the same time, said Vladimir Akhmedov, a researcher, one should not underestimate the aid.\n\n"
            "“In my view, the operation is a very good move,” he said. “If people are provided with aid, it could "
            "expand the support base.”")
    quotes = _quotes(text, "en", [("Vladimir Akhmedov", "PER")])
    assert [q.speaker_entity_id for q in quotes] == ["per:ahmedov", "per:ahmedov"]
    assert quotes[0].speaker == "Vladimir Akhmedov"


def test_elided_subject_in_croatian_is_the_previous_speaker():
    text = ("\"Ruski predsjednik drži da bi bilo neprikladno obnoviti napade\", rekao je glasnogovornik Dmitrij "
            "Peskov. Dodao je da Putin smatra kako je nužno \"nastaviti s humanitarnim prekidom\".")
    quotes = _quotes(text, "hr", [("Dmitrij Peskov", "PER"), ("Putin", "PER")])
    assert [q.speaker_entity_id for q in quotes] == ["per:peskov", "per:peskov"]


def test_scare_quotes_and_nested_quotes_are_not_statements():
    text = ("Russia claims it hits only \"terrorist targets\". “If hostilities break out, the Geneva process may "
            "‘freeze’ yet again,” he said.")
    quotes = _quotes(text, "en", [])
    assert [q.text[:17] for q in quotes] == ["If hostilities br"]
    assert quotes[0].speaker_entity_id is None  # nobody was named


def test_no_verb_no_speaker():
    text = "The so-called “humanitarian pause for all civilians” began on Tuesday in Aleppo."
    quotes = _quotes(text, "en", [("Aleppo", "LOC")])
    assert len(quotes) == 1 and quotes[0].speaker is None


def test_apostrophes_do_not_close_single_quotes():
    text = "‘We don’t accept Russia’s terms at all,’ the envoy said."
    assert [text[s:e] for s, e in find_quotations(text)] == ["We don’t accept Russia’s terms at all,"]
