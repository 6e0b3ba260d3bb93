"""SQLite vs PostgreSQL: articles/s through the whole pipeline, and articles/s of the store writes alone.

    python bench/stores.py                    # 200 whole articles of crisis_es_fr_it.jsonl, throwaway PG server
    python bench/stores.py --limit 400 --rounds 3 --json
    python bench/stores.py --db postgresql://tidings@127.0.0.1:5432/bench   # an existing, empty database

End to end: the same documents through ``Monitor.add_documents`` (clean, language, entities, dates,
e5 embedding, story assignment, store) into a new SQLite file and a new PostgreSQL database, in
alternating rounds, models loaded before the clock starts (one warm pipeline shared by all runs;
every store starts empty, so every run embeds every article). Store writes: bench/api.py's
synthetic OG2021 replay (``Store.add_article`` and friends, no NLP) of ``--writes`` articles.

The PostgreSQL server is Debian's, started in a temporary directory on loopback (tests/pgserver.py)
with fsync off unless ``--durable``: give ``--durable`` to compare with SQLite's synchronous=NORMAL
on equal terms of durability (both lose nothing on a process crash; fsync matters on power loss).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CRISIS = Path(os.environ.get("TIDINGS_SHARED", ROOT.parent / "shared")) / "data" / "crisis_es_fr_it.jsonl"
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))


def _docs(limit: int):
    from tidings.ingest import read_sources
    from tidings.models import Document

    source = CRISIS if CRISIS.is_file() else ROOT / "examples" / "sample"
    docs = [d for d in read_sources([source]) if isinstance(d, Document)]
    return docs[:limit], str(source)


def _ingest(db: str, docs, pipeline, settings) -> float:
    from tidings.pipeline import Monitor

    monitor = Monitor(db, settings)
    monitor.pipeline = pipeline
    try:
        start = time.perf_counter()
        report = monitor.add_documents(docs, batch_size=64)
        seconds = time.perf_counter() - start
        assert not report.errors, report.errors[:3]
        return (len(report.added) + len(report.duplicates)) / seconds
    finally:
        monitor.store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=200, help="documents ingested per run")
    parser.add_argument("--rounds", type=int, default=2, help="runs per backend, alternating")
    parser.add_argument("--writes", type=int, default=6135, help="articles of the store-writes test")
    parser.add_argument("--db", default=None, help="an existing, empty PostgreSQL database instead of a throwaway server")
    parser.add_argument("--durable", action="store_true", help="the throwaway server with fsync on")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from tidings.config import Settings
    from tidings.pipeline import Pipeline

    import api as api_bench
    from pgserver import PgServer

    settings = Settings.load()
    docs, source = _docs(args.limit)
    server = None
    if args.db is None:
        server = PgServer()
        if args.durable:
            server.durable = True
        server.start()
    try:
        def pg_database(name: str) -> str:
            if server is not None:
                return server.create_database(name)
            return args.db
        tmp = Path(tempfile.mkdtemp(prefix="tidings-bench-stores-"))
        pipeline = Pipeline(settings)
        _ingest(str(tmp / "warm.db"), docs[:40], pipeline, settings)   # models loaded before any clock starts
        rates: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
        for round_no in range(args.rounds):
            for backend in (("sqlite", "postgresql") if round_no % 2 == 0 else ("postgresql", "sqlite")):
                db = str(tmp / f"r{round_no}.db") if backend == "sqlite" else pg_database(f"r{round_no}")
                if backend == "postgresql" and server is None and round_no:
                    continue   # one empty database given: one run
                rates[backend].append(_ingest(db, docs, pipeline, settings))
                print(f"round {round_no + 1} {backend}: {rates[backend][-1]:.2f} articles/s", file=sys.stderr)
        writes = {}
        if CRISIS.is_file() and api_bench.OG2021.is_file():
            for backend in ("sqlite", "postgresql"):
                db = str(tmp / "writes.db") if backend == "sqlite" else pg_database("writes")
                if backend == "postgresql" and server is None:
                    continue
                writes[backend] = api_bench.build_store(db, args.writes)["articles_per_second"]
        pipeline.close()
    finally:
        if server is not None:
            server.stop()
    report = {"documents": len(docs), "source": source, "rounds": args.rounds,
              "end_to_end_articles_per_s": {k: round(statistics.median(v), 2) for k, v in rates.items() if v},
              "all_runs": {k: [round(x, 2) for x in v] for k, v in rates.items()},
              "store_writes_articles_per_s": writes, "postgres_fsync": bool(args.durable or args.db)}
    if args.json:
        print(json.dumps(report, indent=1))
        return
    e2e = report["end_to_end_articles_per_s"]
    print(f"{len(docs)} documents of {Path(source).name}, {args.rounds} rounds per backend (median):")
    for backend, rate in e2e.items():
        print(f"  end to end  {backend:10} {rate:8.2f} articles/s")
    for backend, rate in writes.items():
        print(f"  writes only {backend:10} {rate:8.1f} articles/s ({args.writes} synthetic OG2021 articles)")
    if len(e2e) == 2:
        print(f"  PostgreSQL / SQLite end to end: {e2e['postgresql'] / e2e['sqlite']:.2f}")


if __name__ == "__main__":
    main()
