"""stem_counts (revision 0007): the articles holding each word stem, kept by tidings.search.sync in
step with the FTS5 word-stem index, read by the words method, checked and repaired by tidings check."""

from __future__ import annotations

from datetime import datetime, timezone

from conftest import as_older_store
from tidings.config import Settings
from tidings.maintenance import check
from tidings.models import Analysis, Article, Document
from tidings.search import index, sync, words
from tidings.store import Store, migrate


def _vocab(store: Store) -> dict[str, int]:
    return {r[0]: int(r[1]) for r in store.conn.execute("SELECT term, doc FROM article_stems_vocab")}


def _counts(store: Store) -> dict[str, int]:
    return {r[0]: int(r[1]) for r in store.conn.execute("SELECT term, articles FROM stem_counts")}


def _add(store: Store, aid: str, lang: str, title: str, text: str) -> None:
    article = Article(id=aid, source=f"{aid}.txt", title=title, text=text, lang=lang, lang_confidence=0.99,
                      published_at=datetime(2016, 10, 23, 9, 30, tzinfo=timezone.utc), content_hash="h" + aid,
                      analysis=Analysis(mentions=[], entities={}, dates=[], quotes=[]))
    with store.transaction():
        raw_id = store.add_raw(Document(source=article.source, raw=text.encode(), content_type="text", text=text))
        store.add_article(article, raw_id)


def _stem_finding(store: Store):
    return next(f for f in check(store).findings if f.name == "stem_counts")


def test_counts_follow_sync_and_check_repairs_them(tmp_path, api_store_builder, monkeypatch):
    path = tmp_path / "s.db"
    api_store_builder(path)
    settings = Settings.load(env={})
    monkeypatch.setattr(index, "SYNC_CHUNK", 2)     # several chunks, each counted on its own
    with Store.open(path) as store:
        assert sync(store, settings) > 2
        counts = _counts(store)
        assert counts and counts == _vocab(store)
        # Croatian 'Alepu' and English 'Aleppo' are stored as their stems; one article per stem,
        # however often the article uses it (title and text)
        assert counts["alep"] == 1 and counts["aleppo"] == 2, counts
        assert _stem_finding(store).ok

        # new articles, synced later: counted once more each, a new stem starts at one
        _add(store, "n-1", "hr", "Alepu stižu konvoji", "Konvoji u Alepu, Alepu, Alepu.")
        _add(store, "n-2", "en", "Zyzzogeton seen in Aleppo", "Aleppo Aleppo.")
        assert index.pending(store) == 2
        assert sync(store, settings) == 2
        after = _counts(store)
        assert after == _vocab(store)
        assert after["alep"] == counts["alep"] + 1 and after["aleppo"] == counts["aleppo"] + 1
        assert after["zyzzogeton"] == 1
        assert sync(store, settings) == 0 and _counts(store) == after      # a re-sync adds nothing twice
        # the words method reads them (query words folded as FTS5 folds them)
        assert words.term_counts(store.conn, {"alep", "aleppo", "nowhere"}) == {"alep": 2, "aleppo": 3}

        # a count out of step is found by tidings check and repaired from the FTS5 index
        with store.transaction():
            store.conn.execute("UPDATE stem_counts SET articles = articles + 5 WHERE term = 'alep'")
            store.conn.execute("DELETE FROM stem_counts WHERE term = 'zyzzogeton'")
        finding = _stem_finding(store)
        assert finding.count == 2 and any("'alep'" in e for e in finding.examples), finding
        report = check(store, repair=True)
        assert report.ok and _counts(store) == after


def test_an_older_store_gets_its_counts_from_the_index(tmp_path, api_store_builder):
    """A store synced before revision 0007: the migration fills stem_counts from article_stems."""
    path = tmp_path / "old.db"
    api_store_builder(path)
    with Store.open(path) as store:
        sync(store, Settings.load(env={}))
        expected = _counts(store)
    as_older_store(path, "0006", "stem_counts", "entity_articles")   # 0007 and 0008 made them
    with Store.open(path) as store:
        assert store.schema_revision() == migrate.head_revision()
        assert _counts(store) == expected and expected
