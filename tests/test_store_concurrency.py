"""Many processes, one PostgreSQL database (a real server, tests/pgserver.py).

The assignment lock is held by one store at a time and goes with the session of a killed holder;
two real ingest processes and a real server on one database, one ingest killed with SIGKILL while
it holds the lock halfway through: every input article is stored exactly once, in exactly one story.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tidings.store import Store
from tidings.store.postgres import ASSIGNMENT_LOCK_KEY

ROOT = Path(__file__).resolve().parent.parent
TOPICS = [
    ("Flooding in Sisak", "The river Sava flooded Sisak in Croatia", ["Sisak", "Croatia", "Zagreb"],
     "flood water rescue evacuation levee rain"),
    ("Earthquake in Izmir", "A strong earthquake struck Izmir in Turkey", ["Izmir", "Turkey", "Ankara"],
     "quake magnitude rubble rescue aftershock buildings"),
    ("ECB raises rates", "The European Central Bank raised interest rates in Frankfurt",
     ["Frankfurt", "Germany", "Christine Lagarde"], "inflation rates bank euro monetary policy"),
    ("Strike at Hamburg port", "Dock workers went on strike at the port of Hamburg", ["Hamburg", "Germany", "Verdi"],
     "strike union wages port containers ships"),
    ("Wildfires near Athens", "Wildfires burned forests near Athens in Greece", ["Athens", "Greece", "Evia"],
     "fire firefighters wind forest heat evacuation"),
    ("Election in Brazil", "Voters in Brazil elected a new president in Brasilia", ["Brasilia", "Brazil", "Lula"],
     "vote election president campaign ballot results"),
]


def corpus(path: Path) -> list[dict]:
    """48 short English articles, six topics over eight days, in shuffled order (no models beyond English)."""
    rng = random.Random(7)
    rows = []
    for t, (title, lead, names, words) in enumerate(TOPICS):
        for i in range(8):
            w = words.split()
            rng.shuffle(w)
            text = (f"{lead}, officials said on day {i + 1}. {' '.join(w)} near {names[0]}. {names[2]} spoke about "
                    f"the {w[0]} and the {w[1]} in {names[1]}. Report {t}-{i} adds detail on {w[2]}.")
            rows.append({"id": f"t{t}-{i}", "title": f"{title}: update {i + 1}", "text": text, "lang": "en",
                         "url": f"https://example.org/{t}/{i}", "published_at": f"2024-03-{1 + i:02d}T{8 + t:02d}:00:00Z"})
    rng.shuffle(rows)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return rows


INGEST = """
import logging, os, sys, time, tidings
from tidings.pipeline import Monitor
# Pacing, through files in a directory the two ingests and the test share (argv[3]; argv[4] is the
# role). Only the order of batches is forced; each batch runs the real code:
#   first:  commits its first batch and says so, then waits for the test's "go" before each later one
#   second: commits its first batch, waits until the first has committed one, then takes the lock
#           for its second batch and holds it, halfway through, until the test kills it
gates, role = sys.argv[3], sys.argv[4]
batches = 0
def _wait(name):
    while not os.path.exists(os.path.join(gates, name)):
        time.sleep(0.02)
_process = Monitor._process_batch
def _paced(self, *args, **kwargs):
    global batches
    batches += 1
    if batches > 1:
        _wait("first-committed" if role == "second" else "go")
    _process(self, *args, **kwargs)
    if batches == 1:
        open(os.path.join(gates, role + "-committed"), "w").close()
Monitor._process_batch = _paced
if role == "second":
    _assign = Monitor._assign_and_write
    def _held(self, *args, **kwargs):
        if batches > 1:   # under the lock, after the refresh (and its log line)
            sys.stderr.write("HOLDING\\n")
            sys.stderr.flush()
            time.sleep(600)
        return _assign(self, *args, **kwargs)
    Monitor._assign_and_write = _held
logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
logging.getLogger("tidings.pipeline").setLevel(logging.INFO)
logging.getLogger("tidings.store").setLevel(logging.INFO)
with tidings.open(sys.argv[1]) as monitor:
    report = monitor.ingest([sys.argv[2]], batch_size=4)
