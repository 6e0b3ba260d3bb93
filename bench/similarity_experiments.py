"""Which features and how many fitted weights for the pairwise similarity score (issue #4).

Scores SemEval-2022 Task 8 dev pairs (``semeval2022_t8.dev.jsonl``, 1,335 pairs, Pearson against
the sign-reversed ``overall`` rating) with several candidate scores, each with a handful of
weights fitted by **cross-validation**: 10 folds x 5 shuffles; the weights are fitted on nine
folds and score the tenth, and the out-of-fold scores of all pairs are correlated with the
ratings (mean over the 5 shuffles; mono/cross on the first shuffle). ``in-sample`` fits on all
pairs. Two kinds of fitted combination:

* ``map``: the shipped form, ``clip((cos + offset * cross - low) / (1 - low))``: two weights
  (``low``, ``offset``) chosen by grid search for the best Pearson on the training folds;
* ``lsq``: least squares of the rating on the listed features (+ intercept): #features + 1
  weights, for the extra features (entities, places, dates...).

Language centres (the mean embedding of each language, shrunk towards the all-language mean,
:class:`tidings.similarity.LanguageCentres`) use the *texts* only, never the ratings; by default
they are the means over all dev texts (as ``tidings evaluate similarity`` does); the
``half-split`` rows take them from the texts of the other half of the pairs instead (stricter).

Embeddings and entity ids come from the caches of bench/cluster_experiments.py ($TIDINGS_CACHE;
made on first use with the library's embedding_text/Embedder and tidings.entities.analyse,
which takes ~25 min for 2,670 texts on a free core).

    TIDINGS_CACHE=/tmp/tidings-cache python bench/similarity_experiments.py
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from scipy.stats import pearsonr

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cluster_experiments as ce  # noqa: E402

from tidings.config import Settings  # noqa: E402
from tidings.similarity import LanguageCentres, similarity  # noqa: E402

LOWS = np.round(np.arange(-0.2, 0.951, 0.02), 3)     # grid of ``low`` for the map form
OFFSETS = np.round(np.arange(-0.06, 0.101, 0.02), 3)  # grid of the cross-lingual offset


def centred_cosines(e1, e2, l1, l2, centres: LanguageCentres) -> np.ndarray:
    def cen(e, langs):
        v = e - np.stack([centres.centre(x) for x in langs])
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    return np.einsum("ij,ij->i", cen(e1, l1), cen(e2, l2))


def map_score(cos, cross, low, offset):
    return np.clip((cos + offset * cross - low) / (1.0 - low), 0.0, 1.0)


def fit_map(cos, cross, y):
    best = (-2.0, 0.0, 0.0)
    for low in LOWS:
        for off in OFFSETS:
            s = map_score(cos, cross, low, off)
            if s.std() == 0:
                continue
            p = pearsonr(s, y)[0]
            if p > best[0]:
                best = (p, low, off)
    return best[1], best[2]


def fit_lsq(X, y):
    Xa = np.column_stack([np.ones(len(X)), X])
    return np.linalg.lstsq(Xa, y, rcond=None)[0]


def folds(n, k, seed):
    perm = np.random.default_rng(seed).permutation(n)
    return [perm[i::k] for i in range(k)]


def evaluate(kind, data, y, cross, reps=5, k=10):
    """(cv all mean, cv mono, cv cross, in-sample all, #weights, in-sample weights)."""
    n = len(y)
    oofs = []
    for rep in range(reps):
        oof = np.zeros(n)
        for test in folds(n, k, rep):
            train = np.setdiff1d(np.arange(n), test)
            if kind == "map":
                low, off = fit_map(data[train], cross[train], y[train])
                oof[test] = map_score(data[test], cross[test], low, off)
            elif kind == "lsq":
                w = fit_lsq(data[train], y[train])
                oof[test] = w[0] + data[test] @ w[1:]
            else:   # "raw": no weights
                oof[test] = data[test]
        oofs.append(oof)
    cv = float(np.mean([pearsonr(o, y)[0] for o in oofs]))
    o = oofs[0]
    mono, crs = pearsonr(o[~cross], y[~cross])[0], pearsonr(o[cross], y[cross])[0]
    if kind == "map":
        low, off = fit_map(data, cross, y)
        ins, weights, nw = pearsonr(map_score(data, cross, low, off), y)[0], (float(low), float(off)), 2
    elif kind == "lsq":
        w = fit_lsq(data, y)
        ins, weights, nw = pearsonr(w[0] + data @ w[1:], y)[0], tuple(round(float(v), 3) for v in w), len(w)
    else:
        ins, weights, nw = pearsonr(data, y)[0], (), 0
    return cv, float(mono), float(crs), float(ins), nw, weights


def set_cos(a, b):
    return len(a & b) / math.sqrt(len(a) * len(b)) if a and b else 0.0


def idf_cos(a, b, idf):
    if not a or not b:
        return 0.0
    num = sum(idf[x] ** 2 for x in a & b)
    return num / math.sqrt(sum(idf[x] ** 2 for x in a) * sum(idf[x] ** 2 for x in b))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prior", type=float, default=None, help="centre_lang_prior (default: settings)")
    args = ap.parse_args(argv)
    cfg = Settings.load(env={}).section("similarity")
    prior = cfg["centre_lang_prior"] if args.prior is None else args.prior
    rows = ce.load_jsonl(ce.SEMEVAL)
    y = -np.array([float(r["overall"]) for r in rows])
    cross = np.array([r["lang1"] != r["lang2"] for r in rows])
    l1 = [r["lang1"] for r in rows]
    l2 = [r["lang2"] for r in rows]
    e1, e2, _ = ce.semeval_embeddings(rows, "title_lead", "query")
    t1, t2, _ = ce.semeval_embeddings(rows, "title", "query")
    ents = ce.semeval_real_entities(rows)
    raw = np.einsum("ij,ij->i", e1, e2)
    allc = LanguageCentres.fit(list(e1) + list(e2), l1 + l2, lang_prior=prior)
    cc = centred_cosines(e1, e2, l1, l2, allc)
    glob = LanguageCentres.fit(list(e1) + list(e2), ["all"] * (2 * len(rows)), lang_prior=prior)
    gc = centred_cosines(e1, e2, ["all"] * len(rows), ["all"] * len(rows), glob)
    tc = centred_cosines(t1, t2, l1, l2, LanguageCentres.fit(list(t1) + list(t2), l1 + l2, lang_prior=prior))
    # centres from the other half's texts only
    half = np.random.default_rng(0).random(len(rows)) < 0.5
    hc = np.zeros(len(rows))
    for part in (half, ~half):
        idx = np.flatnonzero(~part)
        c = LanguageCentres.fit(list(e1[idx]) + list(e2[idx]), [l1[i] for i in idx] + [l2[i] for i in idx],
                                lang_prior=prior)
        pidx = np.flatnonzero(part)
        hc[pidx] = centred_cosines(e1[pidx], e2[pidx], [l1[i] for i in pidx], [l2[i] for i in pidx], c)
    # centres from a random sample of n texts (a small store)
    sampled = {}
    every = list(e1) + list(e2)
    for n in (200, 500):
        pick = np.random.default_rng(n).choice(len(every), n, replace=False)
        c = LanguageCentres.fit([every[i] for i in pick], [(l1 + l2)[i] for i in pick], lang_prior=prior)
        sampled[n] = centred_cosines(e1, e2, l1, l2, c)
    people = [(a[0], b[0]) for a, b in ents]
    places = [(a[1], b[1]) for a, b in ents]
    df = Counter(x for a, b in ents for side in (a, b) for x in side[0] | side[1])
    idf = {x: math.log(2 * len(rows) / n) for x, n in df.items()}
    f_ent = np.array([set_cos(a, b) for a, b in people])
    f_geo = np.array([set_cos(a, b) for a, b in places])
    f_idf = np.array([idf_cos(a[0] | a[1], b[0] | b[1], idf) for a, b in ents])
    f_n = np.log1p([len((a[0] | a[1]) & (b[0] | b[1])) for a, b in ents])
    low, off = cfg["centred_low"], cfg["centred_cross_offset"]
    hinge = np.maximum(cc + off * cross - low, 0)
    rawh = np.maximum(raw + cfg["cross_lingual_offset"] * cross - cfg["text_low"], 0)
    xf = cross.astype(float)
    variants = [
        ("raw cosine (title+lead)", "raw", raw),
        ("raw cosine, map (low, offset) [old default]", "map", raw),
        ("old map + people, places (set cosine)", "lsq", np.column_stack([rawh, f_ent, f_geo])),
        ("old map + idf entities + log #shared + cross", "lsq", np.column_stack([rawh, f_idf, f_n, xf])),
        ("global-mean-centred cosine, map", "map", gc),
        ("language-centred cosine, map [new default]", "map", cc),
        ("language-centred, map; centres from other half", "map", hc),
        ("language-centred, map; centres from 500 random texts", "map", sampled[500]),
        ("language-centred, map; centres from 200 random texts", "map", sampled[200]),
        ("centred map + people, places", "lsq", np.column_stack([hinge, f_ent, f_geo])),
        ("centred map + idf entities", "lsq", np.column_stack([hinge, f_idf])),
        ("centred map + idf ents + log #shared + cross", "lsq", np.column_stack([hinge, f_idf, f_n, xf])),
        ("centred map + centred title cosine", "lsq", np.column_stack([hinge, np.maximum(tc, 0)])),
        ("centred map + raw map", "lsq", np.column_stack([hinge, rawh])),
    ]
    print(f"SemEval-2022 t8 dev: {len(rows)} pairs ({int(cross.sum())} cross-lingual); centre_lang_prior={prior}")
    print(f"{'variant':50s} {'#w':>3s} {'CV all':>6s} {'mono':>6s} {'cross':>6s} {'in-smp':>6s}  weights")
    for name, kind, data in variants:
        cv, mono, crs, ins, nw, w = evaluate(kind, data, y, cross)
        print(f"{name:50s} {nw:3d} {cv:6.3f} {mono:6.3f} {crs:6.3f} {ins:6.3f}  {w}", flush=True)
    # the library itself, with the shipped settings, on the same inputs
    feats = ce.semeval_features(rows, e1, e2, ents)
    lib = np.array([similarity(a, b, cfg, centres=allc).score for a, b in feats])
    c = ce.corr_table(lib, rows)
    print(f"library similarity() with settings.toml: pearson all {c['all'][0]:.3f} mono {c['mono'][0]:.3f} "
          f"cross {c['cross'][0]:.3f} spearman all {c['all'][1]:.3f}")
    print(f"SUMMARY similarity pearson={c['all'][0]:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
