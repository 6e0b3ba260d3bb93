"""Cost of the heat sort against the newest-first sort on a large store (the bench/api.py store:
100,000 OG2021 titles replayed in rounds, ~11,000 stories a round, 100k articles).

    python bench/heat.py                           # builds /tmp/tidings-bench-heat.db once (bench/api.py's builder)
    python bench/heat.py --db /tmp/tidings-bench-api.db --calls 50

In-process (queries.list_stories, no HTTP), the same call repeated: p50/p95 in ms for the first
page of 50 and the next page (by cursor), without and with a language filter, for sort=newest
and sort=heat; also how many stories were hot (had an article in the last heat.window_hours).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def _builder():
    spec = importlib.util.spec_from_file_location("bench_api", ROOT / "api.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def timed(fn, calls: int) -> dict[str, float]:
    fn()  # warm the page cache and statement cache
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {"p50": statistics.median(times), "p95": times[int(0.95 * (len(times) - 1))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=Path("/tmp/tidings-bench-heat.db"))
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--og2021", type=Path, default=None, help="og2021.dev.jsonl [default: ../shared/data/]")
    args = parser.parse_args()
    if not args.db.is_file():
        api = _builder()
        if args.og2021:
            api.OG2021 = args.og2021
        print("building", args.db, api.build_store(args.db, args.articles))
    from datetime import timedelta

    from tidings.config import Settings
    from tidings.queries import list_stories
    from tidings.store import Store, parse_iso

    settings = Settings.load(env={})
    with Store.open(args.db, read_only=True) as store:
        counts = {t: store.count(t) for t in ("articles", "stories")}
        newest = parse_iso(store.conn.execute("SELECT MAX(published_at) FROM articles").fetchone()[0])
        since = newest - timedelta(hours=float(settings.section("heat")["window_hours"]))
        hot = store.conn.execute("SELECT COUNT(*) FROM stories WHERE merged_into IS NULL AND last_seen >= ?",
                                 (since.strftime("%Y-%m-%dT%H:%M:%SZ"),)).fetchone()[0]
        print(f"{args.db}: {counts['articles']:,} articles, {counts['stories']:,} stories, {hot} hot")
        print(f"{'query':36} {'p50 ms':>8} {'p95 ms':>8}")
        for sort in ("newest", "heat"):
            for lang in (None, "en"):
                first = list_stories(store, sort=sort, lang=lang, limit=50, settings=settings)
                cursor = first["next_cursor"]
                for label, cur in (("page 1", None), ("page 2", cursor)):
                    r = timed(lambda: list_stories(store, sort=sort, lang=lang, limit=50, cursor=cur,
                                                   settings=settings), args.calls)
                    name = f"sort={sort}{' lang=' + lang if lang else ''} {label}"
                    print(f"{name:36} {r['p50']:8.1f} {r['p95']:8.1f}")


if __name__ == "__main__":
    main()
