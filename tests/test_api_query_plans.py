"""The API's story queries use the indexes of store migration 2 (found slow at 100,000 articles: bench/api.py).

Asserted on the query plans SQLite chooses for the SQL that list_stories actually runs, so a change
of query or schema that would scan every story (or every article per story) fails here, in a
store of a few rows, instead of in production.
"""

from __future__ import annotations

import pytest

from tidings import queries
from tidings.store import Store


def _plans(store: Store, **filters) -> list[str]:
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    try:
        queries.list_stories(store, **filters)
    finally:
        store.conn.set_trace_callback(None)
    (listing,) = [s for s in statements if s.lstrip().startswith("SELECT s.* FROM stories")]
    return [row[3] for row in store.conn.execute("EXPLAIN QUERY PLAN " + listing)]


@pytest.fixture(scope="module")
def store(api_store):
    with Store.open(api_store[0], read_only=True) as s:
        yield s


@pytest.mark.parametrize("sort,index", [("newest", "stories_live_newest"), ("size", "stories_live_size")])
def test_story_list_walks_the_live_index_without_sorting(store, sort, index):
    plan = _plans(store, sort=sort)
    assert any(index in step for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan


@pytest.mark.parametrize("filters", [{"lang": "hr"}, {"place": "geo:170063"}, {"entity": "per:putin"},
                                     {"q": "aleppo"}])
def test_article_filters_are_computed_once_not_per_story(store, filters):
    plan = _plans(store, **filters)
    assert not any("CORRELATED" in step for step in plan), plan


def test_merged_ids_are_found_by_index(store):
    plan = [r[3] for r in store.conn.execute("EXPLAIN QUERY PLAN SELECT id FROM stories WHERE merged_into = ?",
                                             ("s-aleppo",))]
    assert any("stories_merged_into" in step for step in plan), plan
