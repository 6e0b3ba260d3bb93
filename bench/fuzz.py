"""Fuzz the input-facing functions: each target of tests/trust_targets.py with many examples.

Targets: cleaner, language, parse_datetime, find_dates, readers, lenient_utf8, similarity (see
that module for the properties). atheris (libFuzzer) drives them when it is installed; otherwise
hypothesis does, with the examples count given (default 100,000 each) and its shrinking, so a
crash is reported as the smallest input found. Prints one line per target: examples run,
seconds, crashes (the failing input and the error). Example:

    python bench/fuzz.py --examples 100000
    python bench/fuzz.py --examples 20000 --only readers cleaner
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]


def run_hypothesis(name: str, examples: int, seed: int) -> dict:
    from hypothesis import HealthCheck, given, seed as hseed, settings

    from trust_targets import TARGETS

    strategy, check = TARGETS[name]
    count = 0

    @hseed(seed)
    @settings(max_examples=examples, deadline=None, database=None, print_blob=True,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(value):
        nonlocal count
        count += 1
        check(value)

    started = time.monotonic()
    crash = None
    try:
        run()
    except Exception as exc:  # the shrunk failing example: reported, not raised
        crash = f"{type(exc).__name__}: {str(exc)[:500]}"
    return {"target": name, "engine": "hypothesis", "examples": count, "seconds": round(time.monotonic() - started, 1),
            "crashes": 0 if crash is None else 1, "crash": crash}


def main() -> None:
    from trust_targets import TARGETS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--only", nargs="*", choices=sorted(TARGETS))
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    try:
        import atheris  # noqa: F401
        print("atheris is installed, but the targets are hypothesis strategies: running them with hypothesis",
              file=sys.stderr)
    except ImportError:
        print("atheris not installed (pip install atheris needs clang with libFuzzer): using hypothesis",
              file=sys.stderr)
    results = []
    for name in args.only or sorted(TARGETS):
        result = run_hypothesis(name, args.examples, args.seed)
        results.append(result)
        print(json.dumps(result, ensure_ascii=False), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    sys.exit(1 if any(r["crashes"] for r in results) else 0)


if __name__ == "__main__":
    main()
