"""Static (distilled token-table) embeddings against the e5 transformer, on the dev files.

    python bench/static/experiments.py encode   [--table PATH]   # OG2021 titles -> CACHE/og_static.npy, og_mix.npy
    python bench/static/experiments.py speed    [--table PATH] [--n 2000]
    python bench/static/experiments.py semeval  [--table PATH]
    python bench/static/experiments.py recall   [--table PATH] [--ks 1,5,10,20]

``encode`` writes the matrices that ``bench/cluster_experiments.py cluster --embedding-file``
replays (same order as og2021.dev.jsonl and CACHE/og_query.npy); ``og_mix`` is the
concatenation of the L2-normalised e5 and static vectors, divided by sqrt(2), so its cosine is
the mean of the two cosines. ``recall`` measures what candidate retrieval needs: in stream
(time) order, for each article whose gold story already has an article active within the
cluster window, is that story among the k active gold stories nearest by cosine (to the
mean of their articles' vectors)? Raw and language-centred (cluster.py's running
per-language means) vectors; cross-lingual = the story has no article in this language yet.
It also prints, per cosine level tau, the share of articles whose top-1 active story scores
at least tau and how often that story is the gold one (could a cascade skip e5 for them?).

The e5 vectors come from CACHE (og_query.npy, semeval_<mode>_query.npz), as written by
bench/cluster_experiments.py; CACHE is $TIDINGS_CACHE or .bench-cache/ in the checkout.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cluster_experiments import (CACHE, OG, SEMEVAL, corr_table, load_jsonl,  # noqa: E402
                                 og_embeddings, semeval_embeddings, semeval_split)

from tidings.cluster import ClusterSettings, _as_datetime, _Centerer  # noqa: E402
from tidings.embed import embedding_text  # noqa: E402
from static_embed import StaticEmbedder, default_table_path  # noqa: E402


def embedder(args) -> StaticEmbedder:
    return StaticEmbedder(args.table or default_table_path())


def mix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Concatenation of two L2-normalised matrices, scaled to unit norm (cosine = mean cosine)."""
    return (np.hstack([a, b]) / np.sqrt(2.0)).astype(np.float32)


def og_static(args, records) -> np.ndarray:
    path = CACHE / "og_static.npy"
    if path.exists() and not args.refresh:
        arr = np.load(path)
        if arr.shape[0] == len(records):
            return arr
    arr = embedder(args).embed([r["title"] for r in records])
    np.save(path, arr)
    return arr


def cmd_encode(args) -> None:
    records = load_jsonl(OG)
    t0 = time.perf_counter()
    st = og_static(args, records)
    e5 = og_embeddings(records, "query")
    np.save(CACHE / "og_mix.npy", mix(e5, st))
    print(f"OG2021 dev: {len(records)} titles; wrote {CACHE / 'og_static.npy'} {st.shape} and "
          f"{CACHE / 'og_mix.npy'} in {time.perf_counter() - t0:.1f} s")


def cmd_speed(args) -> None:
    """Texts/s, single process, tokenizer cache cold (first pass) and warm (second pass)."""
    emb = embedder(args)
    og = [r["title"] for r in load_jsonl(OG)][:args.n]
    leads = []
    for r in load_jsonl(SEMEVAL):
        for side in ("text1", "text2"):
            title, body = semeval_split(r[side])
            leads.append(embedding_text(title, body, {"text": "title_lead", "lead_chars": 600}))
    leads = leads[:args.n]
    print(f"static table: {emb.model_id}")
    for name, texts in (("OG2021 titles", og), ("SemEval title+lead 600", leads)):
        emb.tokenizer._cache.clear()
        for label in ("cold", "warm"):
            t0 = time.perf_counter()
            emb.embed(texts)
            dt = time.perf_counter() - t0
            print(f"{name:24s} {label}: {len(texts) / dt:8.0f} texts/s ({len(texts)} texts, {dt:.2f} s)")


def cmd_semeval(args) -> None:
    rows = load_jsonl(SEMEVAL)
    emb = embedder(args)
    print(f"SemEval-2022 t8 dev: {len(rows)} pairs; raw cosine vs -overall (Pearson)")
    print(f"{'text':11s} {'vectors':8s} {'P all':>6s} {'S all':>6s} {'P mono':>6s} {'P cross':>7s}")
    for mode in ("title", "title_lead"):
        texts = []
        for r in rows:
            for side in ("text1", "text2"):
                title, body = semeval_split(r[side])
                texts.append(embedding_text(title, body, {"text": mode}))
        st = emb.embed(texts)
        s1, s2 = st[0::2], st[1::2]
        e1, e2, _ = semeval_embeddings(rows, mode, "query")
        for name, (a, b) in (("e5", (e1, e2)), ("static", (s1, s2)), ("mix", (mix(e1, s1), mix(e2, s2)))):
            c = corr_table(np.einsum("ij,ij->i", a, b), rows)
            print(f"{mode:11s} {name:8s} {c['all'][0]:6.3f} {c['all'][1]:6.3f} {c['mono'][0]:6.3f} {c['cross'][0]:7.3f}")