print(len(report.added), report.already_stored, len(report.errors))
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _lock_holder(url: str) -> str | None:
    """application_name (tidings:PID) of the session holding the assignment lock, if any."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = %s", (ASSIGNMENT_LOCK_KEY & 0xFFFFFFFF,)
        ).fetchone()
    return row[0] if row else None


def test_one_assigner_at_a_time_and_a_killed_holder_releases_the_lock(pg_url):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom tidings.store import Store\nstore = Store.open(sys.argv[1])\n"
        "with store.assignment_lock():\n    print('locked', flush=True)\n    time.sleep(600)\n"), pg_url],
        stdout=subprocess.PIPE, text=True, env=_env())
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert _lock_holder(pg_url) == f"tidings:{holder.pid}"
        got = threading.Event()
        with Store.open(pg_url) as store:
            def take() -> None:
                with store.assignment_lock():
                    got.set()
            waiter = threading.Thread(target=take)
            waiter.start()
            assert not got.wait(1.5)           # held by the other process: this one waits
            os.kill(holder.pid, signal.SIGKILL)
            assert got.wait(20)                # the lock went with the killed session
            waiter.join()
    finally:
        holder.kill()
        holder.wait()


def test_two_ingests_and_a_server_with_one_ingest_killed_halfway(pg_url, tmp_path):
    rows = corpus(tmp_path / "corpus.jsonl")
    reverse = tmp_path / "reversed.jsonl"
    reverse.write_text("".join(json.dumps(r) + "\n" for r in reversed(rows)), encoding="utf-8")
    with socket_port() as port:
        pass
    server = subprocess.Popen([sys.executable, "-m", "tidings", "--db", pg_url, "serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env())
    gates = tmp_path / "gates"
    gates.mkdir()
    first_log = (tmp_path / "first.log").open("w")
    first = subprocess.Popen([sys.executable, "-c", INGEST, pg_url, str(tmp_path / "corpus.jsonl"), str(gates),
                              "first"],
                             stdout=subprocess.PIPE, stderr=first_log, text=True, env=_env())
    second_log = (tmp_path / "second.log").open("w")
    second = subprocess.Popen([sys.executable, "-c", INGEST, pg_url, str(reverse), str(gates), "second"],
                              stdout=subprocess.DEVNULL, stderr=second_log, env=_env())
    statuses: list[int] = []
    killed_with = None
    polling = threading.Event()

    def poll_server() -> None:
        # in a thread of its own, all through the two ingests and the kill
        while not polling.is_set():
            try:
                statuses.append(httpx.get(f"http://127.0.0.1:{port}/api/stories", timeout=10).status_code)
            except httpx.TransportError:
                pass   # the server is still starting
            polling.wait(0.1)

    poller = threading.Thread(target=poll_server, daemon=True)
    poller.start()
    try:
        # Whatever the interleaving, both commit a first batch before either takes the lock again
        # (the first waits for "go", the second for the first's commit), so whichever loaded its
        # story state first sees the other's commit under the lock and reloads (asserted below).
        deadline = time.monotonic() + 600
        while not ("HOLDING" in (tmp_path / "second.log").read_text()
                   and _lock_holder(pg_url) == f"tidings:{second.pid}"):
            assert time.monotonic() < deadline, "the second ingest never held the lock in its second batch"
            assert second.poll() is None, f"the second ingest ended before it could be killed: {second.communicate()}"
            assert first.poll() is None, f"the first ingest ended early: {(tmp_path / 'first.log').read_text()}"
            time.sleep(0.05)
        with Store.open(pg_url, read_only=True) as store:
            killed_with = store.count("articles")
        assert killed_with == 8   # a batch of 4 from each, nothing yet of the second's second batch
        os.kill(second.pid, signal.SIGKILL)   # while it holds the lock, in the middle of a batch
        second.wait()
        (gates / "go").touch()
        out, _ = first.communicate(timeout=600)
        polling.set()
        poller.join()
        log = (tmp_path / "first.log").read_text()
        assert first.returncode == 0, log
        assert out.split()[2] == "0"
        # both committed batches, so whichever took the lock after the other's commit found the
        # state changed under the lock and reloaded it (which one depends on the interleaving)
        second_log.flush()
        assert "reloading the story state" in log + (tmp_path / "second.log").read_text()
        for _ in range(100):   # the server answers after the ingest too, with what it stored
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/api/stories", params={"limit": 500}, timeout=10)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert page.status_code == 200
        statuses.append(page.status_code)
    finally:
        polling.set()
        for process in (first, second, server):
            process.kill()
            process.wait()
        first_log.close()
        second_log.close()
    assert second.returncode == -signal.SIGKILL and killed_with < len(rows)
    assert statuses and set(statuses) == {200}
    with Store.open(pg_url, read_only=True) as store:
        conn = store.conn
        ids = [r[0] for r in conn.execute("SELECT external_id FROM articles")]
        assert sorted(ids) == sorted(r["id"] for r in rows)                  # every input, exactly once
        unique = conn.execute("SELECT id, story_id FROM articles WHERE duplicate_of IS NULL").fetchall()
        members = dict(conn.execute("SELECT article_id, story_id FROM memberships").fetchall())
        assert set(members) == {r["id"] for r in unique}                      # one membership each (primary key)
        live: dict[str, int] = {}
        for article_id, story_id in unique:
            assert story_id is not None and members[article_id] == story_id  # in exactly one story
            live[store.resolve_story(story_id)] = live.get(store.resolve_story(story_id), 0) + 1
        sizes = dict(conn.execute("SELECT id, size FROM stories WHERE merged_into IS NULL AND size > 0").fetchall())
        assert sizes == live                                                  # story rows agree with their members
        assert sum(sizes.values()) == len(unique)
    listed = {s["id"]: s["size"] for s in page.json()["stories"]}
    assert listed == sizes


class socket_port:
    """A free loopback port."""

    def __enter__(self) -> int:
        import socket
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        self.sock.close()
