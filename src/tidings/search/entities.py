"""Entities: a query names people, organisations and places the way article text does.

Each run of one to ``entity_max_ngram`` words of the query is linked through the same
functions that link names in article text (:func:`tidings.entities.link`: curated names,
GeoNames places with their inflections and scripts, transliterated surname keys), under each
label and each of the store's languages, and is also looked up among the surface forms
stored articles used (``entity_forms``). A link counts only when the store holds that entity.
Links that are mere spelling keys (``per:<skeleton>``) are trusted only for capitalised or
non-Latin words, so that "for" or "corridors" in a query never become people; a query typed
all in lower case ("aleppo") is read as if capitalised.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from ..store import Store
from ..translit import fold

_TOKEN = re.compile(r"[^\W_][\w'’.-]*", re.UNICODE)


@dataclass(frozen=True)
class QueryEntity:
    """An entity the query names: its id, display name, label and the query words that named it."""

    id: str
    name: str
    label: str
    form: str
    articles: int

    def as_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "label": self.label, "form": self.form,
                "articles": self.articles}


def _ngrams(words: list[str], longest: int):
    for size in range(min(longest, len(words)), 0, -1):
        for start in range(0, len(words) - size + 1):
            yield start, start + size, " ".join(words[start:start + size])


def _capitalised(text: str) -> bool:
    first = text[0]
    return first.isupper() or (first.isalpha() and not first.isascii() and first.lower() == first.upper())


def _strong(entity_id: str) -> bool:
    from ..entities import _curated_id

    return entity_id.startswith("geo:") or _curated_id(entity_id)


def store_languages(store: Store, limit: int = 12) -> list[str]:
    rows = store.conn.execute("SELECT lang FROM articles GROUP BY lang ORDER BY COUNT(*) DESC LIMIT ?", (limit,))
    return [r[0] for r in rows if r[0] and r[0] != "und"]


def _known(store: Store, ids: set[str]) -> dict[str, tuple[str, str, int]]:
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = store.conn.execute(
        f"""SELECT e.id, e.name, e.label, s.articles FROM entities e JOIN entity_stats s ON s.entity_id = e.id
            WHERE e.id IN ({marks})""", list(ids))
    return {r[0]: (r[1], r[2], int(r[3])) for r in rows}


def _forms(store: Store, text: str) -> set[str]:
    """Entity ids whose stored surface form is ``text`` (case and diacritics aside)."""
    words = re.findall(r"\w+", text)
    if not words:
        return set()
    phrase = '"' + " ".join(w.replace('"', "") for w in words) + '"'
    rows = store.conn.execute(
        "SELECT form, entity_id FROM entity_forms_fts WHERE entity_forms_fts MATCH ? LIMIT 200", (phrase,))
    key = " ".join(re.findall(r"\w+", _plain(text)))
    return {r[1] for r in rows if " ".join(re.findall(r"\w+", _plain(r[0]))) == key}


def _plain(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", fold(text)) if not unicodedata.combining(c))


def query_entities(store: Store, query: str, langs: list[str] | None = None, max_ngram: int = 3) -> list[QueryEntity]:
    """The stored entities a query names, longest names first (a word used by a longer name
    is not linked again on its own)."""
    from ..entities import link

    langs = langs if langs is not None else store_languages(store)
    words = _TOKEN.findall(query)
    lower = query == query.lower()
    used = [False] * len(words)
    found: dict[str, QueryEntity] = {}
    for start, end, text in _ngrams(words, max_ngram):
        if any(used[start:end]):
            continue
        text = text.strip(".-'’")
        if not text:
            continue
        probe = text.title() if lower else text
        candidates: set[str] = set(_forms(store, text))
        weak: set[str] = set()
        for lang in langs or ["en"]:
            for label in ("LOC", "PER", "ORG"):
                linked = link(probe, label, lang)
                if linked is None:
                    continue
                (candidates if _strong(linked.id) else weak).add(linked.id)
        if _capitalised(probe) and not (lower and len(text) < 4):
            candidates |= weak
        known = _known(store, candidates)
        if not known:
            continue
        for entity_id, (name, label, articles) in known.items():
            found.setdefault(entity_id, QueryEntity(entity_id, name, label, text, articles))
        for i in range(start, end):
            used[i] = True
    return list(found.values())


def rank_articles(store: Store, entities: list[QueryEntity], total: int, per_entity: int) -> list[tuple[int, float, list[str]]]:
    """Articles naming the query's entities: ``(rowid, score, entity ids)``, best first. The
    score adds, per entity named, its rarity (log N/articles) times 1 + log(mentions); the
    newest ``per_entity`` mentions of each entity are read."""
    scores: Counter[str] = Counter()
    named: dict[str, list[str]] = {}
    for e in entities:
        weight = math.log(1 + total / max(1, e.articles))
        counts = Counter(r[0] for r in store.conn.execute(
            "SELECT article_id FROM mentions WHERE entity_id = ? ORDER BY rowid DESC LIMIT ?", (e.id, per_entity)))
        for article_id, n in counts.items():
            scores[article_id] += weight * (1 + math.log(n))
            named.setdefault(article_id, []).append(e.id)
    if not scores:
        return []
    ids = list(scores)
    rowids: dict[str, int] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for r in store.conn.execute(f"SELECT id, rowid, published_at FROM articles WHERE id IN ({marks}) "
                                    "AND duplicate_of IS NULL", chunk):
            rowids[r[0]] = r[1]
    ranked = sorted((aid for aid in ids if aid in rowids), key=lambda a: (-scores[a], -rowids[a]))
    return [(rowids[a], scores[a], named[a]) for a in ranked]
