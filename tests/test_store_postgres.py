"""The whole of tidings on a real PostgreSQL server (tests/pgserver.py): the bundled sample through
the pipeline gives the same articles, entities and stories as on SQLite; the readers (queries,
export, REST API, pages) and ``tidings status`` work on it; text search ignores accents."""

from __future__ import annotations

import io
import json

import pytest

import tidings
from tidings.store import Store

from conftest import EXAMPLES, build_api_store


def _content(monitor) -> dict:
    """What the pipeline stored, independent of the backend (ids are deterministic)."""
    conn = monitor.store.conn
    articles = {r["id"]: (r["lang"], r["title"], r["duplicate_of"])
                for r in conn.execute("SELECT id, lang, title, duplicate_of FROM articles")}
    members: dict[str, set[str]] = {}
    for r in conn.execute("SELECT id, story_id FROM articles WHERE duplicate_of IS NULL"):
        members.setdefault(monitor.store.resolve_story(r["story_id"]), set()).add(r["id"])
    mentions = sorted(tuple(r) for r in conn.execute(
        'SELECT article_id, entity_id, label, text, start, "end", in_title FROM mentions'))
    dates = sorted(tuple(r) for r in conn.execute(
        'SELECT article_id, text, start_char, end_char, start, "end", granularity FROM date_mentions'))
    # (not first_seen / last_seen: undated inputs are dated by the ingest's clock)
    stories = sorted(tuple(r) for r in conn.execute(
        "SELECT id, title, size, langs FROM stories WHERE merged_into IS NULL"))
    return {"articles": articles, "stories": sorted(sorted(m) for m in members.values()),
            "story_rows": stories, "mentions": mentions, "dates": dates}


@pytest.fixture(scope="module")
def sample_on_both(sample_sqlite, pg_server):
    """The sample corpus ingested into SQLite (once per session, conftest.py) and into PostgreSQL
    (a database of its own)."""
    url = pg_server.create_database("sample")
    results = {"sqlite": (_content(sample_sqlite[0]), sample_sqlite[1])}
    with tidings.open(url) as monitor:
        report = monitor.ingest([EXAMPLES])
        assert not report.errors
        results["postgresql"] = (_content(monitor), report)
    return url, results


def test_the_sample_gives_the_same_store_on_postgresql_as_on_sqlite(sample_on_both):
    _, results = sample_on_both
    sqlite, postgresql = results["sqlite"][0], results["postgresql"][0]
    assert len(sqlite["articles"]) >= 30
    assert postgresql["articles"] == sqlite["articles"]
    assert postgresql["stories"] == sqlite["stories"]
    assert postgresql["story_rows"] == sqlite["story_rows"]
    assert postgresql["mentions"] == sqlite["mentions"]
    assert postgresql["dates"] == sqlite["dates"]


def test_ingesting_the_sample_again_stores_nothing_twice(sample_on_both):
    url, results = sample_on_both
    with tidings.open(url) as monitor:
        before = monitor.store.count("articles")
        report = monitor.ingest([EXAMPLES])
        assert report.added == [] and report.already_stored == before
        assert monitor.store.count("articles") == before


def test_readers_on_postgresql(sample_on_both):
    url, _ = sample_on_both
    with tidings.open(url, read_only=True) as monitor:
        page = monitor.stories(limit=3)
        assert len(page["stories"]) == 3 and page["next_cursor"]
        following = monitor.stories(limit=3, cursor=page["next_cursor"])
        assert not {s["id"] for s in page["stories"]} & {s["id"] for s in following["stories"]}
        biggest = monitor.stories(sort="size", limit=1)["stories"][0]
        detail = monitor.story(biggest["id"])
        assert detail["size"] == biggest["size"] >= 2
        assert all(d["texts"] and d["mentions"] >= 1 for d in detail["dates"])
        some = next(iter(detail["articles"].values()))[0]
        article = monitor.article(some["id"], raw=True)
        assert article["story_id"] == biggest["id"] and article["raw"]["bytes"] > 0
        if detail["entities"]:
            entity = monitor.entity(detail["entities"][0]["id"])
            assert biggest["id"] in {s["id"] for s in entity["stories"]}
        assert monitor.stories(lang="hr")["stories"]
        out = io.StringIO()
        assert monitor.export("csv", out) == len(out.getvalue().splitlines()) - 1


