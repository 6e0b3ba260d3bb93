"""``export --format jsonl``: one full article a line, in the shape news-please writes.

Streamed: articles are read in pages of :data:`PAGE` by keyset (publication time, row), with
their mentions, places, dates and quotes fetched for that page only, so memory stays bounded
whatever the size of the store (a million articles export in the memory of one page). Every
field is documented in docs/export.md; tests/test_export_jsonl.py checks both.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any, TextIO
from urllib.parse import urlsplit

from .store import Store

#: Articles read and written per page (memory is bounded by one page and its mentions).
PAGE = 500

#: The fields of a line, in order (docs/export.md documents each; a test checks they match).
FIELDS = ("id", "url", "source_domain", "outlet", "title", "maintext", "description", "authors", "image_url",
          "language", "language_confidence", "date_publish", "date_download", "source", "duplicate_of",
          "story", "entities", "places", "dates", "quotes")


def _news_please_date(iso: str | None) -> str | None:
    """"2016-10-20T09:30:00Z" -> "2016-10-20 09:30:00" (news-please's format; UTC)."""
    if not iso:
        return None
    return iso.replace("T", " ").rstrip("Z")[:19]


def _domain(url: str | None) -> str | None:
    if not url or not url.lower().startswith(("http://", "https://")):
        return None
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.") or None


def _pages(store: Store):
    conn = store.conn
    query = """SELECT a.rowid AS rowid, a.id, a.url, a.outlet, a.title, a.text, a.lang, a.lang_confidence,
                      a.published_at, a.ingested_at, a.source, a.duplicate_of, a.story_id,
                      s.title AS story_title
               FROM articles a LEFT JOIN stories s ON s.id = a.story_id
               {where} ORDER BY a.published_at, a.rowid LIMIT ?"""
    rows = conn.execute(query.format(where=""), (PAGE,)).fetchall()
    while rows:
        yield rows
        last = rows[-1]
        rows = conn.execute(query.format(where="WHERE (a.published_at, a.rowid) > (?, ?)"),
                            (last["published_at"], last["rowid"], PAGE)).fetchall()


def _by_article(store: Store, sql: str, ids: list[str]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = defaultdict(list)
    marks = ",".join("?" * len(ids))
    for row in store.conn.execute(sql.format(marks=marks), ids):
        grouped[row["article_id"]].append(row)
    return grouped


def _entities(rows) -> tuple[list[dict], list[dict]]:
    """(people and organisations, places) of one article: one entry per entity, in order of first mention."""
    entities: dict[str, dict] = {}
    places: dict[str, dict] = {}
    for m in rows:
        if m["label"] == "LOC":
            entry = places.setdefault(m["entity_id"], {
                "id": m["entity_id"], "name": m["name"], "geonames_id": m["geonames_id"], "country": m["country"],
                "lat": m["lat"], "lon": m["lon"], "mentions": []})
        else:
            entry = entities.setdefault(m["entity_id"], {
                "id": m["entity_id"], "label": m["label"], "name": m["name"], "mentions": []})
        entry["mentions"].append({"text": m["text"], "start": m["start"], "end": m["end"],
                                  "in_title": bool(m["in_title"])})
    return list(entities.values()), list(places.values())


def export_jsonl(store: Store, out: TextIO) -> int:
    """Write one JSON object per article (all articles, duplicates marked) to ``out``; return the count."""
    count = 0
    for page in _pages(store):
        ids = [row["id"] for row in page]
        mentions = _by_article(store, """
            SELECT m.article_id, m.entity_id, m.label, m.text, m.start, m.end, m.in_title,
                   e.name, e.geonames_id, e.country, e.lat, e.lon
            FROM mentions m LEFT JOIN entities e ON e.id = m.entity_id
            WHERE m.article_id IN ({marks}) ORDER BY m.article_id, m.in_title DESC, m.start""", ids)
        dates = _by_article(store, """
            SELECT article_id, text, start_char, end_char, start, end, granularity FROM date_mentions
            WHERE article_id IN ({marks}) ORDER BY article_id, start_char""", ids)
        quotes = _by_article(store, """
            SELECT article_id, text, speaker, speaker_entity_id FROM quotes
            WHERE article_id IN ({marks}) ORDER BY article_id, start_char""", ids)
        for row in page:
            entities, places = _entities(mentions.get(row["id"], ()))
            record = {
                "id": row["id"],
                "url": row["url"],
                "source_domain": _domain(row["url"]),
                "outlet": row["outlet"],
                "title": row["title"],
                "maintext": row["text"],
                "description": None,
                "authors": [],
                "image_url": None,
                "language": row["lang"],
                "language_confidence": row["lang_confidence"],
                "date_publish": _news_please_date(row["published_at"]),
                "date_download": _news_please_date(row["ingested_at"]),
                "source": row["source"],
                "duplicate_of": row["duplicate_of"],
                "story": {"id": row["story_id"], "title": row["story_title"]} if row["story_id"] else None,
                "entities": entities,
                "places": places,
                "dates": [{"text": d["text"], "start": d["start"], "end": d["end"], "granularity": d["granularity"]}
                          for d in dates.get(row["id"], ())],
                "quotes": [{"text": q["text"], "speaker": q["speaker"], "speaker_id": q["speaker_entity_id"]}
                           for q in quotes.get(row["id"], ())],
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count
