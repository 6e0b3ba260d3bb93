"""Fit the calibration of the similarity score: P(two articles report the same story).

The parts of :func:`tidings.similarity.similarity` (text, entities, places, time, and whether the
two articles are in different languages) become one probability by logistic regression, fitted on

* all SemEval-2022 Task 8 dev pairs (``semeval2022_t8.dev.jsonl``, 1,335): the target is 1 when
  ``overall`` <= 2 ("very" or "somewhat similar") and 0 above (``--target hard``, shipped), or
  the raters' rating read as a probability, ``(4 - overall) / 3`` (``--target soft``); the pairs
  carry no dates, so their time part is missing;
* OG2021 dev cluster pairs (``og2021.dev.jsonl``, titles): every pair of one cluster (at most
  ``--per-cluster`` per cluster) is 1, as many pairs of two clusters published within 48 hours
  of each other are 0.

The SemEval pairs weigh ``--semeval-share`` times as much as all OG2021 pairs together (default
3, shipped; OG2021 has ~4x the pairs, all titles), so the probability ranks SemEval pairs as the
raters do, while the OG2021 pairs fit the time part. docs/benchmarks.md, "Calibrated similarity
score", has the cross-validated figures of every variant.

An optional part (entities, places, time) enters centred on its mean over the training pairs,
so a part that is missing (an article without places) counts as average evidence, not as
"no overlap". A part is kept only when it lowers the cross-validated loss by more than
``--min-gain``: the others get weight 0 and are not shown.

Two calibrations are fitted, one per form of the text part: ``text`` (the cosine centred on the
per-language means, what a store of ``similarity.centre_min_articles`` articles or more uses)
and ``[raw]`` (the raw-cosine mapping a smaller store falls back to).

Every figure printed is **10-fold cross-validated** (``--repeats`` shuffles, averaged): the
weights are fitted on 9 folds of all pairs and applied to the 10th. Printed per variant: SemEval
Pearson and Spearman against ``-overall``, log-loss and Brier score against the "same story"
label (SemEval: overall <= 2; OG2021: same cluster). ``--compare`` prints every variant (targets,
SemEval shares); the one given by ``--target`` / ``--semeval-share`` is written with where it
came from to src/tidings/data/similarity/calibration.toml (``--write``).

    python bench/fit_similarity.py --semeval ../shared/data/semeval2022_t8.dev.jsonl \\
        --og ../shared/data/og2021.dev.jsonl --cache /tmp/sim/cache.db --rows /tmp/sim/rows.json \\
        --target hard --semeval-share 3 --compare --write

``--cache`` is a store file whose embedding cache is filled and reused (the same file can be
given to ``tidings evaluate similarity --embedding-cache`` and ``bench/encoder.py --agreement
--embedding-cache``). ``--rows`` keeps the parts of every pair (and the SemEval texts as
embedded) in a JSON file: a second run refits without preparing or embedding anything.
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
from tidings.embed import embedding_text
from tidings.evaluate import _pair_document
from tidings.models import Document
from tidings.pipeline import Pipeline, story_features
from tidings.similarity import LanguageCentres, SimilaritySettings, similarity

BATCH = 64
#: SemEval "same story": rated very (1) or somewhat (2) similar on average.
SAME_STORY_MAX_OVERALL = 2.0


def _embed(pipeline: Pipeline, docs: list[Document], cache, label: str):
    out, texts = [], []
    section = pipeline.settings.section("embedding")
    started = time.perf_counter()
    for start in range(0, len(docs), BATCH):
        batch = [pipeline.prepare(d) for d in docs[start:start + BATCH]]
        pipeline.embed(batch, cache)
        out.extend(batch)
        texts.extend(embedding_text(a.title, a.text, section) for a in batch)
        print(f"  {label}: {len(out)}/{len(docs)} texts, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return [story_features(a) for a in out], texts


def _parts(fa, fb, cfg, centres, no_time: bool) -> dict[str, float]:
    if no_time:
        fa, fb = dataclasses.replace(fa, published_at=None), dataclasses.replace(fb, published_at=None)
    r = similarity(fa, fb, cfg, centres=centres)
    raw = similarity(fa, fb, cfg, centres=None)  # the text part of a store too small to centre
    cross = bool(fa.lang and fb.lang and fa.lang != fb.lang and "und" not in (fa.lang, fb.lang))
    row = {"text": r.components["text"], "text_raw": raw.components["text"], "cross": float(cross)}
    for k in OPTIONAL:
        row[k] = None if k in r.missing else r.components[k]
    return row


def semeval_rows(path: Path, limit: int | None, pipeline, cfg, cache):
    records = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()][:limit]
    docs = [_pair_document(r["text" + s], r.get("lang" + s), f"{path.name}:{i}:{s}")
            for i, r in enumerate(records) for s in ("1", "2")]
    feats, texts = _embed(pipeline, docs, cache, "semeval")
    centres = LanguageCentres.fit([f.embedding for f in feats], [f.lang for f in feats], cfg.centre_lang_prior)
    rows = []
    for i, r in enumerate(records):
        row = _parts(feats[2 * i], feats[2 * i + 1], cfg, centres, no_time=True)
        row.update(overall=float(r["overall"]), source="semeval")
        rows.append(row)
    return rows, texts


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
    feats = dict(zip(used, _embed(pipeline, docs, cache, "og2021")[0]))
    centres = LanguageCentres.fit([f.embedding for f in feats.values()], [f.lang for f in feats.values()],
                                  cfg.centre_lang_prior)
    rows = []
    for label, pairs in ((1.0, positives), (0.0, sorted(negatives))):
        for a, b in pairs:
            row = _parts(feats[a], feats[b], cfg, centres, no_time=False)
            row.update(same=label, overall=None, source="og2021")
            rows.append(row)
    return rows, len(used)


def load_rows(args, settings: Settings) -> dict:
    """The parts of every pair: from ``--rows`` when it exists, else prepared and embedded (and saved)."""
    if args.rows and args.rows.is_file():
        print(f"parts of the pairs from {args.rows} (delete it to prepare and embed again)", file=sys.stderr)
        return json.loads(args.rows.read_text(encoding="utf-8"))
    cfg = SimilaritySettings.from_dict(settings.section("similarity"))
    pipeline = Pipeline(settings)
    cache = None
    if args.cache:
        from tidings.store import Store
        cache = Store.open(args.cache)
    try:
        sem, texts = semeval_rows(args.semeval, args.semeval_limit, pipeline, cfg, cache)
        og, og_articles = og_rows(args.og, args.og_limit, args.per_cluster, pipeline, cfg, cache)
    finally:
        if cache is not None:
            cache.close()
    data = {"semeval": sem, "og": og, "og_articles": og_articles, "semeval_texts": texts,
            "model_id": pipeline.embedder.model_id, "engine": pipeline.embedder.engine,
            "embedding_text": str(settings.section("embedding").get("text", ""))}
    if args.rows:
        args.rows.write_text(json.dumps(data), encoding="utf-8")
    return data


# ---- targets and weights ---------------------------------------------------------------------------
def same_story(row) -> float:
    """The hard label: OG2021 same cluster; SemEval overall <= 2."""
    return row["same"] if row["source"] == "og2021" else float(row["overall"] <= SAME_STORY_MAX_OVERALL)


def target(row, kind: str) -> float:
    """What the regression fits: the hard label, or for SemEval with ``soft`` the rating as a probability."""
    if kind == "soft" and row["source"] == "semeval":
        return (4.0 - row["overall"]) / 3.0
    return same_story(row)


def pair_weights(rows, share: float | None) -> np.ndarray:
    """1 per pair, or SemEval pairs scaled so that they weigh ``share`` times all OG2021 pairs."""
    w = np.ones(len(rows))
    if share is None:
        return w
    sem = np.array([r["source"] == "semeval" for r in rows])
    if sem.any() and (~sem).any():
        w[sem] = share * (~sem).sum() / sem.sum()
    return w * len(rows) / w.sum()


# ---- logistic regression ---------------------------------------------------------------------------
def design(rows, features, means, text_key="text"):
    X = np.ones((len(rows), len(features) + 1))
    for j, f in enumerate(features, 1):
        for i, r in enumerate(rows):
            v = r[text_key if f == "text" else f]
            X[i, j] = 0.0 if v is None else (v - means.get(f, 0.0))
    return X


def fit_logistic(X, y, weight=None, l2=1e-3, iterations=50):
    """Weighted logistic regression by Newton's method; ``y`` may be a probability (soft target)."""
    weight = np.ones(len(y)) if weight is None else weight
    w = np.zeros(X.shape[1])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-X @ w))
        grad = X.T @ (weight * (p - y)) + l2 * np.r_[0, w[1:]]
        H = X.T @ (X * (weight * p * (1 - p))[:, None]) + l2 * np.eye(len(w))
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


