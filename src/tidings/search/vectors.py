"""Meaning: the e5 vector of every article in an approximate nearest-neighbour index.

:class:`VectorIndex` is the small interface a backend needs (add, remove, search over
``(article key, vector)``); :class:`UsearchIndex` implements it with usearch (HNSW, cosine,
float16 by default), which answers in milliseconds at a million vectors. A backend with its
own vector search (pgvector) can implement the same three methods.

:class:`StoreVectors` keeps one such index beside a SQLite store (``<db>.vectors.usearch`` and
``<db>.vectors.json``), keyed by article rowid, in step with ``article_vectors`` (the embedding
cache key of each article, written by :func:`tidings.search.index.sync`). Vectors enter the
index *centred*: the mean vector of the article's language is subtracted and the rest
normalised (see :mod:`tidings.similarity` for why: every e5 vector of one language shares a
large common part, which otherwise ranks any article of the query's language above the
same story told in another). The means are taken over the indexed articles when the index is
built and kept with it; the index is rebuilt when the store has grown ``centre_rebuild_growth``
times since, so the means follow the collection while the total work stays linear.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Protocol

import numpy as np

from ..similarity import LanguageCentres
from ..store import Store
from .settings import SearchSettings

log = logging.getLogger(__name__)

DIM = 384
FORMAT = 1
STATE_KEY = "pgvector_index"   # search_state: the pgvector index's meta (centres, last row id)


class VectorIndex(Protocol):
    """What search needs from a vector index: integer keys, unit vectors, cosine."""

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, keys: np.ndarray) -> None: ...

    def search(self, vector: np.ndarray, count: int) -> list[tuple[int, float]]:
        """The ``count`` nearest keys with their cosine similarity, best first."""
        ...

    def among(self, vector: np.ndarray, keys: list[int], count: int) -> list[tuple[int, float]] | None:
        """The ``count`` nearest of ``keys`` exactly (every one compared), best first; None when
        the index cannot hand out its vectors."""
        ...

    def __len__(self) -> int: ...


class UsearchIndex:
    """:class:`VectorIndex` on usearch's HNSW graph (persisted as one file)."""

    def __init__(self, cfg: SearchSettings, dim: int = DIM, index=None, threads: int = 0):
        from usearch.index import Index

        self.threads = threads   # for adding vectors: 0 = one per core
        self.index = index if index is not None else Index(
            ndim=dim, metric="cos", dtype=cfg.index_dtype, connectivity=cfg.index_connectivity,
            expansion_add=cfg.index_expansion_add, expansion_search=cfg.index_expansion_search)

    @classmethod
    def load(cls, path: Path, cfg: SearchSettings, *, view: bool = False) -> "UsearchIndex":
        from usearch.index import Index

        index = Index.restore(str(path), view=view)
        if index is None:
            raise ValueError(f"not a usearch index: {path}")
        index.expansion_search = cfg.index_expansion_search
        return cls(cfg, index=index)

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        if len(keys):
            self.index.add(np.asarray(keys, dtype=np.uint64), np.asarray(vectors, dtype=np.float32),
                           threads=self.threads)

    def remove(self, keys: np.ndarray) -> None:
        if len(keys):
            self.index.remove(np.asarray(keys, dtype=np.uint64))

    def search(self, vector: np.ndarray, count: int) -> list[tuple[int, float]]:
        if len(self.index) == 0 or count <= 0:
            return []
        found = self.index.search(np.asarray(vector, dtype=np.float32), min(count, len(self.index)))
        return [(int(k), 1.0 - float(d)) for k, d in zip(found.keys, found.distances)]

    def among(self, vector: np.ndarray, keys: list[int], count: int) -> list[tuple[int, float]]:
        if not keys or count <= 0:
            return []
        # one array per key, None for a key the index does not hold (no vector); ~2 us a key
        got = self.index.get(np.asarray(keys, dtype=np.uint64), dtype=np.float32)
        pairs = [(k, v) for k, v in zip(keys, got) if v is not None]
        if not pairs:
            return []
        have, matrix = [k for k, _ in pairs], np.vstack([v for _, v in pairs])
        cosines = _unit(matrix) @ _unit(np.asarray(vector, dtype=np.float32).reshape(1, -1))[0]
        best = np.argsort(-cosines, kind="stable")[:count]
        return [(int(have[i]), float(cosines[i])) for i in best]

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".part")
        self.index.save(str(tmp))
        os.replace(tmp, path)

    def __len__(self) -> int:
        return len(self.index)


