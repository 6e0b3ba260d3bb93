"""Fuzz the input-facing functions: each target of tests/trust_targets.py with many examples.

Targets: cleaner, language, parse_datetime, find_dates, readers, lenient_utf8, similarity (see
that module for the properties). With atheris installed (``pip install atheris``, the ``fuzz``
extra) libFuzzer drives each target, coverage-guided over the tidings modules, through
hypothesis' ``fuzz_one_input`` (the bytes become the strategy's values), one child process per
target with ``-runs=EXAMPLES``; a crash leaves its input in ``--artifacts``. Without atheris (or
with ``--engine hypothesis``) hypothesis runs the examples itself and shrinks a failure to the
smallest input. Prints one line per target: examples run, seconds, crashes. Example:

    python bench/fuzz.py --examples 100000
    python bench/fuzz.py --examples 20000 --only readers cleaner --engine hypothesis
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


def atheris_child(name: str, examples: int, artifacts: Path) -> None:
    """Run one target under libFuzzer (this process ends when it is done or crashes)."""
    import atheris

    with atheris.instrument_imports(include=["tidings"]):
        import tidings.clean, tidings.dates, tidings.ingest, tidings.language, tidings.limits  # noqa: F401,E401
        import tidings.similarity  # noqa: F401
    from hypothesis import HealthCheck, given, settings

    from trust_targets import TARGETS

    strategy, check = TARGETS[name]

    @settings(database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(value):
        check(value)

    artifacts.mkdir(parents=True, exist_ok=True)
    atheris.Setup([sys.argv[0], f"-runs={examples}", f"-artifact_prefix={artifacts}/{name}-", "-print_final_stats=1"],
                  run.hypothesis.fuzz_one_input)
    atheris.Fuzz()


def run_atheris(name: str, examples: int, artifacts: Path) -> dict:
    import re
    import subprocess

    started = time.monotonic()
    result = subprocess.run([sys.executable, __file__, "--child", name, "--examples", str(examples),
                             "--artifacts", str(artifacts)], capture_output=True, text=True)
    log = result.stderr
    runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log)
    crash = None
    if result.returncode != 0:
        tail = [line for line in log.splitlines() if line.strip()][-15:]
        crash = "\n".join(tail)[:1500]
    return {"target": name, "engine": "atheris", "examples": int(runs[-1]) if runs else None,
            "seconds": round(time.monotonic() - started, 1), "crashes": 0 if crash is None else 1, "crash": crash}


def main() -> None:
    from trust_targets import TARGETS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--only", nargs="*", choices=sorted(TARGETS))
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--engine", choices=["auto", "atheris", "hypothesis"], default="auto")
    parser.add_argument("--artifacts", type=Path, default=Path("/tmp/tidings-fuzz"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        atheris_child(args.child, args.examples, args.artifacts)
        return
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401
            engine = "atheris"
        except ImportError:
            print("atheris not installed (pip install atheris): using hypothesis", file=sys.stderr)
            engine = "hypothesis"
    results = []
    for name in args.only or sorted(TARGETS):
        result = (run_atheris(name, args.examples, args.artifacts) if engine == "atheris"
                  else run_hypothesis(name, args.examples, args.seed))
        results.append(result)
        print(json.dumps(result, ensure_ascii=False), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    sys.exit(1 if any(r["crashes"] for r in results) else 0)


if __name__ == "__main__":
    main()