@dataclasses.dataclass(frozen=True)
class Variant:
    target: str = "soft"            # "soft" or "hard" (SemEval targets)
    share: float | None = 1.0       # SemEval weight relative to all OG2021 pairs; None: 1 per pair
    text_key: str = "text"          # "text" (centred) or "text_raw"

    def fit(self, rows, features):
        means = means_of(rows, features)
        y = np.array([target(r, self.target) for r in rows])
        return fit_logistic(design(rows, features, means, self.text_key), y, pair_weights(rows, self.share)), means

    def predict(self, rows, features, w, means):
        return 1 / (1 + np.exp(-design(rows, features, means, self.text_key) @ w))


def cross_validate(rows, features, variant: Variant, folds=10, seed=0):
    """Out-of-fold probabilities (means and weights fitted on the other folds)."""
    idx = list(range(len(rows)))
    random.Random(seed).shuffle(idx)
    p = np.zeros(len(rows))
    for k in range(folds):
        test = idx[k::folds]
        train = [i for j, i in enumerate(idx) if j % folds != k]
        w, means = variant.fit([rows[i] for i in train], features)
        p[test] = variant.predict([rows[i] for i in test], features, w, means)
    return p


def log_loss(p, y, weight=None):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(np.average(-(y * np.log(p) + (1 - y) * np.log(1 - p)), weights=weight))


