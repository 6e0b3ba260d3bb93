"""CPU seconds of the per-article stages (``Pipeline.prepare``: limits, language, cleaning, dates of
publication, the analysis) over a slice of replay10k, in one process, without the encoder.

    python bench/analysis_cpu.py --limit 1000               # articles 0-1,000, models loaded first
    python bench/analysis_cpu.py --warm 700 --limit 1700    # articles 700-1,700 after 700 unmeasured
    # another commit's code: export it, put this script in its bench/ and run it there
    git archive e3073a4 | tar -x -C /tmp/base && cp bench/analysis_cpu.py /tmp/base/bench/
    TIDINGS_CACHE=$PWD/.bench-cache python /tmp/base/bench/analysis_cpu.py --limit 1000

The script imports the ``src/tidings`` beside it, so which code runs is where the script is (it
prints it). Each recogniser is loaded before timing; ``--warm`` articles are prepared first
without being timed (a long-running process has its caches and spaCy's kept words warm). Compare
two checkouts by running them alternately, several times: the machine's load moves the figures.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=1000, help="articles read from replay10k (default 1000)")
    parser.add_argument("--warm", type=int, default=0, help="of those, prepared first without timing")
    args = parser.parse_args()
    import tidings
    from throughput import load_corpus

    from tidings.config import Settings
    from tidings.entities import analyse
    from tidings.language import detect
    from tidings.pipeline import Pipeline

    docs = load_corpus("replay10k", args.limit)
    if len(docs) <= args.warm:
        raise SystemExit(f"replay10k: {len(docs)} articles, none left after --warm {args.warm}")
    pipeline = Pipeline(Settings.load(env={}))
    for lang in sorted({detect(" ".join(filter(None, [d.title, d.text[:2000]])), hint=d.lang)[0] for d in docs}):
        analyse("Warm-up sentence in Zagreb.", lang, None)
    for doc in docs[:args.warm]:
        pipeline.prepare(doc)
    cpu, wall = time.process_time(), time.perf_counter()
    for doc in docs[args.warm:]:
        pipeline.prepare(doc)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    n = len(docs) - args.warm
    print(f"{Path(tidings.__file__).parent}: articles {args.warm}-{len(docs)}: {cpu:.2f} s of CPU "
          f"({cpu / n * 1000:.1f} ms an article), {wall:.2f} s wall")


if __name__ == "__main__":
    main()
