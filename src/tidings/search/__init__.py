"""Search across languages and word forms: words, entities and meaning, fused.

``search(store, query, ...)`` ranks the stored articles three ways and fuses the rankings
(:func:`tidings.search.fuse.rrf`):

* **words** (:mod:`~tidings.search.words`): BM25 over word stems, each query word matching its
  stems in every language of the store (Putina finds Putin, Alepu finds Alep);
* **entities** (:mod:`~tidings.search.entities`): the people, organisations and places the
  query names, linked as article text is (Aleppo, Alep, Алеппо, حلب are all geo:170063), and
  the articles that name them;
* **meaning** (:mod:`~tidings.search.vectors`): the query's e5 vector against every article's,
  language means removed, through a usearch HNSW index;

and then **story**: the articles of the stories of the best few hits follow them (the
stories are the pipeline's cross-lingual clusters, so a hit in one language brings its
story's articles in the others). Every hit says why it matched. docs/search.md has the
details and the figures.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import TidingsError
from ..store import Store
from . import entities as entity_search
from . import feedback, index, words
from .fuse import rrf, tied_ranks
from .settings import METHODS, SearchSettings
from .snippets import snippets
from .vectors import StoreVectors, UsearchIndex, VectorIndex

log = logging.getLogger(__name__)

__all__ = ["search", "SearchSettings", "SearchResult", "Hit", "StoreVectors", "UsearchIndex", "VectorIndex",
           "vector_index_status", "sync", "METHODS", "BadSearch"]


class BadSearch(TidingsError):
    """A search that cannot be run (no words, unknown method)."""

    code = "T500"


@dataclass
class Hit:
    """One article found, with the reasons: which methods found it and how."""

    rowid: int
    score: float
    matched: dict[str, Any] = field(default_factory=dict)


@dataclass
class SearchResult:
    query: str
    hits: list[dict]
    stories: list[dict]
    entities: list[dict]
    methods: dict[str, int]
    rankings: dict[str, list[int]] = field(default_factory=dict, repr=False)  # rowids per method, and "fused"

    def as_dict(self) -> dict:
        return {"query": self.query, "hits": self.hits, "stories": self.stories, "entities": self.entities,
                "methods": self.methods}


@dataclass
class Filters:
    lang: str | None = None
    since: str | None = None
    until: str | None = None
    entity: str | None = None
    place: str | None = None
    exclude_lang: str | None = None
    exclude_rowids: tuple[int, ...] = ()

    def sql(self, duplicates: bool = False) -> tuple[str, list]:
        where, params = ([] if duplicates else ["a.duplicate_of IS NULL"]), []
        if self.exclude_rowids:
            where.append(f"a.rowid NOT IN ({','.join('?' * len(self.exclude_rowids))})")
            params.extend(self.exclude_rowids)
        if self.lang:
            where.append("a.lang = ?")
            params.append(self.lang)
        if self.exclude_lang:
            where.append("a.lang != ?")
            params.append(self.exclude_lang)
        if self.since:
            where.append("a.published_at >= ?")
            params.append(self.since)
        if self.until:
            where.append("a.published_at <= ?")
            params.append(self.until.replace("T00:00:00Z", "T23:59:59Z"))
        for value in (self.entity, self.place):
            if value:
                # the synced articles naming it (search syncs before it searches): one range of
                # entity_articles' key, where mentions needed a row per mention and an id lookup
                where.append("a.rowid IN (SELECT article_rowid FROM entity_articles WHERE entity_id = ?)")
                params.append(value)
        return " AND ".join(where) or "1", params

    @property
    def active(self) -> bool:
        return any((self.lang, self.since, self.until, self.entity, self.place, self.exclude_lang,
                    self.exclude_rowids))

    def few(self, store: Store, most: int) -> list[int] | None:
        """The row ids of the articles the filters keep, when at most ``most`` (a language, a
        day, an entity): None when more, or when no filter narrows (only exclusions)."""
        if most <= 0 or not any((self.lang, self.since, self.until, self.entity, self.place)):
            return None
        # counted first, at most most + 1, duplicates included, so that one filter's own index
        # answers without reading a row: a language of 300,000 articles costs ~2 ms here at a
        # million, not a read of 24,000 rows
        where, params = self.sql(duplicates=True)
        many = store.conn.execute(f"SELECT COUNT(*) FROM (SELECT 1 FROM articles a WHERE {where} LIMIT ?)",
                                  [*params, most + 1]).fetchone()[0]
        if many > most:
            return None
        where, params = self.sql()
        return [r[0] for r in store.conn.execute(f"SELECT a.rowid FROM articles a WHERE {where}", params)]


def _keep(store: Store, rowids: list[int], filters: Filters) -> set[int]:
    if not rowids:
        return set()
    where, params = filters.sql()
    kept: set[int] = set()
    for start in range(0, len(rowids), 500):
        chunk = rowids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        kept.update(r[0] for r in store.conn.execute(
            f"SELECT a.rowid FROM articles a WHERE a.rowid IN ({marks}) AND {where}", [*chunk, *params]))
    return kept


# ---- the three methods ------------------------------------------------------------------------
def _words(store: Store, query: str, filters: Filters, cfg: SearchSettings, total: int,
           langs: list[str], few: list[int] | None = None) -> tuple[list[int], list[str], list[str]]:
    """(the ranked row ids, the words searched for, the words worth highlighting)."""
    if store.dialect != "sqlite":
        # no FTS5 word-stem index: the store's own full-text search (PostgreSQL: every word
        # required, accents ignored, no stemming), ranked by it; docs/scaling.md
        kept = list(dict.fromkeys(words.tokens(query)))
        where, params = filters.sql()
        return store.article_rowids_matching(kept, where, params, cfg.candidates), kept, kept
    expression, kept, informative = words.match_expression(store.conn, query, langs, total, cfg.max_term_share,
                                                           cfg.words_max_postings)
    if expression is None:
        return [], [], informative
    # article_stems holds no duplicate (sync skips them, and an article never becomes one
    # later). With filters, the ranked matches (at most words_max_postings of them) are read
    # best first and filtered by row id as far as needed: joined with articles in one query,
    # SQLite looked up every match's row before ranking (~15 ms at a million)
    cursor = store.conn.execute(
        "SELECT rowid FROM article_stems WHERE article_stems MATCH ? ORDER BY bm25(article_stems, ?, 1.0)"
        + ("" if filters.active else " LIMIT ?"),
        [expression, cfg.title_weight] + ([] if filters.active else [cfg.candidates]))
    if not filters.active:
        return [r[0] for r in cursor.fetchall()], kept, informative
    wanted = set(few) if few is not None else None
    ranked: list[int] = []
    while len(ranked) < cfg.candidates:
        chunk = [r[0] for r in cursor.fetchmany(500)]
        if not chunk:
            break
        passing = wanted.intersection(chunk) if wanted is not None else _keep(store, chunk, filters)
        ranked.extend(rowid for rowid in chunk if rowid in passing)
    return ranked[:cfg.candidates], kept, informative


def _few(store: Store, filters: Filters, cfg: SearchSettings, total: int) -> list[int] | None:
    """The articles the filters keep when they are few enough to compare one by one (see
    :func:`_meaning`; ``total``: the articles stored), else None."""
    if not filters.active:
        return None
    return filters.few(store, int(math.sqrt(cfg.meaning_exact_ratio * cfg.candidates / 100 * total)))


def _meaning(vectors: StoreVectors, qvec: np.ndarray, store: Store, filters: Filters,
             cfg: SearchSettings, few: list[int] | None = None) -> list[tuple[int, float]]:
    """The ``candidates`` articles nearest the query that pass the filters. A filter that keeps
    few articles (``few``: their row ids, :func:`_few`) compares them all (exact); otherwise the
    HNSW index is searched and the filters applied after, searching further (by the share of
    articles they kept so far) until enough pass or ``meaning_max_walk`` articles were looked
    at. "Few": comparing k articles costs ~2.3 us each, finding ``candidates`` among a share k/N
    of the store through the graph ~21 us per article walked (f16), ``candidates`` * N/k of them
    (usearch at a million, bench/search.py): exact is cheaper while k^2 < 900 * candidates/100
    * N (``meaning_exact_ratio``), about 30,000 articles at a million. Between that and a share
    of ``candidates / meaning_max_walk`` (10% by default), fewer than ``candidates`` may be
    found: the price of a bounded walk."""
    floor = cfg.meaning_min_centred if vectors.centres is not None else cfg.meaning_min_raw
    if few is not None:
        found = vectors.among(qvec, few, cfg.candidates)
        if found is not None:
            return [(k, c) for k, c in found if c >= floor]
    count = cfg.candidates
    size = len(vectors.index) if vectors.index is not None else 0
    most = max(cfg.meaning_max_walk, cfg.candidates)
    while True:
        nearest = vectors.search(qvec, count)
        found = [(k, c) for k, c in nearest if c >= floor]
        if not filters.active:
            return found[:cfg.candidates]
        kept = _keep(store, [k for k, _ in found], filters)
        hits = [(k, c) for k, c in found if k in kept]
        if (len(hits) >= cfg.candidates or count >= size or count >= most
                or len(found) < len(nearest)):   # the rest are further than the floor too
            return hits[:cfg.candidates]
        # a filter that kept 6% of the nearest 100 needs ~1,700 looked at: go there at once,
        # not through 400 and 1,600 (each a walk of the graph)
        share = max(len(hits), 1) / max(len(found), 1)
        count = min(most, 16 * count, max(4 * count, int(1.5 * cfg.candidates / share)))


# ---- the whole search ---------------------------------------------------------------------------
def search(store: Store, query: str, *, settings=None, embedder=None, vectors: StoreVectors | None = None,
           lang: str | None = None, since: str | None = None, until: str | None = None,
           entity: str | None = None, place: str | None = None, exclude_lang: str | None = None,
           methods: tuple[str, ...] | list[str] = METHODS, limit: int = 20, story: bool = True,
           query_lang: str | None = None, query_vector: np.ndarray | None = None,
           exclude_rowids: tuple[int, ...] = (), query_entities: list | None = None) -> SearchResult:
    """Search the store; see the module docstring. ``settings``: a :class:`~tidings.config.Settings`
    (defaults when None). ``embedder``: an :class:`~tidings.embed.Embedder` for the query
    (made from the settings when None). ``vectors``: a ready :class:`StoreVectors` (kept by a
    long-running caller, e.g. the API; made and brought up to date here when None).
    ``exclude_lang`` searches the articles in other languages only. ``query_lang``: centre the
    query's vector on this language's mean (default: on the all-language mean; see docs/search.md). ``query_vector``: the
    query's e5 vector when the caller has it. ``exclude_rowids``: articles never returned
    (evaluation leaves out the article a query was taken from). ``query_entities``: the
    query's entities when the caller has linked them (:func:`entities.query_entities`)."""
    from ..config import Settings
    from ..queries import _iso_day

    settings = settings or Settings.load()
    cfg = SearchSettings.from_dict(settings.section("search"))
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise BadSearch(f"unknown search method {unknown[0]!r}", source="methods",
                        hint="use words, entities or meaning")
    if not words.tokens(query):
        raise BadSearch("the search query has no words", source="q")
    if not 1 <= limit <= 500:
        raise BadSearch("limit must be between 1 and 500", source="limit")
    encoding = None
    if "meaning" in methods and query_vector is None:
        # the query's e5 vector is computed while words and entities search (the encoder runs
        # outside the GIL, ~11 ms; the SQL of words and the entity linking take longer). e5
        # reads 512 tokens at a time: a longer query would cost one more pass per window and
        # say nothing more (docs/reliability.md, bounded requests)
        encoding = _encoder_thread().submit(query_embedder(settings, embedder).embed, [query[:cfg.meaning_max_chars]])
    index.ensure_synced(store, settings)
    filters = Filters(lang=lang, since=_iso_day(since, "since"), until=_iso_day(until, "until"), entity=entity,
                      place=place, exclude_lang=exclude_lang, exclude_rowids=tuple(exclude_rowids))
    total = max(1, entity_search.store_articles(store))
    langs = entity_search.store_languages(store)
    rankings: dict[str, Any] = {}
    matched: dict[int, dict[str, Any]] = {}
    found_entities: list = []
    few = _few(store, filters, cfg, total)
    highlight = None   # the words the snippets highlight: every query word unless words ran
    if "words" in methods:
        ranked, kept, highlight = _words(store, query, filters, cfg, total, langs, few)
        rankings["words"] = ranked
        for rowid in ranked:
            matched.setdefault(rowid, {})["words"] = kept   # narrowed to the words each hit has below
    if "entities" in methods:
        found_entities = (query_entities if query_entities is not None
                          else entity_search.query_entities(store, query, langs, cfg.entity_max_ngram))
        where, params = filters.sql() if filters.active else (None, [])
        ranked_e = entity_search.rank_articles(store, found_entities, total, cfg.entity_max_articles,
                                               limit=cfg.candidates, where=where, params=params,
                                               budget=cfg.entity_max_mentions, among=few)
        rankings["entities"] = [r for r, _, _ in ranked_e]
        for rowid, _, ids in ranked_e:
            matched.setdefault(rowid, {})["entities"] = ids
    if "meaning" in methods:
        if vectors is None:
            vectors = StoreVectors(store, cfg).ready(save=not store.read_only)
        if query_vector is None:
            query_vector = encoding.result()[0]
        qvec = vectors.query_vector(query_vector, query_lang)
        ranked_m = _meaning(vectors, qvec, store, filters, cfg, few)
        rankings["meaning"] = [r for r, _ in ranked_m]
        for rowid, cosine in ranked_m:
            matched.setdefault(rowid, {})["meaning"] = round(cosine, 4)
    weights = {m: cfg.weight(m) for m in METHODS}
    fused = rrf(rankings, weights, cfg.rrf_k)
    heads = None
    if story and len(rankings) > 1 and fused:   # one method asked for: that method only
        if "meaning" in rankings and cfg.feedback_hits > 0:
            heads = _feedback_heads(store, vectors, qvec, ranked_m, filters, cfg)
        if cfg.story_weight > 0:
            fused = _with_stories(store, fused, rankings, weights, filters, cfg, matched, heads)
        if heads and cfg.time_scale_days > 0:
            fused = _with_time(store, fused, heads, cfg)
    top = fused[:limit]
    hits = _hit_rows(store, query, top, matched, langs, highlight)
    return SearchResult(query=query, hits=hits, stories=_group(hits), methods={m: len(r) for m, r in rankings.items()},
                        entities=[e.as_dict() for e in found_entities],
                        rankings={**rankings, "fused": [r for r, _ in fused]})


