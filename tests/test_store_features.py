"""The features merged beside PostgreSQL hold on both backends (``store_url``: SQLite, then a real
PostgreSQL server): trust's input keys and external ids, dates' date_source, alerts evaluated in the
batch's transaction and delivered to a real webhook on loopback, watch's sources and fetched URLs,
the search tables, and tidings check and backup."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tidings.models import Article, Document
from tidings.store import Store
from tidings.watch import alerts

from test_alerts import SETTINGS, T0, Receiver, put   # the alert tests' helpers: the same writes


def test_input_keys_flags_external_ids_and_date_source(store_url):
    with Store.open(store_url) as store:
        with store.transaction():
            raw = store.add_raw(Document(source="a.txt", raw=b"x", content_type="text", text="x"), "key-a")
            store.add_article(Article(id="a1", source="a.txt", title="T", text="x", lang="en", lang_confidence=0.9,
                                      published_at=T0, content_hash="h1", external_id="ext-1",
                                      flags=["truncated"], date_source="ingest-time", summary_only=True,
                                      story_id="s1"), raw)
            store.refresh_stories(["s1"])
        assert store.has_input("key-a") and not store.has_input("key-b")
        assert store.article_with_external_id("ext-1", "other-hash") == "a1"
        assert store.article_with_external_id("ext-1", "h1") is None
        row = store.article_row("a1")
        assert (row["flags"], row["date_source"], row["summary_only"]) == ("truncated", "ingest-time", 1)
        assert store.newest_published() == T0   # only undated articles: the clock falls back to them


def test_alert_events_once_and_delivered_to_a_real_webhook(store_url):
    receiver = Receiver()
    try:
        with Store.open(store_url) as store:
            alerts.add_alert(store, "izmir", q="Izmir", min_languages=1, notify=[receiver.url], growth=2)
            put(store, "s-1", "a1", "en", 0)
            put(store, "s-1", "a2", "tr", 1)
            with store.transaction():   # the same state evaluated again: no event twice
                assert alerts.evaluate(store, ["s-1"], SETTINGS) == []
            kinds = [r[0] for r in store.conn.execute("SELECT kind FROM alert_events ORDER BY id")]
            assert kinds == ["new", "language"]
            counts = alerts.deliver_pending(store, SETTINGS, now=T0 + timedelta(hours=2))
            assert counts["sent"] == 2 and len(receiver.posts) == 2
            assert alerts.list_alerts(store)[0]["deliveries"]["sent"] == 2
    finally:
        receiver.close()


def test_watch_sources_and_fetched_urls(store_url):
    now = datetime(2026, 3, 3, tzinfo=timezone.utc)
    with Store.open(store_url) as store:
        with store.transaction():
            sid = store.add_source("https://example.org/feed", "feed", every_seconds=600, name="Ex", tags=["a"], now=now)
            assert store.add_source("https://example.org/feed", "feed", every_seconds=60) is None
        assert isinstance(sid, int)
        with store.transaction():
            store.update_source(sid, paused=1, next_due=now + timedelta(hours=1), tags=["a", "b"])
            store.record_fetched("https://example.org/1", status="stored", source_id=sid,
                                 final_url="https://example.org/one", article_id="a1", now=now)
        source = store.source(sid)
        assert source["paused"] is True and source["tags"] == ["a", "b"] and source["name"] == "Ex"
        assert store.seen_urls(["https://example.org/one", "https://example.org/2"]) == {"https://example.org/one"}
        assert store.source_article_counts(now - timedelta(days=1)) == {sid: 1}
        with store.transaction():
            assert store.remove_source(sid) is True
        assert store.sources() == []


def test_maintenance_works_on_postgresql(pg_url, tmp_path):
    # (refused with T301 before check and backup were ported: tests/test_store_pg_ops.py has the rest)
    from tidings.maintenance import backup, check

    with Store.open(pg_url) as store:
        report = check(store)
        assert report.ok and "sqlite_quick_check" not in {f.name for f in report.findings}
        assert backup(store, tmp_path / "copy.dump")["format"] == "pg_dump-custom"