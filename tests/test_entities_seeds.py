"""Acceptance on the seed articles: one Croatian and one English article about Aleppo, 2016.

The texts are analysed as they are in ../shared/seeds (boilerplate included, so the
linker's own defences are tested, not the cleaner's). The Croatian file has no date: the issue
says to pass 2016-10-28; the English one was published on 2016-08-05.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

import pytest

from tidings.entities import analyse

from conftest import need_shared


@pytest.fixture(scope="module")
def seeds():
    folder = need_shared("seeds")
    hr = next(folder.glob("000_*.txt")).read_text(encoding="utf-8")
    en = next(folder.glob("004_*.txt")).read_text(encoding="utf-8")
    return {"hr": analyse(hr, "hr", datetime(2016, 10, 28)), "en": analyse(en, "en", datetime(2016, 8, 5))}


def _forms(analysis) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for m in analysis.mentions:
        out[m.entity_id].add(m.text)
    return out


def _ids_with(analysis, *forms: str) -> set[str]:
    return {m.entity_id for m in analysis.mentions if m.text in forms}


def test_aleppo_is_geonames_170063_with_forms_from_both_languages(seeds):
    hr, en = _forms(seeds["hr"]), _forms(seeds["en"])
    assert {"Alep", "Alepa", "Alepu"} <= hr["geo:170063"]
    assert "Aleppo" in en["geo:170063"]
    aleppo = seeds["hr"].entities["geo:170063"]
    assert aleppo.geonames_id == 170063 and aleppo.label == "LOC" and aleppo.country == "SY"
    assert aleppo.lat == pytest.approx(36.2, abs=0.1)


@pytest.mark.parametrize("hr_forms,en_forms", [
    (("Bashara al-Asada",), ("Bashar al-Assad", "Assad")),
    (("Sirije", "Siriji", "Sirija"), ("Syria",)),
    (("Rusija", "Rusiji", "Rusije"), ("Russia",)),
    (("Kremlja",), ("Kremlin",)),
])
def test_one_entity_across_both_articles(seeds, hr_forms, en_forms):
    hr_ids = _ids_with(seeds["hr"], *hr_forms)
    en_ids = _ids_with(seeds["en"], *en_forms)
    assert len(hr_ids) == 1 and hr_ids == en_ids, (hr_ids, en_ids)


def test_assad_possessive_is_the_same_person(seeds):
    en = seeds["en"]
    assert _ids_with(en, "Bashar al-Assad") == _ids_with(en, "Assad") == {"per:assad"}
    assert en.entities["per:assad"].name == "Bashar al-Assad"


def test_putin_and_putina_are_one_entity(seeds):
    hr = _forms(seeds["hr"])
    putin = [eid for eid, forms in hr.items() if {"Putin", "Putina"} & forms]
    assert putin == ["per:putin"]
    assert {"Putin", "Putina"} <= hr["per:putin"]


@pytest.mark.parametrize("name", ["Moscow", "Washington", "Geneva"])
def test_cities_are_places_with_geonames_ids(seeds, name):
    ids = _ids_with(seeds["en"], name)
    assert len(ids) == 1
    eid = ids.pop()
    assert eid.startswith("geo:")
    assert seeds["en"].entities[eid].name == name


@pytest.mark.parametrize("lang,surface", [
    ("hr", "Peskov"), ("hr", "Rudskoj"), ("en", "Shoigu"), ("en", "Kerry"), ("en", "de Mistura"), ("en", "Isayev"),
    ("en", "Lukyanov"), ("en", "Akhmedov"),
])
def test_people_are_people(seeds, lang, surface):
    analysis = seeds[lang]
    found = [m for m in analysis.mentions if surface in m.text]
    assert found, f"{surface} not found"
    assert {m.label for m in found} == {"PER"}
    assert len({m.entity_id for m in found}) == 1


def test_rudskoj_is_rudskoy(seeds):
    from tidings.entities import canonical_id

    (rudskoj,) = {m.entity_id for m in seeds["hr"].mentions if "Rudskoj" in m.text}
    assert canonical_id("Sergei Rudskoy", "PER", "en") == rudskoj


def test_no_boilerplate_word_is_an_entity(seeds):
    boilerplate = {"photo", "read", "read more", "subscribe", "cookies", "cookie", "tass", "accept", "click"}
    for analysis in seeds.values():
        texts = {m.text.lower() for m in analysis.mentions}
        names = {e.name.lower() for e in analysis.entities.values()}
        assert not (texts | names) & boilerplate
        assert not any("/" in t or ">>" in t for t in texts)
    # the photographer of the credit line "Sergei Bobylev/TASS" is not in the story either
    assert not any("Bobylev" in m.text for m in seeds["en"].mentions)


def test_croatian_dates_against_publication_year(seeds):
    dates = {(d.text, d.start, d.end) for d in seeds["hr"].dates}
    assert ("22. rujna", date(2016, 9, 22), date(2016, 9, 22)) in dates
    assert ("18. listopada", date(2016, 10, 18), date(2016, 10, 18)) in dates
    assert ("od rujna 2015.", date(2015, 9, 1), date(2016, 10, 28)) in dates
    # nothing else: not "300.000 ljudi", "24 sata", "15 civila"
    assert {d.text for d in seeds["hr"].dates} == {"od 2011.", "22. rujna", "od rujna 2015.", "18. listopada"}


def test_english_dates(seeds):
    dates = {d.text: (d.start, d.end) for d in seeds["en"].dates}
    assert dates["July 28"] == (date(2016, 7, 28), date(2016, 7, 28))
    assert dates["Aug. 1"] == (date(2016, 8, 1), date(2016, 8, 1))
    assert dates["late August"] == (date(2016, 8, 21), date(2016, 8, 31))
    assert dates["since 2012"] == (date(2012, 1, 1), date(2016, 8, 5))


def test_croatian_quote_speaker_is_peskov(seeds):
    quotes = seeds["hr"].quotes
    first = next(q for q in quotes if q.text.startswith("Ruski predsjednik drži"))
    assert first.speaker_entity_id == "per:peskov"
    assert first.speaker == "Dmitry Peskov"
    rudskoj = [q for q in quotes if q.text.startswith(("Dok civili", "poduzima sve", "Voljni smo"))]
    assert len(rudskoj) == 3
    assert len({q.speaker_entity_id for q in rudskoj}) == 1
    assert "Rudskoj" in rudskoj[0].speaker
    # scare quotes are not statements
    assert not any(q.text in ("terorističke ciljeve", "humanitarnog primirja") for q in quotes)


def test_english_quote_speakers(seeds):
    by_start = {" ".join(q.text.split())[:20]: q.speaker_entity_id for q in seeds["en"].quotes}
    assert by_start["The corridors are in"] == "per:isaev"
    assert by_start["We should not fool o"] == "per:lukianov"
    assert by_start["In my view, the oper"] == "per:ahmedov"  # "he said" after Akhmedov was named
    assert by_start["of completely breaki"] == "per:kerry"  # partial quote after "Kerry said that"
    assert by_start["If active hostilitie"] == "per:lukianov"


def test_mentions_point_into_the_text(seeds):
    folder = need_shared("seeds")
    text = next(folder.glob("004_*.txt")).read_text(encoding="utf-8")
    for m in seeds["en"].mentions:
        assert text[m.start:m.end] == m.text
        assert m.entity_id in seeds["en"].entities
    for q in seeds["en"].quotes:
        assert text[q.start_char:q.end_char] == q.text
