"""find_dates searches the patterns that need a year or a digit only in the windows that have one
(tidings.dates._NEEDS_YEAR, _NEEDS_DIGIT): the dates found must be exactly those of searching
every window with every pattern."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tidings import dates
from tidings.dates import find_dates

from test_dates_table import ROWS

ROOT = Path(__file__).resolve().parent.parent
CRISIS = ROOT.parent / "shared" / "data" / "crisis_es_fr_it.jsonl"


def _texts() -> list[tuple[str, str, datetime | None]]:
    out = [(lang, sentence, published) for lang, sentence, published, *_ in ROWS]
    for line in (ROOT / "examples" / "sample" / "articles.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        out.append((r.get("lang") or "en", r.get("text") or "", None))
    # numbers next to month and weekday words without a year, and years without months
    out += [("en", "Monday 12 March, then 2015-03-12 and 12.03.2015 or 3/12/2015; in 1999 and since May.", None),
            ("hr", "U ponedjeljak 12. ožujka, od 2015. godine, a 13.3.2015. i sutra.", datetime(2016, 3, 1)),
            ("es", "El lunes 12 de marzo, desde 2015 y ayer; el 3/12/2015 no.", datetime(2016, 3, 1))]
    if CRISIS.is_file():
        with CRISIS.open(encoding="utf-8") as fh:
            for _, line in zip(range(150), fh):
                r = json.loads(line)
                out.append((r["lang"], r["text"], datetime.fromisoformat(r["date"])))
    return out


def test_skipped_windows_hide_no_date(monkeypatch):
    texts = _texts()
    fast = [find_dates(text, lang, published) for lang, text, published in texts]
    monkeypatch.setattr(dates, "_NEEDS_YEAR", frozenset())
    monkeypatch.setattr(dates, "_NEEDS_DIGIT", frozenset())
    every = [find_dates(text, lang, published) for lang, text, published in texts]
    assert sum(map(len, every)) > 100
    assert fast == every


@pytest.mark.parametrize("lang", ["en", "hr", "sr", "de", "es", "fr", "ru", "it", "pt", "sk", "xx"])
def test_the_kinds_said_to_need_a_year_have_one(lang):
    """A pattern of a kind in _NEEDS_YEAR carries the year group; one in _NEEDS_DIGIT a digit."""
    for kind, rx in dates._lang(lang).patterns:
        if kind in dates._NEEDS_YEAR:
            assert r"(?P<year>(?:1[89]|20)\d\d)" in rx.pattern, (lang, kind)
        if kind in dates._NEEDS_DIGIT:
            assert r"\d" in rx.pattern, (lang, kind)
