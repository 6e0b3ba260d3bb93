"""Story titles and summaries for the reader.

* **Title**: the title of the story's most *central* article (the one whose e5 vector is
  closest to the mean of its articles' vectors), in the first of the reader's languages
  (``ui.languages``, or ``?lang=`` in the API) the story has; else the most central article's.
  The central article of each language is kept per story (``story_summaries``) as the story
  grows: :func:`update_centres` runs after every ingest batch on the stories it touched and
  reads only stored vectors (no encoder).
* **Summary**: two or three sentences from the leads of the story's most central articles,
  across languages, chosen by maximal marginal relevance over their e5 sentence vectors:
  each pick is the sentence closest to the story's mean vector less its closeness to the
  sentences already picked, at most one per article, and none nearly identical to a pick (a
  translation of a picked sentence is redundant too). Each sentence comes with its language
  and source article. Computed when first read and cached with the story's size; the sentence
  vectors go into the store's embedding cache, so a story that grows re-embeds only the
  sentences of its new articles.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence

import numpy as np

from .store import Store

log = logging.getLogger(__name__)

# Sentences end at . ! ? (and CJK/Arabic marks) followed by space, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?。！？؟])\s+|\n+")
MAX_MEMBERS = 500        # newest members read to find the central articles of a large story
LEAD_CHARS = 600         # the lead: this many characters from the start of the text
SENTENCES_PER_LEAD = 3
SUMMARY_ARTICLES = 8     # the most central articles whose leads are candidate sentences
MIN_SENTENCE_CHARS = 40
MAX_SENTENCE_CHARS = 320
MMR_LAMBDA = 0.7
NEAR_IDENTICAL = 0.92    # cosine of two e5 sentence vectors above which they say the same


def lead_sentences(text: str, limit: int = SENTENCES_PER_LEAD) -> list[str]:
    out = []
    for sentence in _SENTENCE_END.split((text or "")[:LEAD_CHARS * 2]):
        sentence = " ".join(sentence.split())
        if MIN_SENTENCE_CHARS <= len(sentence) <= MAX_SENTENCE_CHARS and sentence[-1] in ".!?。！？؟\"”»":
            out.append(sentence)
        if len(out) >= limit or sum(len(s) for s in out) >= LEAD_CHARS:
            break
    return out


def _unit(m: np.ndarray) -> np.ndarray:
    return m / np.maximum(np.linalg.norm(m, axis=-1, keepdims=True), 1e-12)


def _members(store: Store, story_id: str) -> list:
    return store.conn.execute(
        """SELECT a.id, a.title, a.lang, a.text, a.url, a.outlet, a.published_at, e.vector
           FROM articles a JOIN article_vectors v ON v.article_rowid = a.rowid JOIN embeddings e ON e.key = v.key
           WHERE a.story_id = ? AND a.duplicate_of IS NULL ORDER BY a.rowid DESC LIMIT ?""",
        (story_id, MAX_MEMBERS)).fetchall()


def _centrality(rows) -> tuple[np.ndarray, np.ndarray]:
    vecs = _unit(np.stack([np.frombuffer(r["vector"], dtype=np.float32) for r in rows]).astype(np.float64))
    centre = _unit(vecs.mean(axis=0))
    return vecs @ centre, centre


def centres_of(rows) -> dict:
    """``{"size", "central": {lang: [article id, title]}, "order": [langs by centrality of their best]}``."""
    if not rows:
        return {"size": 0, "central": {}, "order": []}
    scores, _ = _centrality(rows)
    best: dict[str, tuple[float, str, str]] = {}
    for row, score in zip(rows, scores):
        if row["lang"] not in best or score > best[row["lang"]][0]:
            best[row["lang"]] = (float(score), row["id"], row["title"])
    order = sorted(best, key=lambda lang: -best[lang][0])
    return {"size": len(rows), "central": {lang: [best[lang][1], best[lang][2]] for lang in order}, "order": order}


def pick_title(centres: dict, langs: Sequence[str] = ()) -> tuple[str, str] | None:
    """(title, language) of the most central article in the first reader language the story
    has, else of the most central article; None without centres."""
    central = centres.get("central") or {}
    for lang in [*langs, *centres.get("order", [])]:
        if lang in central:
            return central[lang][1], lang
    return None


def _cached(store: Store, story_id: str) -> dict | None:
    row = store.conn.execute("SELECT size, data FROM story_summaries WHERE story_id = ?", (story_id,)).fetchone()
    return {"size": row[0], **json.loads(row[1])} if row else None


def cached_views(store: Store, story_ids: Iterable[str]) -> dict[str, dict]:
    ids = list(story_ids)
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    return {r[0]: json.loads(r[1]) for r in store.conn.execute(
        f"SELECT story_id, data FROM story_summaries WHERE story_id IN ({marks})", ids)}


def story_view(store: Store, story_id: str) -> dict:
    """The cached view of a story (central articles, summary), or its central articles computed
    now from the stored vectors when none is cached (a store from before summaries)."""
    return _cached(store, story_id) or centres_of(_members(store, story_id))


def _save(store: Store, story_id: str, data: dict) -> None:
    store.conn.execute("INSERT INTO story_summaries(story_id, size, data) VALUES (?, ?, ?) ON CONFLICT(story_id) "
                       "DO UPDATE SET size = excluded.size, data = excluded.data",
                       (story_id, data["size"], json.dumps({k: v for k, v in data.items() if k != "size"},
                                                           ensure_ascii=False)))


def update_centres(store: Store, story_ids: Iterable[str], langs: Sequence[str] = ()) -> None:
    """After an ingest batch (in its transaction): the central article per language of each
    touched story, and its title for the reader's languages ``langs`` (``ui.languages``). A
    summary cached for an older size is kept until it is next read (then recomputed)."""
    for story_id in story_ids:
        rows = _members(store, story_id)
        if not rows:
            continue
        data = _cached(store, story_id) or {}
        data.update(centres_of(rows))
        _save(store, story_id, data)
        title = pick_title(data, langs)
        if title:
            store.conn.execute("UPDATE stories SET title = ? WHERE id = ?", (title[0], story_id))


def summarise(store: Store, story_id: str, embedder, *, sentences: int = 3, cache_store: Store | None = None,
              memory: dict | None = None) -> list[dict]:
    """The story's extractive summary (see the module docstring); cached in ``story_summaries``
    and the embedding cache when ``cache_store`` (a writable connection to the same store) is
    given, else in ``memory`` (a dict the caller keeps) when given."""
    from .pipeline import embedding_key

    size = store.conn.execute("SELECT COUNT(*) FROM articles WHERE story_id = ? AND duplicate_of IS NULL",
                              (story_id,)).fetchone()[0]
    cached = _cached(store, story_id)
    if cached and cached.get("summary_size") == size and "summary" in cached:
        return cached["summary"]
    if memory is not None and (story_id, size) in memory:
        return memory[(story_id, size)]
    rows = _members(store, story_id)
    if not rows:
        return []
    scores, centre = _centrality(rows)
    ranked = [rows[i] for i in np.argsort(-scores, kind="stable")[:SUMMARY_ARTICLES]]
    candidates = [(row, s) for row in ranked for s in lead_sentences(row["text"])]
    if not candidates:
        return []
    keys = [embedding_key(embedder.model_id, s) for _, s in candidates]
    vectors = (cache_store or store).cached_embeddings(keys)
    missing = sorted({k: s for k, (_, s) in zip(keys, candidates) if k not in vectors}.items())
    if missing:
        fresh = dict(zip([k for k, _ in missing], embedder.embed([s for _, s in missing])))
        vectors.update(fresh)
        if cache_store is not None:
            with cache_store.transaction():
                cache_store.cache_embeddings(embedder.model_id, fresh)
    matrix = _unit(np.stack([vectors[k] for k in keys]).astype(np.float64))
    chosen = mmr(matrix, centre, [row["id"] for row, _ in candidates], sentences)
    summary = [{"text": candidates[i][1], "lang": candidates[i][0]["lang"], "article_id": candidates[i][0]["id"],
                "title": candidates[i][0]["title"], "outlet": candidates[i][0]["outlet"], "url": candidates[i][0]["url"]}
               for i in chosen]
    if cache_store is not None:
        with cache_store.transaction():
            data = _cached(cache_store, story_id) or centres_of(rows)
            data.update(summary=summary, summary_size=size)
            _save(cache_store, story_id, data)
    elif memory is not None:
        memory[(story_id, size)] = summary
    return summary


def mmr(vectors: np.ndarray, centre: np.ndarray, owners: Sequence[str], k: int, lam: float = MMR_LAMBDA,
        near_identical: float = NEAR_IDENTICAL) -> list[int]:
    """Indices of up to ``k`` rows of ``vectors`` (unit) by maximal marginal relevance towards
    ``centre``: at most one per owner (article), none above ``near_identical`` cosine with a pick."""
    relevance = vectors @ centre
    chosen: list[int] = []
    used: set[str] = set()
    while len(chosen) < k:
        best, best_score = None, -np.inf
        for i in range(len(vectors)):
            if i in chosen or owners[i] in used:
                continue
            overlap = max((float(vectors[i] @ vectors[j]) for j in chosen), default=0.0)
            if overlap >= near_identical:
                continue
            score = lam * relevance[i] - (1 - lam) * overlap
            if score > best_score:
                best, best_score = i, score
        if best is None:
            break
        chosen.append(best)
        used.add(owners[best])
    return chosen
