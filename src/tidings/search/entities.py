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

import json
import math
import re
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


MAX_NAME_CHARS = 80  # no name is longer; longer runs are not looked up


def warm_up(langs: list[str] | None = None, *, freeze: bool = False) -> None:
    """Load the linker's data (gazetteer, name tables: seconds) ahead of the first query, and
    the word dictionaries of each of ``langs`` (a query is linked under every language of the
    store; each language's dictionary takes 0.1-2.7 s to load on first use).

    ``freeze`` (for a long-running server): then move every object the process holds out of
    the garbage collector's sight (:func:`gc.freeze`). The linker's tables are millions of
    objects that live as long as the process; each full collection walked them all, 100-200
    ms, about once in 16 searches at a million articles (bench/search.py)."""
    from .. import lemmas, places
    from ..entities import link

    places.warm()
    for name, label, lang in (("Aleppo", "LOC", "en"), ("Putina", "PER", "hr"), ("Kremlja", "ORG", "hr")):
        link(name, label, lang)
    for lang in langs or ():
        lemmas.load(code for code in (lang, places.lemma_lang(lang)) if code)
        for label in ("LOC", "PER", "ORG"):
            link("Aleppo", label, lang)   # the language's name and inflection tables
    if freeze:
        import gc

        gc.collect()
        gc.freeze()


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


_PER_STORE: dict[tuple, object] = {}


def _until_added(store: Store, name: str, compute):
    """``compute()``, kept until an article is added to the store (its newest rowid moves): what
    reads every article (~0.2 s at a million) is not read again by every search."""
    newest = store.conn.execute("SELECT MAX(rowid) FROM articles").fetchone()[0] or 0
    key = (id(store.conn), str(store.path), int(newest), name)
    if key not in _PER_STORE:
        for old in [k for k in _PER_STORE if k[3] == name]:
            del _PER_STORE[old]   # one store at a time is the common case: keep the cache tiny
        _PER_STORE[key] = compute()
    return _PER_STORE[key]


def store_languages(store: Store, limit: int = 12) -> list[str]:
    """The store's languages, most articles first (kept until an article is added)."""
    def count() -> list[str]:
        rows = store.conn.execute("SELECT lang FROM articles GROUP BY lang ORDER BY COUNT(*) DESC LIMIT ?", (limit,))
        return [r[0] for r in rows if r[0] and r[0] != "und"]
    return list(_until_added(store, f"languages:{limit}", count))


def store_articles(store: Store) -> int:
    """How many articles the store holds (kept until one is added: a COUNT(*) at a million
    articles costs 5-8 ms of CPU, 30-60 ms on a loaded machine)."""
    return int(_until_added(store, "articles", lambda: store.count("articles")))


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
    if store.dialect != "sqlite":   # no FTS5 table of the forms: the forms themselves, accents aside
        unaccent = _pg_unaccent(store)
        rows = store.conn.execute(f"SELECT form, entity_id FROM entity_forms WHERE {unaccent}(lower(form)) = "
                                  f"{unaccent}(lower(?)) LIMIT 200", (" ".join(words),))
    else:
        phrase = '"' + " ".join(w.replace('"', "") for w in words) + '"'
        rows = store.conn.execute(
            "SELECT form, entity_id FROM entity_forms_fts WHERE entity_forms_fts MATCH ? LIMIT 200", (phrase,))
    key = " ".join(re.findall(r"\w+", _plain(text)))
    return {r[1] for r in rows if " ".join(re.findall(r"\w+", _plain(r[0]))) == key}


_UNACCENT: dict[tuple[int, str], str] = {}


def _pg_unaccent(store: Store) -> str:
    """PostgreSQL's function that takes the accents off: the ``unaccent`` extension's where the
    server has it (Debian's contrib), else ``tidings_unaccent`` (the store's migration defines it
    by Unicode decomposition where the extension is missing; where it is there, that function
    leaves the text to the text-search configurations). Asked once per connection."""
    key = (id(store.conn), str(store.path))
    if key not in _UNACCENT:
        installed = store.conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'unaccent'").fetchone()
        _UNACCENT[key] = "unaccent" if installed else "tidings_unaccent"
    return _UNACCENT[key]