def candidate_recall(records, emb: np.ndarray, ks: list[int], centre: bool) -> dict:
    """Gold-story candidate recall@k in stream order (see module docstring)."""
    cfg = ClusterSettings()
    window = cfg.window_hours * 3600.0
    times = [_as_datetime(r["published_at"]).replace(tzinfo=timezone.utc).timestamp() for r in records]
    order = sorted(range(len(records)), key=lambda i: (times[i], i))
    centerer = _Centerer(emb.shape[1], cfg) if centre else None
    sums: dict[str, np.ndarray] = {}
    last: dict[str, float] = {}
    langs: dict[str, set[str]] = {}
    hits = {k: 0 for k in ks}
    hits_x = {k: 0 for k in ks}
    n = n_x = 0
    active_sizes = []
    confident: list[tuple[float, bool]] = []
    for i in order:
        r = records[i]
        x = emb[i].astype(np.float64)
        y = centerer.transform(x, r["lang"]) if centerer else x / max(np.linalg.norm(x), 1e-12)
        now = times[i]
        active = [s for s, t in last.items() if now - t <= window]
        gold = r["cluster"]
        if active:   # cascade statistic: how sure is the top-1 story, and is it right?
            cents = np.stack([sums[s] for s in active])
            top = np.argmax(cents @ y / np.maximum(np.linalg.norm(cents, axis=1), 1e-12))
            top_score = float(cents[top] @ y / max(np.linalg.norm(cents[top]), 1e-12))
            confident.append((top_score, active[top] == gold))
        if gold in active:
            cents = np.stack([sums[s] for s in active])
            cents /= np.maximum(np.linalg.norm(cents, axis=1, keepdims=True), 1e-12)
            scores = cents @ y
            rank = int((scores > scores[active.index(gold)]).sum())   # 0 = best
            cross = r["lang"] not in langs[gold]
            n += 1
            n_x += cross
            active_sizes.append(len(active))
            for k in ks:
                hits[k] += rank < k
                hits_x[k] += cross and rank < k
        sums[gold] = sums.get(gold, 0) + y
        last[gold] = now
        langs.setdefault(gold, set()).add(r["lang"])
    return {"n": n, "n_cross": n_x, "recall": {k: hits[k] / max(n, 1) for k in ks},
            "recall_cross": {k: hits_x[k] / max(n_x, 1) for k in ks},
            "active_median": float(np.median(active_sizes)) if active_sizes else 0.0,
            "top1": {tau: (float(np.mean([c >= tau for c, _ in confident])),
                           float(np.mean([ok for c, ok in confident if c >= tau] or [np.nan])))
                     for tau in TOP1_TAUS}}


TOP1_TAUS = (0.5, 0.6, 0.7, 0.8, 0.9)   # cosine levels at which a top-1 story could be trusted


def cmd_recall(args) -> None:
    records = load_jsonl(OG)
    ks = [int(k) for k in args.ks.split(",")]
    e5 = og_embeddings(records, "query")
    st = og_static(args, records)
    sets = {"e5": e5, "static": st, "mix": mix(e5, st)}
    head = " ".join(f"{'@' + str(k):>6s}" for k in ks)
    first = True
    top1 = []
    for centre in (False, True):
        for name, emb in sets.items():
            res = candidate_recall(records, emb, ks, centre)
            if first:
                print(f"OG2021 dev: {res['n']} articles whose gold story is active ({res['n_cross']} cross-lingual); "
                      f"median {res['active_median']:.0f} active stories")
                print(f"{'vectors':8s} {'centred':7s} {head}   cross-lingual: {head}")
                first = False
            r = " ".join(f"{res['recall'][k]:6.3f}" for k in ks)
            rx = " ".join(f"{res['recall_cross'][k]:6.3f}" for k in ks)
            print(f"{name:8s} {str(centre):7s} {r}                  {rx}", flush=True)
            top1.append((name, centre, res["top1"]))
    print("top-1 story by cosine: share of articles (with any active story) whose top-1 cosine >= tau, "
          "and how often that top-1 is the gold story")
    for name, centre, t in top1:
        print(f"{name:8s} {str(centre):7s} " + " ".join(f"{tau}: {share:.2f}/{prec:.2f}" for tau, (share, prec) in t.items()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--table", default="", help="static table .npz (default: static_embed.default_table_path())")
    ap.add_argument("--refresh", action="store_true", help="re-encode OG2021 titles even if cached")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("encode")
    sp = sub.add_parser("speed")
    sp.add_argument("--n", type=int, default=2000)
    sub.add_parser("semeval")
    rc = sub.add_parser("recall")
    rc.add_argument("--ks", default="1,5,10,20")
    args = ap.parse_args(argv)
    if not OG.exists() or not SEMEVAL.exists():
        print(f"skip: {OG} or {SEMEVAL} not found", file=sys.stderr)
        return 0
    if not Path(args.table or default_table_path()).exists():
        print(f"skip: no static table at {args.table or default_table_path()} "
              f"(build it with bench/static/distill.py)", file=sys.stderr)
        return 0
    CACHE.mkdir(parents=True, exist_ok=True)
    {"encode": cmd_encode, "speed": cmd_speed, "semeval": cmd_semeval, "recall": cmd_recall}[args.cmd](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