def test_text_search_on_postgresql_ignores_accents_and_needs_every_word(pg_url):
    ids = build_api_store(pg_url)
    assert ids
    with Store.open(pg_url, read_only=True) as store:
        from tidings.queries import list_stories, search
        assert [h["id"] for h in search(store, "bibliotheque")] == ["a-fr1"]   # bibliothèque
        hit = search(store, "ALEP Putin")[0]
        assert hit["id"] == "a-hr1" and "[" in hit["snippet"]
        assert search(store, "aleppo moscow zzz") == []
        assert [s["id"] for s in list_stories(store, q="corridors")["stories"]] == ["s-aleppo"]
        assert store.status()["full_text_search"].startswith("postgresql")


def test_the_rest_api_and_pages_over_postgresql(pg_url):
    from fastapi.testclient import TestClient

    from tidings.api import create_app
    from tidings.config import Settings

    build_api_store(pg_url)
    with TestClient(create_app(pg_url, Settings.load())) as client:
        stories = client.get("/api/stories").json()["stories"]
        assert {s["id"] for s in stories} >= {"s-aleppo", "s-lyon"}
        detail = client.get("/api/stories/s-old").json()
        assert detail["id"] == "s-aleppo" and "s-old" in detail["aliases"]
        assert client.get("/api/search", params={"q": "Ženeva OR aleppo"}).status_code == 200
        assert client.get("/api/stories/nope").json()["error"]["code"] == "T200"
        assert client.get("/api/stories", params={"cursor": "WyJ4IiwgIngiXQ==", "sort": "size"}).status_code == 400
        page = client.get("/stories/s-aleppo")
        assert page.status_code == 200 and "Aleppo" in page.text


def test_status_command_names_the_backend_and_the_search_modes(pg_url, tmp_path):
    from typer.testing import CliRunner

    from tidings.cli import app

    build_api_store(pg_url)
    result = CliRunner().invoke(app, ["--db", pg_url, "status", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["backend"] == "postgresql" and data["counts"]["articles"] == 5
    assert data["vector_search"] in {"pgvector", "in-process"}
    assert data["schema_revision"] == __import__("tidings.store.migrate").store.migrate.head_revision()
    build_api_store(tmp_path / "s.db")
    result = CliRunner().invoke(app, ["--db", str(tmp_path / "s.db"), "status"])
    assert result.exit_code == 0 and "sqlite-fts5" in result.output and "in-process" in result.output


def test_a_wrong_address_is_a_clear_error():
    from tidings.errors import StoreError

    with pytest.raises(StoreError, match="cannot open the store") as info:
        Store.open("postgresql://nobody:secret@127.0.0.1:1/none")
    assert "secret" not in str(info.value) and "***" in (info.value.source or "")


def test_entities_by_name_with_the_servers_unaccent(pg_url):
    """Debian's server has the unaccent extension: finding entities by name and by prefix uses it."""
    from tidings.config import Settings
    from tidings.search import sync
    from tidings.search.entities import _pg_unaccent, entity_profile, find_entities

    build_api_store(pg_url)
    with Store.open(pg_url) as store:
        assert _pg_unaccent(store) == "unaccent"
        sync(store, Settings.load(env={}))   # as the pipeline does after each batch (build_api_store does not)
        assert find_entities(store, "Alepu")[0]["id"] == "geo:170063"
        assert "geo:2996944" in [e["id"] for e in find_entities(store, "lyo")]   # type-ahead, any case
        assert entity_profile(store, "geo:170063")["related"]
