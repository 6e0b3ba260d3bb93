"""RSS, Atom and JSON Feed files: one Document per item."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from tidings.errors import EmptyInput, MalformedRecord
from tidings.ingest import read_sources
from tidings.models import Document

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
UTC = timezone.utc


def test_rss_items():
    path = FIXTURES / "feed.rss"
    docs = list(read_sources([path]))
    assert [d.source for d in docs] == [f"{path}#1", f"{path}#2", f"{path}#3"]
    first, second, third = docs
    assert first.title == "Floods on the Sava force evacuations"
    assert first.url == "https://river-daily.example/2024/05/sava-floods"
    assert first.external_id == "https://river-daily.example/?p=101"
    assert first.outlet == "River Daily: World"
    assert first.published_at == datetime(2024, 5, 14, 6, 30, tzinfo=UTC)
    assert first.text == "The Sava river burst its banks near Zagreb on Tuesday.\n\nHundreds of residents were evacuated."
    assert first.raw.startswith(b"<item") and b"p=101" in first.raw and b"p=102" not in first.raw
    assert second.published_at == datetime(2024, 5, 15, 8, 0, tzinfo=UTC)
    assert "&" in second.text and "&amp;" not in second.text
    assert third.title == "Headline only item" and third.text == "" and third.published_at is None
    assert all(d.content_type == "feed" for d in docs)


def test_atom_entry():
    (doc,) = read_sources([FIXTURES / "feed.atom"])
    assert doc.title == "Sava poplavila tri sela kod Zagreba"
    assert doc.url == "https://rijeka-dnevno.example/sava-poplava"
    assert doc.published_at == datetime(2024, 5, 14, 6, 30, tzinfo=UTC)
    assert doc.text.split("\n\n") == ["Rijeka Sava izlila se iz korita kod Zagreba u utorak ujutro.",
                                      "Spasioci su evakuirali više od četiristo stanovnika."]
    assert doc.raw.startswith(b"<entry")


def test_feed_sniffed_from_content(tmp_path):
    path = tmp_path / "feed"
    path.write_bytes((FIXTURES / "feed.atom").read_bytes())
    (doc,) = read_sources([path])
    assert isinstance(doc, Document) and doc.title == "Sava poplavila tri sela kod Zagreba"


def test_empty_and_broken_feeds(tmp_path):
    empty = tmp_path / "empty.rss"
    empty.write_text('<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>',
                     encoding="utf-8")
    broken = tmp_path / "broken.xml"
    broken.write_text("<?xml version='1.0'?><rss><channel><ite", encoding="utf-8")
    empty_item = tmp_path / "item.rss"
    empty_item.write_text("<rss><channel><item><link>https://example.org/</link></item></channel></rss>",
                          encoding="utf-8")
    items = list(read_sources([empty, broken, empty_item]))
    assert [type(i) for i in items] == [EmptyInput, MalformedRecord, EmptyInput]
    assert str(items[0]) == f"{empty}: feed has no items"
    assert str(items[1]).startswith(f"{broken}: malformed feed (")
    assert str(items[2]) == f"{empty_item}#1: feed item has neither title nor text"


def test_json_feed(tmp_path):
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "Example JSON feed",
            "items": [{"id": "1", "url": "https://example.org/1", "title": "First item",
                       "content_html": "<p>Hello <i>world</i>.</p>", "date_published": "2024-05-14T08:30:00+02:00"},
                      {"id": "2", "content_text": "A title-less item.\n\nWith a body."}]}
    path = tmp_path / "feed.json"
    path.write_text(json.dumps(feed), encoding="utf-8")
    first, second = read_sources([path])
    assert first.title == "First item" and first.text == "Hello world."
    assert first.published_at == datetime(2024, 5, 14, 6, 30, tzinfo=UTC)
    assert json.loads(first.raw)["id"] == "1"
    assert second.title == "A title-less item." and second.external_id == "2"
