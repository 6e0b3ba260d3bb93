"""Publication dates for inputs that carry none: where else the date can be read, and from where.

``publication_date(doc, lang, ...)`` returns ``(published_at, date_source)``. It looks, in this
order, and takes the first that answers:

``metadata``
    the date the reader found in the document itself (a JSONL field, the page's
    ``article:published_time`` and the rest trafilatura reads); for an HTML page where trafilatura
    found none, htmldate over the page's markup (no free-text search: it guesses from any date in
    the text, a copyright year or a "related" link);
``feed``
    the feed entry's date (a Document of content type ``feed``, or one a watcher marked
    ``date_source = "feed"``: the article page behind a feed link had no date of its own);
``url``
    a date in the URL path, ``/2016/10/28/`` or ``/2016-10-28/`` (a whole path segment: never a
    bare number, never an id);
``dateline``
    a dateline at the very start of the text, in a known shape: a place in capitals or title case
    (at most four words), a comma, a day with a month name or a numeric day.month.year, an optional
    agency in parentheses, then a dash or colon: ``ZAGREB, 8. ožujka 2026 –``,
    ``MOSCOW, Aug. 3 (Reuters) -``, ``PARIS, 5 mars 2026 (AFP) -``. Month names in every language
    ``tidings.dates`` reads (CLDR names, ``data/names/dates.toml``). A dateline without a year takes
    the latest such day not after the ingest time;
``given``
    the ``--default-date`` of the ingest run (``default_date``);
``ingest-time``
    the time of ingest, when nothing else is known.

Days without a time of day (URL, dateline) are stored at 12:00 UTC: within half a day of the
truth in every time zone from UTC-12 to UTC+12. Dates after the ingest time (plus
``future_tolerance_hours``) are not publication dates and are skipped.
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from .models import Document

log = logging.getLogger(__name__)

__all__ = ["DATE_SOURCES", "publication_date", "date_from_url", "date_from_dateline", "date_from_html"]

DATE_SOURCES = ("metadata", "feed", "url", "dateline", "given", "ingest-time")

_NOON = time(12, 0, tzinfo=timezone.utc)
# /2016/10/28/ or /2016-10-28/ (also at the end of the path, before an extension or query)
_URL_DATE = re.compile(r"/((?:19|20)\d\d)([/-])(0?[1-9]|1[0-2])\2(0?[1-9]|[12]\d|3[01])(?=[/._?#-]|$)")
# Place: one to four words, each capitalised (MOSCOW, New York, SAN JOSÉ, Rio de Janeiro is
# refused: lower-case words are not place words here), then a comma. Optional agency in
# parentheses after the date, then a dash (hyphen, en or em dash, doubled or not) or a colon.
_PLACE_WORD = r"[^\W\d_][\w.'’]*(?:-[^\W\d_][\w.'’]*)?"
_DATELINE = re.compile(
    rf"\A\s*(?P<place>(?:{_PLACE_WORD})(?:[ ](?:{_PLACE_WORD})){{0,3}})"
    r"(?:\s*\((?P<agency0>[^()\n]{1,30})\))?,\s*"
    r"(?P<date>[^()\n–—:]{3,40}?)\s*"
    r"(?:\((?P<agency>[^()\n]{1,30})\)\s*)?(?:\.?\s*)(?:--?|–|—|:)(?:\s|\Z)")
_MONTHLESS = re.compile(r"\d")


def _noon(day: date) -> datetime:
    return datetime.combine(day, _NOON)


def _not_future(when: datetime, now: datetime, tolerance: timedelta) -> bool:
    return when <= now + tolerance


def date_from_url(url: str | None, now: datetime, tolerance: timedelta = timedelta(hours=24)) -> datetime | None:
    """A ``/YYYY/MM/DD/`` or ``/YYYY-MM-DD`` path segment of ``url`` as noon UTC of that day."""
    if not url:
        return None
    path = re.sub(r"^[a-z][a-z0-9+.-]*://[^/]*", "", url, flags=re.I)
    for m in _URL_DATE.finditer(path):
        try:
            day = date(int(m.group(1)), int(m.group(3)), int(m.group(4)))
        except ValueError:
            continue
        when = _noon(day)
        if _not_future(when, now, tolerance):
            return when
    return None


def _place_ok(place: str) -> bool:
    words = place.split()
    # each word starts with a capital letter; a lower-case word ("the", "said") is not a place
    return all(w[0].isupper() for w in words) and len(place) <= 40


def date_from_dateline(text: str, lang: str, now: datetime,
                       tolerance: timedelta = timedelta(hours=24)) -> datetime | None:
    """The date of a dateline opening ``text`` (noon UTC), or None when the text opens otherwise."""
    m = _DATELINE.match(text or "")
    if not m or not _place_ok(m.group("place")):
        return None
    raw = m.group("date").strip().rstrip(",")
    if not _MONTHLESS.search(raw):
        return None   # "Tuesday", "Monday morning": no day number, not a date we can trust
    day = _whole_day(raw, lang, now)
    if day is None and not raw.endswith("."):
        # agencies abbreviate months without the full stop ("23 mar (EFE)", "20 dic"), which the
        # running-text patterns of tidings.dates do not take as months (too many false hits there)
        day = _whole_day(raw + ".", lang, now)
    if day is None:
        return None
    if not re.search(r"(?:19|20)\d\d", raw):
        # no year: the latest such day not after the ingest time (find_dates took the closest)
        while _noon(day) > now + tolerance:
            try:
                day = day.replace(year=day.year - 1)
            except ValueError:   # 29 February
                day = day.replace(year=day.year - 1, day=28)
    when = _noon(day)
    return when if _not_future(when, now, tolerance) else None


def _whole_day(raw: str, lang: str, now: datetime) -> date | None:
    """The day ``raw`` names when one day expression is all of it ("8. ožujka 2026", "Aug. 3")."""
    from .dates import find_dates

    mentions = [d for d in find_dates(raw, lang, now) if d.granularity == "day" and d.start == d.end]
    if len(mentions) != 1:
        return None
    found = mentions[0]
    if (raw[:found.start_char] + raw[found.end_char:]).strip(" .,"):
        return None
    return found.start


# Full timestamps in the page's metadata: htmldate (through trafilatura) returns only the day for
# some of them ("2026-03-05T18:20:00Z" -> 2026-03-05), which would put the article at midnight.
_META_TIMES = re.compile(
    r"(?:property|name|itemprop)\s*=\s*[\"'](?:article:published_time|og:published_time|datePublished|"
    r"pubdate|publish[-_]?date|dc\.date\.issued)[\"'][^>]*?content\s*=\s*[\"']([^\"']{16,40})[\"']"
    r"|\"datePublished\"\s*:\s*\"([^\"]{16,40})\"", re.I)


def precise_time(raw: bytes | str, day: datetime) -> datetime | None:
    """The full publication time in the page's metadata when it falls on ``day`` (a date found
    without its time), else None."""
    from .ingest import parse_datetime

    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else (raw or "")
    for m in _META_TIMES.finditer(text[:200_000]):
        try:
            when = parse_datetime(m.group(1) or m.group(2))
        except ValueError:
            continue
        if when is not None and abs((when - day).total_seconds()) < 36 * 3600 and when.time() != time(0, 0):
            return when
    return None


def date_from_html(raw: bytes | str, now: datetime,
                   tolerance: timedelta = timedelta(hours=24)) -> datetime | None:
    """htmldate over the page's markup (metadata, ``<time>`` elements, structured data), no
    free-text search."""
    if not raw:
        return None
    try:
        from htmldate import find_date

        # url=None: a date in the URL is its own source, tried after the page's metadata
        found = find_date(raw if isinstance(raw, str) else raw.decode("utf-8", "replace"), url=None,
                          extensive_search=False, original_date=True, outputformat="%Y-%m-%dT%H:%M:%S%z",
                          max_date=(now + tolerance).strftime("%Y-%m-%d"))
    except Exception as exc:  # htmldate/lxml raise many types on broken markup
        log.debug("htmldate failed: %s", exc)
        return None
    if not found:
        return None
    from .ingest import parse_datetime

    try:
        when = parse_datetime(found)
    except ValueError:
        return None
    if when is None:
        return None
    if when.hour == 0 and when.minute == 0 and when.second == 0 and len(found) <= 10:
        when = _noon(when.date())
    return when if _not_future(when, now, tolerance) else None


def publication_date(doc: Document, lang: str, *, now: datetime, default_date: datetime | None = None,
                     settings: dict[str, Any] | None = None) -> tuple[datetime, str]:
    """``(published_at, date_source)`` for one document; see the module docstring for the order."""
    cfg = settings or {}
    tolerance = timedelta(hours=float(cfg.get("future_tolerance_hours", 24)))
    if doc.published_at is not None:
        source = doc.date_source or ("feed" if doc.content_type == "feed" else "metadata")
        when = _aware(doc.published_at)
        if doc.content_type == "html" and source == "metadata" and when.time() == time(0, 0):
            when = precise_time(doc.raw, when) or when
        return when, source
    if doc.content_type == "html" and cfg.get("htmldate", True):
        when = date_from_html(doc.raw, now, tolerance)
        if when is not None:
            return when, "metadata"
    if cfg.get("url", True):
        when = date_from_url(doc.url, now, tolerance)
        if when is not None:
            return when, "url"
    if cfg.get("dateline", True):
        when = date_from_dateline(doc.text, lang, now, tolerance)
        if when is not None:
            return when, "dateline"
    if default_date is not None:
        return _aware(default_date), "given"
    return now, "ingest-time"


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)