_ENCODER_THREAD: tuple[int, Any] | None = None   # (pid, executor)


def _encoder_thread():
    """One thread that encodes queries for every search of the process (one at a time: an
    encoder is not shared between two calls at once). A forked child makes its own: the
    parent's thread does not exist there."""
    import os

    global _ENCODER_THREAD
    if _ENCODER_THREAD is None or _ENCODER_THREAD[0] != os.getpid():
        from concurrent.futures import ThreadPoolExecutor

        _ENCODER_THREAD = (os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="tidings-query-encoder"))
    return _ENCODER_THREAD[1]


def query_embedder(settings, embedder=None):
    """The encoder for queries: e5 with its "query: " prefix (asymmetric retrieval), whatever the
    prefix articles are embedded with; ``embedder`` is reused when it already is that."""
    from dataclasses import replace

    from ..embed import Embedder, EmbeddingSettings

    if embedder is not None and embedder.cfg.prefix == "query":
        return embedder
    return Embedder(replace(EmbeddingSettings.from_dict(settings.section("embedding")), prefix="query"))


def _with_stories(store: Store, fused: list[tuple[int, float]], rankings: dict, weights: dict,
                  filters: Filters, cfg: SearchSettings, matched: dict,
                  feedback_heads: list[int] | None = None) -> list[tuple[int, float]]:
    """Add the 'story' ranking: the articles of the stories of the best ``story_hits`` hits (or
    of the feedback heads, :mod:`~tidings.search.feedback`), each story's articles sharing the
    rank of its best hit, and fuse again."""
    heads = feedback_heads or [rowid for rowid, _ in fused[:cfg.story_hits]]
    marks = ",".join("?" * len(heads))
    story_of = {r[0]: r[1] for r in store.conn.execute(
        f"SELECT rowid, story_id FROM articles WHERE rowid IN ({marks})", heads) if r[1]}
    where, params = filters.sql()
    groups, seen = [], set()
    for rowid in heads:
        story_id = story_of.get(rowid)
        if story_id is None or story_id in seen:
            continue
        seen.add(story_id)
        members = [r[0] for r in store.conn.execute(
            f"SELECT a.rowid FROM articles a WHERE a.story_id = ? AND {where} ORDER BY a.rowid DESC LIMIT ?",
            [story_id, *params, cfg.candidates])]
        groups.append(members)
        for member in members:
            if member != rowid:
                matched.setdefault(member, {}).setdefault("story", story_id)
    return rrf({**rankings, "story": tied_ranks(groups)}, {**weights, "story": cfg.story_weight}, cfg.rrf_k)


