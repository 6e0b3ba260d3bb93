"""An analysis worker process exits when the process that started its pool is gone, even when
that process died before the worker finished starting (it was then re-parented at once)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WORKER = """
import sys, time
from tidings.config import Settings
from tidings.engine.local import _worker_init
_worker_init(Settings.load(env={}), None, int(sys.argv[1]))
print("started", flush=True)
time.sleep(60)
"""


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_worker_whose_pool_owner_is_gone_exits():
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(_dead_pid())], stdout=subprocess.PIPE,
                              text=True, env=env)
    try:
        assert worker.stdout.readline().strip() == "started"
        started = time.monotonic()
        assert worker.wait(timeout=30) == 1          # os._exit(1) from the parent watch
        assert time.monotonic() - started < 30
    finally:
        worker.kill()
        worker.wait()


def test_a_worker_whose_pool_owner_lives_stays():
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(os.getpid())], stdout=subprocess.PIPE,
                              text=True, env=env)
    try:
        assert worker.stdout.readline().strip() == "started"
        time.sleep(2.5)                              # a few rounds of the watch
        assert worker.poll() is None
    finally:
        worker.kill()
        worker.wait()
