"""The garbage collector's work on the ingest's main thread: collections by generation and their CPU.

    python bench/gc_collections.py --limit 1000                              # ingest.gc_freeze on (default)
    python bench/gc_collections.py --limit 1000 --set ingest.gc_freeze=false # off: every full collection
                                                                             # walks the loaded models again

Loads the models first (as bench/throughput.py does), then ingests the first ``--limit`` replay10k
articles through ``Monitor.add_documents`` (batches of 64, e5 in its background thread) into a
temporary store, and counts, with ``gc.callbacks``, the collections of each generation run on the
main thread and the thread CPU they took (``time.thread_time``). Prints one line per full
collection (objects tracked in the oldest generation before it) and the objects frozen at the end.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=1000, help="articles read from replay10k (default 1000)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting for the run, e.g. ingest.gc_freeze=false")
    args = parser.parse_args()
    from throughput import load_corpus, warm_up

    from tidings.config import Settings
    from tidings.pipeline import Monitor

    docs = load_corpus("replay10k", args.limit)
    if not docs:
        raise SystemExit("replay10k: no articles (../shared/data missing?)")
    env = {f"TIDINGS_{k.replace('.', '__').upper()}": v for k, v in (item.split("=", 1) for item in args.set)}
    settings = Settings.load(env=env)
    warm_up(docs, settings)

    main_thread = threading.main_thread()
    counts, cpu, started = [0, 0, 0], [0.0, 0.0, 0.0], [0.0]

    def watch(phase: str, info: dict) -> None:
        if threading.current_thread() is not main_thread:
            return
        generation = info["generation"]
        if phase == "start":
            if generation == 2:
                print(f"  full collection: {len(gc.get_objects(2)):,} objects in the oldest generation", flush=True)
            started[0] = time.thread_time()
            return
        counts[generation] += 1
        cpu[generation] += time.thread_time() - started[0]

    gc.callbacks.append(watch)   # tidings.gcfreeze's own collection before a freeze is counted too
    thread_cpu = time.thread_time()
    with tempfile.TemporaryDirectory() as tmp:
        monitor = Monitor(Path(tmp) / "gc.db", settings)
        monitor.add_documents(docs, batch_size=64)
        monitor.close()
    thread_cpu = time.thread_time() - thread_cpu
    gc.callbacks.remove(watch)
    print(f"{len(docs)} articles, settings {args.set or 'default'}: main thread {thread_cpu:.1f} s of CPU")
    for generation in range(3):
        print(f"  generation {generation}: {counts[generation]} collections, {cpu[generation]:.2f} s")
    print(f"  frozen objects: {gc.get_freeze_count():,}")


if __name__ == "__main__":
    main()