# ---- feedback: the best meaning matches date the query's event (tidings/search/feedback.py) ----
def _feedback_heads(store: Store, vectors: StoreVectors, qvec: np.ndarray, ranked_m: list[tuple[int, float]],
                    filters: Filters, cfg: SearchSettings) -> list[int]:
    """The best ``feedback_hits`` meaning matches: among the search's results (scope "results"),
    or among all stored articles but those excluded by rowid (scope "store")."""
    if cfg.feedback_scope == "results" or not filters.active:
        return [rowid for rowid, _ in ranked_m[:cfg.feedback_hits]]
    from dataclasses import replace

    unfiltered = Filters(exclude_rowids=filters.exclude_rowids)
    found = _meaning(vectors, qvec, store, unfiltered, replace(cfg, candidates=cfg.feedback_hits))
    return [rowid for rowid, _ in found]


def _with_time(store: Store, fused: list[tuple[int, float]], heads: list[int],
               cfg: SearchSettings) -> list[tuple[int, float]]:
    """Every fused score times the heads' temporal profile at the hit's date."""
    wanted = list(dict.fromkeys([*heads, *(rowid for rowid, _ in fused)]))
    published: dict[int, float | None] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        marks = ",".join("?" * len(chunk))
        published.update((r[0], feedback.days(r[1])) for r in store.conn.execute(
            f"SELECT rowid, published_at FROM articles WHERE rowid IN ({marks})", chunk))
    return feedback.time_prior(fused, published, [published.get(h) for h in heads], cfg.time_scale_days,
                               cfg.time_floor)


