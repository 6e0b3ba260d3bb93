"""Tune and check the search fusion (issue #13) on a clustering gold file, without over-fitting.

    python bench/search_tune.py --store /tmp/og.db                 # meaning variants + fusion grid
    python bench/search_tune.py --store /tmp/og.db --passage       # also e5 "passage: " article vectors
    python bench/search_tune.py --store /tmp/og.db --feedback      # time and story feedback, and its grid

``--store`` is the replay ``tidings evaluate search GOLD --store PATH`` writes (made here when
missing). The words and entities rankings of every query (both modes: all, cross-lingual) are
computed once through :func:`tidings.search.search` and kept in ``<store>.rankings.json``; the
meaning ranking is recomputed exactly (numpy cosine over every indexed vector, instead of the
HNSW index) for each variant, and the fusion replays :func:`tidings.search.search`'s own
(:func:`tidings.search.fuse.rrf`, then story expansion over the store's stories).

**Against over-fitting**, the gold clusters are split in two halves by a CRC32 of the cluster id:
every setting is *chosen* on half A (``tune``) and *reported* on half B (``check``) and on the
whole. Figures are cross-lingual recall@10 / MRR (and for all queries), as
``tidings evaluate search`` computes them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from itertools import product
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def half_of(cluster: str) -> str:
    """'A' (tuning) or 'B' (checking): a fixed split of the gold clusters."""
    return "A" if zlib.crc32(cluster.encode()) % 2 == 0 else "B"


def _unit(m: np.ndarray) -> np.ndarray:
    return m / np.maximum(np.linalg.norm(m, axis=-1, keepdims=True), 1e-12)


class Data:
    """The replayed store, the gold queries and their relevant articles."""

    def __init__(self, store_path: Path, gold: Path, settings):
        from tidings.evaluate import _gold_records, _query_vectors, replay_gold
        from tidings.pipeline import Monitor
        from tidings.search import sync

        self.records = _gold_records(gold, None)
        monitor = Monitor(store_path, settings) if store_path.exists() else replay_gold(
            self.records, gold, store_path, settings)
        self.monitor = monitor
        store = monitor.store
        sync(store, settings)
        self.vectors = monitor.update_vector_index()
        rows = store.conn.execute(
            "SELECT rowid, id, external_id, lang, duplicate_of, story_id FROM articles").fetchall()
        by_id = {r["id"]: r for r in rows}
        self.canonical = {r["external_id"]: by_id[r["duplicate_of"]]["rowid"] if r["duplicate_of"] else r["rowid"]
                          for r in rows}
        self.lang_of = {r["rowid"]: r["lang"] for r in rows}
        from tidings.search.feedback import days
        self.days = {r[0]: days(r[1]) for r in store.conn.execute("SELECT rowid, published_at FROM articles")}
        self.story_of = {r["rowid"]: r["story_id"] for r in rows if r["story_id"] and not r["duplicate_of"]}
        self.members: dict[str, set[int]] = {}
        for _, _, rec in self.records:
            self.members.setdefault(str(rec["cluster"]), set()).add(self.canonical[str(rec["id"])])
        self.queries = [(str(rec["id"]), str(rec["cluster"]), (rec.get("title") or "").strip())
                        for _, _, rec in self.records if (rec.get("title") or "").strip()]
        self.qvecs = np.asarray(_query_vectors(monitor, [t for _, _, t in self.queries]), dtype=np.float64)
        got = store.conn.execute(
            """SELECT v.article_rowid, a.lang, e.vector FROM article_vectors v
               JOIN articles a ON a.rowid = v.article_rowid JOIN embeddings e ON e.key = v.key
               ORDER BY v.article_rowid""").fetchall()
        self.rowids = np.array([r[0] for r in got])
        self.langs = np.array([r[1] for r in got])
        self.matrix = np.frombuffer(b"".join(bytes(r[2]) for r in got), dtype=np.float32).reshape(len(got), -1)
        self.matrix = self.matrix.astype(np.float64)
        self.position = {int(r): i for i, r in enumerate(self.rowids)}
        story_members: dict[str, list[int]] = {}
        for rowid in sorted(self.story_of, reverse=True):
            story_members.setdefault(self.story_of[rowid], []).append(rowid)
        self.story_members = story_members

    def relevant(self, qid: str, cluster: str, mode: str) -> set[int]:
        own = self.canonical[qid]
        rel = self.members[cluster] - {own}
        if mode == "cross_lingual":
            rel = {r for r in rel if self.lang_of[r] != self.lang_of[own]}
        return rel


def dump_rankings(data: Data, settings, path: Path, modes: tuple[str, ...] = ("cross_lingual",)) -> dict:
    """{qid: {mode: {"words": [...], "entities": [...]}}} through tidings.search.search."""
    if path.exists():
        return json.loads(path.read_text())
    from tidings.search import SearchSettings, search
    from tidings.search.entities import query_entities, store_languages

    store = data.monitor.store
    cfg = SearchSettings.from_dict(settings.section("search"))
    languages = store_languages(store)
    out: dict = {}
    started = time.perf_counter()
    for n, (qid, cluster, title) in enumerate(data.queries):
        own = data.canonical[qid]
        named = query_entities(store, title, languages, cfg.entity_max_ngram)
        out[qid] = {}
        for mode in modes:
            if not data.relevant(qid, cluster, mode):
                continue
            result = search(store, title, settings=settings, methods=("words", "entities"), story=False, limit=1,
                            exclude_rowids=(own,), query_entities=named,
                            exclude_lang=data.lang_of[own] if mode == "cross_lingual" else None)
            out[qid][mode] = {m: result.rankings.get(m, []) for m in ("words", "entities")}
        if n % 500 == 0:
            print(f"  rankings {n}/{len(data.queries)} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    path.write_text(json.dumps(out))
    return out


# ---- the meaning method, exactly -------------------------------------------------------------
class Meaning:
    """Exact meaning rankings under one variant of centring / re-ranking."""

    def __init__(self, data: Data, *, centre: str = "lang", query_centre: str = "global", prior: float = 20.0,
                 matrix: np.ndarray | None = None, candidates: int = 100, floor: float | None = None):
        from tidings.similarity import LanguageCentres

        self.data = data
        raw = data.matrix if matrix is None else matrix
        self.candidates = candidates
        self.floor = floor
        if centre == "none":
            self.centres = None
            self.vecs = _unit(raw)
        else:
            self.centres = LanguageCentres.fit(raw, list(data.langs), prior)
            shift = np.stack([self.centres.centre(lang) for lang in data.langs])
            self.vecs = _unit(raw - shift)
        self.query_centre = query_centre

    def query(self, qvec: np.ndarray, qlang: str) -> np.ndarray:
        if self.centres is None:
            return _unit(qvec)
        c = self.centres.global_mean if self.query_centre == "global" else self.centres.centre(qlang)
        return _unit(qvec - c)

    def rankings(self, prf: tuple[int, float] = (0, 0.0), modes: tuple[str, ...] = ("all", "cross_lingual"),
                 block: int = 512) -> dict:
        """{qid: {mode: [rowid, ...]}}; ``prf`` = (m, beta): the query plus beta times the mean of
        its m best hits, searched again (pseudo-relevance feedback)."""
        data = self.data
        vecs = self.vecs.astype(np.float32)
        own = np.array([data.position.get(data.canonical[qid], -1) for qid, _, _ in data.queries])
        qlangs = [data.lang_of[data.canonical[qid]] for qid, _, _ in data.queries]
        queries = np.stack([self.query(v, lang) for v, lang in zip(data.qvecs, qlangs)]).astype(np.float32)
        lang_ids = {lang: i for i, lang in enumerate(sorted(set(data.langs) | set(qlangs)))}
        doc_lang = np.array([lang_ids[x] for x in data.langs])
        q_lang = np.array([lang_ids[x] for x in qlangs])
        out: dict = {qid: {} for qid, _, _ in data.queries}
        for mode in modes:
            wanted = [i for i, (qid, cluster, _) in enumerate(data.queries) if data.relevant(qid, cluster, mode)]
            for lo in range(0, len(wanted), block):
                idx = np.array(wanted[lo:lo + block])
                mask = np.ones((len(idx), len(vecs)), dtype=bool)
                has_own = own[idx] >= 0
                mask[np.arange(len(idx))[has_own], own[idx][has_own]] = False
                if mode == "cross_lingual":
                    mask &= doc_lang[None, :] != q_lang[idx][:, None]
                q = queries[idx]
                scores = np.where(mask, q @ vecs.T, -np.inf)
                m, beta = prf
                if m:
                    top = np.argpartition(-scores, m, axis=1)[:, :m]
                    q = _unit(q + beta * vecs[top].mean(axis=1))
                    scores = np.where(mask, q @ vecs.T, -np.inf)
                n = min(self.candidates, scores.shape[1] - 1)
                part = np.argpartition(-scores, n, axis=1)[:, :n]
                for row, i in enumerate(idx):
                    cand = part[row][np.argsort(-scores[row, part[row]], kind="stable")]
                    keep = np.isfinite(scores[row, cand])
                    if self.floor is not None:
                        keep &= scores[row, cand] >= self.floor
                    out[data.queries[i][0]][mode] = [int(data.rowids[j]) for j in cand[keep]]
        return out


# ---- fusion as tidings.search.search does it -----------------------------------------------------
def fuse(data: Data, qid: str, mode: str, lists: dict, weights: dict, k: float, story_weight: float,
         story_hits: int, candidates: int = 100, heads: list[int] | None = None,
         time: tuple[float, float] = (0.0, 0.0)) -> list[int]:
    """``heads``: the feedback heads (tidings/search/feedback.py), whose stories are expanded
    instead of the best fused hits'; ``time``: (scale_days, floor) of the temporal prior they
    give (scale 0: none)."""
    from tidings.search.feedback import time_prior
    from tidings.search.fuse import rrf, tied_ranks

    rankings = {m: lists[m] for m in ("words", "entities", "meaning") if m in lists}
    fused = rrf(rankings, weights, k)
    if story_weight > 0 and fused:
        own = data.canonical[qid]
        lang = data.lang_of[own]
        groups, seen = [], set()
        for rowid in heads or [r for r, _ in fused[:story_hits]]:
            story = data.story_of.get(rowid)
            if story is None or story in seen:
                continue
            seen.add(story)
            groups.append([r for r in data.story_members[story]
                           if r != own and (mode == "all" or data.lang_of[r] != lang)][:candidates])
        fused = rrf({**rankings, "story": tied_ranks(groups)}, {**weights, "story": story_weight}, k)
    if heads and time[0] > 0:
        fused = time_prior(fused, data.days, [data.days.get(h) for h in heads], *time)
    return [r for r, _ in fused]


def score(data: Data, ranked: dict, half: str | None = None) -> dict:
    """{mode: (recall@10, mrr, success@10, queries)} over the queries of ``half`` (None: all)."""
    from tidings.evaluate import _search_scores

    acc = {m: [0.0, 0.0, 0.0, 0] for m in ("all", "cross_lingual")}
    for qid, cluster, _ in data.queries:
        if half and half_of(cluster) != half:
            continue
        for mode, ranking in ranked.get(qid, {}).items():
            s, r, mrr = _search_scores(ranking, data.relevant(qid, cluster, mode))
            a = acc[mode]
            a[0] += r
            a[1] += mrr
            a[2] += s
            a[3] += 1
    return {m: (a[0] / a[3], a[1] / a[3], a[2] / a[3], a[3]) for m, a in acc.items() if a[3]}


def line(name: str, data: Data, ranked: dict) -> str:
    parts = []
    for half in ("A", "B", None):
        s = score(data, ranked, half)
        parts.append(f"{half or 'all'}: " + " ".join(f"{'xl' if mode == 'cross_lingual' else 'all'} {v[0]:.3f}/{v[1]:.3f}"
                                                   for mode, v in s.items()))
    return f"{name:44} " + " | ".join(parts)


def feedback_grid(data: Data, base: Meaning, mr: dict, lists: dict, cfg) -> None:
    """Pseudo-relevance feedback on time and stories (tidings/search/feedback.py), cross-lingual
    queries: the heads are the best meaning matches among all articles but the query's own
    (scope "store") or among the other-language ones searched (scope "results"); then a grid
    chosen on half A."""
    whole = base.rankings(modes=("all",))
    weights = {"meaning": cfg.meaning_weight, "entities": cfg.entities_weight, "words": cfg.words_weight}

    def run(qids, scope, hits, story_weight, scale, floor):
        out = {}
        for qid in qids:
            if "cross_lingual" not in mr[qid]:
                continue
            source = whole[qid]["all"] if scope == "store" else mr[qid]["cross_lingual"]
            out[qid] = {"cross_lingual": fuse(data, qid, "cross_lingual", {**lists[qid]["cross_lingual"],
                        "meaning": mr[qid]["cross_lingual"]}, weights, cfg.rrf_k, story_weight, cfg.story_hits,
                        heads=source[:hits] or None, time=(scale, floor))}
        return out

    every = list(mr)
    print(line("fused, no feedback", data, run(every, "store", 0, cfg.story_weight, 0, 0)))
    shipped = (cfg.feedback_hits, cfg.story_weight, cfg.time_scale_days, cfg.time_floor)
    for scope in ("results", "store"):
        h, sw, scale, floor = shipped
        print(line(f"scope {scope}: stories of the heads", data, run(every, scope, h, sw, 0, 0)))
        print(line(f"scope {scope}: stories and time prior", data, run(every, scope, h, sw, scale, floor)))
    half_a = [q for q, c, _ in data.queries if half_of(c) == "A"]
    rows = []
    for scope, h, sw, scale, floor in product(("results", "store"), (1, 3, 5), (0.5, 1, 2), (0, 1, 2, 4),
                                              (0.05, 0.1, 0.3)):
        if scale == 0 and floor != 0.1:
            continue
        a = score(data, run(half_a, scope, h, sw, scale, floor), "A")["cross_lingual"]
        rows.append((a[0] + a[1], scope, h, sw, scale, floor))
    rows.sort(key=lambda r: -r[0])
    print("feedback grid, chosen on half A's cross-lingual recall@10 + MRR; the best 8, the best of scope "
          "results, then the shipped:")
    best_results = next(r for r in rows if r[1] == "results")
    for _, scope, h, sw, scale, floor in rows[:8] + [best_results, (0, cfg.feedback_scope, *shipped)]:
        print(line(f"{scope} hits {h} story {sw} scale {scale} floor {floor}", data,
                   run(every, scope, h, sw, scale, floor)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--gold", type=Path, default=ROOT.parent / "shared" / "data" / "og2021.dev.jsonl")
    parser.add_argument("--passage", action="store_true", help="also embed the articles with e5's 'passage: '")
    parser.add_argument("--skip-grid", action="store_true")
    parser.add_argument("--grid-only", action="store_true", help="only the shipped meaning variant, then the grid")
    parser.add_argument("--feedback", action="store_true",
                        help="only the shipped meaning variant, then the feedback (time, story) variants and grid")
    parser.add_argument("--dump-only", action="store_true", help="only compute the words/entities rankings")
    parser.add_argument("--grid-meaning", action="append", help="meaning variant(s) the grid fuses (by name)")
    args = parser.parse_args()
    from tidings.config import Settings
    from tidings.search import SearchSettings

    settings = Settings.load(env={})
    data = Data(args.store, args.gold, settings)
    if args.dump_only:
        dump_rankings(data, settings, Path(str(args.store) + ".rankings.json"))
        return
    print(f"{len(data.queries)} queries, {len(data.rowids)} indexed vectors; figures: recall@10/MRR, "
          f"half A (tuning), half B (checking), all")
    variants = {
        "meaning raw": Meaning(data, centre="none"),
        "meaning centred, query on its language": Meaning(data, query_centre="lang"),
        "meaning centred, query on global mean": Meaning(data),
    }
    meaning = {}
    for name, variant in variants.items():
        if (args.grid_only or args.feedback) and "global mean" not in name:
            continue
        meaning[name] = variant.rankings()
        print(line(name, data, meaning[name]))
    base = variants["meaning centred, query on global mean"]
    for m, beta in [] if args.grid_only or args.feedback else [(3, 0.5), (5, 0.5), (5, 1.0), (10, 1.0), (3, 1.0), (10, 2.0)]:
        name = f"  + PRF top {m} beta {beta}"
        meaning[name] = base.rankings(prf=(m, beta))
        print(line(name, data, meaning[name]))
    if args.passage:
        # e5's prefixes: every title (articles' and queries') embedded once more with "passage: ",
        # then each combination of query prefix and article prefix
        from dataclasses import replace

        from tidings.embed import Embedder, EmbeddingSettings

        cfg = replace(EmbeddingSettings.from_dict(settings.section("embedding")), prefix="passage")
        titles = dict(data.monitor.store.conn.execute(
            "SELECT rowid, title FROM articles WHERE rowid IN (SELECT article_rowid FROM article_vectors)"))
        texts = sorted({titles[int(r)] for r in data.rowids} | {t for _, _, t in data.queries})
        started = time.perf_counter()
        got = dict(zip(texts, Embedder(cfg).embed(texts)))
        print(f"  (passage vectors of {len(texts)} titles: {time.perf_counter() - started:.0f} s)")
        p_articles = np.asarray([got[titles[int(r)]] for r in data.rowids], dtype=np.float64)
        p_queries = np.asarray([got[t] for _, _, t in data.queries], dtype=np.float64)
        q_queries = data.qvecs
        for qname, qv, aname, av in [("query", q_queries, "passage", p_articles),
                                     ("passage", p_queries, "query", None),
                                     ("passage", p_queries, "passage", p_articles)]:
            data.qvecs = qv
            name = f"meaning centred, query '{qname}:', articles '{aname}:'"
            meaning[name] = Meaning(data, matrix=av).rankings()
            print(line(name, data, meaning[name]))
        data.qvecs = q_queries
    if args.skip_grid:
        return
    lists = dump_rankings(data, settings, Path(str(args.store) + ".rankings.json"))
    if args.feedback:
        feedback_grid(data, base, meaning["meaning centred, query on global mean"], lists,
                      SearchSettings.from_dict(settings.section("search")))
        return
    for method in ("words", "entities"):
        print(line(method, data, {q: {mode: v[method] for mode, v in modes.items()} for q, modes in lists.items()}))
    print("fusion grid: chosen on half A's cross-lingual recall@10 + MRR; the best 12, then the shipped:")
    half_a = [q for q, c, _ in data.queries if half_of(c) == "A"]
    rows = []
    for mname in [n for n in meaning if any(g in n for g in (args.grid_meaning or ["global mean"]))]:
        mr = meaning[mname]
        for wm, we, ww, ws, k, hits in product((2, 4, 8), (0.25, 0.5), (0.5, 1), (0, 1, 2), (10, 20, 60), (3, 5)):
            weights = {"meaning": wm, "entities": we, "words": ww}
            ranked = {qid: {"cross_lingual": fuse(data, qid, "cross_lingual", {**lists[qid]["cross_lingual"],
                            "meaning": mr[qid]["cross_lingual"]}, weights, k, ws, hits)}
                      for qid in half_a if "cross_lingual" in mr[qid]}
            a = score(data, ranked, "A")["cross_lingual"]
            rows.append((a[0] + a[1], mname, wm, we, ww, ws, k, hits))
    rows.sort(key=lambda r: -r[0])
    shipped = SearchSettings.from_dict(settings.section("search"))
    shown = rows[:12] + [(0, "meaning centred, query on global mean", shipped.meaning_weight, shipped.entities_weight,
                          shipped.words_weight, shipped.story_weight, shipped.rrf_k, shipped.story_hits)]
    for _, mname, wm, we, ww, ws, k, hits in shown:
        mr = meaning[mname]
        weights = {"meaning": wm, "entities": we, "words": ww}
        ranked = {qid: {mode: fuse(data, qid, mode, {**lists[qid][mode], "meaning": mr[qid][mode]}, weights, k, ws, hits)
                        for mode in lists[qid] if mode in mr[qid]} for qid in mr}
        print(line(f"{mname[-18:]} m{wm} e{we} w{ww} s{ws} k{k} h{hits}", data, ranked))


if __name__ == "__main__":
    main()