def scores(p, rows) -> dict[str, float]:
    """Pearson/Spearman on SemEval (vs -overall); log-loss and Brier vs the hard label, per source."""
    y = np.array([same_story(r) for r in rows])
    sem = np.array([r["source"] == "semeval" for r in rows])
    out = {}
    if sem.sum() > 2:
        h = -np.array([r["overall"] for r in rows if r["source"] == "semeval"])
        out["sem_pearson"] = float(pearsonr(p[sem], h)[0])
        out["sem_spearman"] = float(spearmanr(p[sem], h)[0])
    for name, mask in (("sem", sem), ("og", ~sem), ("all", np.ones_like(sem))):
        if mask.any():
            out[f"{name}_logloss"] = log_loss(p[mask], y[mask])
            out[f"{name}_brier"] = float(np.mean((p[mask] - y[mask]) ** 2))
    return out


def cv_scores(rows, features, variant: Variant, repeats: int) -> tuple[dict[str, float], float]:
    """Scores of the out-of-fold probabilities, averaged over ``repeats`` shuffles, and the CV
    value of the variant's own loss (weighted cross-entropy with its targets: what selects parts)."""
    y = np.array([target(r, variant.target) for r in rows])
    weight = pair_weights(rows, variant.share)
    runs, losses = [], []
    for seed in range(repeats):
        p = cross_validate(rows, features, variant, seed=seed)
        runs.append(scores(p, rows))
        losses.append(log_loss(p, y, weight))
    return {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}, float(np.mean(losses))


COLUMNS = ("sem_pearson", "sem_spearman", "sem_logloss", "sem_brier", "og_logloss", "og_brier", "all_logloss")


def show(name: str, s: dict[str, float]) -> None:
    print(f"{name:<52} " + "  ".join(f"{s[k]:.4f}" if k in s else f"{'-':>6}" for k in COLUMNS))


def select(rows, variant: Variant, repeats: int, min_gain: float, verbose: bool):
    """Forward selection of the optional parts by the variant's CV loss; the chosen features and CV scores."""
    features = ["text", "cross"]
    best, best_loss = cv_scores(rows, features, variant, repeats)
    if verbose:
        show("  text, cross", best)
    for extra in OPTIONAL:
        trial = features + [extra]
        s, loss = cv_scores(rows, trial, variant, repeats)
        gain = best_loss - loss
        if verbose:
            show(f"  + {extra} (loss gain {gain:+.4f})", s)
        if gain > min_gain:
            features, best, best_loss = trial, s, loss
    return features, best


def shipped_probabilities(rows) -> np.ndarray:
    """What the calibration shipped now makes of the pairs (centred text part), as the library computes it."""
    from tidings.calibration import load_calibration

    cal = load_calibration()
    return np.array([cal.probability({k: r[k] or 0.0 for k in ("text",) + OPTIONAL},
                                     [k for k in OPTIONAL if r[k] is None], bool(r["cross"])) for r in rows])