def _hit_rows(store: Store, query: str, top: list[tuple[int, float]], matched: dict, langs: list[str],
              highlight: list[str] | None = None) -> list[dict]:
    """The hits' rows, each with a snippet (:mod:`.snippets`) around the ``highlight`` words
    (None: all the query's words) or else the first mention of an entity it was found by. The
    words method's informative words: a word in more than ``max_term_share`` of the articles
    ("de", "the") is no reason to show a passage, and at a million articles it made the
    snippets' one query read long posting lists (~10 ms)."""
    if not top:
        return []
    marks = ",".join("?" * len(top))
    rows = {r["rowid"]: r for r in store.conn.execute(
        f"""SELECT rowid, id, title, text, lang, published_at, story_id, url, outlet FROM articles
            WHERE rowid IN ({marks})""", [r for r, _ in top])}
    surface = _surface_query(query if highlight is None else " ".join(highlight))
    _words_held(store, query, langs, rows, matched)
    shown = snippets(store, rows, surface, matched)
    hits = []
    for rowid, score in top:
        r = rows[rowid]
        why = matched.get(rowid, {})
        hits.append({"id": r["id"], "title": r["title"], "lang": r["lang"], "published_at": r["published_at"],
                     "story_id": r["story_id"], "url": r["url"], "outlet": r["outlet"], "score": round(score, 5),
                     "snippet": shown[rowid],
                     "matched": {k: why[k] for k in ("entities", "words", "meaning", "story") if k in why}})
    return hits


