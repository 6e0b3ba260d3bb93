"""Checks on a recogniser's spans against the gazetteer and the language's lexicon (issue #15).

:func:`towns_not_people`: a recogniser that meets a one-word name it has no evidence for tends to
call it a person: spaCy's English model tags "Grindavík" PER in "residents of Grindavík", the
German fallback's capitalised-span rule tags "Schwaz" and "Wörgl" PER. When the gazetteer knows
the word as a town (towns of 1,000 people and more: :mod:`tidings.towns`) and nothing in the
text says person, the span is a place. "Nothing says person" means all of:

* the word is no given name (:func:`tidings.ner.first_names`, also once transliterated to Latin:
  "Норман") and the names projected from the
  UNER training data (:func:`tidings.ner.known_names`) do not list it as a person or an
  organisation;
* no longer person span in the text ends with it ("George Washington" makes "Washington" the
  man), no title or capitalised word stands right before it, and it is not in a list next to a
  person ("Peter Saul, Corneille, Tinguely");
* and a place is where the text puts it: one of its mentions follows a locative word ("in
  Wörgl", "von Schwaz", "residents of Grindavík"), no mention of it has a possessive ("Duffy's");
* for a town under ``entities.relabel_min_population`` people, the word is no ordinary word of
  the language in lowercase (simplemma): "Mobile", "Split", "Nice", "Bush" and "Police" are
  words before they are towns, so only big places with those names (Split, Nice) count; and
  such a town must be named by its own GeoNames name, not an alternate ("Chung").

An organisation that is a big city stays an organisation: "Пекин считает" is Beijing's
government, as UNER annotates it (linking still puts it on the map). Applied after every
recogniser by :func:`tidings.ner.recognise`.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .models import Span
from .towns import unaccented
from .translit import fold, to_latin

__all__ = ["towns_not_people", "town_by_name"]

#: The word right before a span, and whether it is capitalised (part of a longer name).
_PREV_WORD = re.compile(r"([^\W\d_][\w'’.-]*)[ \t]+$")
#: What separates the names of a list: a comma, "and" in a few languages, an ampersand.
_LIST_GAP = re.compile(r"\s*(?:,|;|&|\band\b|\bund\b|\bet\b|\be\b|\by\b|\bi\b|\bи\b)\s*")
_WORD_ONLY = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")


@lru_cache(maxsize=1)
def _person_titles() -> frozenset[str]:
    from .crf import word_list

    return word_list("person_titles.txt")


def _relabel_min_population() -> int:
    from .entities import settings

    return int(settings()["relabel_min_population"])


@lru_cache(maxsize=65536)
def town_by_name(word: str, lang: str) -> bool:
    """``word`` is exactly the name of a city or town the gazetteer knows, and not one whose name
    is a common word of ``lang`` unless the place is big."""
    from .ner import _known_word
    from .places import gazetteer

    place = gazetteer().get_exact(word)
    if place is None or place.kind != "city":
        return False
    if place.population < _relabel_min_population():
        # A smaller place by its own name only: GeoNames' alternate names of places ("Chung",
        # a district of Shanghai) are surnames too often; without its accents only in English
        # (Grindavik; Italian "Lombardia" is the region, not Lombardía in Mexico); and no
        # common word of the language or of English, which news borrows everywhere ("Police",
        # Italian "Corte", "Dio"; "Wake", "Echelon" in Italian text).
        own = {fold(place.name)} | ({fold(unaccented(place.name))} if lang == "en" else set())
        if fold(word) not in own or _known_word(word.lower(), lang) or _known_word(word.lower(), "en"):
            return False
    return True


#: "Residents of Grindavík", "north of Kufstein": English puts a place after "of" behind these.
_OF_PLACE = re.compile(r"\b(?:north|south|east|west|outside|town|village|city|residents|mayor|municipality|"
                       r"people|centre|center|streets|port|suburbs?) of[ \t]+$", re.IGNORECASE)
#: "Duffy's trial": a possessive after a name is a person's (or an organisation's) more often.
_POSSESSIVE = re.compile(r"['’]s\b")


def _located_words(text: str, spans: list[Span], lang: str) -> set[str]:
    """Folded one-word spans of which at least one mention stands where a place stands: after a
    locative word of the language ("in", "aus", "u": ``entities._LOCATIVES``) or after
    :data:`_OF_PLACE` in English."""
    from .entities import _after_locative

    return {fold(sp.text) for sp in spans
            if " " not in sp.text and (_after_locative(text, sp.start, lang)
                                       or (lang == "en" and _OF_PLACE.search(text, max(0, sp.start - 40), sp.start)))}


def _big_city(word: str) -> bool:
    from .places import gazetteer

    place = gazetteer().get_exact(word, towns=False)
    return place is not None and place.population >= _relabel_min_population()


def _in_a_list_of_people(text: str, spans: list[Span], i: int) -> bool:
    """Span ``i`` stands in a list next to a person ("Peter Saul, Corneille, Tinguely")."""
    for j in (i - 1, i + 1):
        if 0 <= j < len(spans) and spans[j].label == "PER":
            a, b = (spans[j], spans[i]) if j < i else (spans[i], spans[j])
            if _LIST_GAP.fullmatch(text, a.end, b.start):
                return True
    return False


def towns_not_people(text: str, spans: list[Span], lang: str) -> list[Span]:
    """``spans`` with one-word PER/ORG spans that name a town, with no person evidence, as LOC
    (see the module docstring)."""
    from .ner import first_names, known_names

    out: list[Span] = []
    located = _located_words(text, spans, lang)
    possessed = {fold(s.text) for s in spans if _POSSESSIVE.match(text, s.end)}
    surnames = {fold(sp.text.split()[-1]) for sp in spans if sp.label == "PER" and len(sp.text.split()) > 1}
    given, known, titles = first_names(), known_names(), _person_titles()
    for i, sp in enumerate(spans):
        word = sp.text
        if sp.label in ("PER", "ORG") and len(word) >= 4 and _WORD_ONLY.fullmatch(word) \
                and word[0].isupper() and not word.isupper():
            low = word.lower()
            if sp.label == "ORG" and _big_city(word):
                out.append(sp)  # "Пекин считает": a capital for its government, as UNER tags it
                continue
            prev = _PREV_WORD.search(text, max(0, sp.start - 40), sp.start)
            person_like = (fold(word) in possessed or low in given or to_latin(word).lower() in given or known.get(low) in ("PER", "ORG")
                           or fold(word) in surnames
                           or _in_a_list_of_people(text, spans, i)
                           or (prev is not None and (prev.group(1)[0].isupper()
                                                     or prev.group(1).lower().rstrip(".") in titles)))
            if not person_like and fold(word) in located and town_by_name(word, lang):
                sp = Span(sp.start, sp.end, "LOC", sp.text)
        out.append(sp)
    return out