def _plain(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", fold(text)) if not unicodedata.combining(c))


def query_entities(store: Store, query: str, langs: list[str] | None = None, max_ngram: int = 3) -> list[QueryEntity]:
    """The stored entities a query names, longest names first (a word used by a longer name
    is not linked again on its own)."""
    from ..entities import link_ids

    langs = langs if langs is not None else store_languages(store)
    link_langs = tuple(langs or ["en"])
    words = _TOKEN.findall(query)
    lower = query == query.lower()
    used = [False] * len(words)
    found: dict[str, QueryEntity] = {}
    # each distinct run of words is linked once: a name repeated 5,000 times costs what it costs
    # once (docs/reliability.md, bounded requests)
    linked_before: dict[str, bool] = {}
    for start, end, text in _ngrams(words, max_ngram):
        if any(used[start:end]):
            continue
        text = text.strip(".-'’")
        if not text or len(text) > MAX_NAME_CHARS or not any(c.isalpha() for c in text):
            continue
        if text in linked_before:
            if linked_before[text]:
                for i in range(start, end):
                    used[i] = True
            continue
        linked_before[text] = False
        probe = text.title() if lower else text
        candidates: set[str] = set(_forms(store, text))
        weak: set[str] = set()
        for entity_id in link_ids(probe, link_langs):
            (candidates if _strong(entity_id) else weak).add(entity_id)
        if _capitalised(probe) and not (lower and len(text) < 4):
            candidates |= weak
        known = _known(store, candidates)
        if not known:
            continue
        for entity_id, (name, label, articles) in known.items():
            found.setdefault(entity_id, QueryEntity(entity_id, name, label, text, articles))
        linked_before[text] = True
        for i in range(start, end):
            used[i] = True
    return list(found.values())


def rank_articles(store: Store, entities: list[QueryEntity], total: int, per_entity: int, *,
                  limit: int | None = None, where: str | None = None,
                  params: list | tuple = (), budget: int | None = None,
                  among: list[int] | None = None) -> list[tuple[int, float, list[str]]]:
    """Articles naming the query's entities: ``(rowid, score, entity ids)``, best first. The
    score adds, per entity named, its rarity (log N/articles) times 1 + log(mentions); the
    newest ``per_entity`` articles naming each entity are read (``entity_articles``, one range
    of its primary key each), counted by SQLite. Ties go to the newest article. ``where``/
    ``params``: an SQL condition on ``articles a`` (the search's filters), None for none beyond
    what ``entity_articles`` holds already (synced articles, no duplicates); ``limit``: stop once
    that many articles pass it (articles are looked up best first, so a search reads the rows
    of its candidates only, not of every article an entity names). ``budget``: at most this
    many articles in all (:func:`mention_limits`). ``among``: the row ids of the only articles
    the filters keep, when few (SQLite: each is looked up under each entity, in place of the
    entity's newest articles read and then filtered, which at a million articles read a
    frequent entity's 5,000 newest to keep a day's dozen)."""
    if not entities:
        return []
    limits = mention_limits(entities, per_entity, budget, floor=limit or 100)
    among = among if store.dialect == "sqlite" else None
    listed = json.dumps(among) if among is not None else None
    parts, args = [], []
    for k, e in enumerate(entities):
        weight = math.log(1 + total / max(1, e.articles))
        if among is not None:
            parts.append("SELECT ? AS k, ? AS w, article_rowid, mentions AS n FROM entity_articles "
                         "WHERE entity_id = ? AND article_rowid IN (SELECT value FROM json_each(?))")
            args += [k, weight, e.id, listed]
        else:
            parts.append(f"SELECT * FROM (SELECT ? AS k, ? AS w, article_rowid, mentions AS n FROM entity_articles "
                         f"WHERE entity_id = ? ORDER BY article_rowid DESC LIMIT ?) AS e{k}")
            args += [k, weight, e.id, limits[k]]
    # scored and sorted by SQLite (C speed); ties (the same entities named as often) stay exact
    # ties whatever order the sum is taken in. Python reads the ranked rows best first, only as
    # far as the limit needs
    named = "group_concat(k)" if store.dialect == "sqlite" else "string_agg(CAST(k AS TEXT), ',')"
    cursor = store.conn.execute(
        f"""SELECT article_rowid, SUM(w * (1 + ln(n))) AS score, {named}
            FROM ({" UNION ALL ".join(parts)}) x GROUP BY article_rowid
            ORDER BY round(CAST(SUM(w * (1 + ln(n))) AS NUMERIC), 9) DESC, article_rowid DESC""", args)
    filtered = among is None and where is not None
    found: list[tuple[int, float, list[str]]] = []
    chunk_size = 500 if limit is None else max(50, min(500, 2 * limit))
    while True:
        chunk = cursor.fetchmany(chunk_size)
        if not chunk:
            return found
        kept = {r[0] for r in store.conn.execute(
            f"SELECT a.rowid FROM articles a WHERE a.rowid IN ({','.join('?' * len(chunk))}) AND {where}",
            [*(r[0] for r in chunk), *params])} if filtered else None
        found.extend((int(rowid), float(score), [entities[k].id for k in sorted(int(x) for x in str(ks).split(","))])
                     for rowid, score, ks in chunk if kept is None or rowid in kept)
        if limit is not None and len(found) >= limit:
            return found[:limit]


def mention_limits(entities: list[QueryEntity], per_entity: int, budget: int | None, floor: int = 100) -> list[int]:
    """How many of its newest articles to read for each entity: ``per_entity`` each, or with a
    ``budget`` an even share of it (at most ``per_entity``, at least ``floor``: the newest of a
    frequent entity's articles can still be candidates), an entity with fewer articles than its
    share leaving the rest to the more common ones (so the rare entities, which weigh most, are
    read in full)."""
    if budget is None:
        return [per_entity] * len(entities)
    limits = [per_entity] * len(entities)
    left = budget
    order = sorted(range(len(entities)), key=lambda k: (entities[k].articles, k))
    for done, k in enumerate(order):
        share = max(floor, left // (len(order) - done))
        limits[k] = min(per_entity, share)
        left = max(0, left - min(limits[k], entities[k].articles))
    return limits


# ---- finding entities by name (tidings entities, GET /api/entities, the entity index page) ------
ENTITY_SORTS = ("mentions", "recent")
LABELS = ("PER", "ORG", "LOC")


def find_entities(store: Store, q: str | None = None, *, label: str | None = None, sort: str = "mentions",
                  limit: int = 50) -> list[dict]:
    """Entities by name: any surface form or transliteration the linker maps to the entity
    ("Asad" finds per:assad, "Алеппо" geo:170063), and stored forms starting with ``q``
    (type-ahead); without ``q``, all. Exact links come first, then by ``sort`` (mentions or
    most recently mentioned)."""
    from ..queries import BadQuery

    if sort not in ENTITY_SORTS:
        raise BadQuery(f"unknown sort {sort!r}", source="sort", hint="use 'mentions' or 'recent'")
    if label is not None and label.upper() not in LABELS:
        raise BadQuery(f"unknown label {label!r}", source="label", hint="use PER, ORG or LOC")
    label = label.upper() if label else None
    from .index import ensure_synced

    ensure_synced(store)
    order = "s.mentions DESC, e.id" if sort == "mentions" else "s.last_seen DESC, s.mentions DESC, e.id"
    label_sql, params = ("AND e.label = ?", [label]) if label else ("", [])
    exact: list[str] = []
    if q and q.strip():
        exact = [e.id for e in query_entities(store, q.strip())]
        words = re.findall(r"\w+", q)
        ids = set(exact)
        if words:
            ids |= _forms_starting(store, words)
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = store.conn.execute(
            f"""SELECT e.*, s.mentions, s.articles, s.last_seen FROM entities e
                JOIN entity_stats s ON s.entity_id = e.id WHERE e.id IN ({marks}) {label_sql} ORDER BY {order}""",
            [*ids, *params]).fetchall()
        rank = {eid: i for i, eid in enumerate(exact)}
        rows = sorted(rows, key=lambda r: rank.get(r["id"], len(rank)))[:limit]
    else:
        rows = store.conn.execute(
            f"""SELECT e.*, s.mentions, s.articles, s.last_seen FROM entity_stats s
                JOIN entities e ON e.id = s.entity_id WHERE 1 = 1 {label_sql} ORDER BY {order} LIMIT ?""",
            [*params, limit]).fetchall()
    out = []
    for r in rows:
        forms = [f[0] for f in store.conn.execute(
            "SELECT form FROM entity_forms WHERE entity_id = ? ORDER BY mentions DESC, form LIMIT 8", (r["id"],))]
        out.append({"id": r["id"], "name": r["name"], "label": r["label"], "mentions": r["mentions"],
                    "articles": r["articles"], "last_seen": r["last_seen"], "geonames_id": r["geonames_id"],
                    "forms": forms, "exact": r["id"] in exact})
    return out


def _forms_starting(store: Store, words: list[str], limit: int = 1000) -> set[str]:
    """Entity ids with a stored form in which ``words`` follow each other, the last one begun
    only (type-ahead: "Ale" finds Aleppo and Alep, "bashar al" Bashar al-Assad); case and
    accents aside."""
    if store.dialect == "sqlite":
        prefix = " ".join('"' + w.replace('"', "") + '"' for w in words) + "*"
        return {r[0] for r in store.conn.execute(
            "SELECT DISTINCT entity_id FROM entity_forms_fts WHERE entity_forms_fts MATCH ? LIMIT ?", (prefix, limit))}
    # PostgreSQL: no index of the forms' words; the forms, accents and case aside, at the start
    # or after a space or a hyphen (a scan of entity_forms, as _forms does)
    unaccent = _pg_unaccent(store)
    typed = " ".join(words).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    form = f"{unaccent}(lower(form))"
    return {r[0] for r in store.conn.execute(
        f"""SELECT DISTINCT entity_id FROM entity_forms
            WHERE {form} LIKE {unaccent}(lower(?)) || '%' OR {form} LIKE '% ' || {unaccent}(lower(?)) || '%'
               OR {form} LIKE '%-' || {unaccent}(lower(?)) || '%' LIMIT ?""", (typed, typed, typed, limit))}


def entity_profile(store: Store, entity_id: str, *, recent_articles: int = 2000, related: int = 15) -> dict:
    """What the entity page adds to :func:`tidings.queries.entity_detail`: articles naming the
    entity per day and language, and the entities most often named in the same articles (over
    its ``recent_articles`` newest articles)."""
    timeline: dict[str, dict[str, int]] = {}
    for r in store.conn.execute(
            """SELECT substr(a.published_at, 1, 10) AS day, a.lang, COUNT(DISTINCT a.id) AS n
               FROM mentions m JOIN articles a ON a.id = m.article_id WHERE m.entity_id = ?
               GROUP BY day, a.lang ORDER BY day""", (entity_id,)):
        timeline.setdefault(r["day"], {})[r["lang"]] = r["n"]
    if store.dialect == "sqlite":
        newest = "SELECT DISTINCT article_id FROM mentions WHERE entity_id = ? ORDER BY rowid DESC LIMIT ?"
    else:   # PostgreSQL's mentions have no rowid: the entity's newest articles are in entity_articles
        newest = ("SELECT a.id AS article_id FROM entity_articles ea JOIN articles a ON a.rowid = ea.article_rowid "
                  "WHERE ea.entity_id = ? ORDER BY ea.article_rowid DESC LIMIT ?")
    rows = store.conn.execute(
        f"""SELECT m2.entity_id, e.name, e.label, COUNT(DISTINCT m2.article_id) AS articles
            FROM ({newest}) x
            JOIN mentions m2 ON m2.article_id = x.article_id JOIN entities e ON e.id = m2.entity_id
            WHERE m2.entity_id != ? GROUP BY m2.entity_id, e.name, e.label
            ORDER BY articles DESC, m2.entity_id LIMIT ?""",
        (entity_id, recent_articles, entity_id, related)).fetchall()
    return {"timeline": [{"day": day, "langs": langs} for day, langs in timeline.items()],
            "timeline_peak": max((n for langs in timeline.values() for n in langs.values()), default=1),
            "related": [dict(r) for r in rows]}
