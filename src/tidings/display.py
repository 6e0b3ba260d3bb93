"""Display names of entities no table names: the nominative, not a case form.

In inflected languages an article may name a person, a stadium or a club only in case forms
("Igrači Ante Bulića", "na Poljudu", "na Maksimiru"). Linking already gives such forms one id
(the skeleton drops the ending); this module picks what a reader sees:

1. a form the article itself uses that is the base form of the others under the language's case
   endings (``data/gazetteer/inflection.toml``): "Ante Bulić" beside "Ante Bulića";
2. else the lemma simplemma gives a word it knows, written with the form's capital ("Splitu" ->
   "Split", "Ivanu" -> "Ivan", "Rijeke" -> "Rijeka");
3. else, for a word simplemma does not know, only the unambiguous masculine endings are cut:
   the dative/locative ``-u`` and instrumental ``-om`` after a consonant ("Poljudu" -> "Poljud",
   "Maksimiru" -> "Maksimir") and the genitive ``-a`` of ``-ić`` surnames ("Bulića" -> "Bulić").
   Feminine and plural endings are left alone: "-a", "-e", "-i" are nominatives too often.

Step 1 serves every language with case-ending rules; steps 2 and 3 only Serbo-Croatian
(``_MASCULINE_ENDINGS``): simplemma's German lemmas of names are ordinary words ("Grünen" ->
"grün"), and other languages have no rules for step 3 yet.
"""

from __future__ import annotations

import re
from collections import Counter

from .places import _base_forms, _inflection_rules, lemma_lang, lemmatize
from .translit import fold

__all__ = ["nominative"]

#: Step 3, per simplemma language group: regular expressions of endings cut off unknown words.
_MASCULINE_ENDINGS = {
    "hbs": (re.compile(r"(?<=[^\W\daeiou_]{1})(u|om)$", re.IGNORECASE), re.compile(r"(?<=ić)a$", re.IGNORECASE)),
}
#: Shortest stem step 3 leaves ("Ivu" stays).
_MIN_STEM = 4


def _base_in_article(form: str, forms: Counter[str], code: str) -> str | None:
    """The form of ``forms`` that ``form`` is a case form of (most mentions first), if any."""
    rules = _inflection_rules().get(code, {})
    if not rules:
        return None
    words = form.split()
    last = fold(words[-1])
    candidates = set(_base_forms(last, rules)[1:])
    best = None
    for other, count in forms.items():
        ow = other.split()
        if len(ow) != len(words) or other == form or fold(ow[-1]) not in candidates:
            continue
        if [fold(w) for w in ow[:-1]] != [fold(w) for w in words[:-1]]:
            continue
        if best is None or count > forms[best]:
            best = other
    return best


def _with_case_of(word: str, lemma: str) -> str:
    return lemma[:1].upper() + lemma[1:] if word[:1].isupper() else lemma


def _word_nominative(word: str, code: str, last: bool) -> str:
    lemma = lemmatize(word, code)
    if lemma and fold(lemma) != fold(word) and fold(lemma)[:3] == fold(word)[:3] \
            and not (last and len(lemma) > len(word) + 1):
        return _with_case_of(word, lemma)
    if last and lemma and fold(lemma) == fold(word):
        from .places import is_known_word

        if is_known_word(word, code):
            return word
    if not last:
        return word
    for pattern in _MASCULINE_ENDINGS.get(code, ()):
        m = pattern.search(word)
        if m and m.start() >= _MIN_STEM:
            return word[: m.start()]
    return word


def nominative(form: str, label: str, lang: str, forms: Counter[str] | None = None) -> str:
    """The display name for ``form`` (a name as the article wrote it), given all the forms the
    article used for the same entity (see the module docstring). ``label`` decides which words
    inflect: every word of a person's name, the one word of a place or organisation (names of
    several words keep their form: adjectives agree, and their nominative is not guessable)."""
    code = lemma_lang(lang)
    if not code or not form.strip():
        return form
    base = _base_in_article(form, forms or Counter(), code)
    if base is not None:
        return base
    words = form.split()
    if code not in _MASCULINE_ENDINGS or (label != "PER" and len(words) > 1):
        return form
    if any(not w[:1].isupper() or not w.isalpha() for w in words):
        return form
    out = [_word_nominative(w, code, i == len(words) - 1) for i, w in enumerate(words)]
    return " ".join(out)
