"""Exports: JSON (stories with their articles), CSV (one row per article), GeoJSON (story places),
JSONL (one full article a line, export_jsonl.py)."""

from __future__ import annotations

import csv
import json
from typing import TextIO

from .errors import TidingsError
from .queries import top_entities
from .store import Store

FORMATS = ("json", "csv", "geojson", "jsonl")
CSV_COLUMNS = ["article_id", "story_id", "story_title", "lang", "published_at", "title", "url", "outlet",
               "duplicate_of"]


class ExportError(TidingsError):
    code = "T600"


def export(store: Store, fmt: str, out: TextIO) -> int:
    """Write the store in ``fmt`` to ``out``; returns the number of records written."""
    if fmt == "json":
        return _export_json(store, out)
    if fmt == "csv":
        return _export_csv(store, out)
    if fmt == "jsonl":  # one full article a line, streamed (export_jsonl.py, docs/export.md)
        from .export_jsonl import export_jsonl
        return export_jsonl(store, out)
    if fmt == "geojson":
        data = stories_geojson(store)
        json.dump(data, out, ensure_ascii=False, indent=1)
        out.write("\n")
        return len(data["features"])
    raise ExportError(f"unknown export format {fmt!r}", hint="use one of: " + ", ".join(FORMATS))


def _live_stories(store: Store):
    return store.conn.execute(
        "SELECT * FROM stories WHERE merged_into IS NULL AND size > 0 ORDER BY first_seen, id").fetchall()


def _export_json(store: Store, out: TextIO) -> int:
    stories = []
    for s in _live_stories(store):
        articles = store.conn.execute(
            "SELECT id, lang, published_at, title, url, outlet FROM articles WHERE story_id = ? "
            "AND duplicate_of IS NULL ORDER BY published_at, rowid", (s["id"],)).fetchall()
        stories.append({"id": s["id"], "title": s["title"], "size": s["size"], "first_seen": s["first_seen"],
                        "last_seen": s["last_seen"], "langs": json.loads(s["langs"]),
                        "entities": top_entities(store, s["id"], limit=20),
                        "articles": [dict(a) for a in articles]})
    json.dump({"stories": stories}, out, ensure_ascii=False, indent=1)
    out.write("\n")
    return len(stories)


def _export_csv(store: Store, out: TextIO) -> int:
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in store.conn.execute(
            """SELECT a.id, a.story_id, s.title AS story_title, a.lang, a.published_at, a.title, a.url, a.outlet,
                      a.duplicate_of
               FROM articles a LEFT JOIN stories s ON s.id = a.story_id ORDER BY a.published_at, a.rowid"""):
        writer.writerow([row[i] if row[i] is not None else "" for i in range(len(CSV_COLUMNS))])
        count += 1
    return count


def stories_geojson(store: Store, story_ids: list[str] | None = None) -> dict:
    """A FeatureCollection: one Point per (story, place) with coordinates."""
    features = []
    stories = _live_stories(store) if story_ids is None else [
        store.conn.execute("SELECT * FROM stories WHERE id = ?", (sid,)).fetchone() for sid in story_ids]
    for s in stories:
        if s is None:
            continue
        for place in top_entities(store, s["id"], limit=50, label="LOC"):
            if place["lat"] is None or place["lon"] is None:
                continue
            features.append({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [place["lon"], place["lat"]]},
                "properties": {"story_id": s["id"], "story_title": s["title"], "place_id": place["id"],
                               "name": place["name"], "geonames_id": place["geonames_id"],
                               "articles": place["articles"]},
            })
    return {"type": "FeatureCollection", "features": features}