class StoreIndex:
    """:class:`VectorIndex` kept by the store itself (pgvector in PostgreSQL: a ``vector(384)``
    table with an HNSW index on cosine distance; ``store.vector_search_mode() == "pgvector"``)."""

    def __init__(self, store: Store, cfg: SearchSettings):
        self.store = store
        self.ef_search = cfg.index_expansion_search

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        if len(keys):
            self.store.put_vectors(keys, np.asarray(vectors, dtype=np.float32))

    def remove(self, keys: np.ndarray) -> None:
        if len(keys):
            self.store.remove_vectors(keys)

    def clear(self) -> None:
        self.store.remove_vectors(None)

    def search(self, vector: np.ndarray, count: int) -> list[tuple[int, float]]:
        return self.store.nearest_vectors(np.asarray(vector, dtype=np.float32), count, self.ef_search)

    def among(self, vector: np.ndarray, keys: list[int], count: int) -> None:
        return None   # the server's HNSW search with the filter applied after it (search._meaning)

    def __len__(self) -> int:
        return self.store.vector_count()


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


def _vector_rows(store: Store, after: int = 0, chunk: int = 5000):
    """(rowids, langs, vectors) of indexed-to-be articles with rowid > ``after``, in chunks."""
    while True:
        rows = store.conn.execute(
            """SELECT v.article_rowid, a.lang, e.vector FROM article_vectors v
               JOIN articles a ON a.rowid = v.article_rowid JOIN embeddings e ON e.key = v.key
               WHERE v.article_rowid > ? ORDER BY v.article_rowid LIMIT ?""", (after, chunk)).fetchall()
        if not rows:
            return
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        vecs = np.frombuffer(b"".join(bytes(r[2]) for r in rows), dtype=np.float32).reshape(len(rows), -1)
        yield ids, [r[1] for r in rows], vecs
        after = int(ids[-1])


