"""Analysis in worker processes (``ingest.workers``) gives the articles one process gives, in order."""

from __future__ import annotations

import pickle
from concurrent.futures import Future
from pathlib import Path

import pytest

from tidings.config import Settings
from tidings.errors import BinaryInput, InputError
from tidings.ingest import read_sources
from tidings.engine import worker_count as _worker_count
from tidings.engine.local import _collect
from tidings.pipeline import Pipeline

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample"


def _inputs(tmp_path: Path) -> list[Path]:
    bad = tmp_path / "broken.txt"
    bad.write_bytes(b"\x00\x01\x02binary" * 50)
    names = ["en_hamburg_strike.txt", "fr_lyon_bibliotheque.txt", "hr_poplave_cp1250.txt", "it_bce_tassi.html"]
    return [SAMPLE / names[0], bad, *(SAMPLE / n for n in names[1:])]


def _summary(pipeline: Pipeline, sources: list[Path], workers: int) -> list[tuple]:
    out = []
    docs = read_sources(sources, pipeline.settings.section("ingest"))
    for item, result in pipeline.prepare_all(docs, workers=workers, min_docs_for_workers=1):
        if isinstance(result, InputError):
            out.append(("error", type(result).__name__, result.source))
            continue
        mentions = sorted((m.entity_id, m.start, m.end) for m in result.analysis.mentions)
        dates = sorted((d.start_char, d.text, d.start, d.end) for d in result.analysis.dates)
        quotes = len(result.analysis.quotes)
        out.append((item.source, result.id, result.lang, result.title, result.text, tuple(mentions), tuple(dates), quotes))
    return out


def test_two_worker_processes_give_the_same_articles_in_the_same_order(tmp_path):
    sources = _inputs(tmp_path)
    pipeline = Pipeline(Settings.load(env={}))
    serial = _summary(pipeline, sources, workers=1)
    parallel = _summary(pipeline, sources, workers=2)
    assert [row[0] for row in serial][1] == "error"      # the binary file, reported in its place
    assert serial[1][2].endswith("broken.txt")
    assert len(serial) == 5 and all(row[5] for row in serial if row[0] != "error")  # names were found
    assert parallel == serial


def test_an_error_raised_in_a_worker_reaches_the_caller_as_the_same_input_error():
    error = BinaryInput("not text", source="feed.xml:3", hint="check the encoding")
    future: Future = Future()
    # what a worker sends back for an input it could not analyse, through the process boundary
    future.set_result(pickle.loads(pickle.dumps((type(error), error.reason, error.source, error.hint))))
    item, got = _collect("feed.xml:3", future)  # type: ignore[arg-type]
    assert isinstance(got, BinaryInput) and str(got) == str(error) and got.code == error.code


@pytest.mark.parametrize("value, expected", [(1, 1), (3, 3), ("2", 2)])
def test_worker_count_setting(value, expected):
    assert _worker_count(value) == expected


def test_a_short_input_is_prepared_in_the_calling_process(monkeypatch):
    """An API request or a feed poll must not start worker processes (seconds of model loading)."""

    def no_pool(*args, **kwargs):
        raise AssertionError("a process pool was started for a short input")

    monkeypatch.setattr("tidings.engine.local.ProcessPoolExecutor", no_pool)
    pipeline = Pipeline(Settings.load(env={}))
    docs = list(read_sources([SAMPLE / "en_hamburg_strike.txt", SAMPLE / "fr_lyon_bibliotheque.txt"],
                             pipeline.settings.section("ingest")))
    out = list(pipeline.prepare_all(docs, workers=2, min_docs_for_workers=3))
    assert [item.source for item, _ in out] == [d.source for d in docs]
    assert all(not isinstance(a, InputError) and a.analysis.mentions for _, a in out)
    with pytest.raises(AssertionError, match="process pool"):
        list(pipeline.prepare_all(docs, workers=2, min_docs_for_workers=2))


def test_a_worker_count_that_is_no_number_is_a_clear_settings_error():
    from tidings.errors import ConfigError

    with pytest.raises(ConfigError, match="ingest.workers: not a number of processes: 'two'"):
        _worker_count("two")


def test_worker_count_zero_means_one_per_usable_core():
    assert 1 <= _worker_count(0) <= 1024


PARENT_SCRIPT = """
import multiprocessing, sys, time
from tidings.config import Settings
from tidings.models import Document
from tidings.pipeline import Pipeline

def docs():
    yield Document(source="one.txt", raw=b"", content_type="text", text="Kratki tekst o Zagrebu.")
    time.sleep(1.0)
    print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
    time.sleep(600)

if __name__ == "__main__":
    for _ in Pipeline(Settings.load(env={})).prepare_all(docs(), workers=2, min_docs_for_workers=1):
        pass
"""


def test_workers_exit_when_their_parent_is_killed(tmp_path):
    """A run killed outright (no shutdown code runs) must not leave its workers behind."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text(PARENT_SCRIPT, encoding="utf-8")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in parent.stdout.readline().split()]
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    assert pids  # the pool starts a worker per submitted document, up to the count

    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    deadline = time.monotonic() + 15
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(p) for p in pids)
