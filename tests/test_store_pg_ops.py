"""Operations on both backends (issue #16): ``tidings check [--repair]`` finds and repairs the same
problems on SQLite and on a real PostgreSQL; ``tidings backup`` of a PostgreSQL store through
pg_dump, restored with pg_restore into a new database; a clear error when pg_dump is missing; the
API's time budget answers 503 on PostgreSQL as on SQLite."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from typer.testing import CliRunner

from tidings.cli import app
from tidings.errors import StoreError
from tidings.store import Store

from conftest import build_api_store


def _cli(*args: str):
    return CliRunner().invoke(app, list(args))


def test_check_finds_and_repairs_the_same_problems_on_both_backends(store_url):
    build_api_store(store_url)
    result = _cli("--db", store_url, "check", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["ok"] is True
    with Store.open(store_url) as store, store.transaction():
        store.conn.execute("UPDATE memberships SET story_id = 's-lyon' WHERE article_id = 'a-en1'")
        store.conn.execute("UPDATE stories SET size = 7 WHERE id = 's-xss'")
        store.conn.execute("INSERT INTO memberships(article_id, story_id, score) VALUES ('a-gone', 's-lyon', 0.5)")
    result = _cli("--db", store_url, "check", "--json")
    assert result.exit_code == 1
    found = {c["name"]: c for c in json.loads(result.output)["checks"] if not c["ok"]}
    assert set(found) == {"membership_mismatch", "story_size", "orphan_memberships"}
    assert found["membership_mismatch"]["examples"] == ["a-en1"] and found["story_size"]["examples"] == ["s-xss"]
    result = _cli("--db", store_url, "check", "--repair", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] and report["repaired"]
    with Store.open(store_url, read_only=True) as store:
        assert store.conn.execute("SELECT story_id FROM memberships WHERE article_id = 'a-en1'").fetchone()[0] == \
            "s-aleppo"
        assert store.conn.execute("SELECT size FROM stories WHERE id = 's-xss'").fetchone()[0] == 1


def test_check_on_postgresql_names_a_missing_text_search_index(pg_url):
    build_api_store(pg_url)
    with Store.open(pg_url) as store:
        store.conn.execute("DROP INDEX articles_fts_lang")
    result = _cli("--db", pg_url, "check", "--json")
    assert result.exit_code == 1
    bad = [c for c in json.loads(result.output)["checks"] if not c["ok"]]
    assert [c["name"] for c in bad] == ["fts_in_step"] and "articles_fts_lang" in bad[0]["examples"][0]
    assert _cli("--db", pg_url, "check", "--repair").exit_code == 0
    with Store.open(pg_url, read_only=True) as store:
        assert store.fts_problem() is None
        from tidings.queries import search
        assert [h["id"] for h in search(store, "bibliotheques")] == ["a-fr1"]


def test_backup_of_a_postgresql_store_restores_into_a_new_database(pg_url, pg_server, tmp_path):
    build_api_store(pg_url)
    target = tmp_path / "backups" / "tidings.dump"
    result = _cli("--db", pg_url, "backup", str(target), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["articles"] == 5 and data["format"] == "pg_dump-custom" and target.stat().st_size == data["bytes"]
    assert not target.with_name("tidings.dump.part").exists()
    assert _cli("--db", pg_url, "backup", str(target)).exit_code != 0   # exists: --overwrite needed
    restored = pg_server.create_database("restored")
    from tidings.store.postgres import find_pg_tool
    done = subprocess.run([find_pg_tool("pg_restore"), "--no-owner", "-d", restored, str(target)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with Store.open(restored) as copy, Store.open(pg_url, read_only=True) as original:
        for table in ("articles", "stories", "mentions", "entities", "raw_inputs"):
            assert copy.count(table) == original.count(table), table
        assert copy.schema_revision() == original.schema_revision()
        from tidings.queries import search
        assert [h["id"] for h in search(copy, "bibliotheque")] == ["a-fr1"]


def test_backup_without_pg_dump_is_a_clear_error(pg_url, tmp_path, monkeypatch):
    from tidings.maintenance import backup

    build_api_store(pg_url)
    with Store.open(pg_url, read_only=True) as store:
        with pytest.raises(StoreError) as error:
            backup(store, tmp_path / "x.dump", pg_dump=str(tmp_path / "no" / "pg_dump"))
        assert "pg_dump not found" in error.value.reason and "store.pg_dump" in error.value.hint
        monkeypatch.setenv("PATH", str(tmp_path))
        monkeypatch.setattr("glob.glob", lambda pattern: [])   # no Debian PostgreSQL either
        with pytest.raises(StoreError) as error:
            backup(store, tmp_path / "x.dump")
        assert "pg_dump is not installed" in error.value.reason and "postgresql-client" in error.value.hint
    assert not list(tmp_path.glob("x.dump*"))


def test_a_statement_over_the_time_budget_answers_503_on_postgresql(pg_url, monkeypatch):
    from fastapi.testclient import TestClient

    from tidings import queries
    from tidings.api import create_app
    from tidings.config import Settings

    build_api_store(pg_url)

    def slow_list(store, **filters):   # a statement that would run for a minute
        store.conn.execute("SELECT pg_sleep(60)").fetchone()
        return {"stories": [], "next_cursor": None}

    monkeypatch.setattr(queries, "list_stories", slow_list)
    settings = Settings.load(env={}, overrides={"server": {"request_timeout": 0.5, "rate_limit_per_minute": 0}})
    with TestClient(create_app(pg_url, settings), raise_server_exceptions=False) as client:
        started = time.perf_counter()
        response = client.get("/api/stories")
        assert time.perf_counter() - started < 10
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "T709"
        monkeypatch.undo()   # the connection serves the next request
        assert client.get("/api/stories").status_code == 200
