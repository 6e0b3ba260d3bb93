"""Publication dates for undated inputs: metadata, feed, URL, dateline, --default-date, ingest time;
date_source stored and shown in the CLI, the API and the article page."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from tidings.models import Document
from tidings.pubdate import date_from_dateline, date_from_url, publication_date

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=timezone.utc)


def noon(y, m, d):
    return datetime(y, m, d, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("url, expected", [
    ("https://example.com/world/2016/10/28/aleppo-corridors", noon(2016, 10, 28)),
    ("https://example.com/news/2016-10-28/aleppo", noon(2016, 10, 28)),
    ("https://example.com/2016/1/5/x.html", noon(2016, 1, 5)),
    ("https://example.com/2016/10/aleppo", None),          # no day
    ("https://example.com/story/20161028", None),          # a bare number is an id, not a date
    ("https://example.com/2016/13/01/x", None),            # no 13th month
    ("https://example.com/2016/02/30/x", None),            # no 30 February
    ("https://example.com/2027/01/01/x", None),            # after the ingest time
    ("https://2016.example.com/10/28/x", None),            # the host is not the path
    (None, None),
])
def test_date_in_the_url(url, expected):
    assert date_from_url(url, NOW) == expected


@pytest.mark.parametrize("text, lang, expected", [
    ("ZAGREB, 8. ožujka 2026 – Vlada je u nedjelju", "hr", noon(2026, 3, 8)),
    ("MOSCOW, Aug. 3 (Reuters) - Russia said on Monday", "en", noon(2026, 8, 3)),
    ("PARIS, 5 mars 2026 (AFP) - Le gouvernement", "fr", noon(2026, 3, 5)),
    ("Madrid, 28 de octubre de 2016 (EFE).- El Gobierno", "es", noon(2016, 10, 28)),
    ("Beirut, 23 mar (EFE).- Cinco hermanos", "es", noon(2026, 3, 23)),
    ("ROMA, 28 ottobre 2016 - Il governo", "it", noon(2016, 10, 28)),
    ("BERLIN, 3. März 2026 (dpa) - Die Regierung", "de", noon(2026, 3, 3)),
    ("МОСКВА, 3 марта – Президент", "ru", noon(2026, 3, 3)),
    ("New York, 25 ago. (askanews) - Un'indagine", "it", noon(2026, 8, 25)),
    # a dateline without a year: the latest such day not after the ingest time (never next year)
    ("MOSCOW, Dec. 20 (Reuters) - Russia", "en", noon(2025, 12, 20)),
])
def test_dateline_in_several_languages(text, lang, expected):
    assert date_from_dateline(text, lang, NOW) == expected


@pytest.mark.parametrize("text, lang", [
    ("WASHINGTON (AP) — The Senate voted", "en"),            # a dateline without a date
    ("The president said, on Tuesday - nothing", "en"),      # not a place: lower-case words
    ("Manifestantes, 25 de enero.\nDesde reportes", "es"),   # no dash or colon after the date
    ("Zagreb, 300.000 ljudi – prosvjed", "hr"),               # a number, not a date
    ("Lyon, mardi – la bibliothèque", "fr"),                 # a weekday alone
    ("Vlada je 8. ožujka 2026 – odlučila", "hr"),             # a date, but not at the start in the shape
    ("ZAGREB, 8. ožujka 2026. i 9. ožujka – x", "hr"),        # two dates: not one dateline date
    ("ZAGREB, 8. ožujka 2027 – x", "hr"),                     # after the ingest time
])
def test_no_dateline_is_guessed(text, lang):
    assert date_from_dateline(text, lang, NOW) is None


def doc(**kw):
    base = dict(source="x.txt", raw=b"", content_type="text", text="Body text.")
    base.update(kw)
    return Document(**base)


HTML_WITH_META = (b"<html><head><meta property='article:published_time' content='2016-10-20T10:00:00+02:00'>"
                  b"<title>T</title></head><body><article><p>Text of the article.</p></article></body></html>")


@pytest.mark.parametrize("document, default, expected", [
    (doc(published_at=datetime(2016, 10, 20, 8, tzinfo=timezone.utc), content_type="jsonl"), None,
     (datetime(2016, 10, 20, 8, tzinfo=timezone.utc), "metadata")),
    (doc(published_at=datetime(2016, 10, 20, 8, tzinfo=timezone.utc), content_type="feed"), None,
     (datetime(2016, 10, 20, 8, tzinfo=timezone.utc), "feed")),
    # a watcher that took the date from the feed entry says so on an HTML document
    (doc(published_at=datetime(2016, 10, 20, 8, tzinfo=timezone.utc), content_type="html", date_source="feed"),
     None, (datetime(2016, 10, 20, 8, tzinfo=timezone.utc), "feed")),
    # an HTML page handed over without a date: htmldate reads its metadata
    (doc(content_type="html", raw=HTML_WITH_META, url="https://example.com/2015/01/01/x"), None,
     (datetime(2016, 10, 20, 8, tzinfo=timezone.utc), "metadata")),
    (doc(url="https://example.com/2016/10/28/x", text="ZAGREB, 8. ožujka 2016 – x"), None,
     (noon(2016, 10, 28), "url")),
    (doc(text="ZAGREB, 8. ožujka 2016 – Vlada"), datetime(2020, 1, 1, tzinfo=timezone.utc),
     (noon(2016, 3, 8), "dateline")),
    (doc(), datetime(2020, 1, 1), (datetime(2020, 1, 1, tzinfo=timezone.utc), "given")),
    (doc(), None, (NOW, "ingest-time")),
])
def test_order_of_the_date_sources(document, default, expected):
    assert publication_date(document, "hr", now=NOW, default_date=default) == expected


def test_each_rule_can_be_switched_off():
    d = doc(url="https://example.com/2016/10/28/x", text="ZAGREB, 8. ožujka 2016 – x")
    assert publication_date(d, "hr", now=NOW, settings={"url": False})[1] == "dateline"
    assert publication_date(d, "hr", now=NOW, settings={"url": False, "dateline": False})[1] == "ingest-time"


def test_ingested_inputs_record_where_their_date_came_from(tmp_path):
    """Through the real reader and the real pipeline stage (no embedding needed)."""
    from tidings.config import Settings
    from tidings.ingest import read_sources
    from tidings.pipeline import Pipeline

    (tmp_path / "wire.txt").write_text("Strike at the port\n\nHAMBURG, 9. März 2026 – Die Hafenarbeiter streiken.\n",
                                       encoding="utf-8")
    (tmp_path / "plain.txt").write_text("Library reopens\n\nThe library reopens on Saturday.\n", encoding="utf-8")
    settings = Settings.load(env={})
    pipeline = Pipeline(settings)
    got = {}
    for item in read_sources([tmp_path], settings.section("ingest")):
        article = pipeline.prepare(item, default_date=None)
        got[item.source.rsplit("/", 1)[-1]] = (article.published_at, article.date_source)
    assert got["wire.txt"] == (noon(2026, 3, 9), "dateline")
    assert got["plain.txt"][1] == "ingest-time"


@pytest.fixture(scope="module")
def dated_store(tmp_path_factory):
    from tidings.models import Article
    from tidings.store import Store

    path = tmp_path_factory.mktemp("dates") / "d.db"
    with Store.open(path) as store, store.transaction():
        for aid, source in (("a-url", "url"), ("a-line", "dateline"), ("a-now", "ingest-time")):
            a = Article(id=aid, source=f"{aid}.txt", title=f"Title {aid}", text="Text.", lang="en",
                        lang_confidence=0.9, published_at=noon(2016, 10, 28), content_hash="h" + aid,
                        date_source=source, story_id="s-1")
            store.add_article(a, store.add_raw(Document(source=a.source, raw=b"x", content_type="text", text="x")))
            store.set_membership(aid, "s-1", 0.9)
        store.refresh_stories(["s-1"])
    return path


def test_date_source_in_cli_api_and_page(dated_store):
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from tidings.api import create_app
    from tidings.cli import app
    from tidings.config import Settings

    runner = CliRunner()
    result = runner.invoke(app, ["--db", str(dated_store), "article", "a-line"])
    assert result.exit_code == 0, result.output
    assert "date from dateline" in result.output
    result = runner.invoke(app, ["--db", str(dated_store), "article", "a-url", "--json"])
    assert json.loads(result.output)["date_source"] == "url"
    with TestClient(create_app(str(dated_store), Settings.load(env={}))) as client:
        assert client.get("/api/articles/a-now").json()["date_source"] == "ingest-time"
        page = client.get("/articles/a-line").text
        assert "date from dateline" in page
        schema = client.get("/openapi.json").json()["components"]["schemas"]["ArticleDetail"]
        assert "date_source" in schema["properties"]


def test_a_day_without_its_time_gets_the_full_time_from_the_page():
    """trafilatura/htmldate give only the day for some full timestamps (2026-03-05T18:20:00Z)."""
    from conftest import EXAMPLES

    raw = (EXAMPLES / "en_eu_energy_summit.html").read_bytes()
    midnight = datetime(2026, 3, 5, tzinfo=timezone.utc)
    d = doc(content_type="html", raw=raw, published_at=midnight)
    assert publication_date(d, "en", now=NOW) == (datetime(2026, 3, 5, 18, 20, tzinfo=timezone.utc), "metadata")
    # a timestamp of another day in the page is not this article's time
    d = doc(content_type="html", raw=raw, published_at=datetime(2026, 3, 9, tzinfo=timezone.utc))
    assert publication_date(d, "en", now=NOW)[0] == datetime(2026, 3, 9, tzinfo=timezone.utc)


def test_articles_dated_by_the_ingest_time_do_not_set_the_stream_clock(tmp_path):
    from tidings.models import Article
    from tidings.store import Store

    with Store.open(tmp_path / "c.db") as store, store.transaction():
        assert store.newest_published() is None
        for aid, when, source in (("a-undated", NOW, "ingest-time"), ("a-dated", noon(2026, 3, 8), "dateline")):
            store.add_article(Article(id=aid, source=aid, title=aid, text="x", lang="en", lang_confidence=1.0,
                                      published_at=when, content_hash=aid, date_source=source), None)
            if aid == "a-undated":
                assert store.newest_published() == NOW   # only undated ones: their time is all there is
        assert store.newest_published() == noon(2026, 3, 8)
