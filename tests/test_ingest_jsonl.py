"""JSON Lines: fields, aliases, malformed lines, and the crisis set's throughput shape."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from conftest import need_shared
from tidings.errors import DecodeError, MalformedRecord, TooLarge
from tidings.ingest import read_sources
from tidings.models import Document

UTC = timezone.utc


def _write(tmp_path, lines, name="x.jsonl"):
    path = tmp_path / name
    path.write_bytes(b"".join((line if isinstance(line, bytes) else line.encode("utf-8")) + b"\n" for line in lines))
    return path


def test_fields_are_mapped(tmp_path):
    record = {"id": 42, "title": "Port strike in Hamburg", "text": "Dock workers went on strike.",
              "url": "https://example.org/a", "source": "Hafenblatt", "lang": "en",
              "published_at": "2026-03-02T10:00:00+02:00", "extra": "ignored"}
    line = json.dumps(record, ensure_ascii=False)
    path = _write(tmp_path, [line])
    (doc,) = read_sources([path])
    assert doc == Document(source=f"{path}:1", raw=line.encode("utf-8"), content_type="jsonl",
                           text="Dock workers went on strike.", title="Port strike in Hamburg",
                           url="https://example.org/a", outlet="Hafenblatt", lang="en",
                           published_at=datetime(2026, 3, 2, 8, 0, tzinfo=UTC), external_id="42")


@pytest.mark.parametrize("value,expected", [
    ("2026-03-02T10:00:00", datetime(2026, 3, 2, 10, 0, tzinfo=UTC)),  # naive = UTC
    ("2026-03-02T10:00:00Z", datetime(2026, 3, 2, 10, 0, tzinfo=UTC)),
    ("2026-03-02", datetime(2026, 3, 2, tzinfo=UTC)),
    (None, None),
])
def test_published_at_is_iso_8601_naive_utc(tmp_path, value, expected):
    path = _write(tmp_path, [json.dumps({"title": "T", "text": "Body.", "published_at": value})])
    (doc,) = read_sources([path])
    assert doc.published_at == expected


def test_date_alias_and_title_from_first_line(tmp_path):
    path = _write(tmp_path, [json.dumps({"id": "es/1", "lang": "es", "date": "2011-01-26",
                                         "text": "Mundo | elmundo.es\nEgipto levanta la ley de emergencia\n"
                                                 "Miles de egipcios fueron juzgados por tribunales militares tras ser detenidos en "
                                                 "protestas callejeras en virtud de la norma, impuesta en 1981."})])
    (doc,) = read_sources([path])
    assert doc.published_at == datetime(2011, 1, 26, tzinfo=UTC)
    assert doc.title == "Egipto levanta la ley de emergencia"  # the site banner is skipped
    assert "Miles de egipcios" in doc.text and "Egipto levanta" not in doc.text


def test_title_only_record_is_valid(tmp_path):
    path = _write(tmp_path, [json.dumps({"id": "t1", "title": "Olympics latest", "lang": "en"})])
    (doc,) = read_sources([path])
    assert isinstance(doc, Document) and doc.title == "Olympics latest" and doc.text == ""


def test_malformed_lines_are_reported_and_the_rest_goes_on(tmp_path):
    path = _write(tmp_path, [
        json.dumps({"title": "One", "text": "First."}),
        "",
        '{"id": "x2", "title": "broken" "text": "no comma"}',
        "[1, 2]",
        json.dumps({"title": "Bad date", "published_at": "yesterday"}),
        json.dumps({"id": "empty"}),
        json.dumps({"title": ["not", "a", "string"]}),
        b'{"title": "caf\xe9"}',
        json.dumps({"title": "Last", "text": "Still read."}),
    ])
    items = list(read_sources([path]))
    messages = [str(i) for i in items if not isinstance(i, Document)]
    assert messages == [
        f"{path}:3: malformed JSON (Expecting ',' delimiter at column 32)",
        f"{path}:4: expected a JSON object, got list",
        f"{path}:5: field 'published_at': not an ISO 8601 date: 'yesterday'",
        f"{path}:6: record has neither 'title' nor 'text'",
        f"{path}:7: field 'title' must be a string, got list",
        f"{path}:8: not UTF-8 (byte 0xe9 at column 15) (JSON Lines files must be UTF-8)",
    ]
    kinds = [type(i) for i in items if not isinstance(i, Document)]
    assert kinds == [MalformedRecord] * 5 + [DecodeError]
    assert [i.title for i in items if isinstance(i, Document)] == ["One", "Last"]


def test_line_over_the_cap(tmp_path):
    path = _write(tmp_path, [json.dumps({"title": "Big", "text": "x" * 2000}), json.dumps({"title": "Small"})])
    items = list(read_sources([path], {"max_bytes": 1000}))
    assert isinstance(items[0], TooLarge) and items[0].source == f"{path}:1"
    assert items[1].title == "Small"


def test_crisis_set_reads_completely():
    path = need_shared("data", "crisis_es_fr_it.jsonl")
    docs = list(read_sources([path]))
    assert len(docs) == 1671 and all(isinstance(d, Document) for d in docs)
    assert all(d.published_at is not None and d.lang in {"es", "fr", "it"} and d.title for d in docs)
    assert docs[0].external_id == "es/egypt/2011-01-26/gv_30.txt"
    assert docs[0].published_at == datetime(2011, 1, 26, tzinfo=UTC)
