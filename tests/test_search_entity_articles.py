"""entity_articles (revision 0008): the articles naming each entity and how often, kept by
tidings.search.sync, read by the entities method, filled by the migration for an older store,
checked and repaired by tidings check."""

from __future__ import annotations

import math
from collections import Counter

from conftest import as_older_store
from tidings.config import Settings
from tidings.maintenance import check
from tidings.search import entities as es
from tidings.search import index, sync
from tidings.store import Store, migrate


def _rows(store: Store) -> dict[tuple[str, int], int]:
    return {(r[0], int(r[1])): int(r[2]) for r in store.conn.execute(
        "SELECT entity_id, article_rowid, mentions FROM entity_articles")}


def _from_mentions(store: Store) -> dict[tuple[str, int], int]:
    """What the table must hold: the mentions of the synced articles that are no duplicates."""
    counts: Counter[tuple[str, int]] = Counter()
    for r in store.conn.execute(
            "SELECT m.entity_id, a.rowid FROM mentions m JOIN articles a ON a.id = m.article_id "
            "WHERE a.duplicate_of IS NULL AND a.rowid <= ?", (index.synced_rowid(store),)):
        counts[(r[0], int(r[1]))] += 1
    return dict(counts)


def _finding(store: Store):
    return next(f for f in check(store).findings if f.name == "entity_articles")


def test_sync_fills_it_the_ranking_reads_it_and_check_repairs_it(tmp_path, api_store_builder, monkeypatch):
    path = tmp_path / "e.db"
    api_store_builder(path)
    monkeypatch.setattr(index, "SYNC_CHUNK", 2)     # several chunks, each added on its own
    with Store.open(path) as store:
        assert sync(store, Settings.load(env={})) > 2
        rows = _rows(store)
        assert rows and rows == _from_mentions(store)
        assert _finding(store).ok

        # the ranking: the sum over the entities named of rarity x (1 + log mentions), from the
        # mentions themselves, ties to the newest article
        total = store.count("articles")
        top = [r[0] for r in store.conn.execute(
            "SELECT entity_id FROM entity_stats ORDER BY articles DESC, entity_id LIMIT 3")]
        named = [es.QueryEntity(eid, eid, "LOC", eid, int(store.conn.execute(
            "SELECT articles FROM entity_stats WHERE entity_id = ?", (eid,)).fetchone()[0])) for eid in top]
        expected: dict[int, float] = {}
        for e in named:
            for (eid, rowid), n in rows.items():
                if eid == e.id:
                    expected[rowid] = expected.get(rowid, 0.0) + math.log(1 + total / e.articles) * (1 + math.log(n))
        ranked = es.rank_articles(store, named, total, 5000)
        assert [r for r, _, _ in ranked] == sorted(expected, key=lambda r: (-round(expected[r], 9), -r))
        assert all(abs(score - expected[r]) < 1e-9 for r, score, _ in ranked)
        # with few articles kept, each is looked up: the same scores, only those articles
        few = sorted(expected)[: max(1, len(expected) // 2)]
        among = es.rank_articles(store, named, total, 5000, among=few)
        assert {r for r, _, _ in among} == set(few)
        assert all(abs(score - expected[r]) < 1e-9 for r, score, _ in among)

        # out of step: found by tidings check, rebuilt from the mentions
        some = next(iter(rows))
        with store.transaction():
            store.conn.execute("UPDATE entity_articles SET mentions = mentions + 3 WHERE entity_id = ? "
                               "AND article_rowid = ?", some)
            store.conn.execute("INSERT INTO entity_articles VALUES ('per:nobody', 1, 1)")
        finding = _finding(store)
        assert finding.count == 2 and any("per:nobody" in e for e in finding.examples), finding
        assert check(store, repair=True).ok and _rows(store) == rows


def test_an_older_store_gets_it_from_its_mentions(tmp_path, api_store_builder):
    """A store synced before revision 0008: the migration fills entity_articles."""
    path = tmp_path / "old.db"
    api_store_builder(path)
    with Store.open(path) as store:
        sync(store, Settings.load(env={}))
        expected = _rows(store)
    as_older_store(path, "0007", "entity_articles")
    with Store.open(path) as store:
        assert store.schema_revision() == migrate.head_revision()
        assert expected and _rows(store) == expected
