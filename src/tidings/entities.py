"""Canonical entities: one id per person, organisation and place across languages and scripts.

``analyse(text, lang, published_at, title)`` runs the recogniser (:func:`tidings.ner.recognise`),
links every span to an id, and adds dates (:mod:`tidings.dates`) and quotations
(:mod:`tidings.quotes`). ``canonical_id(name, label, lang)`` is the linking step alone.

Ids (docs/entities.md has the full story):

* places: ``geo:<GeoNames id>`` through :mod:`tidings.places` (Alep, Alepu, Aleppo, حلب ->
  ``geo:170063``); a LOC the gazetteer does not know gets ``loc:<skeleton>``;
* people: ``per:<key>``; the key comes from the curated table ``data/names/entities.tsv``
  (``per:putin`` for Путин/Poutine/普京) or else is the phonetic skeleton of the surname
  (:func:`tidings.translit.skeleton`: Rudskoj/Rudskoy/Рудской -> ``per:rudsk``), which drops
  Slavic case endings with the trailing vowels (Putina -> ``putin``);
* organisations: ``org:<key>`` from the curated table (Kremlin/Kremlja/Кремль -> ``org:kremlin``)
  or else the skeletons of the name's words joined by ``_``.

Recognisers make label mistakes that linking can repair with document context: a PER/ORG span
that exactly names a country or a big city becomes a place (spaCy tags "Aleppo" PER), a single
word equal to the surname of a full PER name in the same article becomes that person
("Akhmedov" tagged ORG after "Vladimir Akhmedov"), and a curated name takes its curated label.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from threading import Lock

from unidecode import unidecode

from . import places
from .display import nominative
from .models import Analysis, Entity, Mention, Span
from .name_checks import town_by_name
from .towns import SMALL_TOWN_POPULATION
from .translit import fold, script_of, skeleton, to_latin

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

__all__ = ["analyse", "canonical_id", "link", "link_ids", "settings", "configure", "configured", "Linked",
           "acronym_key", "legacy_ids"]

_settings_override: dict | None = None
_settings_cache: dict | None = None
_settings_lock = Lock()


def settings() -> dict:
    """The ``[entities]`` settings: shipped defaults overlaid by the user's file and environment
    (``Settings.load()``), or what :func:`configure` set."""
    global _settings_cache
    if _settings_override is not None:
        return _settings_override
    if _settings_cache is None:
        with _settings_lock:
            if _settings_cache is None:
                from .config import Settings

                _settings_cache = Settings.load().section("entities")
    return _settings_cache


def configured() -> dict | None:
    """The settings :func:`configure` set (None: the loaded ones are used), e.g. to hand them on
    to a worker process."""
    return None if _settings_override is None else dict(_settings_override)


def configure(section: Mapping | None) -> None:
    """Use these ``[entities]`` settings (None: back to the loaded ones). The gazetteer and the
    link cache are rebuilt on next use, since their contents depend on the settings."""
    global _settings_override
    from .config import default_settings

    if section is None:
        _settings_override = None
    else:
        merged = default_settings().section("entities")
        merged.update(section)
        _settings_override = merged
    places._gaz = None
    places.lookup.cache_clear()
    _link_cached.cache_clear()
    link_ids.cache_clear()


# --------------------------------------------------------------------------- data files


def _names_path(name: str) -> Path:
    return Path(str(resources.files("tidings").joinpath("data", "names", name)))


@dataclass(frozen=True)
class _Rules:
    titles: frozenset[str]
    particles: frozenset[str]
    article_prefixes: tuple[str, ...]
    possessives: tuple[str, ...]
    elisions: tuple[str, ...]
    hyphen_case_endings: tuple[str, ...]
    inflected_languages: frozenset[str]
    instrumental_endings: tuple[str, ...]
    name_suffixes: frozenset[str]
    leading_articles: frozenset[str]
    articles: frozenset[str]
    scripts: dict[str, str]


def _by_length(items) -> tuple[str, ...]:
    return tuple(sorted(set(items), key=len, reverse=True))


@lru_cache(maxsize=1)
def _rules() -> _Rules:
    with _names_path("linking.toml").open("rb") as fh:
        d = tomllib.load(fh)
    return _Rules(
        titles=frozenset(d["titles"]), particles=frozenset(d["particles"]),
        article_prefixes=_by_length(d["article_prefixes"]), possessives=_by_length(d["possessives"]),
        elisions=_by_length(d["elisions"]), hyphen_case_endings=_by_length(d["hyphen_case_endings"]),
        inflected_languages=frozenset(d["inflected_languages"]),
        instrumental_endings=_by_length(d["instrumental_endings"]), name_suffixes=frozenset(d["name_suffixes"]),
        leading_articles=frozenset(d["leading_articles"]), articles=frozenset(d.get("articles", ())),
        scripts=dict(d.get("scripts", {})))


def _word_file(name: str) -> frozenset[str]:
    path = _names_path(name)
    if not path.exists():
        return frozenset()
    out = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            out.add(fold(line.split("\t")[0]))
    return frozenset(out)


@lru_cache(maxsize=1)
def stoplist() -> frozenset[str]:
    """Folded words/names never reported as entities (``data/names/not_entities.txt``)."""
    return _word_file("not_entities.txt")


@lru_cache(maxsize=1)
def _first_names() -> frozenset[str]:
    """Known first names (the recogniser's list, ``first_names.tsv``) plus every first name of
    the curated table: an ORG span starting with one and without an organisation cue is a PER."""
    names = set(_word_file("first_names.tsv"))
    for entry in names_table().entries.values():
        names |= entry.first_forms
    return frozenset(names)


@lru_cache(maxsize=1)
def _org_cues() -> frozenset[str]:
    return _word_file("org_cues.txt")


@dataclass
class Curated:
    """One row of ``data/names/entities.tsv``."""

    id: str
    label: str
    name: str
    first_names: set[str] = field(default_factory=set)  # skeletons
    first_forms: set[str] = field(default_factory=set)  # folded


class NameTable:
    """The curated names, indexed by exact folded form, by surname skeleton (people), by
    joined word skeletons (organisations) and by joined word stems (organisation names of two
    words or more, :func:`_org_stem_key`)."""

    def __init__(self, path: Path):
        self.entries: dict[str, Curated] = {}
        self.exact: dict[str, str] = {}
        self.surnames: dict[str, list[str]] = defaultdict(list)
        self.org_skeletons: dict[str, str] = {}
        stems: dict[str, set[str]] = defaultdict(set)
        rules = _rules()
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) < 4 or cols[1] not in ("PER", "ORG"):
                raise ValueError(f"{path}:{lineno}: expected id, PER|ORG, name, variants")
            eid, label, name, variants = cols[:4]
            surnames = cols[4] if len(cols) > 4 else ""
            entry = Curated(eid, label, name)
            self.entries[eid] = entry
            forms = [v.strip() for v in variants.split("|") if v.strip()] + [name]
            for form in forms:
                self.exact.setdefault(fold(form), eid)
            if label == "ORG":
                for form in forms:
                    if not _ACRONYM.fullmatch(form):  # "HTS" and "HC" share a skeleton: exact only
                        self.org_skeletons.setdefault(_org_key(form), eid)
                    if stem := _org_stem_key(form):
                        stems[stem].add(eid)
                continue
            for form in forms:
                given, _, _ = _person_parts(form, rules)
                if given and not given[0].endswith("."):
                    entry.first_names.add(skeleton(given[0]))
                    entry.first_forms.add(fold(given[0]))
            if surnames.strip() == "-":
                continue
            keys = ([_surname_key(s.split(), rules, compound=True) for s in surnames.split("|") if s.strip()]
                    if surnames.strip() else [_surname_key([_person_parts(f, rules)[2]], rules) for f in forms])
            for key in keys:
                if key and eid not in self.surnames[key]:
                    self.surnames[key].append(eid)
        # A stem two organisations share tells them apart no better than nothing: left out.
        self.org_stems = {stem: next(iter(ids)) for stem, ids in stems.items() if len(ids) == 1}

    def organisation(self, name: str) -> Curated | None:
        """The curated organisation ``name`` is a spelling or an inflected form of: by word
        skeletons ("Kremlja"), else, for names of two words or more, by word stems ("Europske
        unije", "Международного валютного фонда", "Europskom unijom")."""
        eid = self.org_skeletons.get(_org_key(name)) or self.org_stems.get(_org_stem_key(name))
        return self.entries[eid] if eid else None

    def person(self, given: list[str], particles: list[str], surname: str) -> Curated | None:
        """The curated person a name's parts point to, if its first name (when given) agrees."""
        rules = _rules()
        keys = []
        if particles:
            keys.append(_surname_key(particles + [surname], rules, compound=True))
        keys.append(_surname_key([surname], rules))
        for key in keys:
            for eid in self.surnames.get(key, ()):
                entry = self.entries[eid]
                if given and entry.first_names and not _is_initial(given[0]):
                    if skeleton(given[0]) not in entry.first_names:
                        continue
                return entry
        return None


@lru_cache(maxsize=1)
def names_table() -> NameTable:
    return NameTable(_names_path("entities.tsv"))


# --------------------------------------------------------------------------- keys


_WS = re.compile(r"\s+")
_EDGE_PUNCT = "\"'«»„“”‘’()[]{},;:!?/\\|*•·–—-."
_TRAILING_PUNCT = "\"'«»„“”‘’()[]{},;:!?/\\|*•·–—-"


def _is_initial(token: str) -> bool:
    return len(token) <= 3 and token.endswith(".")


def _strip_prefix(token: str, rules: _Rules) -> str:
    low = token.lower()
    for prefix in rules.article_prefixes:
        if low.startswith(prefix) and len(token) > len(prefix) + 1:
            return token[len(prefix):]
    return token


def _person_parts(name: str, rules: _Rules) -> tuple[list[str], list[str], str]:
    """(given names, particles before the surname, surname) of a person's name."""
    toks = [t for t in _WS.split(name.strip()) if t]
    while len(toks) > 1 and toks[-1].lower() in rules.name_suffixes:
        toks.pop()
    while len(toks) > 1 and toks[0].lower() in rules.titles:
        toks.pop(0)
    if not toks:
        return [], [], ""
    surname = toks[-1]
    rest = toks[:-1]
    particles: list[str] = []
    while rest and rest[-1].lower() in rules.particles:
        particles.insert(0, rest.pop())
    return rest, particles, surname


def _surname_key(tokens: list[str], rules: _Rules, compound: bool = False) -> str:
    """Skeleton of a surname: ``al-``-type prefixes dropped from a single word; a compound
    (``Ben Ali``, ``von der Leyen``) is keyed as one word."""
    if compound and len(tokens) > 1:
        return skeleton("".join(tokens))
    if not tokens:
        return ""
    word = _strip_prefix(tokens[-1], rules)
    if script_of(word) == "cjk":
        return skeleton(word.replace(" ", ""))
    return skeleton(word)


@lru_cache(maxsize=65536)
def _org_key(name: str) -> str:
    """Skeletons of an organisation name's words, joined with ``_`` (short lowercase function
    words such as "of", "the", "za" dropped: they vary with the language's grammar)."""
    words = [w for w in re.split(r"[\s\-]+", name.strip()) if w]
    kept = [w for w in words if not (w.islower() and len(w) <= 3)] or words
    return "_".join(skeleton(w) for w in kept if skeleton(w))


#: An acronym written in capitals, two to eight letters and digits ("ANSSI", "ÖBB", "ФСБ", "G7").
_ACRONYM_WORD = re.compile(r"[^\W\d_a-zа-яё][^\W_a-zа-яё]{1,7}")


def acronym_key(name: str) -> str:
    """Readable key of an acronym: its letters in lowercase ASCII (``ANSSI`` -> ``anssi``,
    ``ÖBB`` -> ``obb``, ``ФСБ`` -> ``fsb``); "" for other names. The phonetic skeleton, which
    keys other names, reads badly for acronyms (``ans``, ``ob``): it collapses doubled letters and
    drops final vowels, which spell nothing in an acronym."""
    name = name.strip()
    if not _ACRONYM_WORD.fullmatch(name) or not any(ch.isupper() for ch in name):
        return ""
    key = _NOT_ASCII_KEY.sub("", unidecode(to_latin(name, "ru")).lower())
    return key if len(key) >= 2 else ""


_NOT_ASCII_KEY = re.compile(r"[^a-z0-9]+")


def legacy_ids(name: str, label: str) -> frozenset[str]:
    """Ids that tidings before issue #15 gave the entity now named ``name``, where they differ
    from today's: organisations named by an acronym were keyed by its skeleton (``org:ans`` for
    ANSSI). Stored stores keep such ids; :func:`tidings.queries.resolve_entity_id` maps an old id
    to the entity a store holds."""
    if label != "ORG" or not acronym_key(name):
        return frozenset()
    old = _org_key(name)
    return frozenset({f"org:{old}"}) if old and old != acronym_key(name) else frozenset()


#: A short all-capital acronym ("HTS", "ЦРУ", "U.N."): curated ones are matched exactly only.
_ACRONYM = re.compile(r"[^\W\d_a-zа-я]{1,5}|(?:[^\W\d_a-z]\.){2,5}")

#: Case endings of Slavic adjectives and nouns (on skeletons, longest first) that
#: :func:`_org_stem_key` removes: Europske/Europskom -> europsk, Международного -> mezhdunarodn.
_ORG_CASE_ENDING = re.compile(r"(?:ogo|ego|omu|emu|oj|ej|om|em|im|ym|ih|yh|og|eg|uiu|aia|oe|ie|ii|ia|iu|io)$")
#: Letters of each word's stem that :func:`_org_stem_key` keeps.
ORG_STEM_LETTERS = 5


@lru_cache(maxsize=1)
def _function_words() -> frozenset[str]:
    return _word_file("function_words.txt")


@lru_cache(maxsize=65536)
def _org_stem_key(name: str) -> str:
    """Stems of an organisation name's words, joined with ``_``, for names of two words or
    more ("" for one word, whose stem alone would say too little): each word's skeleton without
    a Slavic case ending and final vowels, cut to :data:`ORG_STEM_LETTERS` letters. Only used
    to find curated organisations, so the ids of other organisations keep their skeleton keys."""
    function_words = _function_words()
    kept = [w for w in re.split(r"[\s\-]+", name.strip())
            if w and not (w.islower() and fold(w) in function_words)]
    if len(kept) < 2:
        return ""
    stems = []
    for word in kept:
        s = skeleton(word, min_len=1)
        if len(s) > 3:
            s = _ORG_CASE_ENDING.sub("", s) or s
        s = s.rstrip("aeiou") or s
        stems.append(s[:ORG_STEM_LETTERS])
    return "_".join(stems)


def _fallback_key(name: str) -> str:
    """Key for a name whose skeleton is empty (scripts Unidecode cannot romanise)."""
    return re.sub(r"\s+", "_", fold(name))


# --------------------------------------------------------------------------- surface cleanup


def core_span(text: str, start: int, end: int, label: str, lang: str) -> tuple[int, int]:
    """Offsets of the name proper inside a recognised span: surrounding punctuation, elided
    articles (``d'Alep``), possessives (``Assad’s``), acronym case endings (``SAD-a``), titles
    (``general Rudskoj``) and a leading "the" removed."""
    rules = _rules()
    while start < end and (text[start].isspace() or text[start] in _EDGE_PUNCT):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in _TRAILING_PUNCT):
        end -= 1
    changed = True
    while changed and end > start:
        changed = False
        low = text[start:end].lower()
        for el in rules.elisions:
            if low.startswith(el) and end - start > len(el) + 1:
                start += len(el)
                changed = True
                break
        low = text[start:end].lower()
        for pos in rules.possessives:
            if low.endswith(pos) and end - start > len(pos) + 1:
                end -= len(pos)
                changed = True
                break
        if lang in rules.inflected_languages:
            low = text[start:end].lower()
            for ending in rules.hyphen_case_endings:
                if low.endswith(ending) and end - start > len(ending) + 1:
                    end -= len(ending)
                    changed = True
                    break
        words = text[start:end].split(None, 1)
        if len(words) == 2:
            first = words[0].lower()
            if (first in rules.leading_articles and label in ("ORG", "LOC")) or \
                    (label == "PER" and first in rules.titles) or _leading_function_word(words, label):
                start = text.index(words[1], start + len(words[0]))
                changed = True
        number = _TRAILING_NUMBER.search(text, start, end)
        if number and number.start() > start:
            end = number.start()
            changed = True
        while end > start and text[end - 1] in _TRAILING_PUNCT:
            end -= 1
    return start, end


#: A number of two digits or more after a name (``Hajduk 51``, a score or a fan club's year): cut,
#: a name ends in a word. One digit stays: it is part of names of channels and leagues
#: (Channel 4, France 3, Ligue 1; pt_bosque-dev annotates "France 3" as one ORG).
_TRAILING_NUMBER = re.compile(r"[ \t]+\d{2,}$")


def _leading_function_word(words: list[str], label: str) -> bool:
    """A name does not start with a lowercase preposition or article (``de France`` ->
    ``France``): cut it, except before a surname (``de Gaulle``, ``van Gogh`` keep their
    particle): a person's name loses it only when the rest names a country or a big city."""
    first, rest = words[0], words[1]
    if not first.islower() or first not in _function_words() or not rest[:1].isupper():
        return False
    if places.gazetteer().get_exact(" ".join(words), towns=False) is not None:
        return False  # "la Défense", "le Havre": the article is part of the place's name
    if label != "PER":
        return True
    place = places.gazetteer().get_exact(rest, towns=False)
    return place is not None and _is_major(place)


# --------------------------------------------------------------------------- linking


@dataclass
class Linked:
    """A name linked to its canonical entity (the result of :func:`link`)."""

    id: str
    label: str
    entity: Entity
    curated: bool = False
    place: bool = False
    surname_key: str = ""  # people: skeleton key of the surname (for document-level merging)


def _place_link(place: places.Place) -> Linked:
    return Linked(place.id, "LOC", places.entity_for(place), place=True)


def _place_of(linked: Linked) -> places.Place | None:
    """The gazetteer place a link made by :func:`_place_link` points to (None for other links)."""
    return places.gazetteer().places.get(linked.entity.geonames_id or 0) if linked.place else None


def _curated_link(entry: Curated) -> Linked:
    return Linked(entry.id, entry.label, Entity(entry.id, entry.label, entry.name), curated=True)  # type: ignore[arg-type]


def _display(name: str, lang: str) -> str:
    return to_latin(name, lang) if script_of(name) == "cyrillic" else name


def _is_major(place: places.Place) -> bool:
    return place.kind != "city" or place.population >= int(settings()["relabel_min_population"])


# The language only chooses how a person or an organisation is displayed, never its id: the ids
# are computed once a name (a search links each run of a query's words under every language of
# the store, up to 36 times).
@lru_cache(maxsize=65536)
def _person_key(name: str) -> tuple[Curated | None, str, str]:
    """(the curated person ``name`` points to or None, the id's key otherwise, the surname's key)."""
    rules = _rules()
    given, particles, surname = _person_parts(name, rules)
    entry = names_table().person(given, particles, surname)
    surname_key = _surname_key([surname], rules)
    if entry is not None and entry.label == "PER":
        return entry, "", surname_key
    return None, surname_key or _fallback_key(surname), surname_key


def _person(name: str, lang: str) -> Linked:
    entry, key, surname_key = _person_key(name)
    if entry is not None:
        linked = _curated_link(entry)
    else:
        linked = Linked(f"per:{key}", "PER", Entity(f"per:{key}", "PER", _display(name, lang)))
    linked.surname_key = surname_key
    return linked


@lru_cache(maxsize=65536)
def _organisation_key(name: str) -> tuple[Curated | None, str]:
    """(the curated organisation ``name`` is a form of or None, the id's key otherwise)."""
    curated = names_table().organisation(name)
    if curated is not None:
        return curated, ""
    return None, acronym_key(name) or _org_key(name) or _fallback_key(name)


def _organisation(name: str, lang: str) -> Linked:
    curated, key = _organisation_key(name)
    if curated is not None:
        return _curated_link(curated)
    return Linked(f"org:{key}", "ORG", Entity(f"org:{key}", "ORG", _display(name, lang)))


@lru_cache(maxsize=131072)
def _link_cached(name: str, label: str, lang: str) -> Linked | None:
    folded = fold(name)
    if not folded or folded in stoplist():
        return None
    table = names_table()
    eid = table.exact.get(folded)
    if eid is not None:
        return _curated_link(table.entries[eid])
    words = name.split(None, 1)
    if label in ("LOC", "ORG") and len(words) == 2 and fold(words[0]) in _rules().articles:
        whole = table.exact.get(folded) or places.gazetteer().get_exact(name)
        if whole is None:
            return _link_cached(words[1], label, lang)  # "la Tunisie", "il Cairo"
    if label == "LOC":
        place = places.gazetteer().get_exact(name, towns=False)  # towns after case forms: lookup
        if place is not None:
            return _place_link(place)
        curated = table.organisation(name)
        if curated is not None:
            return _curated_link(curated)
        place = places.lookup(name, lang)
        if place is not None:
            return _place_link(place)
        key = places.name_skeleton(name).replace(" ", "_") or _fallback_key(name)
        return Linked(f"loc:{key}", "LOC", Entity(f"loc:{key}", "LOC", _display(name, lang)))
    # PER / ORG that exactly name a country or a big city are places (metonymy, tagger errors).
    place = places.gazetteer().get_exact(name) or places.gazetteer().by_inflection(name, lang)
    if place is not None and _is_major(place):
        return _place_link(place)
    if label == "ORG":
        words = name.split()
        low = {fold(w) for w in words}
        if len(words) >= 2 and len(words[0]) >= 4 and fold(words[0]) in _rules().titles:
            return _person(name, lang)  # "Presidente Hosni Mubarak" tagged ORG
        if len(words) >= 2 and fold(words[0]) in _first_names() and not (low & _org_cues()):
            return _person(name, lang)
        return _organisation(name, lang)
    curated = table.organisation(name)
    if curated is not None:
        return _curated_link(curated)  # a curated organisation tagged PER ("Jazeera")
    return _person(name, lang)


def link(name: str, label: str, lang: str) -> Linked | None:
    """Link one cleaned surface form; None for stoplisted words. Cached per (name, label, lang)."""
    return _link_cached(name.strip(), label, _norm_lang(lang))


@lru_cache(maxsize=65536)
def link_ids(name: str, langs: tuple[str, ...], labels: tuple[str, ...] = ("LOC", "PER", "ORG")) -> tuple[str, ...]:
    """The ids ``name`` links to under each of ``labels`` in each of ``langs``, sorted: what a
    search needs of each run of its query's words (:func:`tidings.search.entities.query_entities`).

    Cached as strings only, apart from :func:`link`'s cache: a search links a few hundred runs of
    words under every language of the store, and :func:`link`'s cache filled that way held
    ~250,000 :class:`Linked` and :class:`Entity` objects in a server, which each full collection
    of the garbage collector walked (one search in 40 took 60-230 ms longer at a million articles;
    docs/benchmarks.md)."""
    name = name.strip()
    uncached = _link_cached.__wrapped__
    found = {linked.id for lang in dict.fromkeys(_norm_lang(code) for code in langs) for label in labels
             if (linked := uncached(name, label, lang)) is not None}
    return tuple(sorted(found))


def canonical_id(name: str, label: str, lang: str) -> str:
    """Stable id for a surface form, the same across languages, scripts and inflections
    (``canonical_id("Путина", "PER", "ru") == canonical_id("Poutine", "PER", "fr") == "per:putin"``).
    Without document context: a name the stoplist rejects still gets a key-based id."""
    lang = _norm_lang(lang)
    start, end = core_span(name, 0, len(name), label, lang)
    core = name[start:end] or name.strip()
    linked = link(core, label, lang)
    if linked is not None:
        return linked.id
    prefix = {"PER": "per", "ORG": "org", "LOC": "loc"}[label]
    return f"{prefix}:{skeleton(core) or _fallback_key(core)}"


@lru_cache(maxsize=1024)
def _norm_lang(lang: str | None) -> str:
    return re.split(r"[-_]", (lang or "").strip().lower(), maxsplit=1)[0]


# --------------------------------------------------------------------------- analyse


@dataclass
class _Item:
    start: int
    end: int
    text: str
    label: str
    in_title: bool
    linked: Linked | None = None


def _recognise_all(texts: list[str], lang: str) -> list[list[Span]]:
    """The recogniser's spans in each text (an article's text and its title in one call)."""
    from .ner import recognise_all

    return recognise_all(texts, lang)


def _is_credit(text: str, start: int, end: int) -> bool:
    """A name in a photo credit ("Sergei Bobylev/TASS") or right after a boilerplate word
    ("Photo: ..."): not article content."""
    after = text[end:end + 40]
    m = re.match(r"\s*/\s*([^\s/,.;]+(?:\s[^\s/,.;]+)?)", after)
    if m and (fold(m.group(1)) in stoplist() or fold(m.group(1).split()[0]) in stoplist()):
        return True
    before = text[max(0, start - 30):start]
    m = re.search(r"([^\W\d_]+)\s*[:/]\s*$", before)
    return bool(m and fold(m.group(1)) in stoplist() and fold(m.group(1)) not in ("read",))


def _spans_to_items(text: str, spans: list[Span], lang: str, in_title: bool) -> list[_Item]:
    max_words = int(settings()["max_name_words"])
    stop = stoplist()
    items = []
    for sp in _split_spans(text, spans, lang):
        start, end = core_span(text, sp.start, sp.end, sp.label, lang)
        if end - start < 2 or not any(ch.isalpha() for ch in text[start:end]):
            continue
        surface = text[start:end]
        if len(surface.split()) > max_words or "\n" in surface:
            continue
        folded = fold(surface)
        if folded in stop or (" " not in folded and folded.strip(".") in stop):
            continue
        if sp.label == "PER" and " " not in folded and folded in _rules().titles:
            continue  # a bare title ("Presidente") is not a name
        if surface[0].isalpha() and surface[0].islower() and script_of(surface) in ("latin", "cyrillic") \
                and not surface.split()[0].lower() in _rules().particles:
            continue  # lowercase run: a tagger error, names are capitalised in cased scripts
        if _is_credit(text, start, end):
            continue
        if script_of(surface) in _FOREIGN_SCRIPTS and script_of(surface) != _rules().scripts.get(lang, "latin") \
                and folded not in names_table().exact:
            continue  # e.g. Arabic tweets quoted in a Spanish article: the tagger guesses there
        items.append(_Item(start, end, surface, sp.label, in_title))
    return items


_FOREIGN_SCRIPTS = frozenset({"arabic", "cjk", "greek", "other"})
_WORD = re.compile(r"[^\W\d_]+")
_SENTENCE_ENDERS = ".!?:\"“”„«»(\n"


def _sentence_initial(text: str, start: int) -> bool:
    before = text[max(0, start - 20):start].rstrip(" \t")
    return not before or before[-1] in _SENTENCE_ENDERS


def _known_word(word: str, lang: str) -> bool:
    return places.is_known_word(word, "hbs" if places.lemma_lang(lang) == "hbs" else lang)


def _drop_common_words(text: str, items: list[_Item], lang: str, title: str = "") -> None:
    """Unlink single capitalised words that are ordinary words of the language: the word also
    occurs in lowercase in the same text ("Due"/"due"), or it starts a sentence and the
    language's dictionary (simplemma) knows it ("Poco", "Tomó", "Manifestantes"). Weak
    recognisers (the capitalised-span fallback) propose such words; curated names, big places
    and people named in full elsewhere in the article are kept. Words of the ``title`` are
    judged by the text too: "Cyberattaque" heading a French article that writes "la
    cyberattaque" is no name there either."""
    multi = {it.linked.id for it in items if it.linked is not None and len(it.text.split()) > 1}
    lower = None
    for it in items:
        ln = it.linked
        if ln is None or ln.curated or ln.id in multi or " " in it.text:
            continue
        if ln.place:
            place = _place_of(ln)
            if place is None or _is_major(place):
                continue
        if lower is None:
            lower = {w for w in _WORD.findall(text) if w.islower()}
        word = it.text.lower()
        initial = _sentence_initial(title if it.in_title else text, it.start)
        if word in lower or (initial and _known_word(word, lang)):
            it.linked = None


_NOT_IN_NAMES = re.compile(r"[<>|=#@{}\[\]\n]|\s[-–—]\s|[!?;:](?=\s|$)")


def _split_spans(text: str, spans: list[Span], lang: str) -> list[Span]:
    """Repair run-on spans: cut at characters no name contains (``Alep >>Ruski``: the tagger ran
    into a related-links line), and split a leading organisation or place off a person
    (``Kremlja Dmitrij Peskov``, "Kremlin's spokesman Dmitry Peskov" in Croatian word order)
    when at least two words of the name remain."""
    out: list[Span] = []
    for sp in spans:
        start, end = sp.start, sp.end
        m = _NOT_IN_NAMES.search(text, start, end)
        if m:
            end = m.start()
        if end - start < 2:
            continue
        words = list(re.finditer(r"\S+", text[start:end]))
        if sp.label == "PER" and len(words) >= 3:
            head = words[0].group(0).strip(",.")
            linked = link(head, "ORG", lang)
            if linked is not None and (linked.curated and linked.label == "ORG" or linked.place):
                hs, he = start + words[0].start(), start + words[0].start() + len(head)
                out.append(Span(hs, he, linked.label, text[hs:he]))  # type: ignore[arg-type]
                start = start + words[1].start()
        out.append(Span(start, end, sp.label, text[start:end]))
    return out


def _title_in_text(title: str, text: str) -> bool:
    head = fold(text[: len(title) + 400])
    return fold(title)[:80] in head


def analyse(text: str, lang: str, published_at: datetime | None = None, title: str | None = None) -> Analysis:
    """Entities (with canonical ids), dates and quotations of one cleaned article.

    Mentions carry offsets into ``text``; when the title is not part of the text it is
    analysed too and its mentions are marked ``in_title`` (offsets into the title)."""
    from .dates import find_dates
    from .quotes import find_quotes

    lang = _norm_lang(lang)
    text = text or ""
    title_apart = bool(title and title.strip()) and not _title_in_text(title or "", text)
    in_text, in_title = _recognise_all([text, title if title_apart else ""], lang)  # type: ignore[list-item]
    items = _spans_to_items(text, in_text, lang, False) if text.strip() else []
    if title_apart:
        items += _spans_to_items(title, in_title, lang, True)  # type: ignore[arg-type]
    _link_items(items, lang, {False: text, True: title or ""})
    _drop_common_words(text, items, lang, title or "")
    if text.strip():
        items += _propagate(text, items, lang)
        items.sort(key=lambda it: (it.in_title, it.start))
    mentions: list[Mention] = []
    entities: dict[str, Entity] = {}
    forms: dict[str, Counter[str]] = defaultdict(Counter)
    for it in items:
        if it.linked is None:
            continue
        ln = it.linked
        mentions.append(Mention(ln.id, ln.label, it.text, it.start, it.end, in_title=it.in_title))  # type: ignore[arg-type]
        entities.setdefault(ln.id, ln.entity)
        forms[ln.id][it.text] += 1
    for eid, ent in entities.items():
        if eid.startswith(("per:", "org:", "loc:")) and not _curated_id(eid):
            entities[eid] = Entity(eid, ent.label, _best_display(forms[eid], ent.label, lang))
    dates = find_dates(text, lang, published_at) if text.strip() else []
    quotes = find_quotes(text, lang, [m for m in mentions if not m.in_title], entities) if text.strip() else []
    return Analysis(mentions=mentions, entities=entities, dates=dates, quotes=quotes)


def _curated_id(eid: str) -> bool:
    return eid in names_table().entries


def _best_display(forms: Counter[str], label: str, lang: str) -> str:
    """Display name of an uncurated entity: its fullest form in the article (most words, then
    most frequent, then shortest), in the nominative where the language inflects
    (:func:`tidings.display.nominative`: "Ante Bulića" -> "Ante Bulić", "Poljudu" -> "Poljud")."""
    best = sorted(forms.items(), key=lambda kv: (-len(kv[0].split()), -kv[1], len(kv[0]), kv[0]))[0][0]
    return _display(nominative(best, label, lang, forms), lang)


_TOKEN = re.compile(r"(?<![\w’'-])[^\W\d_][\w’'-]*")


def _propagate(text: str, items: list[_Item], lang: str) -> list[_Item]:
    """Single words the recogniser missed that name an entity it found elsewhere in the same
    article: another case form of a place name seen in it (``Alep`` when only ``Alepa``/``Alepu``
    were tagged), a curated name, or the surname of a person named in full. Only cheap exact and
    case-ending lookups are used, and only ids already in the article are accepted, so a
    capitalised common word cannot bring in a new entity; a place must share its base form with
    a tagged mention, so the adjective "Ruski" (also Slovak "Rusko" = Russia in CLDR) is not
    taken for "Rusija"."""
    found = {it.linked.id: it.linked for it in items if it.linked is not None and not it.in_title}
    if not found:
        return []
    surnames = {it.linked.surname_key: it.linked for it in items
                if it.linked is not None and it.linked.label == "PER" and it.linked.surname_key}
    covered = bytearray(len(text) + 1)
    for it in items:
        if not it.in_title:
            covered[it.start:it.end] = b"\x01" * (it.end - it.start)
    gaz = places.gazetteer()
    table = names_table()
    rules = _rules()
    stop = stoplist()
    place_bases: dict[str, str] = {}  # base form of a tagged place mention -> its id
    for it in items:
        if it.linked is not None and it.linked.place and not it.in_title:
            for key in gaz.base_keys(it.text, lang):
                place_bases.setdefault(key, it.linked.id)
    out: list[_Item] = []
    for m in _TOKEN.finditer(text):
        start, end = m.span()
        if not text[start].isupper() or covered[start] or covered[end - 1]:
            continue
        start, end = core_span(text, start, end, "LOC", lang)
        word = text[start:end]
        if len(word) < 3 or fold(word) in stop:
            continue
        target: Linked | None = None
        eid = table.exact.get(fold(word))
        if eid is not None:
            target = found.get(eid)
        if target is None and place_bases:
            for key in gaz.base_keys(word, lang):
                if key in place_bases:
                    target = found.get(place_bases[key])
                    break
        if target is None and surnames:
            target = surnames.get(_surname_key([word], rules))
        if target is not None:
            out.append(_Item(start, end, word, target.label, False, target))
    return out


def _city_read_from_a_name(item: _Item, linked: Linked) -> bool:
    """The recogniser called ``item`` a person or an organisation and linking made it a city
    (a big city's name: :func:`_is_major`). Such a word may still be the surname of a person the
    article names in full ("Ibarra" after "Tomás Ibarra" is not Ibarra, Ecuador); a word tagged
    LOC, or a country ("Jordan"), stays a place."""
    if item.label == "LOC":
        return False
    place = _place_of(linked)
    return place is not None and place.kind == "city"


def _link_items(items: list[_Item], lang: str, texts: dict[bool, str] | None = None) -> None:
    """Link every item, then repair labels and merge keys with what the article itself says
    (``texts``: the text and the title, by ``in_title``, for the words around a mention)."""
    for it in items:
        it.linked = link(it.text, it.label, lang)
    surnames = _surnames_of_full_names(items, lang)
    _towns_of_named_countries(items, lang, surnames)
    _one_label_per_name(items, lang, surnames, texts or {})


#: Words before a name that say it is a place ("in Keflavík", "aus Wörgl", "u Splitu"), per
#: language; a town the gazetteer knows, written after one of them, is that town everywhere in
#: the article (a person is rarely "in" or "from" a one-word name: "a letter from Johnson" needs
#: the name to be a town too, and people named in full in the article are excluded).
_LOCATIVES = {
    "en": ("in", "near", "outside", "from", "to"), "de": ("in", "aus", "bei", "nach", "nahe", "von"),
    "fr": ("à", "près de", "de", "vers"), "es": ("en", "desde", "cerca de"), "it": ("a", "in", "da", "vicino a"),
    "pt": ("em", "perto de"), "hr": ("u", "iz", "kod", "blizu"), "sr": ("u", "iz", "kod", "blizu"),
    "bs": ("u", "iz", "kod", "blizu"), "sl": ("v", "iz", "pri"), "sk": ("v", "vo", "z", "zo", "pri"),
    "ru": ("в", "во", "из", "под"), "is": ("í", "frá"), "nl": ("in", "uit", "bij"),
}
_LABEL_ORDER = {"LOC": 0, "ORG": 1, "PER": 2}


def _after_locative(text: str, start: int, lang: str) -> bool:
    words = _LOCATIVES.get(lang, ())
    if not words:
        return False
    before = text[max(0, start - 12):start].lower()
    return any(before.endswith(w + " ") and (len(before) == len(w) + 1 or not before[-len(w) - 2].isalnum())
               for w in words)


def _one_label_per_name(items: list[_Item], lang: str, surnames: dict[str, Linked],
                        texts: dict[bool, str]) -> None:
    """One name, one entity in an article: mentions of the same name (as written) that were linked
    to different entities ("Grindavík" as a person and as a place) take one of them. A gazetteer
    place wins when a mention was tagged a place or follows a locative word ("from Keflavík");
    otherwise the label most mentions got (ties: place, organisation, person). A single word that
    is the surname of a person named in full in the article is left alone ("Washington" after
    "George Washington")."""
    groups: dict[str, list[_Item]] = defaultdict(list)
    for it in items:
        if it.linked is not None and not it.linked.curated:
            groups[fold(it.text)].append(it)
    rules = _rules()
    for group in groups.values():
        if len(group[0].text.split()) == 1 and _surname_key([group[0].text], rules) in surnames \
                and any(it.linked.label == "PER" for it in group):
            continue
        place = next((it.linked for it in group if it.linked.place), None)
        if place is None:
            town = places.gazetteer().get_exact(group[0].text)
            if town is not None and not _is_major(town) and not town_by_name(group[0].text, lang):
                town = None  # a small town by its own name, no common word ("Dio", "Corte")
            if town is not None and town.kind == "city" and any(
                    it.label == "LOC" or _after_locative(texts.get(it.in_title, ""), it.start, lang) for it in group):
                place = _place_link(town)
        if place is None and len({it.linked.id for it in group}) < 2:
            continue
        if place is not None:
            chosen = place
        else:
            votes = Counter(it.linked.id for it in group)
            by_id = {it.linked.id: it.linked for it in group}
            chosen = by_id[min(votes, key=lambda i: (-votes[i], _LABEL_ORDER.get(by_id[i].label, 3), i))]
        for it in group:
            it.linked = chosen


def _towns_of_named_countries(items: list[_Item], lang: str, surnames: dict[str, Linked]) -> None:
    """A name the recogniser called a person or an organisation that is, as written or in a case
    form, a town of a country the article names, in a language that country does not speak, is
    that town: "Sisak" and "Šabac" in an English or German report on floods in Croatia and
    Serbia, "Sremska Mitrovica" tagged ORG. Towns below ``entities.relabel_min_population``
    share names with people too often to be taken on their name alone; the country named in
    the same article is the evidence. Only the town's own (GeoNames) name, as written or
    declined; not in the country's own languages nor where English is spoken, where towns are
    named after people (Campbell, Parker); not for given names (``ner.first_names``), surnames
    of people named in full in the article, or names outside the Latin and Cyrillic scripts."""
    from .ner import first_names

    countries = {place.country for place in (_place_of(it.linked) for it in items if it.linked is not None)
                 if place is not None and place.country}
    # Not where the article's language is spoken, nor where English is: towns there are named
    # after people (Campbell, Parker) and are read as such in any language.
    countries = {c for c in countries if not {lang, "en"} & places.country_languages(c)}
    if not countries:
        return
    gaz = places.gazetteer()
    rules = _rules()
    given = first_names()
    for it in items:
        ln = it.linked
        if ln is None or ln.place or ln.curated or it.label == "LOC":
            continue
        words = it.text.split()
        if words[0].lower() in given or (len(words) == 1 and _surname_key(words, rules) in surnames) \
                or script_of(it.text) not in ("latin", "cyrillic"):
            continue
        town = gaz.get_exact(it.text) or gaz.by_inflection(it.text, lang)
        if town is None or town.kind != "city" or town.country not in countries:
            continue
        if town.population < SMALL_TOWN_POPULATION and not town_by_name(it.text, lang):
            continue  # a small town by its own name, no common word (Italian "Corte" in France)
        # The town's own name, as written or declined: not one of GeoNames' many alternate
        # spellings ("Chung" for a district of Shanghai).
        if fold(town.name) in {fold(it.text)} | gaz.base_keys(it.text, lang):
            it.linked = _place_link(town)


def _surnames_of_full_names(items: list[_Item], lang: str) -> dict[str, Linked]:
    """Single words that are the surname of a person named in full in the article become that
    person (also a big city's name the recogniser did not call a place: ``Ibarra``); returns
    the surname keys of the article's full names."""
    rules = _rules()
    surnames: dict[str, Linked] = {}
    for it in items:
        ln = it.linked
        if ln is not None and ln.label == "PER" and len(it.text.split()) >= 2 and ln.surname_key:
            surnames.setdefault(ln.surname_key, ln)
    if not surnames:
        return surnames
    for it in items:
        ln = it.linked
        if ln is None or len(it.text.split()) != 1 or ln.curated:
            continue
        if ln.place and not _city_read_from_a_name(it, ln):
            continue
        key = _surname_key([it.text], rules)
        target = surnames.get(key)
        if target is None and lang in rules.inflected_languages:
            low = it.text.lower()
            for ending in rules.instrumental_endings:
                if low.endswith(ending) and len(low) - len(ending) >= 3:
                    target = surnames.get(_surname_key([it.text[: len(it.text) - len(ending)]], rules))
                    if target is not None:
                        break
        if target is not None and target.id != ln.id:
            it.linked = target
    return surnames
