"""Ingest throughput per engine (issue #16 point 3): local vs Ray with 1 and 2 workers, in one run.

    nice -n 5 python bench/engines.py                       # 600 crisis articles, local / ray-1 / ray-2
    nice -n 5 python bench/engines.py --limit 1000 --configs local,ray-2,local
    nice -n 5 python bench/engines.py --configs local,local-2,ray-1,ray-2

Each configuration ingests the first ``--limit`` articles of ../shared/data/crisis_es_fr_it.jsonl
(whole articles in es/fr/it, median ~700 words; written to a temporary JSONL file and read by
``Monitor.ingest``, the path ``tidings ingest`` takes) into a fresh store, so no configuration
reuses another's embedding cache. Before the timed run each one ingests 4 other crisis articles
(the last lines of the file) on the same monitor: that start-up (models, for Ray also starting a
local Ray and its actors, which load their own models) is reported apart, and the timed run is
the steady state. Configurations:

- ``local``: ``ingest.engine = "local"``, ``ingest.workers = 1`` (analysis here, e5 in a
  background thread); ``local-2``: two analysis worker processes.
- ``ray-N``: ``ingest.engine = "ray"``, a local Ray started by the engine with N CPUs and N actors
  (each analyses and embeds; this process dedups, assigns stories and stores).

Prints, per configuration: start-up seconds, timed seconds, articles/s, the ratio to the first
configuration, stories made (the same for every engine), peak RSS of this process, and the
1-minute load average before and after (the machine may be shared: compare ratios within a run).
It also times reading and decoding the input alone (``read_sources``), the part that stays in
this process whatever the engine.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CRISIS = ROOT.parent / "shared" / "data" / "crisis_es_fr_it.jsonl"
sys.path.insert(0, str(ROOT / "src"))

import tidings  # noqa: E402
from tidings.config import Settings  # noqa: E402

WARM_UP = 4
UNDATED = datetime(2011, 1, 1, tzinfo=timezone.utc)


def settings_for(config: str) -> Settings:
    engine, _, count = config.partition("-")
    if engine not in {"local", "ray"}:
        raise SystemExit(f"unknown configuration {config!r}: local, local-N or ray-N")
    return Settings.load(env={}, overrides={"ingest": {"engine": engine, "workers": int(count or 1)}})


def measure(config: str, corpus: Path, warm: Path, workdir: Path) -> dict:
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    with tidings.open(workdir / f"{config}.db", settings=settings_for(config)) as monitor:
        monitor.ingest([warm], default_date=UNDATED)
        ready = time.perf_counter()
        report = monitor.ingest([corpus], default_date=UNDATED)
        done = time.perf_counter()
        stories = len({monitor.article(a)["story_id"] for a in report.added})
    articles = len(report.added) + len(report.duplicates) + report.already_stored
    return {"config": config, "start_s": ready - started, "run_s": done - ready, "articles": articles,
            "rate": articles / (done - ready), "stories": stories, "errors": len(report.errors),
            "load": (load_before, os.getloadavg()[0])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=600, help="crisis articles in the timed run")
    parser.add_argument("--configs", default="local,ray-1,ray-2", help="comma-separated: local, local-N, ray-N")
    parser.add_argument("--data", type=Path, default=CRISIS, help="the crisis JSONL file [../shared/data/...]")
    args = parser.parse_args()
    if not args.data.is_file():
        raise SystemExit(f"{args.data} not found (../shared/data is not beside the checkout: use --data)")
    lines = args.data.read_text(encoding="utf-8").splitlines(keepends=True)
    if args.limit + WARM_UP > len(lines):
        raise SystemExit(f"--limit: at most {len(lines) - WARM_UP} articles")
    with tempfile.TemporaryDirectory(prefix="tidings-engines-") as tmp:
        workdir = Path(tmp)
        corpus, warm = workdir / "crisis.jsonl", workdir / "warm-up.jsonl"
        corpus.write_text("".join(lines[:args.limit]), encoding="utf-8")
        warm.write_text("".join(lines[-WARM_UP:]), encoding="utf-8")

        from tidings.ingest import read_sources
        started = time.perf_counter()
        count = sum(1 for _ in read_sources([corpus]))
        reading = count / (time.perf_counter() - started)
        print(f"{args.limit} articles of {args.data.name}; {os.cpu_count()} CPUs; reading and decoding alone "
              f"(read_sources, in the driver for every engine): {reading:,.0f} articles/s", flush=True)
        rows = []
        for config in args.configs.split(","):
            row = measure(config.strip(), corpus, warm, workdir)
            rows.append(row)
            print(f"  {row['config']:8s} start {row['start_s']:6.1f} s  run {row['run_s']:7.1f} s  "
                  f"{row['rate']:6.2f} articles/s ({row['rate'] / rows[0]['rate']:.2f}x {rows[0]['config']})  "
                  f"{row['stories']} stories, {row['errors']} errors  load {row['load'][0]:.1f} -> "
                  f"{row['load'][1]:.1f}", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (the driver; Ray actors are other processes): {peak:,.0f} MB")


if __name__ == "__main__":
    main()
