"""Throughput per stage and end to end, and peak memory.

    python bench/throughput.py                      # sample corpus + OG2021 titles (if ../shared is there)
    python bench/throughput.py --corpus crisis --limit 300
    python bench/throughput.py --corpus replay10k --limit 1000   # whole articles replayed (bench/scale.py)
    python bench/throughput.py --corpus replay10k --end-to-end-only --set embedding.text=title

Prints articles/s for each stage (language, clean, analysis, embedding) and end to end through
``Monitor.add_documents``, the median milliseconds per article of each per-article stage, then
peak RSS and a one-line summary. ``replay10k`` is the >= 10,000-article corpus of whole articles
that ``bench/scale.py --corpus10k`` replays from crisis_es_fr_it.jsonl and the sample corpus (it
is written into $TIDINGS_CACHE or .bench-cache/ on first use).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "src"))

from tqdm import tqdm  # noqa: E402

from tidings.config import Settings  # noqa: E402
from tidings.models import Document  # noqa: E402


def load_corpus(name: str, limit: int | None) -> list[Document]:
    if name == "sample":
        from tidings.ingest import read_sources
        docs = [d for d in read_sources([ROOT / "examples" / "sample"]) if isinstance(d, Document)]
    elif name == "replay10k":
        from tidings.ingest import read_sources
        sys.path.insert(0, str(ROOT / "bench"))
        from scale import CRISIS, build_corpus, corpus_path
        if not CRISIS.is_file():
            print(f"skipping {name}: {CRISIS} not found (../shared/data is not beside the checkout)")
            return []
        path = corpus_path()
        if not path.is_file():
            build_corpus(path)
        docs = [d for d in read_sources([path]) if isinstance(d, Document)]
    elif name in {"og2021", "crisis"}:
        path = SHARED / ("og2021.dev.jsonl" if name == "og2021" else "crisis_es_fr_it.jsonl")
        if not path.is_file():
            print(f"skipping {name}: {path} not found (../shared/data is not beside the checkout)")
            return []
        docs = []
        for number, line in enumerate(path.open(encoding="utf-8"), 1):
            r = json.loads(line)
            when = r.get("published_at") or r.get("date")
            text = r.get("text") or ""
            title = r.get("title") or text.split("\n", 1)[0][:200]
            docs.append(Document(source=f"{path.name}:{number}", raw=line.encode(), content_type="jsonl",
                                 text=text, title=title,
                                 lang=r.get("lang"), external_id=str(r["id"]),
                                 published_at=datetime.fromisoformat(when).replace(tzinfo=timezone.utc)
                                 if when else None))
    else:
        raise SystemExit(f"unknown corpus {name!r}")
    return docs[:limit] if limit else docs


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:8.1f}/s" if seconds > 0 else "     inf"


def stage_timings(docs: list[Document], settings: Settings, timings: dict[str, float],
                  per_doc: dict[str, list[float]]) -> None:
    """Each per-article stage alone over the corpus (this also loads every model)."""
    from tidings.clean import clean
    from tidings.entities import analyse
    from tidings.language import detect
    from tidings.pipeline import Pipeline

    def timed(stage: str, fn, *args, **kwargs):
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        per_doc[stage].append(time.perf_counter() - t0)
        return result

    t = time.perf_counter()
    langs = [timed("language", detect, " ".join(filter(None, [d.title, d.text[:2000]])), hint=None)[0]
             for d in docs]
    timings["language"] = time.perf_counter() - t
    t = time.perf_counter()
    texts = [timed("clean", clean, d.text, lang) for d, lang in zip(docs, langs)]
    timings["clean"] = time.perf_counter() - t
    for lang in sorted(set(langs)):  # load each language's recogniser before timing (one-off cost)
        analyse("Warm-up sentence in Zagreb.", lang, None)
    t = time.perf_counter()
    for d, text, lang in zip(docs, texts, langs):
        timed("analysis", analyse, text, lang, d.published_at, title=d.title)
    timings["analysis"] = time.perf_counter() - t
    pipeline = Pipeline(settings)
    articles = [pipeline.prepare(d) for d in docs]
    t = time.perf_counter()
    pipeline.embed(articles)
    timings["embedding"] = time.perf_counter() - t


def warm_up(docs: list[Document], settings: Settings) -> None:
    """Load every model the corpus needs (recognisers, e5) without timing the stages."""
    from tidings.entities import analyse
    from tidings.language import detect
    from tidings.pipeline import Pipeline

    for lang in sorted({detect(" ".join(filter(None, [d.title, d.text[:2000]])), hint=None)[0] for d in docs}):
        analyse("Warm-up sentence in Zagreb.", lang, None)
    pipeline = Pipeline(settings)
    pipeline.embed([pipeline.prepare(d) for d in docs[:8]])


def run(name: str, limit: int | None, overrides: dict[str, str] | None = None,
        stages: bool = True) -> dict | None:
    from tidings.pipeline import Monitor

    docs = load_corpus(name, limit)
    if not docs:
        return None
    # Only --set changes the settings (the environment is ignored), so a figure is reproducible.
    settings = Settings.load(env={f"TIDINGS_{key.replace('.', '__').upper()}": value
                                  for key, value in (overrides or {}).items()})
    n = len(docs)
    timings: dict[str, float] = {}
    per_doc: dict[str, list[float]] = {"language": [], "clean": [], "analysis": []}
    # end_to_end runs last, with every model already loaded
    if stages:
        stage_timings(docs, settings, timings, per_doc)
    else:
        warm_up(docs, settings)

    with tempfile.TemporaryDirectory() as tmp:
        monitor = Monitor(Path(tmp) / "bench.db", settings)
        t, main_cpu, cpu = time.perf_counter(), time.thread_time(), time.process_time()
        # Monitor.ingest's batches of 64, each embedded in the background while the next is analysed
        monitor.add_documents(tqdm(docs, desc=f"{name} end to end", unit="article", disable=None), batch_size=64)
        timings["end_to_end"] = time.perf_counter() - t
        main_cpu, cpu = time.thread_time() - main_cpu, time.process_time() - cpu
        stories = monitor.store.conn.execute(
            "SELECT COUNT(*) FROM stories WHERE merged_into IS NULL AND size > 0").fetchone()[0]
        monitor.close()
    print(f"\n{name}: {n} articles -> {stories} stories" + (f"  (settings: {overrides})" if overrides else ""))
    for stage, seconds in timings.items():
        median = f"  median {statistics.median(per_doc[stage]) * 1000:.1f} ms/article" if per_doc.get(stage) else ""
        print(f"  {stage:<11} {rate(n, seconds)}  ({seconds:.1f} s){median}")
    # the main thread analyses, stores and clusters; the encoder runs in threads of its own: a main
    # thread busy nearly all the wall time is the bound, one with time to spare waits for the encoder
    wall = timings["end_to_end"]
    print(f"  CPU end to end: {cpu:.1f} s ({cpu / n * 1000:.1f} ms an article, {cpu / wall:.2f} cores), "
          f"of which the main thread {main_cpu:.1f} s ({main_cpu / n * 1000:.1f} ms an article, "
          f"busy {100 * main_cpu / wall:.0f}% of the wall time)")
    return {"corpus": name, "articles": n, **{k: n / v for k, v in timings.items() if v}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", action="append", choices=["sample", "og2021", "crisis", "replay10k"],
                        help="corpora to run (default: sample and og2021)")
    parser.add_argument("--limit", type=int, default=None, help="first N articles of each corpus")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a setting, e.g. --set embedding.text=title (repeatable)")
    parser.add_argument("--end-to-end-only", action="store_true",
                        help="skip the per-stage timings (they take as long again as the end-to-end run)")
    args = parser.parse_args()
    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            parser.error(f"--set {item!r}: expected SECTION.KEY=VALUE")
        overrides[key.strip()] = value.strip()
    results = [r for name in (args.corpus or ["sample", "og2021"])
               if (r := run(name, args.limit, overrides, stages=not args.end_to_end_only))]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # ingest.workers > 1: each analysis worker is a child process with its own models (without
    # workers the kernel's figure is a library's short-lived fork, sharing this process's pages)
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    workers = any(k == "ingest.workers" and v.strip() != "1" for k, v in overrides.items())
    print(f"\npeak RSS {peak_mb:.0f} MB" + (f" (largest worker process {child_mb:.0f} MB)" if workers else ""))
    print("summary: " + "; ".join(f"{r['corpus']} end_to_end={r['end_to_end']:.1f} articles/s" for r in results)
          + f"; peak_rss_mb={peak_mb:.0f}")


if __name__ == "__main__":
    main()
