"""Latency of the REST API on a store of 100,000 articles: p50/p95 of GET /api/stories and /api/stories/{id}.

The store is made without the NLP pipeline (running it 100,000 times would take hours and measure the
pipeline, not the API): the 6,135 OG2021 titles in ../shared/data/og2021.dev.jsonl are replayed in
rounds, each round shifted later by ROUND_DAYS, until there are --articles of them. Each replayed
title becomes an article written through Store.add_article (so FTS, indexes and triggers are the
real ones); its story is the gold OG2021 cluster of that round (``s<round>-<cluster>``), a synthetic
but realistic assignment (693 clusters, 28% multilingual per round). Entities are synthetic too:
every capitalised word after the first of a title is a mention of ``syn:<word>``, labelled
PER/ORG/LOC by a hash, places with coordinates from the same hash. One story in fifty is merged into
another of its round, so merged ids exist as they do after real clustering.

The server is the real one: ``tidings serve`` in a subprocess on 127.0.0.1 and a free port; requests
are sequential from one httpx client (bounded count, the loop stops by itself).

    python bench/api.py                      # builds /tmp/tidings-bench-api.db once, then measures
    python bench/api.py --articles 20000 --requests 100 --json
    python bench/api.py --postgres           # the same on a throwaway PostgreSQL server (tests/pgserver.py)
    python bench/api.py --db postgresql://tidings@127.0.0.1:5432/bench   # on an existing database
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
# ../shared beside the checkout, or $TIDINGS_SHARED (a worktree elsewhere)
OG2021 = Path(os.environ.get("TIDINGS_SHARED", ROOT.parent / "shared")) / "data" / "og2021.dev.jsonl"
ROUND_DAYS = 70  # OG2021 spans July-August 2021: rounds do not overlap in time
MERGE_EVERY = 50  # one story in this many is merged into another of its round
GOAL_P95_MS = 50.0
LABELS = ("PER", "ORG", "LOC")
CAPITALISED = re.compile(r"\b[^\W\d_][\w'-]{2,}", re.UNICODE)


def _entity(word: str):
    from tidings.models import Entity

    digest = int(hashlib.sha1(word.lower().encode()).hexdigest()[:8], 16)
    label = LABELS[digest % 3]
    lat = lon = None
    if label == "LOC":
        lat, lon = (digest % 12000) / 100 - 60, (digest // 12000 % 36000) / 100 - 180
    return Entity(f"syn:{word.lower()}", label, word, None, None, lat, lon)  # type: ignore[arg-type]


def _analysis(title: str):
    from tidings.models import Analysis, Mention

    analysis = Analysis()
    for match in list(CAPITALISED.finditer(title))[1:]:
        word = match.group(0)
        if not word[0].isupper():
            continue
        entity = _entity(word)
        analysis.entities[entity.id] = entity
        analysis.mentions.append(Mention(entity.id, entity.label, word, match.start(), match.end()))
    return analysis


def build_store(db: Path, articles: int) -> dict:
    """Replay OG2021 into ``db`` until it holds ``articles`` articles; returns counts and timing."""
    from tidings.models import Article, Document
    from tidings.store import Store

    records = [json.loads(line) for line in OG2021.read_text(encoding="utf-8").splitlines() if line.strip()]
    records.sort(key=lambda r: (r["published_at"], r["id"]))
    start = time.perf_counter()
    written = 0
    with Store.open(db) as store:
        round_no = 0
        while written < articles:
            shift = timedelta(days=ROUND_DAYS * round_no)
            stories: set[str] = set()
            with store.transaction():
                for record in records[: articles - written]:
                    published = datetime.fromisoformat(record["published_at"]).replace(tzinfo=timezone.utc) + shift
                    article = Article(id=f"b{round_no}-{record['id']}", source=f"og2021:{record['id']}#{round_no}",
                                      title=record["title"], text=record["title"], lang=record["lang"],
                                      lang_confidence=1.0, published_at=published,
                                      content_hash=f"{round_no}-{record['id']}", analysis=_analysis(record["title"]))
                    story = f"s{round_no}-{record['cluster']}"
                    article.story_id = story
                    raw_id = store.add_raw(Document(source=article.source, raw=record["title"].encode(),
                                                    content_type="jsonl", text=record["title"]))
                    store.add_article(article, raw_id)
                    store.set_membership(article.id, story, 1.0)
                    stories.add(story)
                    written += 1
                store.refresh_stories(stories)
                ordered = sorted(stories)
                for old, new in zip(ordered[::MERGE_EVERY], ordered[1::MERGE_EVERY]):
                    store.merge_story(old, new)
                store.refresh_stories(ordered[1::MERGE_EVERY])
            round_no += 1
        if store.dialect == "postgresql":
            store.conn.execute("ANALYZE")   # planner statistics, as autovacuum would gather them after a bulk load
        counts = {t: store.count(t) for t in ("articles", "stories", "entities", "mentions")}
    seconds = time.perf_counter() - start
    return {**counts, "rounds": round_no, "build_seconds": round(seconds, 1),
            "articles_per_second": round(written / seconds, 1)}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def measure(db: Path, requests: int, seed: int = 1) -> dict:
    """Start `tidings serve` on the store and time sequential requests per endpoint."""
    from tidings.store import Store

    with Store.open(db, read_only=True) as store:
        live = [r[0] for r in store.conn.execute("SELECT id FROM stories WHERE merged_into IS NULL ORDER BY id")]
        merged = [r[0] for r in store.conn.execute("SELECT id FROM stories WHERE merged_into IS NOT NULL")]
        place = store.conn.execute(
            "SELECT entity_id FROM mentions WHERE label = 'LOC' GROUP BY entity_id ORDER BY COUNT(*) DESC LIMIT 1"
        ).fetchone()[0]
    rng = random.Random(seed)
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "tidings.cli", "--db", str(db), "serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    client.get("/api/stories", params={"limit": 1})
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("the server did not start: " + server.stderr.read().decode()[-2000:])
                    time.sleep(0.2)
            second_page = client.get("/api/stories").json()["next_cursor"]
            cases = {
                "GET /api/stories": lambda: "/api/stories",
                "GET /api/stories/{id}": lambda: f"/api/stories/{rng.choice(live)}",
                "GET /api/stories?sort=size": lambda: "/api/stories?sort=size",
                "GET /api/stories?cursor=(page 2)": lambda: f"/api/stories?cursor={second_page}",
                "GET /api/stories?lang=sl": lambda: "/api/stories?lang=sl",
                "GET /api/stories?q=olympics": lambda: "/api/stories?q=olympics",
                f"GET /api/stories?place={place}": lambda: f"/api/stories?place={place}",
                "GET /api/stories/{merged id}": lambda: f"/api/stories/{rng.choice(merged)}",
                "GET / (story list page)": lambda: "/",
                "GET /stories/{id} (story page)": lambda: f"/stories/{rng.choice(live)}",
            }
            results = {}
            for name, make_url in cases.items():
                for _ in range(10):  # warm-up: connections, caches, lazy imports
                    client.get(make_url())
                timings = []
                for _ in range(requests):
                    url = make_url()
                    start = time.perf_counter()
                    response = client.get(url, follow_redirects=True)
                    timings.append((time.perf_counter() - start) * 1000)
                    assert response.status_code == 200, (url, response.status_code, response.text[:300])
                results[name] = {"p50_ms": round(_percentile(timings, 0.50), 2),
                                 "p95_ms": round(_percentile(timings, 0.95), 2),
                                 "mean_ms": round(statistics.fmean(timings), 2), "requests": requests}
    finally:
        server.terminate()
        server.wait(timeout=20)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="/tmp/tidings-bench-api.db", help="SQLite file or postgresql:// URL")
    parser.add_argument("--postgres", action="store_true",
                        help="build and measure on a throwaway local PostgreSQL server (Debian's postgresql)")
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300, help="timed requests per endpoint")
    parser.add_argument("--rebuild", action="store_true", help="build the store again even if it exists")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not OG2021.is_file():
        sys.exit(f"{OG2021} not found: the benchmark replays OG2021 titles from ../shared/data")
    server = None
    if args.postgres:
        sys.path.insert(0, str(ROOT / "tests"))
        from pgserver import PgServer
        server = PgServer().start()
        args.db = server.create_database("bench_api")
    try:
        report = _run(args)
    finally:
        if server is not None:
            server.stop()
    if args.json:
        print(json.dumps(report, indent=1))
        return
    counts, build, results = report["counts"], report["build"], report["results"]
    print(f"store {report['store']} ({report['backend']}): " + ", ".join(f"{v:,} {k}" for k, v in counts.items())
          + (f" (built in {build['build_seconds']} s, {build['articles_per_second']:,} articles/s written)"
             if build else ""))
    print(f"{'endpoint':44} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")
    for name, r in results.items():
        print(f"{name:44} {r['p50_ms']:8.2f} {r['p95_ms']:8.2f} {r['mean_ms']:8.2f}")
    for name in ("GET /api/stories", "GET /api/stories/{id}"):
        verdict = "meets" if results[name]["p95_ms"] < GOAL_P95_MS else "MISSES"
        print(f"{name}: p95 {results[name]['p95_ms']:.1f} ms {verdict} the goal of {GOAL_P95_MS:.0f} ms")


def _run(args) -> dict:
    from tidings.store import Store, is_postgres_address

    build = None
    if is_postgres_address(args.db):
        with Store.open(args.db) as store:
            empty = store.count("articles") == 0
        if args.rebuild and not empty:
            sys.exit("--rebuild on PostgreSQL: give an empty database")
        if empty:
            build = build_store(args.db, args.articles)
    elif args.rebuild or not Path(args.db).is_file():
        for suffix in ("", "-wal", "-shm"):
            Path(str(args.db) + suffix).unlink(missing_ok=True)
        build = build_store(args.db, args.articles)
    with Store.open(args.db, read_only=True) as store:
        counts = {t: store.count(t) for t in ("articles", "stories", "entities", "mentions")}
        backend, address = store.dialect, store.address
    results = measure(args.db, args.requests)
    return {"store": address, "backend": backend, "counts": counts, "build": build, "results": results}


if __name__ == "__main__":
    main()