def describe(v: Variant) -> str:
    share = "1 per pair" if v.share is None else f"SemEval share {v.share:g}"
    return f"{v.target} target, {share}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--semeval", type=Path, required=True)
    ap.add_argument("--og", type=Path, required=True)
    ap.add_argument("--semeval-limit", type=int, default=None, help="only the first N SemEval pairs")
    ap.add_argument("--og-limit", type=int, default=None, help="only the first N OG2021 records in time order")
    ap.add_argument("--per-cluster", type=int, default=6)
    ap.add_argument("--cache", type=Path, default=None, help="store file used as embedding cache")
    ap.add_argument("--rows", type=Path, default=None, help="JSON file keeping the parts of every pair")
    ap.add_argument("--target", choices=("soft", "hard"), default="hard", help="SemEval target of the shipped fit")
    ap.add_argument("--semeval-share", type=float, default=3.0,
                    help="weight of all SemEval pairs relative to all OG2021 pairs (0: 1 per pair)")
    ap.add_argument("--repeats", type=int, default=3, help="shuffles of the 10-fold CV, averaged")
    ap.add_argument("--compare", action="store_true", help="print every variant (targets x SemEval shares)")
    ap.add_argument("--min-gain", type=float, default=0.002)
    ap.add_argument("--write", action="store_true", help="write src/tidings/data/similarity/calibration.toml")
    args = ap.parse_args()

    settings = Settings.load()
    data = load_rows(args, settings)
    sem, og = data["semeval"], data["og"]
    rows = sem + og
    print(f"{len(sem)} SemEval pairs ({int(sum(same_story(r) for r in sem))} same story), {len(og)} OG2021 "
          f"pairs from {data['og_articles']} titles ({int(sum(r['same'] for r in og))} same story); "
          f"embeddings {data['model_id']}")
    print(f"10-fold CV, mean of {args.repeats} shuffles".ljust(52) + " " + "  ".join(COLUMNS))
    for key, label in (("text", "old score: the centred text part alone"), ("text_raw", "raw text part alone")):
        show(label + " (no fit)", scores(np.array([r[key] for r in rows]), rows))
    show("calibration.toml as shipped (not CV)", scores(shipped_probabilities(rows), rows))
    chosen = Variant(args.target, args.semeval_share or None)
    if args.compare:
        for v in (Variant("hard", None), Variant("hard", 1.0), Variant("hard", 3.0),
                  Variant("soft", None), Variant("soft", 1.0), Variant("soft", 3.0)):
            print(f"{describe(v)}:")
            select(rows, v, args.repeats, args.min_gain, verbose=True)
    fitted = {}
    for text_key in ("text", "text_raw"):
        v = dataclasses.replace(chosen, text_key=text_key)
        features, cv = select(rows, v, args.repeats, args.min_gain, verbose=False)
        show(f"chosen ({describe(v)}, {text_key}): " + ", ".join(features), cv)
        w, means = v.fit(rows, features)
        show("  same, in-sample", scores(v.predict(rows, features, w, means), rows))
        weights = {f: 0.0 for f in FEATURES}
        for j, f in enumerate(features, 1):
            weights[f] = round(float(w[j]), 4)
        fitted[text_key] = (round(float(w[0]), 4), weights, {k: round(m, 4) for k, m in means.items()}, cv)
        print("  intercept", fitted[text_key][0], "weights", weights, "means", fitted[text_key][2])
    if args.write:
        cv = fitted["text"][3]
        provenance = {
            "fitted_by": "bench/fit_similarity.py",
            "command": " ".join(["python", "bench/fit_similarity.py"] + sys.argv[1:]),
            "data": f"{len(sem)} SemEval-2022 t8 dev pairs ({args.semeval.name}; "
                    + ("target (4 - overall) / 3" if chosen.target == "soft" else "target overall <= 2")
                    + f", same story = overall <= 2) and {len(og)} OG2021 dev title pairs ({args.og.name}, "
                    f"same cluster = same story; other-cluster pairs within 48 h)"
                    + (f"; SemEval weighs {chosen.share:g} x all OG2021 pairs" if chosen.share else ""),
            "cv": f"10-fold, mean of {args.repeats} shuffles, weights fitted on 9 folds of all pairs",
            "cv_semeval_pearson": round(cv["sem_pearson"], 4), "cv_semeval_spearman": round(cv["sem_spearman"], 4),
            "cv_semeval_log_loss": round(cv["sem_logloss"], 4), "cv_semeval_brier": round(cv["sem_brier"], 4),
            "cv_og2021_log_loss": round(cv["og_logloss"], 4), "cv_og2021_brier": round(cv["og_brier"], 4),
            "cv_log_loss": round(cv["all_logloss"], 4), "cv_brier": round(cv["all_brier"], 4),
            "embedding": f"{data['model_id']}, text {data['embedding_text']}",
        }
        intercept, weights, means, _ = fitted["text"]
        raw_intercept, raw_weights, raw_means, raw_cv = fitted["text_raw"]
        raw = {"intercept": raw_intercept, "weights": raw_weights, "means": raw_means,
               "cv_semeval_pearson": round(raw_cv["sem_pearson"], 4), "cv_log_loss": round(raw_cv["all_logloss"], 4)}
        path = write_calibration(intercept, weights, means, provenance, raw=raw)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
