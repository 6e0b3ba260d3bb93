"""The sources page, the summary-only notice on the article page, and `serve --watch`: the watcher
as a background thread of the server, stopped with it."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient
from watchsite import Clock, Route, Site, START, site_settings

from conftest import parse_html as parse
from tidings.api import create_app
from tidings.config import Settings
from tidings.models import Article, Document
from tidings.store import Store
from tidings.watch import add_sources


@pytest.fixture()
def site():
    site = Site(Clock(START)).start()
    yield site
    site.stop()


def _store_with_sources(db, urls) -> None:
    with Store.open(db) as store:
        add_sources(store, urls, every="10m")


def test_sources_page_shows_each_sources_health(tmp_path):
    db = tmp_path / "w.db"
    _store_with_sources(db, ["https://example.org/feed.xml", "https://example.hr/"])
    with Store.open(db) as store, store.transaction():
        store.update_source(2, paused=1, errors_in_row=10, last_status=500, last_error="https://example.hr/: HTTP 500",
                            last_fetch=datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))
    with TestClient(create_app(str(db), Settings.load(env={}))) as client:
        response = client.get("/sources")
        home = client.get("/")
    assert response.status_code == 200
    doc = parse(response.text)
    rows = [a for t, a in doc.elements if t == "tr" and "data-source-id" in a]
    assert [(r["data-source-id"], r.get("class")) for r in rows] == [("1", None), ("2", "paused")]
    text = " ".join(doc.texts)
    for needle in ("https://example.org/feed.xml", "never", "10m", "HTTP 500", "2026-03-02 09:00", "paused", "active"):
        assert needle in text
    assert ("a", {"href": "/sources", "aria-current": "page"}) in [(t, a) for t, a in doc.elements if t == "a"]
    assert ("a", {"href": "/sources"}) in [(t, a) for t, a in parse(home.text).elements if t == "a"]


def test_article_page_says_summary_only(tmp_path):
    db = tmp_path / "w.db"
    with Store.open(db) as store, store.transaction():
        for aid, summary in (("a-full", False), ("a-summary", True)):
            raw = store.add_raw(Document(source=aid, raw=b"x", content_type="feed", text="x"))
            store.add_article(Article(id=aid, source=aid, title=f"Title {aid}", text="Text.", lang="en",
                                      lang_confidence=1.0, published_at=START, content_hash=aid,
                                      summary_only=summary), raw)
    with TestClient(create_app(str(db), Settings.load(env={}))) as client:
        full, summary = client.get("/articles/a-full"), client.get("/articles/a-summary")
        api = client.get("/api/articles/a-summary").json()
    assert "Summary only" not in full.text and "Summary only" in summary.text
    assert api["summary_only"] is True


@pytest.mark.parametrize("token", ["", "s3cret"])  # read-only server: own monitor; writable: the server's
def test_serve_watch_runs_the_watcher_in_the_server_and_stops_with_it(tmp_path, site, token):
    site.routes["/feed.xml"] = Route(body=b'<?xml version="1.0"?><rss version="2.0"><channel><title>Empty</title>'
                                          b"<link>http://x/</link><description>d</description></channel></rss>",
                                     content_type="application/rss+xml")
    db = tmp_path / "w.db"
    _store_with_sources(db, [site.base + "/feed.xml"])
    overrides = site_settings()
    overrides["server"] = {"token": token}
    settings = Settings.load(env={}, overrides=overrides)
    app = create_app(str(db), settings, read_only=not token, watch=True)
    with TestClient(app) as client:
        thread = app.state.watcher.thread
        deadline = time.monotonic() + 30
        while "/feed.xml" not in site.paths() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # the pass commits the source's health
        doc = parse(client.get("/sources").text)
        assert thread.is_alive()
        assert (app.state.watcher.monitor is app.state.backend._writer) == bool(token)
    assert not thread.is_alive()  # stopped with the server
    text = " ".join(doc.texts)
    assert "polled by this server" in text and "200" in text
    with Store.open(db, read_only=True) as store:
        source = store.sources()[0]
    assert source["kind"] == "feed" and source["fetches"] >= 1 and source["last_status"] == 200


def test_api_lists_the_sources_with_their_health(tmp_path):
    db = tmp_path / "w.db"
    _store_with_sources(db, ["https://example.org/feed.xml"])
    with TestClient(create_app(str(db), Settings.load(env={}))) as client:
        body = client.get("/api/sources").json()
    [source] = body["sources"]
    assert source["url"] == "https://example.org/feed.xml" and source["every"] == "10m"
    assert (source["paused"], source["errors_in_row"], source["articles_24h"], source["last_fetch"]) == (False, 0, 0, None)