def _words_held(store: Store, query: str, langs: list[str], rows: dict, matched: dict) -> None:
    """Narrow each words hit's ``matched["words"]`` to the query words the article holds in some
    form (the search ranked on any of them). SQLite: asked of the word-stem index, one query a
    word over the hits; the articles are not read again (one can be 2 million characters)."""
    held = [rowid for rowid in rows if "words" in matched.get(rowid, {})]
    if not held:
        return
    groups = dict(zip(words.unique_tokens(query), words.query_terms(query, langs)))
    asked = {w for rowid in held for w in matched[rowid]["words"]}
    if store.dialect == "sqlite":
        marks = ",".join("?" * len(held))
        having: dict[str, set[int]] = {}
        for word in asked:
            expression = " OR ".join('"' + t.replace('"', "") + '"' for t in sorted(groups.get(word, {word})))
            having[word] = {r[0] for r in store.conn.execute(
                f"SELECT rowid FROM article_stems WHERE article_stems MATCH ? AND rowid IN ({marks})",
                [expression, *held])}
        for rowid in held:
            matched[rowid]["words"] = [w for w in matched[rowid]["words"] if rowid in having.get(w, ())]
        return
    for rowid in held:   # PostgreSQL: no stem index here; the article's own words, stemmed
        r = rows[rowid]
        present = set(words.stem_text(f"{r['title']} {r['text']}", r["lang"]).split())
        present |= set(words.tokens(f"{r['title']} {r['text']}"))
        present = {words.fold(t) for t in present}
        matched[rowid]["words"] = [w for w in matched[rowid]["words"]
                                   if {words.fold(t) for t in groups.get(w, {w})} & present]


