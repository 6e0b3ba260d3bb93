"""Language identification: ISO 639-1 code and a confidence in 0..1.

py3langid (140 languages, normalised probabilities) decides first: it is fast and good on
full articles. Croatian, Serbian, Bosnian, Slovene and Macedonian are close enough that its
first guess among them is often wrong, and the difference matters for the NER model, the
stemmer and the boilerplate patterns picked downstream. So when its best guess is one of them,
the text is re-decided among just those languages:

* Cyrillic script: lingua restricted to Serbian/Macedonian, blended with py3langid. Serbian in
  Cyrillic is "sr".
* Latin script: Slovene against the rest by the same blend; then, among hr/sr/bs, the dialect
  and vocabulary markers of ``data/language/south_slavic.tsv`` (ekavian "uvek/hleb" is Serbian,
  ijekavian with Croatian words "kruh/tisuća" is Croatian...), because lingua's Serbian model is
  Cyrillic-only and calls Serbian Latin text Bosnian. Without markers, the blend decides.

A language given with the input (``hint``) wins with confidence 1.0: the publisher knows.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import Counter
from importlib import resources
from typing import Any

import regex

from .config import section_with_defaults

log = logging.getLogger(__name__)

UNDETERMINED = "und"
_WORD = regex.compile(r"\p{L}+")
_LETTER = regex.compile(r"\p{L}")
_CYRILLIC = regex.compile(r"\p{Script=Cyrillic}")
_LINGUA_NAMES = {"hr": "CROATIAN", "sr": "SERBIAN", "bs": "BOSNIAN", "sl": "SLOVENE", "mk": "MACEDONIAN"}
_MARKER_LANG = {"ekavian": "sr", "hr": "hr", "bs": "bs"}
_lock = threading.Lock()
_lingua_cache: dict[tuple[str, ...], Any] = {}


def _section(settings: Any) -> dict[str, Any]:
    """The [language] settings over the shipped defaults."""
    return section_with_defaults("language", settings)


@functools.lru_cache(maxsize=8)
def _identifier(only: tuple[str, ...], exclude: tuple[str, ...]):
    """The py3langid model with normalised probabilities (loaded once, ~0.3 s), restricted to
    ISO 639-1 labels (or to ``only``) minus ``exclude``."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    labels = [lang for lang in identifier.labels if (lang in only if only else len(lang) == 2)]
    identifier.set_languages([lang for lang in labels if lang not in exclude])
    return identifier


def _lingua(codes: tuple[str, ...]):
    """A lingua detector restricted to ``codes``, built once per set, on first use."""
    with _lock:
        detector = _lingua_cache.get(codes)
        if detector is None:
            from lingua import Language, LanguageDetectorBuilder

            langs = [getattr(Language, _LINGUA_NAMES[c]) for c in codes]
            detector = LanguageDetectorBuilder.from_languages(*langs).build()
            _lingua_cache[codes] = detector
        return detector


