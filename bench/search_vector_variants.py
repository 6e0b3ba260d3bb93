"""Corrections of the e5 vector space for cross-lingual search, tried on OG2021 dev titles.

    python bench/search_vector_variants.py [--gold ../shared/data/og2021.dev.jsonl]

The meaning method alone, by exact search, over the dev titles: each title queries the titles in
the other languages, the other titles of its gold cluster are relevant (as ``tidings evaluate
search`` counts cross-lingually), recall@10 and MRR. Variants, each applied to the stored
articles and the query alike:

* ``raw``: e5 vectors as they are;
* ``centred``: what tidings does (each article minus its language's mean, the query minus the
  all-language mean; docs/search.md, "Meaning");
* ``lir k``: centred, then the span of the top k directions of the language means removed
  (language information removal, Yang et al. 2021);
* ``abtt d``: centred, then the top d principal components of the articles removed
  ("all-but-the-top", Mu & Viswanath 2018);
* ``csls k``: centred, each article's score lowered by half its mean cosine to its k nearest
  articles (the hubness correction of cross-lingual word retrieval, Conneau et al. 2018).

The figures are in docs/search.md, "What would reach the targets".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT.parent / "shared" / "data" / "og2021.dev.jsonl"


def _unit(m: np.ndarray) -> np.ndarray:
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def _score(scores: np.ndarray, langs: np.ndarray, clusters: np.ndarray) -> tuple[float, float, int]:
    recall = mrr = 0.0
    queries = 0
    for i in range(len(langs)):
        other = langs != langs[i]
        relevant = other & (clusters == clusters[i])
        if not relevant.any():
            continue
        order = np.argsort(-np.where(other, scores[i], -9.0), kind="stable")
        recall += relevant[order[:10]].sum() / min(10, relevant.sum())
        mrr += 1.0 / (np.nonzero(relevant[order])[0][0] + 1)
        queries += 1
    return round(float(recall) / queries, 4), round(float(mrr) / queries, 4), queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gold", type=Path, default=GOLD)
    args = parser.parse_args()
    if not args.gold.is_file():
        print(f"skipping: {args.gold} not found (../shared/data is not beside the checkout)")
        return
    from tidings.config import Settings
    from tidings.embed import Embedder

    records = [json.loads(line) for line in args.gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    vectors = Embedder(Settings.load(env={}).section("embedding")).embed([r["title"] for r in records])
    langs = np.array([r["lang"] for r in records])
    clusters = np.array([r["cluster"] for r in records])
    means = {lang: vectors[langs == lang].mean(0) for lang in set(langs)}
    overall = vectors.mean(0)
    docs = vectors - np.stack([means[lang] for lang in langs])
    query = vectors - overall

    def run(name: str, d: np.ndarray, q: np.ndarray, penalty: np.ndarray | None = None) -> None:
        scores = _unit(q) @ _unit(d).T
        if penalty is not None:
            scores = scores - penalty[None, :]
        print(f"{name:12} recall@10 / MRR / queries: {_score(scores, langs, clusters)}")
        sys.stdout.flush()

    run("raw", vectors, vectors)
    run("centred", docs, query)
    _, _, lang_dirs = np.linalg.svd(np.stack([m - overall for m in means.values()]), full_matrices=False)
    for k in (1, 2, 4, 8):
        p = lang_dirs[:k]
        run(f"lir {k}", docs - docs @ p.T @ p, query - query @ p.T @ p)
    centred = _unit(docs)
    _, _, components = np.linalg.svd(centred - centred.mean(0), full_matrices=False)
    for d in (1, 3, 5):
        p = components[:d]
        run(f"abtt {d}", docs - docs @ p.T @ p, query - query @ p.T @ p)
    similar = centred @ centred.T
    np.fill_diagonal(similar, -9.0)
    for k in (5, 10, 20):
        run(f"csls {k}", docs, query, 0.5 * np.sort(similar, axis=1)[:, -k:].mean(1))


if __name__ == "__main__":
    main()
