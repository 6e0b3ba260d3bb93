"""Several ingest processes on one PostgreSQL database: 1 process vs 2 on disjoint halves, in one run.

    nice -n 10 python bench/pg_processes.py                  # 120 crisis articles: 1 x 120, then 2 x 60
    nice -n 10 python bench/pg_processes.py --limit 300

Starts a throwaway PostgreSQL (Debian's, tests/pgserver.py, durable: fsync on) and, per
configuration, a fresh database. Each ingest process is ``python bench/pg_processes.py --worker``:
it opens the store, ingests 4 other crisis articles to load its models (start-up, reported apart),
says it is ready, waits until every process of the configuration is, then ingests its part of the
first ``--limit`` articles of ../shared/data/crisis_es_fr_it.jsonl (1 process: all; 2 processes:
the first and second halves) and prints its timings. Throughput is the articles of all processes
over the wall time from the common start to the last one's end. Afterwards it checks that every
article is stored once and in exactly one story. The machine may be shared (the load average is
printed): compare the ratio within one run. Each process holds its own models (~1.3 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CRISIS = ROOT.parent / "shared" / "data" / "crisis_es_fr_it.jsonl"
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))
WARM_UP = 4
UNDATED = datetime(2011, 1, 1, tzinfo=timezone.utc)


def worker(url: str, part: Path, warm: Path) -> None:
    import tidings

    started = time.perf_counter()
    with tidings.open(url) as monitor:
        monitor.ingest([warm], default_date=UNDATED)
        print(json.dumps({"ready": time.perf_counter() - started}), flush=True)
        sys.stdin.readline()   # the go
        begin = time.time()
        report = monitor.ingest([part], default_date=UNDATED)
        print(json.dumps({"begin": begin, "end": time.time(), "added": len(report.added),
                          "duplicates": len(report.duplicates), "errors": len(report.errors)}), flush=True)


def run(url: str, parts: list[Path], warm: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", url, str(p), str(warm)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env) for p in parts]
    ready = [json.loads(p.stdout.readline())["ready"] for p in procs]
    go = time.time()
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    results = [json.loads(p.stdout.readline()) for p in procs]
    for p in procs:
        p.wait()
    wall = max(r["end"] for r in results) - go
    articles = sum(r["added"] + r["duplicates"] for r in results)
    return {"processes": len(parts), "start_s": max(ready), "wall_s": wall, "articles": articles,
            "rate": articles / wall, "errors": sum(r["errors"] for r in results)}


def check(url: str, expected: int) -> str:
    from tidings.store import Store

    with Store.open(url, read_only=True) as store:
        conn = store.conn
        articles = conn.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM articles").fetchone()
        members = conn.execute("SELECT COUNT(*), COUNT(DISTINCT article_id) FROM memberships").fetchone()
        live = conn.execute("SELECT COUNT(*) FROM articles WHERE duplicate_of IS NULL").fetchone()[0]
    ok = articles[0] == articles[1] == expected and members[0] == members[1] == live
    return (f"{articles[0]} articles ({articles[1]} distinct), {members[0]} memberships for {live} non-duplicates: "
            + ("each stored once, in one story" if ok else "MISMATCH"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=120, help="crisis articles in the timed run")
    parser.add_argument("--data", type=Path, default=CRISIS)
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], Path(args.worker[1]), Path(args.worker[2]))
        return
    if not args.data.is_file():
        raise SystemExit(f"{args.data} not found (../shared/data is not beside the checkout: use --data)")
    from pgserver import PgServer

    lines = args.data.read_text(encoding="utf-8").splitlines(keepends=True)
    half = args.limit // 2
    server = PgServer()
    server.durable = True   # fsync on, as a production server
    with tempfile.TemporaryDirectory(prefix="tidings-pgproc-") as tmp, server:
        work = Path(tmp)
        files = {}
        for name, chunk in (("all", lines[:args.limit]), ("first", lines[:half]), ("second", lines[half:args.limit]),
                            ("warm", lines[-WARM_UP:])):
            files[name] = work / f"{name}.jsonl"
            files[name].write_text("".join(chunk), encoding="utf-8")
        print(f"{args.limit} articles of {args.data.name}; {os.cpu_count()} CPUs; PostgreSQL "
              f"{server.bindir.parent.name}; load average {os.getloadavg()[0]:.2f}", flush=True)
        rows = []
        for n, parts in ((1, [files["all"]]), (2, [files["first"], files["second"]])):
            url = server.create_database(f"bench_{n}")
            from tidings.store import Store
            Store.open(url).close()   # migrated before the processes start
            row = run(url, parts, files["warm"])
            rows.append(row)
            print(f"  {n} process{'es' if n > 1 else ''}: start-up {row['start_s']:5.1f} s, {row['articles']} articles "
                  f"in {row['wall_s']:6.1f} s = {row['rate']:5.2f} articles/s ({row['rate'] / rows[0]['rate']:.2f}x); "
                  f"{row['errors']} errors; load {os.getloadavg()[0]:.1f}; "
                  f"{check(url, row['articles'] + WARM_UP)}", flush=True)


if __name__ == "__main__":
    main()
