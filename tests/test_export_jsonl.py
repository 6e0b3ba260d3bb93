"""export --format jsonl (issue #15 point 4): one full article a line in news-please's shape,
every field documented, streamed in bounded memory."""

from __future__ import annotations

import io
import json
import re
import tracemalloc
from datetime import datetime, timedelta, timezone

import pytest

from conftest import ROOT, build_api_store
from tidings.export import export
from tidings.export_jsonl import FIELDS
from tidings.store import Store


@pytest.fixture(scope="module")
def lines(tmp_path_factory):
    db = tmp_path_factory.mktemp("jsonl") / "t.db"
    build_api_store(db)
    buffer = io.StringIO()
    with Store.open(db, read_only=True) as store:
        count = export(store, "jsonl", buffer)
    records = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert count == len(records) == 5
    return {r["id"]: r for r in records}


def test_one_full_article_a_line(lines):
    en = lines["a-en1"]
    assert tuple(en) == FIELDS
    assert en["title"] == "Russia announces humanitarian corridors in Aleppo"
    assert en["maintext"].startswith("Aleppo corridors were announced in Moscow.")
    assert en["language"] == "en" and en["date_publish"] == "2016-10-20 09:30:00"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", en["date_download"])
    assert en["url"] == "https://example.org/en/aleppo" and en["source_domain"] == "example.org"
    assert en["outlet"] == "Example News"
    assert en["story"] == {"id": "s-aleppo", "title": en["story"]["title"]} and en["story"]["title"]
    putin = next(e for e in en["entities"] if e["id"] == "per:putin")
    assert putin["label"] == "PER" and putin["name"] == "Vladimir Putin"
    assert putin["mentions"] == [{"text": "Putin", "start": 45, "end": 50, "in_title": False}]
    aleppo = next(p for p in en["places"] if p["id"] == "geo:170063")
    assert (aleppo["geonames_id"], aleppo["country"], aleppo["lat"], aleppo["lon"]) == (170063, "SY", 36.20124, 37.16117)
    assert en["dates"] == [{"text": "18 October", "start": "2016-10-18", "end": "2016-10-18", "granularity": "day"}]
    assert en["quotes"] == [{"text": "We will not resume strikes", "speaker": "Putin", "speaker_id": "per:putin"}]
    assert all(p["id"] != "per:putin" for p in en["places"]) and all(e["label"] != "LOC" for e in en["entities"])


def test_merged_story_and_hostile_text_come_out_as_they_are(lines):
    assert lines["a-en2"]["story"]["id"] == "s-aleppo"  # moved with the merge
    assert "<script>" in lines["a-xss"]["title"]  # data, not markup: the consumer escapes
    assert lines["a-hr1"]["source_domain"] is None  # a javascript: URL has no domain


def test_every_field_is_documented():
    text = (ROOT / "docs" / "export.md").read_text(encoding="utf-8")
    missing = [f for f in FIELDS if f"| `{f}` |" not in text]
    assert not missing, f"undocumented in docs/export.md: {missing}"


def _big_store(path, n):
    from tidings.models import Analysis, Article, Entity, Mention
    berlin = Entity("geo:2950159", "LOC", "Berlin", 2950159, "DE", 52.52437, 13.41053)
    with Store.open(path) as store, store.transaction():
        for i in range(n):
            text = f"Report {i} from Berlin. " + "Words of the report. " * 40
            analysis = Analysis(mentions=[Mention(berlin.id, "LOC", "Berlin", len(f"Report {i} from "),
                                                  len(f"Report {i} from ") + 6)], entities={berlin.id: berlin})
            store.add_article(Article(id=f"a{i}", source=f"a{i}.txt", title=f"Report {i}", text=text, lang="en",
                                      lang_confidence=1.0, content_hash=f"h{i}",
                                      published_at=datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=i),
                                      analysis=analysis), None)


class _Sink:
    """A stream that counts what it gets and keeps nothing."""

    def __init__(self):
        self.lines = 0

    def write(self, text):
        self.lines += text.count("\n")


def _peak(db) -> int:
    sink = _Sink()
    with Store.open(db, read_only=True) as store:
        tracemalloc.start()
        export(store, "jsonl", sink)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, sink.lines


def test_streamed_in_bounded_memory(tmp_path, monkeypatch):
    import tidings.export_jsonl
    monkeypatch.setattr(tidings.export_jsonl, "PAGE", 100)
    small, big = tmp_path / "small.db", tmp_path / "big.db"
    _big_store(small, 200)
    _big_store(big, 1500)
    (peak_small, n_small), (peak_big, n_big) = _peak(small), _peak(big)
    assert (n_small, n_big) == (200, 1500)
    # 7.5 times the articles (1.3 MB of text) but pages of 100: the peak does not grow with the store
    assert peak_big < 1.3 * peak_small + 100_000, (peak_small, peak_big)
