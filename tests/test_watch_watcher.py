"""The watcher end to end: a local news site whose feeds grow with a fake clock, the real pipeline
and store. Each new article is fetched once and stored once (across restarts), with the page's
full text; 304s are counted; a failing source backs off while the others keep their schedule."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from watchsite import Clock, Route, Site, START, make_story, site_settings

from tidings.config import Settings
from tidings.pipeline import Monitor, Pipeline
from tidings.queries import article_detail
from tidings.store import parse_iso
from tidings.watch import Watcher, add_sources, list_sources


@pytest.fixture(scope="module")
def pipeline():
    """One pipeline (models loaded once) shared by the monitors of this module."""
    shared = Pipeline(Settings.load(env={}, overrides=site_settings()))
    yield shared
    shared.close()


@pytest.fixture()
def site():
    site = Site(Clock()).start()
    yield site
    site.stop()


def _monitor(db: Path, pipeline: Pipeline, **watch) -> Monitor:
    monitor = Monitor(db, Settings.load(env={}, overrides=site_settings(**watch)))
    monitor.pipeline = pipeline
    return monitor


def _articles(monitor: Monitor) -> list[dict]:
    return [dict(r) for r in monitor.store.conn.execute("SELECT * FROM articles ORDER BY published_at")]


def test_growing_feed_fetched_once_stored_once_with_full_text(tmp_path, site, pipeline):
    stories = [make_story(n, START + timedelta(minutes=20 * n)) for n in range(4)]
    links = site.feed("/world/feed.xml", stories)
    db = tmp_path / "w.db"
    with _monitor(db, pipeline) as monitor:
        add_sources(monitor.store, [site.base + "/world/feed.xml"], every="15m", now=site.clock())
        with Watcher(monitor, clock=site.clock) as watcher:
            first = watcher.run_once()
            assert (first.sources, first.pages, len(first.added)) == (1, 1, 1)
            assert watcher.run_once().sources == 0  # not due yet
            site.clock.advance(minutes=15)
            unchanged = watcher.run_once()  # the feed has not grown: 304
            assert unchanged.not_modified == 1 and unchanged.pages == 0
            site.clock.advance(minutes=30)  # two more entries appear
            grown = watcher.run_once()
            assert grown.pages == 2 and len(grown.added) == 2
    # a restart: a new monitor and watcher on the same store fetch nothing they had
    site.clock.advance(minutes=30)
    with _monitor(db, pipeline) as monitor, Watcher(monitor, clock=site.clock) as watcher:
        again = watcher.run_once()
        assert again.pages == 1 and len(again.added) == 1
        site.clock.advance(minutes=15)
        assert watcher.run_once().not_modified == 1
        stored = _articles(monitor)
        health = list_sources(monitor.store, now=site.clock())[0]
    page_paths = [p for p in site.paths("/world/a/")]
    assert sorted(page_paths) == sorted(link.removeprefix(site.base) for link in links)  # each page once
    assert len(stored) == 4 and len({a["url"] for a in stored}) == 4
    for story, article in zip(stories, stored):
        assert article["title"] == story.title
        assert story.marker in article["text"]  # the page's full text, not the feed's summary
        assert article["summary_only"] == 0
        assert parse_iso(article["published_at"]) == story.published  # the feed entry's date
    assert (health["fetches"], health["not_modified"], health["last_status"]) == (5, 2, 304)
    assert health["articles_24h"] == 4 and health["errors_in_row"] == 0 and health["kind"] == "feed"
    assert site.count("/robots.txt") == 2  # once per process (cached for watch.robots_ttl)


def test_unavailable_or_disallowed_page_keeps_the_summary(tmp_path, site, pipeline):
    site.routes["/robots.txt"] = Route(body=b"User-agent: *\nDisallow: /members/\n", content_type="text/plain")
    stories = [make_story(n, START) for n in range(3)]
    links = site.feed("/feed.xml", stories, page_prefix="/a/")
    del site.routes[links[1].removeprefix(site.base)]  # a 404
    gone, members = links[1], f"{site.base}/members/{stories[2].slug}.html"
    site.feeds["/feed.xml"][2] = (stories[2], members)  # a page robots.txt forbids
    with _monitor(tmp_path / "w.db", pipeline) as monitor:
        add_sources(monitor.store, [site.base + "/feed.xml"], now=site.clock())
        with Watcher(monitor, clock=site.clock) as watcher:
            report = watcher.run_once()
        assert report.summary_only == 2 and len(report.added) == 3
        by_url = {a["url"]: a for a in _articles(monitor)}
        assert by_url[links[0]]["summary_only"] == 0
        for url, story in ((gone, stories[1]), (members, stories[2])):
            assert by_url[url]["summary_only"] == 1
            assert story.marker not in by_url[url]["text"] and "announced on Monday" in by_url[url]["text"]
        detail = article_detail(monitor.store, by_url[gone]["id"])
        assert detail["summary_only"] is True
    assert f"/members/{stories[2].slug}.html" not in site.paths()  # disallowed: never requested


def test_failing_source_backs_off_while_others_keep_their_schedule(tmp_path, site, pipeline):
    site.feed("/good.xml", [make_story(1, START)], page_prefix="/good/")
    site.routes["/bad.xml"] = Route(status=500)
    site.routes["/busy.xml"] = Route(status=503, headers={"Retry-After": "3600"})
    with _monitor(tmp_path / "w.db", pipeline, backoff_base=300.0, max_errors_in_row=4) as monitor:
        ids = dict((url.rsplit("/", 1)[1], i) for url, i in add_sources(
            monitor.store, [site.base + p for p in ("/good.xml", "/bad.xml", "/busy.xml")], every="5m",
            now=site.clock()))
        with Watcher(monitor, clock=site.clock) as watcher:
            for _ in range(4 * 12):  # 4 hours, a pass every 5 minutes
                watcher.run_once()
                site.clock.advance(minutes=5)
        sources = {s["url"].rsplit("/", 1)[1]: s for s in list_sources(monitor.store, now=site.clock())}
    polls = {name: site.count("/" + name) for name in ("good.xml", "bad.xml", "busy.xml")}
    assert polls["good.xml"] == 48  # every pass, untroubled by the others
    # bad: errors after 0, 5 (backoff 300 s), 10+ (600 s), 20+ (1200 s) minutes: paused at the 4th error
    assert polls["bad.xml"] == 4 and sources["bad.xml"]["paused"] and sources["bad.xml"]["errors_in_row"] == 4
    assert sources["bad.xml"]["last_status"] == 500 and "HTTP 500" in sources["bad.xml"]["last_error"]
    # busy: Retry-After 1 h honoured (backoff 300 s, 600 s, 1200 s are all shorter): one poll an hour
    assert polls["busy.xml"] == 4 and sources["busy.xml"]["paused"]
    assert sources["good.xml"]["errors_in_row"] == 0 and not sources["good.xml"]["paused"]
    assert ids["good.xml"] != ids["bad.xml"]


def test_redirected_and_canonical_urls_are_not_fetched_again(tmp_path, site, pipeline):
    one, two = make_story(1, START), make_story(2, START)
    site.page("/a/one.html", one)
    site.routes["/go/one"] = Route(status=301, headers={"Location": "/a/one.html"})
    site.page("/amp/two.html", two, canonical=f"{site.base}/a/two.html")
    site.page("/a/two.html", two)
    first = site.feed("/first.xml", [one, two], pages=False)
    site.feeds["/first.xml"][:] = [(one, f"{site.base}/go/one"), (two, f"{site.base}/amp/two.html")]
    site.feed("/second.xml", [one, two], pages=False)
    site.feeds["/second.xml"][:] = [(one, f"{site.base}/a/one.html"), (two, f"{site.base}/a/two.html")]
    assert first
    with _monitor(tmp_path / "w.db", pipeline) as monitor:
        add_sources(monitor.store, [site.base + "/first.xml"], now=site.clock())
        with Watcher(monitor, clock=site.clock) as watcher:
            assert len(watcher.run_once().added) == 2
            add_sources(monitor.store, [site.base + "/second.xml"], now=site.clock())
            later = watcher.run_once()
        assert later.sources == 1 and later.pages == 0 and later.added == []
        urls = sorted(a["url"] for a in _articles(monitor))
    assert urls == [f"{site.base}/a/one.html", f"{site.base}/a/two.html"]  # final and canonical URLs
    assert "/a/two.html" not in site.paths() and site.count("/a/one.html") == 1


def test_news_sitemap_index_and_home_page_discovery(tmp_path, site, pipeline):
    stories = [make_story(n, START + timedelta(hours=n)) for n in (5, 6, 7)]
    for story in stories:
        site.page(f"/n/{story.slug}.html", story)
    urls = "".join(
        f"<url><loc>{site.base}/n/{s.slug}.html</loc><news:news><news:publication><news:language>en</news:language>"
        f"</news:publication><news:publication_date>{s.published.isoformat()}</news:publication_date>"
        f"<news:title>{s.title}</news:title></news:news></url>" for s in stories[:2])
    site.routes["/news-sitemap.xml"] = Route(
        body=(f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
              f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{urls}</urlset>').encode(),
        content_type="application/xml")
    site.routes["/sitemap_index.xml"] = Route(
        body=(f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
              f'<sitemap><loc>{site.base}/news-sitemap.xml</loc></sitemap></sitemapindex>').encode(),
        content_type="application/xml")
    site.feed("/blog/rss", stories[2:], page_prefix="/n/")
    site.clock.advance(hours=8)  # all three published
    site.routes["/"] = Route(body=b'<html><head><title>Home</title><link rel="alternate" '
                                  b'type="application/rss+xml" href="/blog/rss"></head><body>Hi</body></html>')
    with _monitor(tmp_path / "w.db", pipeline) as monitor:
        add_sources(monitor.store, [site.base + "/sitemap_index.xml", site.base + "/"], now=site.clock())
        with Watcher(monitor, clock=site.clock) as watcher:
            report = watcher.run_once()
        assert len(report.added) == 3 and report.summary_only == 0
        sources = {s["url"]: s for s in list_sources(monitor.store, now=site.clock())}
        stored = {a["title"]: a for a in _articles(monitor)}
    assert sources[site.base + "/sitemap_index.xml"]["kind"] == "sitemap"
    assert sources[site.base + "/"]["kind"] == "page"
    assert sources[site.base + "/"]["feed_url"] == site.base + "/blog/rss"
    for story in stories:
        assert parse_iso(stored[story.title]["published_at"]) == story.published
        assert story.marker in stored[story.title]["text"]


def test_folder_source_ingests_new_files_only(tmp_path, site, pipeline):
    folder = tmp_path / "inbox"
    folder.mkdir()
    one, two = make_story(1, START), make_story(2, START)
    (folder / "one.txt").write_text(one.title + "\n\n" + "\n\n".join(one.paragraphs), encoding="utf-8")
    with _monitor(tmp_path / "w.db", pipeline) as monitor:
        add_sources(monitor.store, [str(folder)], every="1m", now=site.clock())
        with Watcher(monitor, clock=site.clock) as watcher:
            assert len(watcher.run_once().added) == 1
            site.clock.advance(minutes=1)
            assert watcher.run_once().entries == 0
            (folder / "two.txt").write_text(two.title + "\n\n" + "\n\n".join(two.paragraphs), encoding="utf-8")
            site.clock.advance(minutes=1)
            report = watcher.run_once()
        assert report.entries == 1 and len(report.added) == 1
        assert sorted(a["title"] for a in _articles(monitor)) == sorted([one.title, two.title])
        assert list_sources(monitor.store, now=site.clock())[0]["articles_24h"] == 2
    assert site.requests == []


def test_private_address_refused_with_the_setting_off(tmp_path, site, pipeline):
    site.feed("/feed.xml", [make_story(1, START)])
    settings = Settings.load(env={}, overrides={"ingest": {"allow_private_addresses": False}})
    with Monitor(tmp_path / "w.db", settings) as monitor:
        monitor.pipeline = pipeline
        add_sources(monitor.store, [site.base + "/feed.xml"], now=site.clock())
        with Watcher(monitor, clock=site.clock) as watcher:
            report = watcher.run_once()
        health = list_sources(monitor.store, now=site.clock())[0]
    assert report.failed == 1 and report.added == []
    assert "non-public address" in health["last_error"] and site.base in health["last_error"]
    assert health["errors_in_row"] == 1 and health["last_status"] is None
    assert site.requests == []


def test_ingest_of_a_feed_url_fetches_the_article_pages(tmp_path, site, pipeline):
    stories = [make_story(n, START) for n in (3, 4)]
    links = site.feed("/feed.xml", stories)
    del site.routes[links[1].removeprefix(site.base)]
    with _monitor(tmp_path / "w.db", pipeline) as monitor:
        report = monitor.ingest([site.base + "/feed.xml"])
        assert len(report.added) == 2 and not report.errors
        by_url = {a["url"]: a for a in _articles(monitor)}
    assert stories[0].marker in by_url[links[0]]["text"] and by_url[links[0]]["summary_only"] == 0
    assert stories[1].marker not in by_url[links[1]]["text"] and by_url[links[1]]["summary_only"] == 1


def test_a_stop_finishes_the_pages_in_hand_and_leaves_the_rest_for_next_time(tmp_path, site, pipeline):
    import threading

    stories = [make_story(n, START - timedelta(minutes=n)) for n in range(3)]  # newest first: 0, 1, 2
    links = site.feed("/feed.xml", stories)
    first_page = links[0].removeprefix(site.base)
    release = threading.Event()
    site.routes[first_page].hold = release
    stop = threading.Event()

    def stop_when_the_first_page_is_asked() -> None:
        while first_page not in site.paths():
            time.sleep(0.01)
        stop.set()
        time.sleep(0.3)
        release.set()

    with _monitor(tmp_path / "w.db", pipeline, concurrency=1) as monitor:
        add_sources(monitor.store, [site.base + "/feed.xml"], now=site.clock())
        with Watcher(monitor, clock=site.clock) as watcher:
            threading.Thread(target=stop_when_the_first_page_is_asked, daemon=True).start()
            stopped = watcher.run_once(stop=stop)
            assert stopped.interrupted and stopped.pages == 1 and len(stopped.added) == 1
            assert [a["url"] for a in _articles(monitor)] == [links[0]]
            assert watcher.due_sources()  # due again at once, not after its interval
            rest = watcher.run_once()
        assert rest.pages == 2 and len(rest.added) == 2
    assert [site.count(link.removeprefix(site.base)) for link in links] == [1, 1, 1]


def test_entries_over_the_per_poll_limit_come_next_time_not_after_a_change(tmp_path, site, pipeline):
    stories = [make_story(n, START - timedelta(minutes=n)) for n in range(3)]
    site.feed("/feed.xml", stories)
    with _monitor(tmp_path / "w.db", pipeline, max_entries_per_poll=2) as monitor:
        add_sources(monitor.store, [site.base + "/feed.xml"], every="5m", now=site.clock())
        with Watcher(monitor, clock=site.clock) as watcher:
            assert watcher.run_once().pages == 2
            site.clock.advance(minutes=5)
            rest = watcher.run_once()  # the feed did not change, yet it is read again (no 304)
            assert rest.pages == 1 and rest.not_modified == 0
            site.clock.advance(minutes=5)
            assert watcher.run_once().not_modified == 1


def test_an_article_stored_by_ingest_is_not_fetched_by_the_watcher(tmp_path, site, pipeline):
    story = make_story(9, START)
    [link] = site.feed("/feed.xml", [story])
    with _monitor(tmp_path / "w.db", pipeline) as monitor:
        assert len(monitor.ingest([link]).added) == 1  # `tidings ingest URL` of the page itself
        add_sources(monitor.store, [site.base + "/feed.xml"], now=site.clock())
        with Watcher(monitor, clock=site.clock) as watcher:
            report = watcher.run_once()
        assert report.entries == 0 and report.pages == 0
    assert site.count(link.removeprefix(site.base)) == 1
