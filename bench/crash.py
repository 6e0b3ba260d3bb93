"""Crash bench: random ``kill -9`` during ``tidings ingest`` of real articles, each followed by a rerun.

The input is the crisis corpus (``../shared/data/crisis_es_fr_it.jsonl``, real es/fr/it news) cut
into ``--kills`` chunks. For each chunk, one store growing all along:

1. ``tidings ingest CHUNK`` in a child process, killed with SIGKILL either at a random moment of
   its run or (every other kill) the moment it is inside a write transaction (a probe connection
   finds SQLite's write lock held);
2. the same command again, to completion: what it had to redo is the resume cost (inputs
   analysed / inputs not stored before the rerun: 1.0 means nothing stored was analysed again);
3. at the end every record of the input must be stored exactly once or reported as an error:
   lost = neither, duplicated = stored twice; ``tidings check`` must find the store consistent.

Prints one line per kill and a JSON summary (also written to ``--out``). Example:

    python bench/crash.py --kills 100 --db /tmp/crash.db --out /tmp/crash.json
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


def _kill_run(db: Path, chunk: Path, *, in_transaction: bool, max_wait: float, rng: random.Random) -> dict:
    started = time.monotonic()
    proc = subprocess.Popen(_cli(db, "ingest", "--json", str(chunk)), env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    at = rng.uniform(1.0, max_wait)
    caught = False
    while proc.poll() is None:
        elapsed = time.monotonic() - started
        if in_transaction:
            if _in_write_transaction(db):
                caught = True
                break
            if elapsed > max_wait * 3:
                break
            time.sleep(0.002)
        else:
            if elapsed >= at:
                break
            time.sleep(0.01)
    finished = proc.poll() is not None
    if not finished:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    return {"killed_after_s": round(time.monotonic() - started, 2), "finished_before_kill": finished,
            "in_write_transaction": caught}


def _stored_sources(db: Path, chunk: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT COUNT(*) FROM raw_inputs WHERE source LIKE ?", (f"{chunk}:%",)).fetchone()[0]
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N records (0: all)")
    parser.add_argument("--db", type=Path, default=Path("/tmp/tidings-crash.db"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/tidings-crash"))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"{args.data} not found: this bench needs ../shared beside the checkout")
    rng = random.Random(args.seed)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{args.db}{suffix}").unlink(missing_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    lines = [line for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.limit:
        lines = lines[:args.limit]
    size = max(1, -(-len(lines) // args.kills))
    chunks = []
    for index in range(args.kills):
        part = lines[index * size:(index + 1) * size]
        if not part:
            break
        chunk = args.work / f"chunk{index:03d}.jsonl"
        chunk.write_text("\n".join(part) + "\n", encoding="utf-8")
        chunks.append((chunk, part))

    rows, reported = [], {}
    max_wait = 15.0   # calibrated below on the first complete rerun
    for index, (chunk, part) in enumerate(chunks):
        kill = _kill_run(args.db, chunk, in_transaction=index % 2 == 1, max_wait=max_wait, rng=rng)
        stored_before = _stored_sources(args.db, chunk)
        started = time.monotonic()
        result = subprocess.run(_cli(args.db, "ingest", "--json", str(chunk)), env=_env(), capture_output=True,
                                text=True)
        seconds = time.monotonic() - started
        report = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
        if not report:
            print(f"rerun {index} failed: {result.stderr[-2000:]}", file=sys.stderr)
        for error in report.get("errors", []):
            reported[error["source"]] = error["code"]
        analysed = report.get("added", 0) + report.get("duplicates", 0) + len(report.get("errors", []))
        todo = len(part) - stored_before
        row = {"chunk": index, "records": len(part), **kill, "stored_before_rerun": stored_before,
               "rerun_s": round(seconds, 2), "rerun_skipped": report.get("already_stored"),
               "rerun_analysed": analysed, "resume_cost": round(analysed / todo, 3) if todo else None,
               "rerun_exit": result.returncode}
        rows.append(row)
        if index == 0:
            max_wait = max(3.0, seconds)
        print(json.dumps(row), flush=True)

    # every record: stored exactly once, or reported
    conn = sqlite3.connect(args.db)
    counts: dict[str, int] = {}
    for (source,) in conn.execute("SELECT source FROM raw_inputs"):
        counts[source] = counts.get(source, 0) + 1
    conn.close()
    expected = [f"{chunk}:{n}" for chunk, part in chunks for n in range(1, len(part) + 1)]
    lost = [s for s in expected if s not in counts and s not in reported]
    duplicated = [s for s, c in counts.items() if c > 1]
    check = subprocess.run(_cli(args.db, "check", "--json"), env=_env(), capture_output=True, text=True)
    check_ok = json.loads(check.stdout)["ok"] if check.stdout.strip().startswith("{") else False
    costs = [r["resume_cost"] for r in rows if r["resume_cost"] is not None]
    summary = {
        "kills": len(rows), "records": len(expected), "stored": sum(1 for s in expected if s in counts),
        "reported_errors": len(reported), "lost": len(lost), "duplicated": len(duplicated),
        "kills_in_write_transaction": sum(r["in_write_transaction"] for r in rows),
        "runs_finished_before_kill": sum(r["finished_before_kill"] for r in rows),
        "resume_cost_max": max(costs) if costs else None,
        "resume_cost_mean": round(sum(costs) / len(costs), 3) if costs else None,
        "skipped_before_analysis": sum(r["rerun_skipped"] or 0 for r in rows),
        "check_ok": check_ok, "lost_examples": lost[:5], "duplicated_examples": duplicated[:5],
    }
    print(json.dumps(summary, indent=2))
    if args.out:
        args.out.write_text(json.dumps({"summary": summary, "runs": rows}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
