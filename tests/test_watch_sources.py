"""Sources kept in the store: the `tidings sources` commands, OPML, sitemaps and feed discovery."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from typer.testing import CliRunner

from tidings.cli import app
from tidings.errors import MalformedRecord
from tidings.store import Store
from tidings.watch.sources import discover, read_opml, sitemap_entries, write_opml

runner = CliRunner()

OPML = b"""<?xml version="1.0"?>
<opml version="2.0"><head><title>my feeds</title></head><body>
  <outline text="Croatia">
    <outline text="Index" title="Index.hr" type="rss" xmlUrl="https://www.index.hr/rss" language="hr"/>
    <outline text="HRT" type="rss" xmlUrl="https://vijesti.hrt.hr/rss" category="public,tv"/>
  </outline>
  <outline text="Reuters" type="rss" xmlUrl="https://example.org/reuters.xml"/>
  <outline text="A folder without feeds"/>
</body></opml>"""

NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
 <url><loc>https://example.org/2026/03/02/floods.html</loc>
  <news:news><news:publication><news:name>Example</news:name><news:language>hr</news:language></news:publication>
   <news:publication_date>2026-03-02T07:15:00+01:00</news:publication_date><news:title>Poplave na Savi</news:title></news:news>
 </url>
 <url><loc>https://example.org/about.html</loc><lastmod>2026-02-01</lastmod></url>
 <url><loc>javascript:alert(1)</loc></url>
</urlset>"""

INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
 <sitemap><loc>https://example.org/news-sitemap.xml</loc></sitemap>
 <sitemap><loc>https://example.org/pages-sitemap.xml</loc><lastmod>2026-01-01</lastmod></sitemap>
</sitemapindex>"""


def _cli(db, *args):
    result = runner.invoke(app, ["--db", str(db), *args])
    return result


def test_sources_add_list_remove(tmp_path):
    db = tmp_path / "t.db"
    folder = tmp_path / "inbox"
    folder.mkdir()
    result = _cli(db, "sources", "add", "https://example.org/feed.xml", str(folder), "--every", "30m",
                  "--name", "Example", "--lang", "hr", "--tag", "croatia", "--tag", "local", "--json")
    assert result.exit_code == 0, result.output
    added = json.loads(result.stdout)
    assert [a["added"] for a in added] == [True, True]
    again = json.loads(_cli(db, "sources", "add", "https://example.org/feed.xml", "--json").stdout)
    assert again == [{"target": "https://example.org/feed.xml", "id": None, "added": False}]
    listed = json.loads(_cli(db, "sources", "list", "--json").stdout)
    assert [(s["url"], s["kind"], s["every"], s["name"], s["lang"], s["tags"]) for s in listed] == [
        ("https://example.org/feed.xml", "auto", "30m", "Example", "hr", ["croatia", "local"]),
        (str(folder.resolve()), "folder", "30m", "Example", "hr", ["croatia", "local"])]
    health = listed[0]
    for key in ("last_fetch", "last_status", "next_due", "articles_24h", "errors_in_row", "paused"):
        assert key in health
    assert health["articles_24h"] == 0 and health["paused"] is False and health["last_fetch"] is None
    table = _cli(db, "sources", "list")
    assert table.exit_code == 0 and "┃" in table.stdout  # the table (its width follows the terminal)
    assert _cli(db, "sources", "pause", str(added[0]["id"])).exit_code == 0
    assert json.loads(_cli(db, "sources", "list", "--json").stdout)[0]["paused"] is True
    assert _cli(db, "sources", "resume", str(added[0]["id"])).exit_code == 0
    assert json.loads(_cli(db, "sources", "list", "--json").stdout)[0]["paused"] is False
    assert _cli(db, "sources", "remove", str(added[0]["id"])).exit_code == 0
    assert len(json.loads(_cli(db, "sources", "list", "--json").stdout)) == 1


@pytest.mark.parametrize("args,needle", [
    (["sources", "add", "ftp://example.org/feed"], "neither an http(s) URL nor a local folder"),
    (["sources", "add", "https://example.org/f.xml", "--every", "often"], "not a duration"),
    (["sources", "add", "https://example.org/f.xml", "--kind", "podcast"], "unknown source kind"),
    (["sources", "remove", "42"], "no source with id 42"),
    (["sources", "import", "missing.opml"], "cannot read"),
])
def test_sources_bad_input_is_one_clear_line(tmp_path, args, needle):
    result = _cli(tmp_path / "t.db", *args)
    assert result.exit_code != 0
    assert needle in str(result.exception or result.output)
    with Store.open(tmp_path / "t.db") as store:
        assert store.sources() == []


def test_opml_import_and_export_round_trip(tmp_path):
    db = tmp_path / "t.db"
    path = tmp_path / "feeds.opml"
    path.write_bytes(OPML)
    result = _cli(db, "sources", "import", str(path), "--every", "1h", "--tag", "imported", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(_cli(db, "sources", "list", "--json").stdout)
    assert [(s["url"], s["name"], s["tags"], s["lang"], s["every"]) for s in listed] == [
        ("https://www.index.hr/rss", "Index.hr", ["imported", "Croatia"], "hr", "1h"),
        ("https://vijesti.hrt.hr/rss", "HRT", ["imported", "Croatia", "public", "tv"], None, "1h"),
        ("https://example.org/reuters.xml", "Reuters", ["imported"], None, "1h")]
    exported = _cli(db, "sources", "export")
    assert exported.exit_code == 0
    back = read_opml(exported.stdout.encode("utf-8"), "export")
    assert [(b["url"], b["name"]) for b in back] == [(s["url"], s["name"]) for s in listed]
    assert back[1]["tags"] == ["imported", "Croatia", "public", "tv"]


def test_opml_that_is_not_opml():
    with pytest.raises(MalformedRecord, match="not an OPML file"):
        read_opml(b"<rss><channel/></rss>", "x.opml")
    with pytest.raises(MalformedRecord, match="not an OPML file"):
        read_opml(b"<opml", "x.opml")
    assert "<opml" in write_opml([])


def test_news_sitemap_entries():
    entries, children = sitemap_entries(NEWS_SITEMAP, "https://example.org/sitemap.xml")
    assert children == []
    assert [e.url for e in entries] == ["https://example.org/2026/03/02/floods.html", "https://example.org/about.html"]
    news = entries[0]
    assert news.title == "Poplave na Savi" and news.lang == "hr" and news.date_source == "feed"
    assert news.published_at == datetime(2026, 3, 2, 6, 15, tzinfo=timezone.utc)
    assert entries[1].published_at == datetime(2026, 2, 1, tzinfo=timezone.utc) and entries[1].title is None


def test_sitemap_index_children():
    entries, children = sitemap_entries(INDEX, "https://example.org/sitemap_index.xml")
    assert entries == [] and children == ["https://example.org/news-sitemap.xml",
                                          "https://example.org/pages-sitemap.xml"]


def test_feed_discovery_from_a_home_page():
    html = (b'<html><head><link rel="alternate" type="application/rss+xml" href="/rss/world.xml">'
            b'<link rel="alternate" type="application/atom+xml; charset=utf-8" href="https://example.org/atom">'
            b'<link rel="stylesheet" href="/style.css"></head><body><a href="/about">About</a></body></html>')
    found = discover(html, "https://example.org/")
    assert found == ["https://example.org/rss/world.xml", "https://example.org/atom"]