class StoreVectors:
    """The vector index of one store: built, extended and saved beside it, queried by search."""

    def __init__(self, store: Store, cfg: SearchSettings):
        self.store = store
        self.cfg = cfg
        self.index: UsearchIndex | None = None
        self.meta: dict = {}
        self.centres: LanguageCentres | None = None
        # beside a SQLite file; in memory for an in-memory or server store (PostgreSQL)
        self.path = None if store.path in ("", ":memory:") or store.dialect != "sqlite" \
            else Path(store.path + ".vectors.usearch")
        # pgvector: the vectors live in the server (StoreIndex), the centres in search_state
        self.in_store = store.vector_search_mode() == "pgvector"

    # ---- files ---------------------------------------------------------------------------
    @property
    def meta_path(self) -> Path | None:
        return self.path.with_suffix(".json") if self.path else None

    def _load(self) -> bool:
        if self.in_store:
            return self._load_in_store()
        if self.path is None or not self.path.exists() or not self.meta_path.exists():
            return False
        try:
            meta = json.loads(self.meta_path.read_text())
            if meta.get("format") != FORMAT or meta.get("store_id") != _store_id(self.store):
                return False
            index = UsearchIndex.load(self.path, self.cfg)
        except (OSError, ValueError, RuntimeError) as exc:
            log.warning("vector index %s unreadable (%s): rebuilding it", self.path, exc)
            return False
        if len(index) != meta.get("count"):
            # the index file and its meta are replaced one after the other: a kill between
            # the two leaves an index that the meta does not describe
            log.warning("vector index %s holds %d vectors, its meta says %s: rebuilding it",
                        self.path, len(index), meta.get("count"))
            return False
        self.index = index
        self.meta = meta
        self.centres = _centres_from_meta(meta, self.cfg)
        return True

    def _save(self) -> None:
        if self.in_store:
            if not self.store.read_only:
                from .index import set_state

                self.meta["count"] = len(self.index)   # a table whose rows differ from this is rebuilt
                set_state(self.store, STATE_KEY, json.dumps(self.meta))
            return
        if self.path is None or self.index is None:
            return
        try:
            self.index.save(self.path)
            tmp = self.meta_path.with_name(self.meta_path.name + ".part")
            tmp.write_text(json.dumps(self.meta))
            os.replace(tmp, self.meta_path)
        except OSError as exc:  # a read-only directory: the index lives in memory only
            log.info("vector index not saved (%s): it is rebuilt in memory when needed", exc)

    # ---- keeping in step -------------------------------------------------------------------
    def _indexable(self) -> tuple[int, int]:
        row = self.store.conn.execute(
            "SELECT COUNT(*), COALESCE(MAX(v.article_rowid), 0) FROM article_vectors v "
            "JOIN embeddings e ON e.key = v.key").fetchone()
        return int(row[0]), int(row[1])

    def behind(self) -> bool:
        """Whether the saved index lacks vectors the store holds, cheaply (the meta and one
        indexed ``MAX``, not the index itself): a run that was killed after its last commit and
        before saving the index leaves it behind, and the next run that adds nothing brings it up
        to date (:meth:`ready`)."""
        row = self.store.conn.execute("SELECT COALESCE(MAX(article_rowid), 0) FROM article_vectors").fetchone()
        last = int(row[0])
        if last == 0:
            return False
        if self.index is not None and not self.in_store:
            return last > self.meta.get("last_rowid", 0)
        meta = self._saved_meta()
        if meta is None:   # none saved, or unreadable: behind, unless it is kept nowhere (built when searched)
            return self.in_store or self.path is not None
        return last > int(meta.get("last_rowid", 0))

    def _saved_meta(self) -> dict | None:
        """The meta last saved (the JSON file beside the store, or pgvector's row in
        ``search_state``); None when there is none or it cannot be read."""
        if self.in_store:
            from .index import state

            raw = state(self.store, STATE_KEY)
        else:
            try:
                raw = self.meta_path.read_text() if self.meta_path is not None else None
            except OSError:
                raw = None
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    def rebuild(self, progress=None) -> "StoreVectors":
        """Build the index from every stored vector and save it (``tidings check --repair``)."""
        self.build(progress)
        self._save()
        return self

    def build(self, progress=None) -> None:
        """(Re)build the index from every article vector in the store."""
        sums: dict[str, np.ndarray] = {}
        counts: dict[str, float] = {}
        for _, langs, vecs in _vector_rows(self.store):
            for lang, vec in zip(langs, vecs.astype(np.float64)):
                sums[lang] = sums[lang] + vec if lang in sums else vec.copy()
                counts[lang] = counts.get(lang, 0.0) + 1.0
        total = int(sum(counts.values()))
        centred = self.cfg.centre and total >= self.cfg.centre_min_articles
        self.meta = {"format": FORMAT, "store_id": _store_id(self.store), "count": 0, "last_rowid": 0,
                     "built_at_count": total, "centred": centred,
                     "sums": {k: v.tolist() for k, v in sums.items()} if centred else {},
                     "counts": counts if centred else {}}
        self.centres = _centres_from_meta(self.meta, self.cfg)
        if self.in_store:
            self.index = StoreIndex(self.store, self.cfg)
            self.index.clear()
        else:
            self.index = UsearchIndex(self.cfg)
        self._extend(0, progress)

    def _extend(self, after: int, progress=None) -> int:
        added = 0
        for ids, langs, vecs in _vector_rows(self.store, after):
            self.index.add(ids, self.centre(vecs, langs))
            self.meta["count"] = self.meta.get("count", 0) + len(ids)
            self.meta["last_rowid"] = int(ids[-1])
            added += len(ids)
            if progress:
                progress(len(ids))
        return added

    def centre(self, vecs: np.ndarray, langs: list[str | None]) -> np.ndarray:
        vecs = np.asarray(vecs, dtype=np.float32).reshape(len(langs), -1)
        if self.centres is None:
            return _unit(vecs)
        shift = np.stack([self.centres.centre(lang) for lang in langs]).astype(np.float32)
        return _unit(vecs - shift)

    def ready(self, *, save: bool = True, progress=None) -> "StoreVectors":
        """Load the saved index, add the articles stored since, rebuild it when the store has
        outgrown its centres; save it back when it changed (and the directory is writable)."""
        if self.in_store:
            return self._ready_in_store(save=save, progress=progress)
        total, last = self._indexable()
        changed = False
        if self.index is None and not self._load():
            self.build(progress)
            changed = True
        elif self._stale(total):
            log.info("rebuilding the vector index: %d articles, centres from %d", total,
                     self.meta.get("built_at_count", 0))
            self.build(progress)
            changed = True
        elif last > self.meta.get("last_rowid", 0):
            changed = self._extend(self.meta.get("last_rowid", 0), progress) > 0
        if changed and save:
            self._save()
        return self

    # ---- pgvector: the index in the PostgreSQL server -------------------------------------------
    def _load_in_store(self) -> bool:
        meta = self._saved_meta() or {}
        if meta.get("format") != FORMAT or meta.get("store_id") != _store_id(self.store):
            return False
        self.meta = meta
        self.centres = _centres_from_meta(meta, self.cfg)
        self.index = StoreIndex(self.store, self.cfg)
        return True

    def _ready_in_store(self, *, save: bool, progress=None) -> "StoreVectors":
        """:meth:`ready` with pgvector: build or extend the server's table in one transaction
        under the store's assignment lock (several processes take turns, each starting from what
        the last one committed); a read-only store whose table lags behind searches an
        in-process index instead."""
        total, last = self._indexable()
        loaded = self._load_in_store()   # what the last writer committed (centres, last row id)
        behind = not loaded or self._stale(total) or last > self.meta.get("last_rowid", 0) \
            or len(self.index) != self.meta.get("count")
        if not behind:
            return self
        if self.store.read_only or not save:
            if loaded:   # the writers bring it up to date at the end of their runs: search what is there
                log.debug("the pgvector index of %s lags behind its articles", self.store.address)
                return self
            log.info("the pgvector index of %s is not built and the store is read-only: "
                     "searching an in-process index", self.store.address)
            self.in_store = False
            self.index = None
            return self.ready(save=False, progress=progress)
        # one process at a time (the store's assignment lock), from what the last one committed
        with self.store.assignment_lock():
            total, last = self._indexable()
            if not self._load_in_store() or self._stale(total) or len(self.index) != self.meta.get("count"):
                self.build(progress)   # (a count that differs: rows lost or added by hand)
            elif last > self.meta.get("last_rowid", 0):
                self._extend(self.meta.get("last_rowid", 0), progress)
            else:
                return self
            self._save()
        return self

    def _stale(self, total: int) -> bool:
        built = int(self.meta.get("built_at_count", 0))
        want_centred = self.cfg.centre and total >= self.cfg.centre_min_articles
        return (want_centred != bool(self.meta.get("centred"))
                or total >= self.cfg.centre_rebuild_growth * max(built, 1) and total > built
                or self._other_dtype())

    def _other_dtype(self) -> bool:
        """A usearch index built with another ``search.index_dtype`` than the setting's (it is
        then rebuilt: the setting was changed to be used; at a million articles that takes
        half an hour or more, bench/search.py)."""
        if not isinstance(self.index, UsearchIndex):
            return False
        built = self.index.index.dtype.name.lower()
        if built == self.cfg.index_dtype:
            return False
        log.warning("the vector index %s holds %s vectors, search.index_dtype says %s: rebuilding it",
                    self.path or "in memory", built, self.cfg.index_dtype)
        return True

    def status(self) -> dict:
        total, last = self._indexable()
        if self.path is None and not self.in_store and self.index is None:
            # kept nowhere (PostgreSQL without pgvector, an in-memory store): built from the
            # stored vectors whenever it is searched, so never out of step
            return {"path": None, "articles_with_vectors": total, "indexed": 0, "last_rowid": 0,
                    "store_last_rowid": last, "in_step": True, "in_memory": True, "centred": False,
                    "built_at_count": 0}
        if self.index is None:
            self._load()
        count = len(self.index) if self.index is not None else 0
        return {"path": str(self.path) if self.path else None, "articles_with_vectors": total,
                "indexed": count, "last_rowid": self.meta.get("last_rowid", 0), "store_last_rowid": last,
                "in_step": self.index is not None and count == total and self.meta.get("last_rowid", 0) == last,
                "centred": bool(self.meta.get("centred")), "built_at_count": self.meta.get("built_at_count", 0)}

    # ---- querying ----------------------------------------------------------------------------
    def query_vector(self, vector: np.ndarray, lang: str | None = None) -> np.ndarray:
        """The query as indexed vectors are: centred on the all-language mean (a query's language
        is unknown, and on OG2021 dev this beats the detected language's mean cross-lingually:
        recall@10 0.602 vs 0.585, MRR 0.687 vs 0.669), or on ``lang``'s mean when given."""
        vector = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        if self.centres is None:
            return _unit(vector)[0]
        centre = self.centres.centre(lang) if lang else self.centres.global_mean
        return _unit(vector - centre.astype(np.float32))[0]

    def search(self, vector: np.ndarray, count: int) -> list[tuple[int, float]]:
        assert self.index is not None, "call ready() first"
        return self.index.search(vector, count)

    def among(self, vector: np.ndarray, keys: list[int], count: int) -> list[tuple[int, float]] | None:
        """The ``count`` nearest of the articles ``keys`` (row ids), compared one by one: exact,
        for a filter that keeps few articles, where the HNSW graph would have to be walked far
        to find them. None when the index cannot hand out vectors (pgvector)."""
        assert self.index is not None, "call ready() first"
        return self.index.among(vector, keys, count)


def _centres_from_meta(meta: dict, cfg: SearchSettings) -> LanguageCentres | None:
    if not meta.get("centred") or not meta.get("counts"):
        return None
    return LanguageCentres({k: np.asarray(v) for k, v in meta["sums"].items()}, meta["counts"],
                           cfg.centre_lang_prior)


def _store_id(store: Store) -> str:
    """Identifies the store the index was built from (a new store at the same path is another);
    set by :func:`tidings.search.index.sync`."""
    from .index import state

    return state(store, "store_id") or ""
