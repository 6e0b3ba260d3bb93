"""`tidings watch` as a process: killed with SIGKILL mid-poll it loses nothing it committed and
stores nothing twice when rerun; SIGTERM finishes the pass in hand, commits and exits 0."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from watchsite import Clock, Site, START, make_story

from tidings.store import Store

TIDINGS = [sys.executable, "-m", "tidings"]
CONFIG = """
[ingest]
allow_private_addresses = true
http_timeout = 300.0
[watch]
per_host_delay = 0.02
idle_seconds = 0.2
"""


@pytest.fixture()
def site():
    site = Site(Clock(START)).start()
    yield site
    site.stop()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parent.parent / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    except sqlite3.Error:
        return 0


def _wait(condition, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the watcher exited ({proc.returncode}) before {what}: "
                                 + proc.stderr.read().decode(errors="replace")[-2000:])
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _held(site: Site, path: str) -> threading.Event:
    event = threading.Event()
    site.routes[path].hold = event
    return event


def test_kill_9_mid_poll_then_sigterm_then_nothing_twice(tmp_path, site):
    a_stories = [make_story(n, START) for n in (1, 2)]
    b_stories = [make_story(n, START) for n in (3, 4)]
    a_links = site.feed("/a/feed.xml", a_stories)
    # b's pages on another host name: a page of b that hangs must not hold a's pages up (per-host delay)
    other = site.base.replace("127.0.0.1", "localhost")
    b_links = site.feed("/b/feed.xml", b_stories, base=other)
    held_path = b_links[1].removeprefix(other)
    db = tmp_path / "w.db"
    config = tmp_path / "tidings.toml"
    config.write_text(CONFIG, encoding="utf-8")
    base = [*TIDINGS, "--db", str(db), "--config", str(config)]
    subprocess.run([*base, "sources", "add", site.base + "/a/feed.xml", site.base + "/b/feed.xml", "--every", "1s"],
                   check=True, env=_env(), capture_output=True)

    # run 1: source a is fetched and committed while a page of source b hangs; then SIGKILL
    release = _held(site, held_path)
    first = subprocess.Popen([*base, "watch"], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait(lambda: _count(db) == 2 and held_path in site.paths(), 240, "source a committed", first)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        release.set()
        if first.poll() is None:
            first.kill()
    assert first.returncode == -signal.SIGKILL
    with Store.open(db, read_only=True) as store:
        assert {r[0] for r in store.conn.execute("SELECT url FROM articles")} == set(a_links)
        recorded = {r[0] for r in store.conn.execute("SELECT url FROM fetched_urls WHERE article_id IS NOT NULL")}
    assert recorded == set(a_links)  # committed together with their articles, nothing of b

    # run 2: b again; SIGTERM while its page hangs: the pass is finished, committed, exit 0
    release = _held(site, held_path)
    before = len(site.paths())
    second = subprocess.Popen([*base, "watch"], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait(lambda: held_path in site.paths()[before:], 60, "the held page requested again", second)
        second.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        release.set()
        assert second.wait(240) == 0, second.stderr.read().decode(errors="replace")[-2000:]
    finally:
        release.set()
        if second.poll() is None:
            second.kill()
    assert _count(db) == 4
    assert "stopping after the pass in hand" in second.stderr.read().decode()

    # run 3: every source is polled again (304), no page is fetched again
    before = len(site.paths())
    third = subprocess.run([*base, "watch", "--once", "--json"], env=_env(), capture_output=True, timeout=240)
    assert third.returncode == 0, third.stderr.decode()[-2000:]
    report = json.loads(third.stdout.decode().strip().splitlines()[-1])
    assert (report["sources"], report["not_modified"], report["pages"], report["added"]) == (2, 2, 0, 0)
    assert site.paths()[before:].count("/a/feed.xml") == 1 and site.paths()[before:].count("/b/feed.xml") == 1
    with Store.open(db, read_only=True) as store:
        urls = [r[0] for r in store.conn.execute("SELECT url FROM articles")]
    assert sorted(urls) == sorted(a_links + b_links)  # each stored once
    for link in a_links:
        assert site.count(link.removeprefix(site.base)) == 1  # committed before the kill: never again
    assert site.count(held_path) == 2  # asked by the killed run and by the one that committed it
