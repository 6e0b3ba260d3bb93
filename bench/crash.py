"""Crash bench: random ``kill -9`` during ``tidings ingest`` of real articles, each followed by a rerun.

The input is the first ``--limit`` records of the crisis corpus (``../shared/data/crisis_es_fr_it.jsonl``,
real es/fr/it news). Rounds, each on a new store:

1. ``--kills-per-round`` times: ``tidings ingest INPUT`` in a child process (it resumes what the
   previous one left), killed with SIGKILL either the moment it is inside a write transaction (a
   probe connection finds SQLite's write lock held; every other kill) or at a random moment up
   to ``--max-delay`` seconds after its first commit;
2. the same command to completion (``--json``): the resume cost is what it analysed over what was
   not stored before it (1.0: nothing stored was analysed again) and its time against a full run;
3. every record must be stored exactly once or reported as an error: lost = neither,
   duplicated = stored twice; ``tidings check`` must find the store consistent.

Prints one JSON line per kill and per round and a summary (also written to ``--out`` after each
round, so an interrupted bench still leaves its figures). Example:

    python bench/crash.py --kills 100 --limit 300 --out /tmp/crash.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "crisis_es_fr_it.jsonl"


def _cli(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "tidings.cli", "--db", str(db), *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def _in_write_transaction(db: Path) -> bool:
    """True while another connection holds the store's write lock."""
    if not db.exists():
        return False
    conn = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        return "locked" in str(exc) or "busy" in str(exc)
    finally:
        conn.close()


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute("SELECT COUNT(*) FROM raw_inputs").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def _kill_run(db: Path, data: Path, *, in_transaction: bool, max_delay: float, rng: random.Random,
              timeout: float = 900.0) -> dict:
    before = _count(db)
    started = time.monotonic()
    proc = subprocess.Popen(_cli(db, "ingest", "--json", str(data)), env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    caught, kill_at = False, None
    while proc.poll() is None and time.monotonic() - started < timeout:
        if in_transaction:
            if _in_write_transaction(db):
                caught = True
                break
            time.sleep(0.002)
            continue
        now = time.monotonic()
        if kill_at is None and _count(db) > before:
            kill_at = now + rng.uniform(0.0, max_delay)   # a random moment of the writing part
        if kill_at is not None and now >= kill_at:
            break
        time.sleep(0.02)
    finished = proc.poll() is not None
    if not finished:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    return {"killed_after_s": round(time.monotonic() - started, 2), "finished_before_kill": finished,
            "in_write_transaction": caught, "stored_before": before, "stored_after": _count(db)}


def _reset(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def _full_run(db: Path, data: Path) -> tuple[dict, float, str]:
    started = time.monotonic()
    result = subprocess.run(_cli(db, "ingest", "--json", str(data)), env=_env(), capture_output=True, text=True)
    seconds = time.monotonic() - started
    report = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    return report, seconds, result.stderr


def _verify(db: Path, data: Path, records: int, report: dict) -> dict:
    conn = sqlite3.connect(db)
    counts: dict[str, int] = {}
    for (source,) in conn.execute("SELECT source FROM raw_inputs"):
        counts[source] = counts.get(source, 0) + 1
    articles = conn.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM articles").fetchone()
    conn.close()
    reported = {e["source"] for e in report.get("errors", [])}
    expected = [f"{data}:{n}" for n in range(1, records + 1)]
    check = subprocess.run(_cli(db, "check", "--json"), env=_env(), capture_output=True, text=True)
    return {"lost": sum(1 for s in expected if s not in counts and s not in reported),
            "duplicated": sum(1 for c in counts.values() if c > 1) + (articles[0] - articles[1]),
            "reported_errors": len(reported),
            "check_ok": json.loads(check.stdout)["ok"] if check.stdout.strip().startswith("{") else False,
            # what check found (or why it did not run), so a failed round can be understood afterwards
            "check_output": (check.stdout or check.stderr).strip()[-2000:] if check.returncode else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--kills-per-round", type=int, default=5)
    parser.add_argument("--limit", type=int, default=300, help="records of the input used")
    parser.add_argument("--max-delay", type=float, default=5.0, help="random kills: at most this long after the first commit")
    parser.add_argument("--db", type=Path, default=Path("/tmp/tidings-crash.db"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/tidings-crash"))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"{args.data} not found: this bench needs ../shared beside the checkout")
    rng = random.Random(args.seed)
    args.work.mkdir(parents=True, exist_ok=True)
    lines = [line for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()][:args.limit]
    data = args.work / "input.jsonl"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")

    # the cost of one uninterrupted run, to compare resumed runs with
    _reset(args.db)
    baseline, baseline_s, _ = _full_run(args.db, data)
    print(json.dumps({"baseline_run_s": round(baseline_s, 1), "added": baseline.get("added")}), flush=True)
    kills, rounds = [], []
    while len(kills) < args.kills:
        _reset(args.db)
        for _ in range(min(args.kills_per_round, args.kills - len(kills))):
            kill = _kill_run(args.db, data, in_transaction=len(kills) % 2 == 1, max_delay=args.max_delay, rng=rng)
            kills.append(kill)
            print(json.dumps({"kill": len(kills), **kill}), flush=True)
        stored_before = _count(args.db)
        report, seconds, stderr = _full_run(args.db, data)
        analysed = report.get("added", 0) + report.get("duplicates", 0) + len(report.get("errors", []))
        todo = len(lines) - stored_before
        row = {"round": len(rounds) + 1, "stored_before_rerun": stored_before, "rerun_s": round(seconds, 1),
               "rerun_skipped_before_analysis": report.get("already_stored"), "rerun_analysed": analysed,
               "resume_cost": round(analysed / todo, 3) if todo else None,
               **_verify(args.db, data, len(lines), report)}
        if not report:
            row["rerun_error"] = stderr[-1000:]
        rounds.append(row)
        print(json.dumps(row), flush=True)
        summary = _summary(kills, rounds, baseline_s, len(lines))
        if args.out:
            args.out.write_text(json.dumps({"summary": summary, "kills": kills, "rounds": rounds}, indent=2))
    print(json.dumps(_summary(kills, rounds, baseline_s, len(lines)), indent=2))


def _summary(kills: list[dict], rounds: list[dict], baseline_s: float, records: int) -> dict:
    costs = [r["resume_cost"] for r in rounds if r["resume_cost"] is not None]
    return {"kills": len(kills), "kills_in_write_transaction": sum(k["in_write_transaction"] for k in kills),
            "runs_finished_before_kill": sum(k["finished_before_kill"] for k in kills),
            "rounds": len(rounds), "records_per_round": records,
            "lost": sum(r["lost"] for r in rounds), "duplicated": sum(r["duplicated"] for r in rounds),
            "check_ok_rounds": sum(r["check_ok"] for r in rounds),
            "resume_cost_max": max(costs) if costs else None,
            "baseline_run_s": round(baseline_s, 1),
            "rerun_s_mean": round(sum(r["rerun_s"] for r in rounds) / len(rounds), 1) if rounds else None}


if __name__ == "__main__":
    main()
