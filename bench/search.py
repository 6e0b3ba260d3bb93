"""Search at scale (issue #13): latency with up to 1,000,000 articles stored, and the size and build
time of the search indexes.

Goal: search p95 < 100 ms with 1,000,000 articles stored.

    nice -n 5 python bench/search.py                       # the 1M store of bench/scale.py (built if missing)
    nice -n 5 python bench/search.py --articles 100000     # a smaller store, same recipe
    nice -n 5 python bench/search.py --vectors-only 1000000   # the vector index alone, random vectors
    nice -n 5 python bench/search.py --vectors-only 100000 --data stories --index index_dtype=f16
    nice -n 5 python bench/search.py --articles 100000 --cpu-by-method    # CPU per query per method
    nice -n 5 python bench/search.py --bounds    # words and entities with and without their bounds

**The store** is bench/scale.py's (``scale-<N>.db`` in $TIDINGS_CACHE or .bench-cache/, built by its
``build_store`` when missing: OG2021 titles replayed in rounds, ~2,700 articles a day, synthetic
entities, random 384-dim vectors in the embedding cache under keys ``syn:<k>``). The search tables
are added to it here, timed: ``tidings.search.sync`` (word stems, entity forms, vector keys), then
the article -> vector keys are pointed at the bench's random vectors (the articles were not
embedded by the pipeline; the ~9,400 written through the Monitor path get fresh random vectors),
then the usearch index is built (``StoreVectors.ready``), timed, and its file size reported.

**The measurement**: ``--queries`` OG2021 titles (every 30th), each searched once with all
methods fused (words, entities, meaning, story) through ``tidings.search.search`` with a ready
index and a loaded encoder, as the API does; a third of them with a filter (a language, or a
``since`` date). Latency is the whole search, p50/p95/max, the query's encoding included (e5 on
CPU, run in a thread while words and entities search); the encoder alone is reported beside it.
Random vectors are the hard case for an HNSW graph (no cluster structure), so the meaning
figures are if anything pessimistic. ``--vectors-only N`` times the vector index alone on N
random vectors (build CPU and wall time, size, search p95, recall@10 against exact search), for
a quick look at a size whose store is not built, with other index settings (``--index
index_dtype=f16``, ...); ``--data stories`` draws clustered, language-centred vectors instead
(random 384-dim vectors have no near neighbours, so their recall says little). ``--cpu-by-method``
prints the CPU time per query of each method alone and fused (an index already built).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

GOAL_P95_MS = 100.0


def _pct(values: list[float], share: float) -> float:
    return float(np.percentile(np.asarray(values), share * 100)) if values else float("nan")


def _stats(values: list[float]) -> dict:
    return {"p50": round(_pct(values, 0.5), 1), "p95": round(_pct(values, 0.95), 1), "max": round(max(values), 1)}


def _exact_top(vecs: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """The exact ``k`` nearest rows (cosine; unit vectors) of each query, by brute force."""
    sims = queries @ vecs.T
    top = np.argpartition(-sims, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)


def _stories(count: int) -> int:
    return max(1, count // 10)


def _vectors(rng, count: int, data: str, stories: int | None = None) -> np.ndarray:
    """``count`` unit vectors: ``random`` (no structure: every vector about as far from a query as
    any other, the hard case for a graph index), or ``stories``: a story's direction plus one of
    12 language directions plus noise (stories of ~10 articles; before centring, cosine ~0.78
    within a story and language, ~0.56 across languages, ~0.22 within a language only), centred
    per language as StoreVectors centres e5 vectors (the language's mean removed), from a fixed
    seed so that queries fall into the same stories."""
    if data == "random":
        vecs = rng.standard_normal((count, 384), dtype=np.float32)
        return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    shared = np.random.default_rng(5)
    langs = shared.standard_normal((12, 384), dtype=np.float32)
    centres = shared.standard_normal((stories or _stories(count), 384), dtype=np.float32)
    vecs = np.empty((count, 384), dtype=np.float32)
    lang_of = rng.integers(0, 12, count)
    for lo in range(0, count, 50_000):
        n = min(count, lo + 50_000) - lo
        vecs[lo:lo + n] = (1.6 * centres[rng.integers(0, len(centres), n)] + langs[lang_of[lo:lo + n]]
                           + rng.standard_normal((n, 384), dtype=np.float32))
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    for lang in range(12):
        # the language's mean, as the index subtracts it (large samples: the true direction)
        vecs[lang_of == lang] -= langs[lang] / np.sqrt(1.6 ** 2 + 2) / np.sqrt(384)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def vectors_only(count: int, queries: int, overrides: dict | None = None, threads: int = 0,
                 recall_queries: int = 200, data: str = "random") -> dict:
    """Build the vector index of ``count`` random unit vectors (CPU and wall time), save it (size),
    time ``queries`` searches of ``candidates`` neighbours, and measure recall@10 against exact
    search for ``recall_queries`` of them (plain, and ann-benchmarks' epsilon recall: near-ties count).
    ``overrides``: [search] index settings to try (index_dtype, index_connectivity, ...)."""
    from dataclasses import replace

    from tidings.search import SearchSettings, UsearchIndex

    cfg = replace(SearchSettings(), **(overrides or {}))
    rng = np.random.default_rng(7)
    vecs = _vectors(rng, count, data)
    index = UsearchIndex(cfg, threads=threads)
    started, cpu = time.perf_counter(), time.process_time()
    for lo in range(0, count, 50_000):
        index.add(np.arange(lo, min(count, lo + 50_000)), vecs[lo:lo + 50_000])
    build, build_cpu = time.perf_counter() - started, time.process_time() - cpu
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-search-{os.getpid()}.usearch"
    index.save(path)
    size = path.stat().st_size
    path.unlink()
    qs = _vectors(np.random.default_rng(11), max(queries, recall_queries), data, stories=_stories(count))
    times, found = [], []
    for q in qs[:queries]:
        t = time.perf_counter()
        index.search(q, cfg.candidates)
        times.append((time.perf_counter() - t) * 1000)
    for q in qs[:recall_queries]:
        found.append([k for k, _ in index.search(q, cfg.candidates)[:10]])
    exact = np.concatenate([_exact_top(vecs, qs[lo:lo + 50], 10) for lo in range(0, recall_queries, 50)])
    recall = float(np.mean([len(set(f) & set(e.tolist())) / 10 for f, e in zip(found, exact)]))
    # ann-benchmarks' epsilon recall: a neighbour found counts when its exact distance is within
    # 1 % of the exact 10th one's (near-ties among the 10th and the 11th, ... are no loss)
    eps = []
    for q, f, e in zip(qs, found, exact):
        tenth = 1.0 - float(vecs[e[-1]] @ q)
        eps.append(sum(1.0 - float(vecs[k] @ q) <= tenth * 1.01 for k in f) / 10)
    return {"vectors": count, "build_s": round(build, 1), "build_cpu_s": round(build_cpu, 1),
            "build_cpu_ms_per_vector": round(build_cpu / count * 1000, 3), "threads": threads,
            "index_mb": round(size / 1e6, 1), "search_ms": _stats(times), "recall@10": round(recall, 3),
            "recall@10_eps1%": round(float(np.mean(eps)), 3),
            "data": data, "dtype": cfg.index_dtype, "connectivity": cfg.index_connectivity,
            "expansion_add": cfg.index_expansion_add, "expansion_search": cfg.index_expansion_search}


def prepare(db: Path) -> dict:
    """Add the search tables and the vector index to a bench/scale.py store (timed)."""
    from tidings.config import Settings
    from tidings.search import SearchSettings, StoreVectors, sync
    from tidings.store import Store

    settings = Settings.load(env={})
    info: dict = {}
    with Store.open(db) as store:
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        page = store.conn.execute("PRAGMA page_size").fetchone()[0]
        started = time.perf_counter()
        sync(store, settings, progress=None)
        info["sync_s"] = round(time.perf_counter() - started, 1)
        info["search_tables_mb"] = round((store.conn.execute("PRAGMA page_count").fetchone()[0] - pages) * page / 1e6, 1)
        # point each article at its bench vector: the bulk articles were written in order, k = rowid - 1
        bulk = store.conn.execute("SELECT COUNT(*) FROM embeddings WHERE key LIKE 'syn:%'").fetchone()[0]
        rng = np.random.default_rng(3)
        with store.transaction():
            store.conn.execute("UPDATE article_vectors SET key = 'syn:' || (article_rowid - 1) WHERE article_rowid <= ?",
                               (bulk,))
            rest = [r[0] for r in store.conn.execute("SELECT article_rowid FROM article_vectors WHERE article_rowid > ?",
                                                     (bulk,))]
            vecs = rng.standard_normal((len(rest), 384), dtype=np.float32)
            store.cache_embeddings("bench-search/random", {f"bench:{r}": v for r, v in zip(rest, vecs)})
            store.conn.executemany("UPDATE article_vectors SET key = ? WHERE article_rowid = ?",
                                   [(f"bench:{r}", r) for r in rest])
        for suffix in (".vectors.usearch", ".vectors.json"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        started, cpu = time.perf_counter(), time.process_time()
        cfg = SearchSettings.from_dict(settings.section("search"))
        vectors = StoreVectors(store, cfg).ready()
        info["index_build_s"] = round(time.perf_counter() - started, 1)
        info["index_build_cpu_s"] = round(time.process_time() - cpu, 1)
        info["index"] = {"dtype": cfg.index_dtype, "connectivity": cfg.index_connectivity,
                         "expansion_add": cfg.index_expansion_add}
        info["index_vectors"] = len(vectors.index)
        info["index_mb"] = round(Path(str(db) + ".vectors.usearch").stat().st_size / 1e6, 1)
    return info


def measure(db: Path, queries: int) -> dict:
    from tidings.config import Settings
    from tidings.embed import Embedder
    from tidings.search import SearchSettings, StoreVectors, search
    from tidings.store import Store

    import scale

    settings = Settings.load(env={})
    records = [json.loads(line) for line in scale.OG2021.read_text(encoding="utf-8").splitlines() if line.strip()]
    titles = [(r["title"], r["lang"]) for r in records[::30]][:queries]
    with Store.open(db, read_only=True) as store:
        started = time.perf_counter()
        vectors = StoreVectors(store, SearchSettings.from_dict(settings.section("search"))).ready(save=False)
        load_s = time.perf_counter() - started
        embedder = Embedder(settings.section("embedding"))
        embedder.embed(["warm up"])
        from tidings.search.entities import store_languages, warm_up

        search(store, "warm up Aleppo", settings=settings, embedder=embedder, vectors=vectors)
        # as the API does at start: the linker's data per language, then out of the collector's sight
        warm_up(store_languages(store), freeze=True)
        newest = store.conn.execute("SELECT MAX(published_at) FROM articles").fetchone()[0][:10]
        total, encode, hits = [], [], []
        pauses = _GcPauses()
        gc.callbacks.append(pauses)
        for i, (title, lang) in enumerate(titles):
            filters = [{}, {}, {"lang": lang}, {}, {}, {"since": newest}][i % 6]
            # the whole search as the API runs it: the query encoded (in a thread, while words
            # and entities search), the three methods, fusion, the hits' rows and snippets
            t0 = time.perf_counter()
            result = search(store, title, settings=settings, embedder=embedder, vectors=vectors, limit=20, **filters)
            t1 = time.perf_counter()
            embedder.embed([title])   # the encoder alone, for the record (after: nothing of it is kept)
            t2 = time.perf_counter()
            total.append((t1 - t0) * 1000)
            encode.append((t2 - t1) * 1000)
            hits.append(len(result.hits))
        gc.callbacks.remove(pauses)
        articles = store.count("articles")
    return {"articles": articles, "queries": len(titles), "index_load_s": round(load_s, 1),
            "search_ms": _stats(total), "encode_ms": _stats(encode),
            "mean_hits": round(float(np.mean(hits)), 1), "gc": pauses.summary()}


class _GcPauses:
    """The garbage collector's pauses while the searches run (a ``gc.callbacks`` entry): a full
    collection walks every object the process holds outside :func:`gc.freeze`, and any search
    it falls in waits for it."""

    def __init__(self) -> None:
        self.started = 0.0
        self.pauses: list[tuple[int, float]] = []

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.pauses.append((info["generation"], (time.perf_counter() - self.started) * 1000))

    def summary(self) -> dict:
        full = [ms for generation, ms in self.pauses if generation == 2]
        return {"collections": len(self.pauses), "total_ms": round(sum(ms for _, ms in self.pauses), 1),
                "full_collections": len(full), "full_ms": round(sum(full), 1),
                "full_max_ms": round(max(full, default=0.0), 1), "tracked_objects": len(gc.get_objects())}


def cpu_by_method(db: Path, queries: int) -> dict:
    """CPU time per query (``time.process_time``: steadier than wall time on a shared machine) of
    each method alone and of all fused, over ``queries`` OG2021 titles never searched before in
    this process (the linker caches what it linked), with random query vectors (no encoding)."""
    from tidings.config import Settings
    from tidings.search import SearchSettings, StoreVectors, search
    from tidings.search.entities import store_languages, warm_up
    from tidings.store import Store

    import scale

    settings = Settings.load(env={})
    records = [json.loads(line) for line in scale.OG2021.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = np.random.default_rng(0)
    out = {}
    with Store.open(db, read_only=True) as store:
        vectors = StoreVectors(store, SearchSettings.from_dict(settings.section("search"))).ready(save=False)
        warm_up(store_languages(store))
        for title in [r["title"] for r in records[29::30][:20]]:   # lazily loaded tables, page cache
            search(store, title, settings=settings, vectors=vectors, query_vector=rng.standard_normal(384))
        for offset, methods in enumerate((("words",), ("entities",), ("meaning",), ("words", "entities", "meaning"))):
            titles = [r["title"] for r in records[offset::30][:queries]]
            started = time.process_time()
            for title in titles:
                search(store, title, settings=settings, vectors=vectors, methods=methods, limit=20,
                       query_vector=rng.standard_normal(384).astype(np.float32))
            out["+".join(methods)] = round((time.process_time() - started) / len(titles) * 1000, 1)
    return {"cpu_ms_per_query": out, "queries": queries}


def bounds(db: Path, queries: int) -> dict:
    """The words and entities methods with and without their bounds (search.words_max_postings
    and the articles join without a filter; search.entity_max_mentions), in one process, two
    rounds: CPU per query of the ranking queries alone (linking the query excluded)."""
    from tidings.config import Settings
    from tidings.search import SearchSettings, words
    from tidings.search import entities as es
    from tidings.store import Store

    import scale

    cfg = SearchSettings.from_dict(Settings.load(env={}).section("search"))
    records = [json.loads(line) for line in scale.OG2021.read_text(encoding="utf-8").splitlines() if line.strip()]
    titles = [r["title"] for r in records[::30][:queries]]
    rounds = []
    with Store.open(db, read_only=True) as store:
        total, langs = store.count("articles"), es.store_languages(store)
        named = [es.query_entities(store, t, langs, cfg.entity_max_ngram) for t in titles]

        def words_run(budget, join):
            for title in titles:
                expr = words.match_expression(store.conn, title, langs, total, cfg.max_term_share, budget).expression
                if expr:
                    sql = ("SELECT s.rowid FROM article_stems s JOIN articles a ON a.rowid = s.rowid WHERE "
                           "article_stems MATCH ? AND a.duplicate_of IS NULL" if join else
                           "SELECT rowid FROM article_stems WHERE article_stems MATCH ?")
                    store.conn.execute(sql + " ORDER BY bm25(article_stems, ?, 1.0) LIMIT ?",
                                       [expr, cfg.title_weight, cfg.candidates]).fetchall()

        def entities_run(budget):
            for ents in named:
                es.rank_articles(store, ents, total, cfg.entity_max_articles, limit=cfg.candidates, budget=budget)

        for _ in range(2):
            got = {}
            for name, run in (("words_unbounded", lambda: words_run(None, True)),
                              ("words_bounded", lambda: words_run(cfg.words_max_postings, False)),
                              ("entities_unbounded", lambda: entities_run(None)),
                              ("entities_bounded", lambda: entities_run(cfg.entity_max_mentions))):
                started = time.process_time()
                run()
                got[name] = round((time.process_time() - started) / len(titles) * 1000, 1)
            rounds.append(got)
    return {"cpu_ms_per_query": rounds, "queries": len(titles)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1_000_000, help="articles in the bench/scale.py store")
    parser.add_argument("--db", type=Path, default=None, help="store path (default: bench/scale.py's cache)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--vectors-only", type=int, default=0, metavar="N", help="time the vector index alone")
    parser.add_argument("--index", action="append", default=[], metavar="SETTING=VALUE",
                        help="with --vectors-only: a [search] index setting to try, e.g. index_expansion_add=64")
    parser.add_argument("--threads", type=int, default=0, help="with --vectors-only: usearch threads (0: all cores)")
    parser.add_argument("--data", choices=("random", "stories"), default="random",
                        help="with --vectors-only: random vectors, or vectors in stories (see _vectors)")
    parser.add_argument("--cpu-by-method", action="store_true",
                        help="CPU per query of each method alone and fused, on the store (no index build)")
    parser.add_argument("--bounds", action="store_true",
                        help="CPU per query of the words and entities rankings with and without their bounds")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.vectors_only:
        overrides = {}
        for item in args.index:
            key, _, value = item.partition("=")
            overrides[key] = value if key == "index_dtype" else int(value)
        print(json.dumps(vectors_only(args.vectors_only, args.queries, overrides, args.threads, data=args.data), indent=1))
        return
    import scale

    if os.environ.get("TIDINGS_SHARED"):   # ../shared elsewhere (a git worktree)
        scale.OG2021 = Path(os.environ["TIDINGS_SHARED"]) / "data" / "og2021.dev.jsonl"
    db = args.db or scale.CACHE / f"scale-{args.articles}.db"
    if args.cpu_by_method or args.bounds:
        run = cpu_by_method if args.cpu_by_method else bounds
        print(json.dumps(run(db, min(args.queries, 40)), indent=1))
        return
    info_path = Path(str(db) + ".json")
    if not db.is_file() or not info_path.is_file():
        db.parent.mkdir(parents=True, exist_ok=True)
        info_path.write_text(json.dumps(scale.build_store(db, args.articles), indent=1))
    build = json.loads(info_path.read_text())
    prep_path = Path(str(db) + ".search.json")
    if not prep_path.is_file():
        prep_path.write_text(json.dumps(prepare(db), indent=1))
    prep = json.loads(prep_path.read_text())
    result = measure(db, args.queries)
    report = {"build": build, "prepare": prep, "measure": result}
    if args.json:
        print(json.dumps(report, indent=1))
        return
    print(f"store {db}: {result['articles']:,} articles (built in {build['build_seconds']} s)")
    index = prep.get("index", {})
    print(f"search tables: sync {prep['sync_s']} s, +{prep['search_tables_mb']} MB; vector index of "
          f"{prep['index_vectors']:,} vectors ({index.get('dtype', '?')}, connectivity "
          f"{index.get('connectivity', '?')}, expansion_add {index.get('expansion_add', '?')}) built in "
          f"{prep['index_build_s']} s ({prep.get('index_build_cpu_s', '?')} s CPU), {prep['index_mb']} MB "
          f"(loaded in {result['index_load_s']} s)")
    for name in ("search_ms", "encode_ms"):
        r = result[name]
        print(f"  {name:28} p50 {r['p50']:7.1f}  p95 {r['p95']:7.1f}  max {r['max']:7.1f}")
    g = result["gc"]
    print(f"  garbage collector while searching: {g['collections']} collections, {g['total_ms']} ms; "
          f"{g['full_collections']} full, {g['full_ms']} ms (longest {g['full_max_ms']} ms); "
          f"{g['tracked_objects']:,} objects tracked after")
    p95 = result["search_ms"]["p95"]
    print(f"search p95 {p95:.1f} ms {'meets' if p95 < GOAL_P95_MS else 'MISSES'} the goal of {GOAL_P95_MS:.0f} ms "
          f"({result['queries']} queries, mean {result['mean_hits']} hits)")


if __name__ == "__main__":
    main()
