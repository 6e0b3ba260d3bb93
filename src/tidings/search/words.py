"""Words: stems beside the surface words, so that an inflected form finds the others.

Every stored article gets a row in the contentless FTS5 table ``article_stems`` holding the
Snowball stem of each of its words under the article's own language (``Putina`` and ``Alepu``
in a Croatian article are stored as ``putin`` and ``alep``). A query word does not say its
language, so it is stemmed under every language the store holds and any of those stems
matches. Words found in more than ``max_term_share`` of the articles carry no evidence and
are dropped from the query (they would also make a million-article search slow).
"""

from __future__ import annotations

import re
import sqlite3
from functools import lru_cache
from typing import NamedTuple

_WORD = re.compile(r"\w+", re.UNICODE)
# A word is "too common" only when in more than this many articles too (small stores keep all).
MIN_COMMON_ARTICLES = 100

# ISO 639-1 code -> Snowball algorithm (PyStemmer). Croatian, Bosnian and Serbian share one;
# a language without a stemmer keeps its lowercase surface words.
STEMMERS = {
    "ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "cs": "czech", "da": "danish",
    "nl": "dutch", "en": "english", "eo": "esperanto", "et": "estonian", "fi": "finnish", "fr": "french",
    "de": "german", "el": "greek", "hi": "hindi", "hu": "hungarian", "id": "indonesian", "ga": "irish",
    "it": "italian", "lt": "lithuanian", "ne": "nepali", "no": "norwegian", "nb": "norwegian", "fa": "persian",
    "pl": "polish", "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian", "hr": "serbian",
    "bs": "serbian", "es": "spanish", "sv": "swedish", "ta": "tamil", "tr": "turkish", "yi": "yiddish",
}


@lru_cache(maxsize=None)
def _stemmer(algorithm: str):
    import Stemmer

    return Stemmer.Stemmer(algorithm)


def tokens(text: str) -> list[str]:
    return _WORD.findall((text or "").lower())


def stem_words(words: list[str], lang: str | None) -> list[str]:
    algorithm = STEMMERS.get((lang or "").split("-")[0].lower())
    if algorithm is None:
        return list(words)
    return _stemmer(algorithm).stemWords(words)


def stem_text(text: str, lang: str | None) -> str:
    """The text as space-separated stems under ``lang`` (what ``article_stems`` stores)."""
    return " ".join(stem_words(tokens(text), lang))


def unique_tokens(query: str) -> list[str]:
    """The query's words, each once in order of first use: a word repeated 5,000 times costs what
    it costs once (the MATCH expression, its highlighting), not 5,000 times (docs/reliability.md)."""
    return list(dict.fromkeys(tokens(query)))


def query_terms(query: str, langs: list[str]) -> list[set[str]]:
    """For each query word, the stems it may have in any of ``langs`` (and the word itself)."""
    words = unique_tokens(query)
    out: list[set[str]] = [{w} for w in words]
    for lang in langs:
        for i, stem in enumerate(stem_words(words, lang)):
            out[i].add(stem)
    return out


def _quote(term: str) -> str:
    return '"' + term.replace('"', "") + '"'


def term_counts(conn: sqlite3.Connection, terms: set[str]) -> dict[str, int]:
    """Number of articles holding each term (FTS5 folds diacritics, so fold-equal terms share one),
    from ``stem_counts`` (kept by sync: one row per term, where ``fts5vocab`` would scan each
    term's postings, a cost growing with the store)."""
    if not terms:
        return {}
    marks = ",".join("?" * len(terms))
    rows = conn.execute(f"SELECT term, articles FROM stem_counts WHERE term IN ({marks})", list(terms))
    return {r[0]: int(r[1]) for r in rows}


def fold(term: str) -> str:
    """Lowercase without diacritics, as FTS5's unicode61 tokenizer indexes a term."""
    return _fold(term.lower())


def _fold(term: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", term) if not unicodedata.combining(c))


class WordMatch(NamedTuple):
    """What :func:`match_expression` makes of a query."""

    expression: str | None   # the FTS5 MATCH expression; None when no word is left
    kept: list[str]          # the words it searches for, in query order
    informative: list[str]   # the words the store holds and not too commonly: kept, and those the budget left out


def match_expression(conn: sqlite3.Connection, query: str, langs: list[str], total: int,
                     max_term_share: float, max_postings: int | None = None) -> WordMatch:
    """The FTS5 MATCH expression (any word, any of its stems) and the words it kept; no
    expression when no word is left (all too common or unknown). ``max_postings``: keep the
    rarest words while the articles holding them add up to at most this many (at least one
    word), so that the search reads a bounded number of postings however large the store."""
    groups = query_terms(query, langs)
    counts = term_counts(conn, {_fold(t) for g in groups for t in g})
    limit = max(MIN_COMMON_ARTICLES, max_term_share * total)
    found = []
    for order, (word, group) in enumerate(zip(unique_tokens(query), groups)):
        known = {t for t in group if counts.get(_fold(t), 0) > 0}
        if not known or any(counts.get(_fold(t), 0) > limit for t in known):
            continue
        postings = sum(counts[f] for f in {_fold(t) for t in known})
        found.append((postings, order, word, "(" + " OR ".join(sorted(_quote(t) for t in known)) + ")"))
    informative = [word for _, _, word, _ in found]
    if max_postings is not None:
        budget, chosen = max_postings, []
        for item in sorted(found):
            if chosen and item[0] > budget:
                break
            chosen.append(item)
            budget -= item[0]
        found = sorted(chosen, key=lambda item: item[1])
    if not found:
        return WordMatch(None, [], informative)
    return WordMatch(" OR ".join(part for *_, part in found), [word for _, _, word, _ in found], informative)