@functools.lru_cache(maxsize=1)
def _markers() -> tuple[dict[str, str], tuple[tuple[str, str], ...]]:
    """The dialect word list: exact words, and prefixes (entries ending in ``*``)."""
    path = resources.files("tidings").joinpath("data", "language", "south_slavic.tsv")
    exact: dict[str, str] = {}
    prefixes: list[tuple[str, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        word, marker = line.split("\t")[:2]
        word = word.strip().casefold()
        if word.endswith("*"):
            prefixes.append((word[:-1], marker.strip()))
        else:
            exact[word] = marker.strip()
    prefixes.sort(key=lambda p: -len(p[0]))  # longest prefix wins
    return exact, tuple(prefixes)


def marker_counts(text: str) -> Counter[str]:
    """How many words of ``text`` carry each dialect marker (ekavian, ijekavian, hr, srbs, bs)."""
    exact, prefixes = _markers()
    counts: Counter[str] = Counter()
    for word in _WORD.findall(text.casefold()):
        marker = exact.get(word)
        if marker is None:
            marker = next((m for p, m in prefixes if word.startswith(p)), None)
        if marker is not None:
            counts[marker] += 1
    return counts


def normalise_code(lang: str) -> str:
    """'EN', 'pt-BR', 'sr_Latn' -> 'en', 'pt', 'sr'."""
    return lang.strip().lower().replace("_", "-").split("-")[0]


def _blend(codes: tuple[str, ...], text: str, py: dict[str, float], weight: float) -> dict[str, float]:
    """Per-code probability: py3langid renormalised over ``codes``, mixed with lingua's."""
    py_total = sum(py.get(c, 0.0) for c in codes)
    py_part = {c: (py.get(c, 0.0) / py_total if py_total > 0 else 1.0 / len(codes)) for c in codes}
    values = _lingua(codes).compute_language_confidence_values(text)
    lingua_part = {c: 0.0 for c in codes}
    for value in values:
        code = value.language.iso_code_639_1.name.lower()
        if code in lingua_part:
            lingua_part[code] = value.value
    if sum(lingua_part.values()) <= 0:  # lingua abstains on text without letters it knows
        weight = 0.0
    return {c: (1 - weight) * py_part[c] + weight * lingua_part[c] for c in codes}


def _decide_hbs(text: str, py: dict[str, float]) -> tuple[str, float]:
    """Croatian, Serbian or Bosnian (Latin script): dialect and vocabulary markers, then the blend.

    Ekavian is Serbian. Otherwise vocabulary decides: Croatian words make it Croatian; Serbian/
    Bosnian words make it Bosnian when the text is ijekavian, Serbian when it is not. Ijekavian
    text without telling vocabulary is taken as Croatian: py3langid and lingua both call much
    Croatian "Bosnian" (149 of 960 sentences of UNER hr_set-dev), and Bosnian news is rarer.
    """
    counts = marker_counts(text)
    ekavian, ijekavian = counts["ekavian"], counts["ijekavian"]
    hr, srbs, bs = counts["hr"], counts["srbs"], counts["bs"]
    total = ekavian + ijekavian + hr + srbs + bs
    if ekavian > ijekavian:
        return "sr", (ekavian + srbs) / total
    if hr > srbs + bs:
        return "hr", (hr + ijekavian) / total
    if srbs + bs > hr:
        lang = "bs" if ijekavian or bs else "sr"
        return lang, (srbs + bs + ijekavian) / total
    if ijekavian:
        return "hr", ijekavian / total
    # No markers at all: py3langid between Croatian and the rest. Its "bs" mostly means "not
    # Croatian" (61% of marker-less UNER sr_set-dev sentences, 23% of hr_set-dev), and lingua
    # cannot help here: its Serbian model is Cyrillic-only and it calls Croatian "Bosnian".
    scores = {c: py.get(c, 0.0) for c in ("hr", "sr", "bs")}
    norm = sum(scores.values()) or 1.0
    best = max(scores, key=scores.__getitem__)
    if best == "hr":
        return "hr", scores["hr"] / norm
    return "sr", (scores["sr"] + scores["bs"]) / norm


def _refine(text: str, py: dict[str, float], section: dict[str, Any]) -> tuple[str, float]:
    group = tuple(section["south_slavic"])
    weight = float(section["lingua_weight"])
    mass = sum(py.get(c, 0.0) for c in group)
    letters = len(_LETTER.findall(text))
    cyrillic = len(_CYRILLIC.findall(text))
    if letters and cyrillic * 2 > letters:
        codes = tuple(c for c in ("sr", "mk") if c in group)
        blend = _blend(codes, text, py, weight)
        lang = max(blend, key=blend.__getitem__)
        return lang, min(1.0, mass) * blend[lang]
    hbs = tuple(c for c in ("hr", "sr", "bs") if c in group)
    if "sl" in group:
        # Slovene against the rest; lingua's share is "bs" for all of hr/sr/bs (it has no Latin Serbian).
        blend = _blend(("sl", "hr", "bs"), text, py | {"bs": py.get("bs", 0.0) + py.get("sr", 0.0)}, weight)
        if blend["sl"] >= blend["hr"] + blend["bs"] or not hbs:
            return "sl", min(1.0, mass) * blend["sl"]
    if not hbs:
        return max(py, key=py.__getitem__), mass
    lang, share = _decide_hbs(text, py)
    return lang, min(1.0, mass) * share


def detect(text: str, hint: str | None = None, *, settings: dict[str, Any] | None = None) -> tuple[str, float]:
    """Return ``(ISO 639-1 code, confidence 0..1)`` for ``text``; ``("und", 0.0)`` for no text.

    ``hint`` (the language the input declares) wins with confidence 1.0. ``settings`` is the
    ``[language]`` section or the whole settings dict (defaults from settings.toml).
    """
    if hint and hint.strip() and normalise_code(hint) != UNDETERMINED:
        return normalise_code(hint), 1.0
    section = _section(settings)
    sample = (text or "")[: int(section["max_chars"])]
    if not _LETTER.search(sample):
        return UNDETERMINED, 0.0
    ranked = _identifier(tuple(section["only"]), tuple(section["exclude"])).rank(sample)
    best, confidence = ranked[0]
    if best in section["south_slavic"]:
        py = {lang: prob for lang, prob in ranked if prob > 0}
        best, confidence = _refine(sample, py, section)
    if confidence < float(section["min_confidence"]):
        return UNDETERMINED, float(confidence)
    return best, float(confidence)
