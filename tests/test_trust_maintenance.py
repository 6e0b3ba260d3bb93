"""`tidings check [--repair]` and `tidings backup` (issue 14, point 5) on a store broken on purpose."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest
from typer.testing import CliRunner

from tidings.cli import app as cli_app
from tidings.maintenance import ExtraCheck, backup, check, register_check, _EXTRA_CHECKS
from tidings.store import Store


def _break(db) -> None:
    """One of each inconsistency tidings check knows, written behind the store's back."""
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("DELETE FROM memberships WHERE article_id = 'a-fr1'")                    # missing
        conn.execute("UPDATE memberships SET story_id = 's-lyon' WHERE article_id = 'a-en1'")  # mismatch
        conn.execute("INSERT INTO memberships VALUES ('a-gone', 's-lyon', 0.5)")              # orphan
        conn.execute("INSERT INTO mentions(article_id, entity_id, label, text, start, end) "
                     "VALUES ('a-gone', 'per:putin', 'PER', 'Putin', 0, 5)")                  # orphan
        conn.execute("INSERT INTO dedup_signatures VALUES ('a-gone', x'00')")                 # orphan
        conn.execute("INSERT INTO raw_inputs(source, content_type, raw, received_at) "
                     "VALUES ('lost.txt', 'text', x'00', '2026-01-01T00:00:00Z')")            # orphan
        conn.execute("UPDATE stories SET size = 99 WHERE id = 's-xss'")                       # size
        conn.execute("UPDATE articles SET story_id = 's-old' WHERE id = 'a-en2'")              # merged story
        conn.execute("INSERT INTO cluster_aliases VALUES ('s-x', 's-nowhere')")               # state
        row = conn.execute("SELECT rowid, title, text FROM articles WHERE id = 'a-hr1'").fetchone()
        conn.execute("INSERT INTO articles_fts(articles_fts, rowid, title, text) VALUES ('delete', ?, ?, ?)", row)
    conn.close()


def test_check_finds_each_inconsistency_and_repair_fixes_them(tmp_path, api_store_builder):
    db = tmp_path / "broken.db"
    api_store_builder(db)
    with Store.open(db, read_only=True) as store:
        assert check(store).ok
    _break(db)
    with Store.open(db, read_only=True) as store:
        report = check(store)
    bad = {f.name: f for f in report.findings if not f.ok}
    assert set(bad) == {"membership_missing", "membership_mismatch", "orphan_memberships", "orphan_mentions",
                        "orphan_signatures", "orphan_raw_inputs", "story_size", "article_in_merged_story",
                        "state_alias_dangling", "fts_in_step"}
    assert bad["membership_missing"].examples == ["a-fr1"] and bad["orphan_raw_inputs"].count == 1
    with Store.open(db) as store:
        repaired = check(store, repair=True)
        left = {f.name for f in repaired.findings if not f.ok}
        assert left == {"state_alias_dangling"}   # the assigner's own state: reported, not rewritten
        assert all(f.repaired for f in repaired.findings if f.name in set(bad) - left)
        rows = dict(store.conn.execute("SELECT article_id, story_id FROM memberships").fetchall())
        assert rows["a-fr1"] == "s-lyon" and rows["a-en1"] == "s-aleppo" and "a-gone" not in rows
        assert store.conn.execute("SELECT story_id FROM articles WHERE id = 'a-en2'").fetchone()[0] == "s-aleppo"
        assert store.conn.execute("SELECT size FROM stories WHERE id = 's-xss'").fetchone()[0] == 1
        hits = store.conn.execute("SELECT COUNT(*) FROM articles_fts WHERE articles_fts MATCH 'Putin'").fetchone()[0]
        assert hits == 2   # the hr article is found again


def test_check_cli_exit_codes_and_json(tmp_path, api_store_builder):
    db = tmp_path / "c.db"
    api_store_builder(db)
    result = CliRunner().invoke(cli_app, ["--db", str(db), "check", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ok"] is True
    _break(db)
    result = CliRunner().invoke(cli_app, ["--db", str(db), "check"])
    assert result.exit_code == 1 and "FAIL" in result.stdout and "try --repair" in result.stdout
    result = CliRunner().invoke(cli_app, ["--db", str(db), "check", "--repair", "--json"])
    data = json.loads(result.stdout)
    assert [c["name"] for c in data["checks"] if not c["ok"]] == ["state_alias_dangling"]


def test_registered_check_runs_and_repairs(tmp_path, api_store_builder):
    db = tmp_path / "v.db"
    api_store_builder(db)
    fixed: list[bool] = []
    register_check(ExtraCheck("vector_index", "the vector index matches the articles",
                              status=lambda store: (0, []) if fixed else (2, ["a-en1", "a-fr1"]),
                              repair=lambda store: fixed.append(True)))
    try:
        with Store.open(db) as store:
            first = {f.name: f for f in check(store).findings}["vector_index"]
            assert first.count == 2 and not first.ok
            report = check(store, repair=True)
            assert report.ok and fixed == [True]
    finally:
        _EXTRA_CHECKS.pop("vector_index")


def test_backup_of_a_live_store_is_a_consistent_copy(tmp_path, api_store_builder):
    db = tmp_path / "live.db"
    api_store_builder(db)
    with Store.open(db) as store:
        before = store.count("articles")
    stop = threading.Event()
    committed: list[int] = []

    def writer() -> None:   # another connection writing batches of 10 raw inputs while we copy
        with Store.open(db) as store:
            n = 0
            while not stop.is_set() and n < 200:
                with store.transaction() as conn:
                    conn.executemany("INSERT INTO raw_inputs(source, content_type, raw, received_at) VALUES (?,?,?,?)",
                                     [(f"w{n + i}", "text", b"x" * 1000, "2026-01-01T00:00:00Z") for i in range(10)])
                n += 10
                committed.append(n)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with Store.open(db, read_only=True) as store:
            result = backup(store, tmp_path / "copy.db")
    finally:
        stop.set()
        thread.join()
    assert result["articles"] == before and not (tmp_path / "copy.db.part").exists()
    with Store.open(tmp_path / "copy.db", read_only=True) as copy:
        assert copy.quick_check() == [] and check(copy).findings[0].ok
        raw = copy.conn.execute("SELECT COUNT(*) FROM raw_inputs WHERE source LIKE 'w%'").fetchone()[0]
    assert raw % 10 == 0   # whole batches only: the copy is the store as of one commit


def test_backup_refuses_to_overwrite(tmp_path, api_store_builder):
    from tidings.errors import StoreError

    db = tmp_path / "b.db"
    api_store_builder(db)
    (tmp_path / "exists.db").write_bytes(b"keep me")
    result = CliRunner().invoke(cli_app, ["--db", str(db), "backup", str(tmp_path / "exists.db")])
    assert isinstance(result.exception, StoreError) and "exists already" in str(result.exception)
    assert (tmp_path / "exists.db").read_bytes() == b"keep me"
    result = CliRunner().invoke(cli_app, ["--db", str(db), "backup", str(tmp_path / "exists.db"), "--overwrite"])
    assert result.exit_code == 0, result.output
    with pytest.raises(StoreError):
        with Store.open(db, read_only=True) as store:
            backup(store, db, overwrite=True)