def _surface_query(query: str) -> str | None:
    # each word once: FTS5 highlights every phrase against every other at each position, so
    # repeats cost the square of their number (docs/reliability.md)
    found = words.unique_tokens(query)
    return " OR ".join('"' + w.replace('"', "") + '"' for w in found) if found else None


def _group(hits: list[dict]) -> list[dict]:
    """Hits grouped by story, stories in the order of their best hit."""
    groups: dict[str, dict] = {}
    for hit in hits:
        key = hit["story_id"] or hit["id"]
        group = groups.setdefault(key, {"story_id": hit["story_id"], "hits": []})
        group["hits"].append(hit["id"])
    return list(groups.values())


def sync(store: Store, settings=None, *, progress=None) -> int:
    """Bring the search tables up to date (see :mod:`tidings.search.index`)."""
    return index.sync(store, settings, progress=progress)


def vector_index_status(store: Store, settings=None) -> dict:
    """Whether the vector index holds exactly the vectors of the stored articles (for
    ``tidings check``): ``{"in_step": bool, "indexed": n, "articles_with_vectors": m,
    "pending_articles": p, ...}``. ``pending_articles`` are stored articles not yet in the search
    tables at all (a store from before search, not yet synced)."""
    from ..config import Settings

    settings = settings or Settings.load()
    status = StoreVectors(store, SearchSettings.from_dict(settings.section("search"))).status()
    status["pending_articles"] = index.pending(store)
    status["in_step"] = status["in_step"] and status["pending_articles"] == 0
    return status


# ---- tidings check: the vector index in step with the articles ----------------------------------
def _vector_index_problems(store: Store) -> tuple[int, list[str]]:
    """``tidings check``: articles with a vector that the index lacks (or holds in excess). A store
    with no vectors at all has nothing to index (articles written without the pipeline)."""
    from ..config import Settings

    status = StoreVectors(store, SearchSettings.from_dict(Settings.load().section("search"))).status()
    if status["articles_with_vectors"] == 0 or status["in_step"]:
        return 0, []
    off = abs(status["articles_with_vectors"] - status["indexed"]) or 1
    return off, [f"{status['indexed']} vectors indexed for {status['articles_with_vectors']} articles with one"
                 f" (index up to article {status['last_rowid']}, store up to {status['store_last_rowid']})"]


def _rebuild_vector_index(store: Store) -> None:
    from ..config import Settings

    StoreVectors(store, SearchSettings.from_dict(Settings.load().section("search"))).rebuild()


def _register_check() -> None:
    from ..maintenance import ExtraCheck, register_check

    register_check(ExtraCheck("vector_index", "the search vector index holds the vectors of exactly the "
                              "stored articles", _vector_index_problems, _rebuild_vector_index))
    register_check(ExtraCheck("stem_counts", "the per-stem article counts match the word-stem index",
                              index.stem_count_problems, index.rebuild_stem_counts))
    register_check(ExtraCheck("entity_articles", "the articles naming each entity match the mentions",
                              index.entity_article_problems, index.rebuild_entity_articles))


_register_check()
