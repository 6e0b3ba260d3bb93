"""Limits, repairs, encodings, the near-duplicate window and the write lock (issue 14, points 1-3, 6):
the fast parts, without models. The hostile corpus (tests/test_trust_hostile.py) runs them end to end."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from tidings.errors import UnsafeInput
from tidings.ingest import decode_text, decode_utf8_lenient, read_sources
from tidings.limits import Limits, cut, remove_unwanted

HR = ("Poplave u Slavoniji\n\nVodostaj Save i dalje raste, a stanovnici će sutra biti evakuirani. "
      "Župan je rekao da će vojska pomoći u obrani nasipa kod Županje.\n")


def test_cut_at_a_paragraph_or_a_word_never_over_the_limit():
    text = "First paragraph here.\n\nSecond paragraph is longer than the first one."
    assert cut(text, 1000) == text
    assert cut(text, 40) == "First paragraph here.\n\nSecond paragraph"    # at the last space
    assert cut("a" * 90 + "\n\n" + "b" * 50, 100) == "a" * 90                # at the paragraph
    assert cut("word " * 100, 52, mark="…") == ("word " * 10).strip() + "…"
    assert cut("x" * 100, 10) == "x" * 10           # no space near: cut inside the word
    for limit in (1, 5, 17, 33):
        assert len(cut(text, limit, mark="…")) <= limit


def test_remove_unwanted_keeps_text_and_line_breaks():
    text, count = remove_unwanted("a\x00b\tc\nd\x1b[0m\u0085e\ud800f\ufffeg\r\n")
    assert text == "ab\tc\nd[0mefg\r\n" and count == 5
    assert remove_unwanted("Žena će doći 🙂") == ("Žena će doći 🙂", 0)
    assert remove_unwanted(None) == (None, 0)


def test_accepted_date_range():
    limits = Limits.from_settings({"ingest": {"min_date": "1900-01-01", "max_future_days": 2}})
    now = datetime(2026, 12, 6, tzinfo=timezone.utc)
    assert limits.date_in_range(now + timedelta(days=1), now)
    assert not limits.date_in_range(now + timedelta(days=3), now)
    assert not limits.date_in_range(datetime(9999, 12, 31, tzinfo=timezone.utc), now)
    assert not limits.date_in_range(datetime(1066, 10, 14, tzinfo=timezone.utc), now)
    assert limits.date_in_range(datetime(1900, 1, 1, tzinfo=timezone.utc), now)
    from tidings.errors import ConfigError
    with pytest.raises(ConfigError):
        Limits.from_settings({"ingest": {"min_date": "yesterday"}})


def test_mostly_utf8_is_read_as_utf8_with_the_offsets_of_the_bad_bytes():
    data = HR.encode()
    broken = data[:60] + b"\xff" + data[60:]
    text, offsets = decode_utf8_lenient(broken, 0.5)
    assert offsets == [60] and "će" in text and "\ufffd" in text
    bad: list[int] = []
    text, encoding = decode_text(broken, {"encodings": ["cp1252", "cp1250", "cp1251", "latin_1"],
                                          "max_control_ratio": 0.02, "utf8_min_valid_share": 0.5}, bad)
    assert encoding.startswith("utf-8") and bad == [60] and "Д‡" not in text
    # a real cp1250 file is still recognised as cp1250, not "mostly UTF-8"
    assert decode_utf8_lenient(HR.encode("cp1250"), 0.5) is None


def test_text_file_with_bad_bytes_warns_with_file_and_offset(tmp_path):
    path = tmp_path / "hr.txt"
    path.write_bytes(HR.encode()[:60] + b"\xff\xfe" + HR.encode()[60:])
    (doc,) = list(read_sources([path]))
    assert doc.fixes == ["invalid_utf8"] and "će" in doc.text
    assert "byte offsets 60, 61" in doc.warnings[0]


def test_entity_declaring_feed_is_refused(tmp_path):
    path = tmp_path / "laughs.xml"
    path.write_bytes(b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
                     b"<rss><channel><item><title>Laughs &lol2;</title><description>x</description></item>"
                     b"</channel></rss>")
    (item,) = list(read_sources([path]))
    assert isinstance(item, UnsafeInput) and item.code == "T111" and item.source == str(path)


def test_near_duplicate_window_is_not_poisoned_by_a_far_future_date(tmp_path):
    """A store written before the date limits may hold 9999-12-31: the window stays on the ingest clock."""
    import tidings
    from tidings.dedup import Deduplicator
    from tidings.models import Document
    from tidings.store import Store

    db = tmp_path / "w.db"
    now = datetime.now(timezone.utc)
    sig = Deduplicator().signature("the text of a recent article about the floods in the valley")
    with Store.open(db) as store, store.transaction() as conn:
        for article_id, published in (("future", datetime(9999, 12, 31, tzinfo=timezone.utc)),
                                      ("recent", now - timedelta(days=1)), ("old", now - timedelta(days=30))):
            raw = store.add_raw(Document(source=article_id, raw=b"x", content_type="text", text="x"))
            conn.execute("INSERT INTO articles(id, raw_id, source, title, text, lang, lang_confidence, published_at,"
                         " ingested_at, content_hash) VALUES (?,?,?,?,?,?,?,?,?,?)",
                         (article_id, raw, article_id, "t", "x", "en", 1.0, published.strftime("%Y-%m-%dT%H:%M:%SZ"),
                          now.strftime("%Y-%m-%dT%H:%M:%SZ"), article_id))
            store.add_signature(article_id, sig)
    with tidings.open(db) as monitor:
        loaded = set(monitor.dedup._minhashes)
    assert "recent" in loaded and "old" not in loaded


def test_write_lock_serialises_two_connections(tmp_path):
    from tidings.store import Store

    db = tmp_path / "l.db"
    Store.open(db).close()
    events: list[str] = []
    with Store.open(db) as first:
        with first.write_lock():
            events.append("first holds")

            def second() -> None:
                with Store.open(db) as other, other.write_lock():
                    events.append("second holds")

            thread = threading.Thread(target=second)
            thread.start()
            time.sleep(0.3)
            events.append("first releases")
        thread.join(timeout=20)
    assert events == ["first holds", "first releases", "second holds"]


def test_write_lock_times_out_with_a_store_error(tmp_path):
    from tidings.errors import StoreError
    from tidings.store import Store

    db = tmp_path / "t.db"
    Store.open(db).close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with Store.open(db) as store:
            store.conn.execute("PRAGMA busy_timeout = 50")
            with pytest.raises(StoreError, match="write lock"):
                with store.write_lock(timeout=0.3):
                    pass
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_report_counts_and_prints_repairs(capsys):
    from tidings import cli
    from tidings.pipeline import IngestReport

    report = IngestReport()
    report.count_fixes(["control_chars", "text_cut"])
    report.count_fixes(["control_chars"])
    report.warn("x.txt", "2 invalid UTF-8 byte sequences replaced by U+FFFD (at byte offsets 60, 61)")
    data = report.as_dict()
    assert data["fixes"] == {"control_chars": 2, "text_cut": 1}
    assert data["warnings"] == [{"source": "x.txt", "message": report.warnings[0]["message"]}]
    json.dumps(data)
    cli._print_ingest_warnings(report)
    err = capsys.readouterr().err
    assert "warning x.txt: 2 invalid UTF-8" in err and "repaired: control_chars 2, text_cut 1" in err


def test_the_two_million_character_article_is_stored_cut_and_flagged(tmp_path):
    from conftest import need_shared

    crisis = need_shared("data", "crisis_es_fr_it.jsonl")
    line = next(l for l in crisis.read_text(encoding="utf-8").splitlines() if "fr/egypt/2013-08-01/ext_63.txt" in l)
    path = tmp_path / "long.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    import tidings
    from tidings.config import Settings

    settings = Settings.load(env={}, overrides={"ingest": {"max_text_chars": 200_000, "max_analysis_chars": 20_000}})
    with tidings.open(tmp_path / "l.db", settings=settings) as monitor:
        report = monitor.ingest([path])
        assert not report.errors and len(report.added) == 1
        assert report.fixes == {"analysis_cut": 1, "text_cut": 1}
        article = monitor.article(report.added[0])
        assert article["flags"] == ["analysis_cut", "text_cut"] and len(article["text"]) <= 200_000


@pytest.mark.parametrize("value", ["0001-01-01T00:03:00+02:00", "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+0200"])
def test_dates_past_the_ends_of_the_calendar_are_a_value_error(value):
    """bench/fuzz.py found "0001-01-01 00:03:00+02:00": OverflowError in the conversion to UTC,
    which ended the reading of the whole JSONL file instead of that record."""
    from tidings.ingest import parse_datetime

    with pytest.raises(ValueError, match="out of range"):
        parse_datetime(value)
