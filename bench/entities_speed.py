"""Throughput of tidings.entities.analyse (NER + linking + dates + quotes).

Texts: ../shared/data/crisis_es_fr_it.jsonl (es, fr, it news and Global Voices articles), each
cut to --words words (default 400, the article size the target is stated for), plus the two
seed articles (hr, en). Models and gazetteers are loaded before timing (one warm-up article per
language in each process); the timed loop is what a long-running pipeline pays per article.

    python bench/entities_speed.py                 # 300 articles, 1 and 2 processes
    python bench/entities_speed.py --n 600 --procs 2

Reports articles/s for one process, with the share spent in the recogniser (tidings.ner) versus
linking/dates/quotes, and for --procs worker processes (the target: >= 30 articles/s on 2 cores).
CPU milliseconds per article (process time) are printed too: on a machine shared with other jobs
the wall-clock rate swings with their load, the CPU time much less.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "crisis_es_fr_it.jsonl"
SEEDS = ROOT.parent / "shared" / "seeds"


def load(n: int, words: int, skip: int = 0) -> list[tuple[str, str, datetime]]:
    if not DATA.exists():
        sys.exit(f"{DATA} not found: this benchmark needs ../shared beside the checkout")
    docs = []
    for path, lang, pub in ((SEEDS / "000_81ffc60cca3810fd.txt", "hr", datetime(2016, 10, 28)),
                            (SEEDS / "004_03a04a2913114bf7.txt", "en", datetime(2016, 8, 5))):
        if path.exists():
            docs.append((" ".join(path.read_text(encoding="utf-8").split(" ")[:words]), lang, pub))
    by_lang: dict[str, list] = {}
    with DATA.open(encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            text = " ".join(rec["text"].split(" ")[:words])
            by_lang.setdefault(rec["lang"], []).append((text, rec["lang"], datetime.fromisoformat(rec["date"])))
    # The file is grouped by language: interleave so that every run sees es, fr and it alike.
    queues = list(by_lang.values())
    i = skip
    while len(docs) < n and any(i < len(q) for q in queues):
        for q in queues:
            if i < len(q) and len(docs) < n:
                docs.append(q[i])
        i += 1
    return docs


WARM_PER_LANG = 5  # articles per language analysed before timing (models, dictionaries, indexes)


def _warm(docs) -> None:
    """Load what a long-running process loads once: recognisers, the gazetteer and its skeleton
    index, simplemma dictionaries, dateparser's language data."""
    from tidings import places
    from tidings.entities import analyse

    places.gazetteer().skel  # noqa: B018 - built lazily on first use
    seen: dict[str, int] = {}
    for text, lang, pub in docs:
        if seen.get(lang, 0) < WARM_PER_LANG:
            analyse(text, lang, pub)
            seen[lang] = seen.get(lang, 0) + 1


def _worker(docs) -> tuple[int, float]:
    from tidings.entities import analyse

    t, cpu = time.perf_counter(), time.process_time()
    for text, lang, pub in docs:
        analyse(text, lang, pub)
    return len(docs), time.perf_counter() - t, time.process_time() - cpu


def _init(docs) -> None:
    _warm(docs)


def single(docs, warm) -> dict:
    import tidings.entities as entities
    import tidings.ner as ner

    _warm(warm)
    ner_time = 0.0
    per_lang: dict[str, list[float]] = {}
    real = ner.recognise_all

    def timed(texts, lang):
        nonlocal ner_time
        t0 = time.perf_counter()
        try:
            return real(texts, lang)
        finally:
            dt = time.perf_counter() - t0
            ner_time += dt
            per_lang.setdefault(lang, []).append(dt)

    entities._recognise_all = timed  # type: ignore[assignment]
    try:
        n, elapsed, cpu = _worker(docs)
    finally:
        entities._recognise_all = lambda texts, lang: real(texts, lang)  # type: ignore[assignment]
    return {"articles": n, "seconds": elapsed, "per_s": n / elapsed, "ner_share": ner_time / elapsed,
            "cpu_ms_per_article": 1000 * cpu / n,
            "ms_per_article": 1000 * elapsed / n, "ms_linking_dates_quotes": 1000 * (elapsed - ner_time) / n,
            "ner_ms_by_lang": {k: 1000 * sum(v) / len(v) for k, v in sorted(per_lang.items())}}


def parallel(docs, procs: int) -> dict:
    chunks = [docs[i::procs] for i in range(procs)]
    ctx = mp.get_context("fork")
    warm = load(3 * WARM_PER_LANG, 400)
    with ctx.Pool(procs, initializer=_init, initargs=(warm,)) as pool:
        pool.map(_worker, [warm[:procs * 2][i::procs] for i in range(procs)])  # all workers started
        t = time.perf_counter()
        results = pool.map(_worker, chunks)
        elapsed = time.perf_counter() - t
    n = sum(r[0] for r in results)
    return {"articles": n, "seconds": elapsed, "per_s": n / elapsed, "procs": procs,
            "cpu_ms_per_article": 1000 * sum(r[2] for r in results) / n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300, help="articles (2 seeds + crisis texts)")
    ap.add_argument("--words", type=int, default=400, help="words per article")
    ap.add_argument("--procs", type=int, default=2, help="worker processes for the parallel run (0: skip)")
    args = ap.parse_args()
    docs = load(args.n, args.words, skip=WARM_PER_LANG)  # the warm-up articles are not timed
    langs: dict[str, int] = {}
    for _, lang, _ in docs:
        langs[lang] = langs.get(lang, 0) + 1
    words = sum(len(d[0].split()) for d in docs) / len(docs)
    print(f"{len(docs)} articles, {words:.0f} words on average, languages {langs}")
    t = time.perf_counter()
    from tidings.entities import analyse

    analyse("Warm-up.", "en")
    print(f"first call (imports): {time.perf_counter() - t:.1f} s")
    r = single(docs, load(3 * WARM_PER_LANG, args.words))
    print(f"1 process : {r['per_s']:.1f} articles/s ({r['ms_per_article']:.1f} ms/article wall, "
          f"{r['cpu_ms_per_article']:.1f} ms CPU; recogniser "
          f"{100 * r['ner_share']:.0f}%, linking+dates+quotes {r['ms_linking_dates_quotes']:.1f} ms/article)")
    print("recogniser ms/article by language: "
          + ", ".join(f"{k} {v:.0f}" for k, v in r["ner_ms_by_lang"].items()))
    if args.procs > 1:
        p = parallel(docs, args.procs)
        print(f"{p['procs']} processes: {p['per_s']:.1f} articles/s ({p['cpu_ms_per_article']:.1f} ms CPU/article; "
              f"on a shared machine the CPU time is the steadier figure)")


if __name__ == "__main__":
    main()
