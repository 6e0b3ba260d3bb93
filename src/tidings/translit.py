"""Transliteration to Latin and the phonetic *skeleton* used as a cross-script name key.

Two jobs, kept apart on purpose:

* :func:`to_latin` gives a readable Latin form for display (``Шойгу`` -> ``Shoygu``,
  Serbian Cyrillic via Gaj's alphabet). Scripts without a hand-written table (Greek, Arabic,
  Chinese...) go through Unidecode, which is readable for Greek and poor for Arabic/Chinese:
  those scripts rely on the curated name table (``data/names/entities.tsv``).
* :func:`skeleton` gives a lossy key that makes the usual spellings of one name collide:
  ``Šojgu``/``Shoigu``/``Шойгу`` -> ``shoig``, ``Rudskoj``/``Rudskoy``/``Рудской`` -> ``rudsk``,
  ``Putina``/``Putin``/``Путина`` -> ``putin``. It folds romanisation differences
  (š/sh, č/ć/ch/ц/ts, j/y/i, kh/h, doubled letters) and strips trailing vowels, which is where
  Slavic case endings and English ``-y`` vs Cyrillic ``-ий`` differ, plus the consonantal case
  endings of adjectival and -ov/-in surnames (Zelenskog, Рудского, Peskovom, Путиным). Keys are compared, never
  shown; the curated table gives readable ids for frequent names.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["to_latin", "skeleton", "fold", "has_cyrillic", "script_of"]

# Russian-style romanisation close to what English-language news uses (BGN/PCGN without
# diacritics): readable, and its digraphs are folded again by skeleton().
_CYR = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "zh", "з": "z",
    "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
    # Serbian / Macedonian
    "ђ": "dj", "ј": "j", "љ": "lj", "њ": "nj", "ћ": "c", "џ": "dzh", "ѓ": "gj", "ќ": "kj",
    "ѕ": "dz",
    # Ukrainian / Belarusian
    "є": "ye", "і": "i", "ї": "yi", "ґ": "g", "ў": "u",
}
_UK = dict(_CYR, г="h", и="y", е="e", є="ye")
# Serbian Cyrillic is written back in Gaj's Latin alphabet (the one Serbian uses itself).
_SR = dict(_CYR, ж="ž", х="h", ц="c", ч="č", ш="š", ђ="đ", ћ="ć", џ="dž", ј="j", љ="lj", њ="nj",
           й="j")
_TABLES = {"uk": _UK, "sr": _SR, "mk": _SR, "bs": _SR}

_CYRILLIC_RE = re.compile(r"[\u0400-\u04ff]")
_LATIN_EXTRA = {"ß": "ss", "ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "ı": "i", "đ": "dj", "þ": "th",
                "ð": "d"}
# Latin letters whose diacritic changes the sound in a way other spellings write as a digraph.
_LATIN_SOUNDS = {"š": "sh", "ś": "sh", "ş": "sh", "ž": "zh", "ź": "zh", "ż": "zh", "č": "ch", "ć": "ch",
                 "ç": "c", "ñ": "n"}


def has_cyrillic(text: str) -> bool:
    return bool(_CYRILLIC_RE.search(text))


def script_of(text: str) -> str:
    """Rough script of a name: ``latin``, ``cyrillic``, ``arabic``, ``cjk``, ``greek`` or ``other``."""
    for ch in text:
        if not ch.isalpha():
            continue
        o = ord(ch)
        if o < 0x250:
            return "latin"
        if 0x400 <= o < 0x530:
            return "cyrillic"
        if 0x370 <= o < 0x400:
            return "greek"
        if 0x600 <= o < 0x700 or 0x750 <= o < 0x780 or 0xFB50 <= o < 0xFF00:
            return "arabic"
        if 0x3040 <= o < 0xA000 or 0xAC00 <= o < 0xD7B0:
            return "cjk"
        return "other"
    return "other"


def _cyr_to_latin(text: str, table: dict[str, str]) -> str:
    out = []
    for ch in text:
        low = ch.lower()
        rep = table.get(low)
        if rep is None:
            out.append(ch)
        elif ch != low and rep:
            out.append(rep[0].upper() + rep[1:])
        else:
            out.append(rep)
    return "".join(out)


@lru_cache(maxsize=65536)
def to_latin(text: str, lang: str = "") -> str:
    """Readable Latin form of ``text`` (Latin input is returned unchanged)."""
    if has_cyrillic(text):
        text = _cyr_to_latin(text, _TABLES.get(lang, _CYR))
    if all(ord(ch) < 0x250 for ch in text):
        return text
    from unidecode import unidecode

    # Keep Latin letters (with their diacritics) as they are; romanise only other scripts.
    parts = re.split(r"([\u0000-\u024f]+)", text)
    return re.sub(r"\s+", " ", "".join(p if not p or ord(p[0]) < 0x250 else unidecode(p) for p in parts)).strip()


@lru_cache(maxsize=262144)
def fold(text: str) -> str:
    """Lowercase, NFC, typographic apostrophes unified: the exact-lookup key for names (kept:
    linking a name calls it ~7 times, and search links each query word under every language)."""
    text = unicodedata.normalize("NFC", text).replace("’", "'").replace("ʼ", "'").replace("`", "'")
    return re.sub(r"\s+", " ", text).strip().casefold()


_DIGRAPHS = [
    ("shch", "sh"), ("sch", "sh"), ("dzh", "dj"), ("dzs", "dj"), ("kh", "h"), ("gh", "g"), ("th", "t"),
    ("dh", "d"), ("ph", "f"), ("tz", "c"), ("ts", "c"), ("cz", "c"), ("ch", "c"), ("sz", "sh"), ("ck", "k"),
    ("q", "k"), ("x", "ks"), ("w", "v"), ("y", "i"), ("j", "i"),
]
_VOWEL_I_VOWEL = re.compile(r"(?<=[aeiou])i(?=[aeou])")
_DOUBLE = re.compile(r"(.)\1+")
_TRAILING_VOWELS = re.compile(r"[aeiou]+$")
# Slavic case endings that are not just vowels: adjectival surnames (Zelenskog, Рудского,
# Zelenskim) and the instrumental of -ov/-ev/-in surnames (Peskovom, Путиным).
_ADJ_ENDING = re.compile(r"(?<=[sc]k)(?:oga|ogo|ome|omu|og|om|im|ih|ai|oi)$")
_INSTR_ENDING = re.compile(r"(?<=[aeiou][vn])(?:om|em|im)$")
_NOT_ASCII_LETTER = re.compile(r"[^a-z]+")


@lru_cache(maxsize=262144)
def skeleton(word: str, min_len: int = 3) -> str:
    """Lossy phonetic key of one name token (see the module docstring).

    Trailing vowels are stripped only when at least ``min_len`` letters remain, so short
    names (``Li``, ``Ban``) keep their vowel and stay distinguishable.
    """
    s = to_latin(word).lower()
    s = "".join(_LATIN_SOUNDS.get(ch, _LATIN_EXTRA.get(ch, ch)) for ch in s)
    s = "".join(ch for ch in unicodedata.normalize("NFD", s) if not unicodedata.combining(ch))
    s = _NOT_ASCII_LETTER.sub("", s)
    for a, b in _DIGRAPHS:
        s = s.replace(a, b)
    if s.startswith("ie"):
        s = s[1:]  # Yelena / Jelena / Елена
    s = _VOWEL_I_VOWEL.sub("", s)  # Isayev / Isajev / Исаев
    s = _DOUBLE.sub(r"\1", s)
    if len(s) > 6:
        s = _INSTR_ENDING.sub("", _ADJ_ENDING.sub("", s))
    stripped = _TRAILING_VOWELS.sub("", s)
    return stripped if len(stripped) >= min_len else s
