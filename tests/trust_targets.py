"""Property targets shared by tests/test_trust_properties.py (few examples, every test run) and
bench/fuzz.py (100,000 examples each). Each target is a hypothesis strategy and a check that
raises AssertionError when a property fails; any other exception is a crash.

Properties:
* cleaner: ``clean`` returns text without carriage returns, never longer than its input's
  non-space content allows, and is stable (cleaning twice changes nothing more);
  ``remove_unwanted`` leaves no control character and is idempotent;
* language: ``detect`` answers a code and a confidence in [0, 1] for any text;
* dates: ``parse_datetime`` returns an aware UTC datetime or raises ValueError, nothing else;
  ``find_dates`` returns mentions whose offsets slice their own text, with start <= end;
* readers: any bytes as .txt, .jsonl, .xml, .html or .json give Documents or InputErrors, never
  an exception; the lenient UTF-8 decoder gives back valid UTF-8 unchanged;
* similarity: the score is in [0, 1] and symmetric.
"""

from __future__ import annotations

import math
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

# Text with the characters hostile inputs are made of: controls, surrogate-free Unicode of all
# scripts, combining marks, RTL, emoji, line breaks of every kind.
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400) | st.text(
    alphabet=st.sampled_from(list("aeiou čćžšđ ЖжЯя αβ مرحبا 🔥 \u0301\u200b\u202e\x00\x07\x1b\r\n\t.,;:!?\"'«»()-–—0123456789")),
    max_size=400)
LANGS = st.sampled_from(["en", "hr", "sr", "fr", "de", "es", "it", "ru", "ar", "zh", "pt", "sl", "und", "xx", ""])


def check_clean(text: str) -> None:
    from tidings.clean import clean
    from tidings.limits import remove_unwanted

    cleaned = clean(text, None)
    assert isinstance(cleaned, str) and "\r" not in cleaned
    assert clean(cleaned, None) == clean(clean(cleaned, None), None)
    stripped, count = remove_unwanted(text)
    assert stripped is not None and count == len(text) - len(stripped)
    assert remove_unwanted(stripped) == (stripped, 0) or not stripped
    assert not any((ord(c) < 32 and c not in "\t\n\r") or 0x7F <= ord(c) <= 0x9F for c in stripped)


def check_language(args: tuple[str, str]) -> None:
    from tidings.language import detect

    text, hint = args
    code, confidence = detect(text, hint=hint or None)
    assert isinstance(code, str) and code and 0.0 <= confidence <= 1.0


DATE_STRINGS = st.one_of(
    st.text(max_size=40),
    st.builds(lambda d, sep, tz: d.isoformat(sep=sep) + tz,
              st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
              st.sampled_from(["T", " "]), st.sampled_from(["", "Z", "+02:00", "-0530", "+25:00", "z"])),
    st.dates().map(str))


def check_parse_datetime(value: str) -> None:
    from tidings.ingest import parse_datetime

    try:
        parsed = parse_datetime(value)
    except ValueError:
        return
    assert parsed is None or (parsed.tzinfo is not None and parsed.utcoffset() == timedelta(0))


def check_find_dates(args: tuple[str, str, datetime]) -> None:
    from tidings.dates import find_dates

    text, lang, published = args
    for mention in find_dates(text, lang or "en", published):
        assert 0 <= mention.start_char <= mention.end_char <= len(text)
        assert text[mention.start_char:mention.end_char] == mention.text
        assert mention.start <= mention.end


DATE_TEXT = st.tuples(
    st.lists(st.sampled_from(["on 12 March 2021", "yesterday", "31. prosinca", "le 3 mai", "12/13/2020", "1999",
                              "last week", "2. 2. 2022.", "vor drei Tagen", "el 5 de junio", "0000", "99999",
                              "31 February 2020", "tomorrow", "sutra", "Monday", "17. 10.", " ", "\n", "x"]),
             max_size=12).map(" ".join) | TEXT,
    LANGS, st.datetimes(min_value=datetime(1901, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)))

READER_INPUT = st.tuples(st.sampled_from([".txt", ".jsonl", ".xml", ".html", ".json", ".rss"]),
                         st.binary(max_size=600) | TEXT.map(lambda t: t.encode("utf-8", "surrogatepass"))
                         | st.sampled_from([b'{"title": "x", "text": "y"}\n', b"\xef\xbb\xbf\xff", b"<rss><item>",
                                            b'<!DOCTYPE x [<!ENTITY a "b">]><rss/>', b"[[[[[[[[[[", b"\x00" * 10]))


def check_reader(args: tuple[str, bytes]) -> None:
    from tidings.errors import InputError
    from tidings.ingest import read_sources
    from tidings.models import Document

    suffix, data = args
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"input{suffix}"
        path.write_bytes(data)
        for item in read_sources([path]):
            assert isinstance(item, (Document, InputError)), item
            if isinstance(item, InputError):
                assert item.code.startswith("T1") and item.source


def check_lenient_utf8(data: bytes) -> None:
    from tidings.ingest import decode_utf8_lenient

    result = decode_utf8_lenient(data, 0.8)
    try:
        exact = data.decode("utf-8")
    except UnicodeDecodeError:
        exact = None
    if exact is not None:
        assert result == (exact, [])
    elif result is not None:
        text, offsets = result
        assert offsets and offsets == sorted(offsets) and all(0 <= o < len(data) for o in offsets)


def _features(seed: int, lang: str, hours: float, entities: frozenset[str]):
    from tidings.models import StoryFeatures

    rng = np.random.default_rng(seed)
    vector = rng.normal(size=16).astype(np.float32)
    if seed % 7 == 0:
        vector[:] = 0.0      # a zero vector: no direction at all
    return StoryFeatures(article_id=f"a{seed}", lang=lang or "und",
                         published_at=datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(hours=hours),
                         embedding=vector, entities=entities, places=frozenset())


FEATURE_PAIRS = st.tuples(
    *[st.builds(_features, st.integers(0, 10_000), LANGS,
                st.floats(-1e5, 1e5, allow_nan=False),
                st.frozensets(st.sampled_from(["per:a", "per:b", "org:c", "geo:1"]), max_size=3))] * 2,
    st.sampled_from([{}, {"entity_weight": 0.3, "time_weight": 0.2, "place_weight": 0.1}]))


def check_similarity(args) -> None:
    from tidings.similarity import similarity

    a, b, settings = args
    ab = similarity(a, b, settings).score
    ba = similarity(b, a, settings).score
    assert 0.0 <= ab <= 1.0 and not math.isnan(ab)
    assert math.isclose(ab, ba, abs_tol=1e-9), (ab, ba)


TARGETS = {
    "cleaner": (TEXT, check_clean),
    "language": (st.tuples(TEXT, LANGS), check_language),
    "parse_datetime": (DATE_STRINGS, check_parse_datetime),
    "find_dates": (DATE_TEXT, check_find_dates),
    "readers": (READER_INPUT, check_reader),
    "lenient_utf8": (st.binary(max_size=300) | TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")), check_lenient_utf8),
    "similarity": (FEATURE_PAIRS, check_similarity),
}
