"""Two processes writing one SQLite store (issue 14, point 6).

Each ingest batch reads, changes and writes the story state under SQLite's write lock, after
reloading the state if another process committed since (Monitor.refresh_if_changed): the second
writer waits for the first, and the store ends with the story state one process would have left
ingesting the same batches in the order they were committed. The test runs two real processes,
each ingesting three files (one batch each) at the same time, then replays the six files in the
committed order in one process and compares articles, memberships and stories.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT

WORKER = r"""
import faulthandler, sys, time
faulthandler.dump_traceback_later(240, exit=True)   # a hung writer shows where, and ends
from pathlib import Path
import tidings
from tidings.models import Document

db, go, ready, *files = sys.argv[1:]
monitor = tidings.open(db)
# load the models before the race starts, so that the two processes really overlap
monitor.pipeline.prepare(Document(source="warm-up", raw=b"", content_type="text", lang="en",
                                  text="Warm up the models in London on Monday."))
monitor.pipeline.embedder.embed(["warm up"])
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.02)
for f in files:
    monitor.ingest([f], batch_size=1000)   # one batch, one write transaction per file
monitor.close()
"""


# Four stories, three English reports each (English only: one language's models load fastest).
STORIES = {
    "izmir": ["Magnitude 6.4 earthquake kills at least 14 in Izmir",
              "Izmir earthquake death toll rises to 31 as rescuers search rubble",
              "Rescuers pull survivors from collapsed buildings after Izmir quake"],
    "aleppo": ["UN convoy of 38 trucks reaches Aleppo with food and medicine",
               "Aid trucks arrive in besieged Aleppo after weeks of talks",
               "First UN aid convoy in months enters eastern Aleppo"],
    "hamburg": ["Dock workers strike paralyses the port of Hamburg for 48 hours",
                "Dozens of ships wait off Hamburg as port strike continues",
                "Hamburg port strike ends after union and employers agree talks"],
    "ecb": ["ECB cuts deposit rate to 1.75% as energy prices ease",
            "European Central Bank lowers interest rates for the first time since June",
            "Lagarde says further ECB rate cuts depend on inflation data"],
}


def _split(tmp: Path, parts: int) -> list[Path]:
    """The reports dealt round-robin into ``parts`` files: every story has articles in several
    files, so the two processes' batches join each other's stories."""
    records = []
    for index in range(3):
        for story, titles in STORIES.items():
            title = titles[index]
            records.append(json.dumps({"id": f"{story}-{index}", "title": title, "lang": "en",
                                       "text": f"{title}. Officials gave more details on Tuesday.",
                                       "published_at": f"2024-03-05T{8 + index:02d}:{index * 7:02d}:00Z"}))
    files = []
    for index in range(parts):
        path = tmp / f"part{index}.jsonl"
        path.write_text("\n".join(records[index::parts]) + "\n", encoding="utf-8")
        files.append(path)
    return files


def _state(db: Path) -> dict:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return {
            "memberships": sorted(conn.execute(
                "SELECT a.external_id, a.story_id, round(m.score, 6) FROM articles a "
                "LEFT JOIN memberships m ON m.article_id = a.id").fetchall(), key=str),
            "stories": sorted(conn.execute(
                "SELECT id, size, title, first_seen, last_seen, langs, merged_into FROM stories").fetchall(), key=str),
            "duplicates": sorted(conn.execute(
                "SELECT external_id, duplicate_of FROM articles WHERE duplicate_of IS NOT NULL").fetchall()),
        }
    finally:
        conn.close()


def test_two_ingest_processes_leave_the_state_of_one_process_in_commit_order(tmp_path):
    files = _split(tmp_path, 6)
    db = tmp_path / "shared.db"
    go = tmp_path / "go"
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    procs = []
    for name, mine in (("a", files[0::2]), ("b", files[1::2])):
        ready = tmp_path / f"ready-{name}"
        procs.append((ready, subprocess.Popen([sys.executable, "-c", WORKER, str(db), str(go), str(ready),
                                               *map(str, mine)], env=env, stderr=subprocess.PIPE, text=True)))
    deadline = time.monotonic() + 120
    while not all(r.exists() for r, _ in procs):
        assert time.monotonic() < deadline and all(p.poll() is None for _, p in procs), \
            [p.stderr.read() for _, p in procs if p.poll() is not None]
        time.sleep(0.05)
    go.touch()
    for _, proc in procs:
        _, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
        assert "Traceback" not in stderr

    import sqlite3

    conn = sqlite3.connect(db)
    order = [Path(src).name for (src,) in conn.execute(
        "SELECT substr(source, 1, instr(source, ':') - 1) FROM raw_inputs GROUP BY 1 ORDER BY MIN(id)")]
    conn.close()
    assert sorted(order) == sorted(f.name for f in files)

    import tidings

    reference = tmp_path / "one.db"
    with tidings.open(reference) as monitor:
        for name in order:
            monitor.ingest([tmp_path / name], batch_size=1000)
    # same articles, same stories, same scores: sources differ only in the path, not compared
    assert _state(db) == _state(reference)
    state = _state(db)
    assert len(state["memberships"]) == 12
    # some story holds articles committed by both processes: each read the other's state
    files_of = {path.name: "a" if path in files[0::2] else "b" for path in files}
    conn = sqlite3.connect(db)
    writers = {}
    for source, story in conn.execute("SELECT source, story_id FROM articles WHERE story_id IS NOT NULL"):
        writers.setdefault(story, set()).add(files_of[Path(source.rsplit(":", 1)[0]).name])
    conn.close()
    assert any(len(w) == 2 for w in writers.values()), writers
