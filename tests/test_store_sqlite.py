"""The store on both backends (``store_url``: SQLite, then a real PostgreSQL server): writes in one
transaction, full-text search, merged story ids, caches; and SQLite's own: legacy migrations, WAL."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import numpy as np
import pytest

from tidings.errors import NotFound, StoreError
from tidings.models import Analysis, Article, Document, Entity, Mention
from tidings.queries import article_detail, list_stories, load_article, search, story_detail
from tidings.store import SCHEMA_VERSION, Store


def _article(article_id: str, title: str, text: str, lang: str = "en", day: int = 1) -> Article:
    analysis = Analysis(
        mentions=[Mention("geo:170063", "LOC", "Aleppo", 0, 6)],
        entities={"geo:170063": Entity("geo:170063", "LOC", "Aleppo", 170063, "SY", 36.2, 37.16)},
    )
    return Article(id=article_id, source=f"{article_id}.txt", title=title, text=text, lang=lang,
                   lang_confidence=0.99, published_at=datetime(2016, 10, day, tzinfo=timezone.utc),
                   content_hash=article_id, analysis=analysis)


def _put(store: Store, article: Article, story_id: str) -> None:
    with store.transaction():
        raw_id = store.add_raw(Document(source=article.source, raw=article.text.encode(), content_type="text",
                                        text=article.text))
        article.story_id = story_id
        store.add_article(article, raw_id)
        store.set_membership(article.id, story_id, 1.0)
        store.refresh_stories([story_id])


def test_new_store_is_migrated_and_in_wal_mode(tmp_path):
    with Store.open(tmp_path / "t.db") as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_store_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this tidings"):
        Store.open(path)


def test_a_file_that_is_not_a_database_gives_a_clear_error(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("this is not sqlite " * 100)
    with pytest.raises(StoreError, match="cannot open the store"):
        Store.open(path)


def test_failed_batch_leaves_earlier_data_untouched(store_url):
    with Store.open(store_url) as store:
        _put(store, _article("a1", "Aleppo truce", "Aleppo humanitarian pause holds"), "s1")
        with pytest.raises(RuntimeError):
            with store.transaction():
                store.add_article(_article("a2", "Other", "Other text"), None)
                raise RuntimeError("crash in the middle of a batch")
        assert store.count("articles") == 1
        assert store.has_article("a1") and not store.has_article("a2")


def test_full_text_search_ignores_accents(store_url):
    with Store.open(store_url) as store:
        _put(store, _article("a1", "Ženeva pregovori", "Pregovori u Ženevi o Siriji", lang="hr"), "s1")
        _put(store, _article("a2", "Football", "A football match report"), "s2")
        hits = search(store, "zenevi")
        assert [h["id"] for h in hits] == ["a1"]


def test_merged_story_id_still_resolves(store_url):
    with Store.open(store_url) as store:
        _put(store, _article("a1", "Aleppo truce", "text one", day=1), "s-old")
        _put(store, _article("a2", "Aleppo truce extended", "text two", day=2), "s-new")
        with store.transaction():
            store.merge_story("s-new", "s-old")
            store.refresh_stories(["s-old"])
        assert store.resolve_story("s-new") == "s-old"
        detail = story_detail(store, "s-new")
        assert detail["id"] == "s-old" and detail["size"] == 2
        assert detail["aliases"] == ["s-new"]
        assert [s["id"] for s in list_stories(store)["stories"]] == ["s-old"]
        with pytest.raises(NotFound):
            store.resolve_story("s-missing")


def test_embedding_cache_round_trip(store_url):
    with Store.open(store_url) as store:
        vector = np.arange(4, dtype=np.float32)
        with store.transaction():
            store.cache_embeddings("m", {"k1": vector})
        found = store.cached_embeddings(["k1", "k2"])
        assert list(found) == ["k1"] and np.array_equal(found["k1"], vector)


def test_stored_entity_keeps_its_name_and_gains_missing_coordinates(store_url):
    with Store.open(store_url) as store:
        with store.transaction():
            store.upsert_entities([Entity("geo:163843", "LOC", "Syria", 163843, "SY")])  # stored without a point
        with store.transaction():
            store.upsert_entities([Entity("geo:163843", "LOC", "Sirija", 163843, "SY", 35.0, 38.5)])
        with store.transaction():
            store.upsert_entities([Entity("geo:163843", "LOC", "Syrie", 163843, "SY", 1.0, 2.0)])
        row = store.conn.execute("SELECT name, lat, lon FROM entities WHERE id = 'geo:163843'").fetchone()
        assert tuple(row) == ("Syria", 35.0, 38.5)


def test_a_title_mention_keeps_its_in_title_mark(store_url):
    """Offsets of a mention found in the title index the title, not the text: the store says so."""
    with Store.open(store_url) as store:
        article = _article("a1", "Aleppo under fire", "Russian jets struck the city again.")
        article.analysis.mentions = [Mention("geo:170063", "LOC", "Aleppo", 0, 6, in_title=True),
                                     Mention("geo:2017370", "LOC", "Russian", 0, 7)]
        article.analysis.entities["geo:2017370"] = Entity("geo:2017370", "LOC", "Russia", 2017370, "RU")
        _put(store, article, "s1")
        detail = article_detail(store, "a1")["mentions"]
        assert [(m["text"], m["in_title"]) for m in detail] == [("Aleppo", True), ("Russian", False)]
        back = {m.text: m.in_title for m in load_article(store, "a1").analysis.mentions}
        assert back == {"Aleppo": True, "Russian": False}


def test_mentions_of_a_version_3_store_read_as_text_mentions(tmp_path):
    import tidings.store as store_module

    path = tmp_path / "v3.db"
    conn = sqlite3.connect(path)
    conn.executescript("BEGIN;" + ";".join(store_module.MIGRATIONS[:3]) + "; PRAGMA user_version = 3;")
    conn.execute("INSERT INTO mentions(article_id, entity_id, label, text, start, end) VALUES ('a', 'e', 'PER', 'X', 0, 1)")
    conn.commit()
    conn.close()
    with Store.open(path) as store:
        assert store.conn.execute("SELECT in_title FROM mentions").fetchone()[0] == 0


def test_read_only_store_refuses_writes(tmp_path):
    path = tmp_path / "t.db"
    Store.open(path).close()
    with Store.open(path, read_only=True) as store:
        with pytest.raises(StoreError):
            with store.transaction():
                pass
    with pytest.raises(StoreError, match="no such store"):
        Store.open(tmp_path / "missing.db", read_only=True)


def test_story_pagination_with_cursor(store_url):
    with Store.open(store_url) as store:
        for day in range(1, 6):
            _put(store, _article(f"a{day}", f"Story {day}", f"text {day}", day=day), f"s{day}")
        first = list_stories(store, limit=2)
        assert [s["id"] for s in first["stories"]] == ["s5", "s4"]
        second = list_stories(store, limit=2, cursor=first["next_cursor"])
        assert [s["id"] for s in second["stories"]] == ["s3", "s2"]
        third = list_stories(store, limit=2, cursor=second["next_cursor"])
        assert [s["id"] for s in third["stories"]] == ["s1"] and third["next_cursor"] is None


def test_older_store_is_migrated_even_when_opened_for_reading(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript("BEGIN;" + __import__("tidings.store").store.MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    conn.commit()
    conn.close()
    with Store.open(path, read_only=True) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.count("articles") == 0


def test_signatures_since_a_time_and_the_newest_publication(store_url):
    with Store.open(store_url) as store:
        assert store.newest_published() is None
        _put(store, _article("a1", "Early", "text one", day=1), "s1")
        _put(store, _article("a2", "Late", "text two", day=20), "s2")
        _put(store, _article("a3", "Middle", "text three", day=10), "s3")
        with store.transaction():
            for aid in ("a2", "a1", "a3"):
                store.add_signature(aid, aid.encode())
        assert store.newest_published() == datetime(2016, 10, 20, tzinfo=timezone.utc)
        assert [a for a, _ in store.signatures()] == ["a2", "a1", "a3"]  # in the order added
        assert [a for a, _ in store.signatures(datetime(2016, 10, 10, tzinfo=timezone.utc))] == ["a2", "a3"]


def test_top_entities_of_a_page_equal_those_of_each_story(store_url, api_store_builder):
    from tidings.queries import top_entities, top_entities_of

    api_store_builder(store_url)
    with Store.open(store_url, read_only=True) as store:
        ids = [r[0] for r in store.conn.execute("SELECT id FROM stories ORDER BY id")]
        assert len(ids) >= 4
        for limit in (1, 2, 5):
            batched = top_entities_of(store, ids, limit=limit)
            assert batched == {sid: top_entities(store, sid, limit=limit) for sid in ids}
        assert any(len(v) >= 2 for v in top_entities_of(store, ids, limit=5).values())
