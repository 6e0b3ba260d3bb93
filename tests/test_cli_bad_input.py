"""Bad input through the CLI: a clear message naming the input and the reason, the batch goes on,
the exit code says something failed, and what was stored before is intact."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from tidings.cli import app

runner = CliRunner()

GOOD = ("Floods on the Sava\n\nThe Sava river burst its banks near Zagreb on Tuesday, flooding villages. "
        "Rescue teams evacuated hundreds of residents, the mayor said.\n")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _snapshot(db):
    """Every stored article as the CLI shows it (text, language, entities, dates...)."""
    from tidings.store import Store

    with Store.open(db, read_only=True) as store:
        ids = [r[0] for r in store.conn.execute("SELECT id FROM articles ORDER BY rowid")]
    return {i: json.loads(runner.invoke(app, ["--db", str(db), "article", i, "--json"]).stdout) for i in ids}


@pytest.fixture()
def store_with_one_article(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text(GOOD, encoding="utf-8")
    db = tmp_path / "t.db"
    result = runner.invoke(app, ["--db", str(db), "ingest", str(good)])
    assert result.exit_code == 0, result.output
    return db, tmp_path


def _write(path, data):
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


BAD_INPUTS = {
    "binary": (lambda d: _write(d / "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))),
               "image.txt"),
    "empty": (lambda d: _write(d / "empty.txt", "  \n\n"), "empty.txt"),
    "malformed json line": (lambda d: _write(d / "bad.jsonl",
        '{"id": "x1", "title": "Fine title", "text": "Fine text about a port strike in Hamburg."}\n'
        '{"id": "x2", "title": "broken"\n'), "bad.jsonl:2"),
    "undecodable": (lambda d: _write(d / "weird.txt", bytes([0x81, 0x8d, 0x8f, 0x90, 0x9d]) * 50), "weird.txt"),
    "missing file": (lambda d: d / "nope.txt", "nope.txt"),
    "unreachable url": (lambda d: f"http://127.0.0.1:{_closed_port()}/article.html", "127.0.0.1"),
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_bad_input_is_reported_and_earlier_data_is_intact(store_with_one_article, kind):
    db, tmp = store_with_one_article
    before = _snapshot(db)
    make, needle = BAD_INPUTS[kind]
    bad = make(tmp)
    result = runner.invoke(app, ["--db", str(db), "ingest", "--json", str(bad)])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["errors"], report
    assert any(needle in (e["source"] or "") + e["message"] for e in report["errors"]), report["errors"]
    assert "Traceback" not in result.output
    after = _snapshot(db)
    assert {i: after[i] for i in before} == before


def test_oversized_input_is_refused(store_with_one_article, monkeypatch):
    db, tmp = store_with_one_article
    big = tmp / "big.txt"
    big.write_text("Title\n\n" + "word " * 5000, encoding="utf-8")
    monkeypatch.setenv("TIDINGS_INGEST__MAX_BYTES", "1000")
    before = _snapshot(db)
    result = runner.invoke(app, ["--db", str(db), "ingest", "--json", str(big)])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert any("big.txt" in e["source"] and e["code"] == "T105" for e in report["errors"])
    assert _snapshot(db) == before


def test_batch_goes_on_after_a_bad_line(store_with_one_article):
    db, tmp = store_with_one_article
    mixed = tmp / "mixed.jsonl"
    mixed.write_text('{"id": "m1", "title": "Port strike in Hamburg", "text": "Dock workers in Hamburg went on '
                     'strike on Monday.", "published_at": "2026-03-02T10:00:00Z"}\n'
                     'not json at all\n'
                     '{"id": "m3", "title": "Zinsentscheidung der EZB", "text": "Die Europäische Zentralbank in '
                     'Frankfurt hat die Zinsen gesenkt.", "lang": "de", "published_at": "2026-03-03T10:00:00Z"}\n',
                     encoding="utf-8")
    result = runner.invoke(app, ["--db", str(db), "ingest", "--json", str(mixed)])
    report = json.loads(result.stdout)
    assert result.exit_code == 1
    assert report["added"] == 2
    assert [e["source"].rsplit("/", 1)[-1] for e in report["errors"]] == ["mixed.jsonl:2"]


def test_unknown_story_id_is_a_clear_error_not_a_traceback(store_with_one_article):
    db, _ = store_with_one_article
    result = subprocess.run([sys.executable, "-m", "tidings.cli", "--db", str(db), "story", "s-does-not-exist"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "T200" in result.stderr and "s-does-not-exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_store_is_a_clear_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "tidings.cli", "--db", str(tmp_path / "none.db"), "stories"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "none.db" in result.stderr and "no such store" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_failing_batch_write_keeps_the_store_and_the_stream_state_consistent(tmp_path, monkeypatch):
    import tidings
    from tidings.store import Store

    first = tmp_path / "first.txt"
    first.write_text(GOOD, encoding="utf-8")
    second = tmp_path / "second.txt"
    second.write_text("Port strike in Hamburg\n\nDock workers in Hamburg stopped work on Monday, the union said.\n",
                      encoding="utf-8")
    monitor = tidings.open(tmp_path / "t.db")
    monitor.ingest([first])
    state_before = monitor.store.cluster_state()

    def broken(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Store, "refresh_stories", broken)
    with pytest.raises(OSError):
        monitor.ingest([second])
    monkeypatch.undo()
    assert monitor.store.count("articles") == 1
    assert monitor.store.cluster_state() == state_before
    report = monitor.ingest([second])  # the in-memory state was reloaded: the retry succeeds
    assert len(report.added) == 1 and monitor.store.count("articles") == 2
    monitor.close()
