"""Read-side queries over the store, shared by the Python API, the CLI and the REST API.

Every function returns plain JSON-serialisable dicts and lists.
"""

from __future__ import annotations

import base64
import json
import re
from collections import Counter, defaultdict
from datetime import date, timezone

from .errors import NotFound, TidingsError
from .models import Analysis, Article, Entity, Mention
from .store import Store, parse_iso

SORTS = {"newest": ("last_seen", "s.last_seen DESC, s.id DESC"), "size": ("size", "s.size DESC, s.id DESC")}


class BadQuery(TidingsError):
    """A filter, cursor or sort that cannot be used."""

    code = "T500"


def _encode_cursor(key: object, story_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([key, story_id]).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[object, str]:
    try:
        key, story_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except Exception:
        key = story_id = None
    # only what _encode_cursor writes: a text or number sort key and a story id (anything else would
    # reach SQLite as a parameter it cannot bind, or silently match nothing)
    if isinstance(key, bool) or not isinstance(key, (str, int, float)) or not isinstance(story_id, str):
        raise BadQuery("invalid cursor", source="cursor", hint="use next_cursor from the previous page")
    return key, story_id


def search_words(text: str) -> list[str]:
    """The words of a free-text query (all of them are required), or BadQuery if it has none."""
    words = re.findall(r"\w+", text, flags=re.UNICODE)
    if not words:
        raise BadQuery("the search query has no words", source="q")
    # each distinct word once: FTS5 matches and highlights every phrase against every other one
    # at the same position, so 1,600 repeats of one word cost 18 s (docs/reliability.md)
    return list(dict.fromkeys(w.casefold() for w in words))


def fts_query(text: str) -> str:
    """Turn free text into a safe FTS5 query: every word quoted, all words required."""
    from .store.sqlite import fts5_query
    return fts5_query(search_words(text))


def _iso_day(value: str | date | None, name: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value.isoformat()
    try:
        parsed = parse_iso(value if "T" in value else value + "T00:00:00")
        if parsed.tzinfo is not None:  # stored times are UTC: convert, do not just relabel
            parsed = parsed.astimezone(timezone.utc)
        return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError):
        raise BadQuery(f"not a date: {value!r}", source=name, hint="use YYYY-MM-DD or ISO 8601") from None


def list_stories(store: Store, *, lang: str | None = None, since: str | None = None, until: str | None = None,
                 entity: str | None = None, place: str | None = None, q: str | None = None,
                 sort: str = "newest", limit: int = 50, cursor: str | None = None,
                 min_size: int = 1, settings: object = None, langs: list[str] | tuple[str, ...] = ()) -> dict:
    """Stories, newest (by last article), largest or hottest (``heat``, see tidings.heat) first, with
    filters and cursor pagination. ``settings``: the ``[heat]`` parameters (default: shipped)."""
    if sort not in SORTS and sort != "heat":
        raise BadQuery(f"unknown sort {sort!r}", source="sort", hint="use 'newest', 'size' or 'heat'")
    if not 1 <= limit <= 500:
        raise BadQuery("limit must be between 1 and 500", source="limit")
    where = ["s.merged_into IS NULL", "s.size >= ?"]
    params: list[object] = [min_size]
    # filters on articles are IN sets computed once, not correlated EXISTS per story: SQLite would
    # otherwise scan every article in that language (or every mention of that entity) per story
    if lang:
        where.append("s.id IN (SELECT a.story_id FROM articles a WHERE a.lang = ?)")
        params.append(lang)
    if (since := _iso_day(since, "since")) is not None:
        where.append("s.last_seen >= ?")
        params.append(since)
    if (until := _iso_day(until, "until")) is not None:
        where.append("s.first_seen <= ?")
        params.append(until.replace("T00:00:00Z", "T23:59:59Z"))
    for value in (entity, place):
        if value:
            where.append("s.id IN (SELECT a.story_id FROM mentions m JOIN articles a ON a.id = m.article_id "
                         "WHERE m.entity_id = ?)")
            params.append(value)
    if q:
        matching, match_params = store.story_ids_matching_sql(search_words(q))
        where.append(f"s.id IN ({matching})")
        params += match_params
    if sort == "heat":   # what is moving now: tidings.heat
        from .heat import heat_page
        return heat_page(store, where, params, limit=limit, cursor=_decode_cursor(cursor) if cursor else None,
                         summary=_story_summary, settings=settings)
    column, order = SORTS[sort]
    if cursor:
        key, after_id = _decode_cursor(cursor)
        if (column == "size") != (isinstance(key, (int, float))):   # a server database compares no text to numbers
            raise BadQuery("invalid cursor", source="cursor", hint="use next_cursor from the previous page")
        where.append(f"(s.{column} < ? OR (s.{column} = ? AND s.id < ?))")
        params += [key, key, after_id]
    rows = store.conn.execute(
        f"SELECT s.* FROM stories s WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ?",
        [*params, limit + 1]).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    from .summary import cached_views

    views = cached_views(store, [row["id"] for row in rows])
    # a database server: one query for the page's entities (round trips count); SQLite: one small
    # query per story (its sorts stay small: faster in process, bench/api.py)
    entities = top_entities_of(store, [row["id"] for row in rows], limit=5) if store.batch_reads else {}
    stories = [_story_summary(store, row, langs, views, entities.get(row["id"])) for row in rows]
    next_cursor = _encode_cursor(rows[-1][column], rows[-1]["id"]) if more and rows else None
    return {"stories": stories, "next_cursor": next_cursor}


def _reader_title(store: Store, row, langs, views: dict | None = None) -> tuple[str, str | None]:
    """The story's title for a reader of ``langs`` (the central article of the first language the
    story has, tidings.summary), and its language; the stored title when none is known."""
    from .summary import pick_title, story_view

    view = views.get(row["id"]) if views is not None else story_view(store, row["id"])
    picked = pick_title(view, langs) if view else None
    return picked if picked else (row["title"], None)


def _story_summary(store: Store, row, langs=(), views: dict | None = None,
                   entities: list[dict] | None = None) -> dict:
    title, title_lang = _reader_title(store, row, langs, views)
    return {"id": row["id"], "title": title, "title_lang": title_lang, "size": row["size"],
            "first_seen": row["first_seen"],
            "last_seen": row["last_seen"], "langs": json.loads(row["langs"]),
            "top_entities": top_entities(store, row["id"], limit=5) if entities is None else entities}


def top_entities_of(store: Store, story_ids: list[str], limit: int = 5) -> dict[str, list[dict]]:
    """:func:`top_entities` of several stories in one query (a page of the story list: one round
    trip instead of one per story, which a database server makes count)."""
    found: dict[str, list[dict]] = {sid: [] for sid in story_ids}
    if not story_ids:
        return found
    rows = store.conn.execute(
        f"""SELECT story_id, entity_id, articles, mentions, name, label, geonames_id, lat, lon FROM (
              SELECT a.story_id AS story_id, m.entity_id AS entity_id, COUNT(DISTINCT m.article_id) AS articles,
                     COUNT(*) AS mentions, e.name AS name, e.label AS label, e.geonames_id AS geonames_id,
                     e.lat AS lat, e.lon AS lon,
                     ROW_NUMBER() OVER (PARTITION BY a.story_id ORDER BY COUNT(DISTINCT m.article_id) DESC,
                                        COUNT(*) DESC, m.entity_id) AS rank
              FROM articles a JOIN mentions m ON m.article_id = a.id JOIN entities e ON e.id = m.entity_id
              WHERE a.story_id IN ({",".join("?" * len(story_ids))})
              GROUP BY a.story_id, m.entity_id, e.id) ranked
            WHERE rank <= ? ORDER BY story_id, rank""", [*story_ids, limit]).fetchall()
    for r in rows:
        found[r["story_id"]].append(_ranked_entity(r))
    return found


def _ranked_entity(r) -> dict:
    return {"id": r["entity_id"], "name": r["name"], "label": r["label"], "articles": r["articles"],
            "mentions": r["mentions"], "geonames_id": r["geonames_id"], "lat": r["lat"], "lon": r["lon"]}


def top_entities(store: Store, story_id: str, limit: int = 10, label: str | None = None) -> list[dict]:
    """Entities of a story ranked by the number of its articles that name them."""
    label_sql = "AND m.label = ?" if label else ""
    rows = store.conn.execute(
        f"""SELECT m.entity_id, COUNT(DISTINCT m.article_id) AS articles, COUNT(*) AS mentions,
                   e.name, e.label, e.geonames_id, e.lat, e.lon
            FROM articles a JOIN mentions m ON m.article_id = a.id JOIN entities e ON e.id = m.entity_id
            WHERE a.story_id = ? {label_sql}
            GROUP BY m.entity_id, e.id ORDER BY articles DESC, mentions DESC, m.entity_id LIMIT ?""",
        [story_id, *([label] if label else []), limit]).fetchall()
    return [_ranked_entity(r) for r in rows]


def story_detail(store: Store, story_id: str, langs: list[str] | tuple[str, ...] = ()) -> dict:
    """One story: articles by language, entities with their surface forms, places, dates, quotes;
    titled in the first of the reader's languages ``langs`` it has (tidings.summary)."""
    resolved = store.resolve_story(story_id)
    row = store.conn.execute("SELECT * FROM stories WHERE id = ?", (resolved,)).fetchone()
    title, title_lang = _reader_title(store, row, langs)
    articles = store.conn.execute(
        """SELECT id, title, url, outlet, lang, published_at, source FROM articles
           WHERE story_id = ? AND duplicate_of IS NULL ORDER BY published_at, rowid""", (resolved,)).fetchall()
    by_lang: dict[str, list[dict]] = defaultdict(list)
    for a in articles:
        by_lang[a["lang"]].append(dict(a))
    forms: dict[str, Counter] = defaultdict(Counter)
    for m in store.conn.execute(
            """SELECT m.entity_id, m.text, a.lang FROM mentions m JOIN articles a ON a.id = m.article_id
               WHERE a.story_id = ?""", (resolved,)):
        forms[m["entity_id"]][m["text"]] += 1
    entities = top_entities(store, resolved, limit=1000)
    for entity in entities:
        entity["forms"] = [text for text, _ in forms[entity["id"]].most_common()]
    dates = store.conn.execute(
        """SELECT d.start, d.end, d.granularity, COUNT(*) AS mentions, GROUP_CONCAT(DISTINCT d.text) AS texts
           FROM date_mentions d JOIN articles a ON a.id = d.article_id WHERE a.story_id = ?
           GROUP BY d.start, d.end, d.granularity ORDER BY d.start""", (resolved,)).fetchall()
    quotes = store.conn.execute(
        """SELECT q.text, q.speaker, q.speaker_entity_id, q.article_id, a.lang FROM quotes q
           JOIN articles a ON a.id = q.article_id WHERE a.story_id = ? ORDER BY a.published_at""",
        (resolved,)).fetchall()
    aliases = [r[0] for r in store.conn.execute("SELECT id FROM stories WHERE merged_into = ?", (resolved,))]
    return {
        "id": resolved, "requested_id": story_id, "aliases": aliases,
        "title": title, "title_lang": title_lang, "size": row["size"], "first_seen": row["first_seen"],
        "last_seen": row["last_seen"], "langs": json.loads(row["langs"]),
        "articles": dict(by_lang),
        "entities": [e for e in entities if e["label"] != "LOC"],
        "places": [e for e in entities if e["label"] == "LOC"],
        "dates": [{"start": d["start"], "end": d["end"], "granularity": d["granularity"],
                   "mentions": d["mentions"], "texts": sorted(set((d["texts"] or "").split(",")))} for d in dates],
        "quotes": [dict(q) for q in quotes],
    }


def _analysis(store: Store, article_id: str) -> Analysis:
    analysis = Analysis()
    for m in store.conn.execute(
            "SELECT m.*, e.name, e.geonames_id, e.country, e.lat, e.lon FROM mentions m "
            "JOIN entities e ON e.id = m.entity_id WHERE m.article_id = ? ORDER BY m.start", (article_id,)):
        analysis.mentions.append(Mention(m["entity_id"], m["label"], m["text"], m["start"], m["end"],
                                         in_title=bool(m["in_title"])))
        analysis.entities[m["entity_id"]] = Entity(m["entity_id"], m["label"], m["name"], m["geonames_id"],
                                                   m["country"], m["lat"], m["lon"])
    return analysis


def load_article(store: Store, article_id: str) -> Article:
    """An article back from the store as an :class:`Article` (without its embedding)."""
    row = store.article_row(article_id)
    return Article(id=row["id"], source=row["source"], title=row["title"], text=row["text"], lang=row["lang"],
                   lang_confidence=row["lang_confidence"], published_at=parse_iso(row["published_at"]),
                   url=row["url"], outlet=row["outlet"], external_id=row["external_id"],
                   content_hash=row["content_hash"], date_source=row["date_source"],
                   analysis=_analysis(store, article_id),
                   story_id=row["story_id"], duplicate_of=row["duplicate_of"])


def article_detail(store: Store, article_id: str, *, raw: bool = False) -> dict:
    row = store.article_row(article_id)
    data = {k: row[k] for k in row.keys() if k not in {"rowid", "raw_id"}}
    if data["story_id"]:
        data["story_id"] = store.resolve_story(data["story_id"])
    data["flags"] = [f for f in (data.get("flags") or "").split(",") if f]
    data["mentions"] = [dict(m) for m in store.conn.execute(
        "SELECT m.entity_id, m.label, m.text, m.start, m.end, m.in_title, e.name FROM mentions m "
        "JOIN entities e ON e.id = m.entity_id WHERE m.article_id = ? ORDER BY m.in_title DESC, m.start",
        (article_id,))]
    for m in data["mentions"]:
        m["in_title"] = bool(m["in_title"])
    if "summary_only" in data:  # tidings watch: the text is the feed's summary, the page was not had
        data["summary_only"] = bool(data["summary_only"])
    data["dates"] = [dict(d) for d in store.conn.execute(
        'SELECT text, start_char, end_char, start, "end", granularity FROM date_mentions WHERE article_id = ? '
        "ORDER BY start_char", (article_id,))]
    data["quotes"] = [dict(q) for q in store.conn.execute(
        "SELECT text, speaker, speaker_entity_id FROM quotes WHERE article_id = ? ORDER BY start_char",
        (article_id,))]
    if raw and row["raw_id"] is not None:
        raw_row = store.raw_input(row["raw_id"])
        if raw_row is not None:
            data["raw"] = {"source": raw_row["source"], "content_type": raw_row["content_type"],
                           "bytes": len(raw_row["raw"]),
                           "text": bytes(raw_row["raw"]).decode("utf-8", errors="replace")}
    return data


def resolve_entity_id(store: Store, entity_id: str) -> str:
    """``entity_id`` as the store knows it: an id the store holds is returned as it is; an id an
    older tidings gave (:func:`tidings.entities.legacy_ids`: ``org:ans`` for ANSSI, before
    readable acronym ids) is mapped to the stored entity it now names, so links and scripts
    written against older stores keep working; else ``entity_id`` unchanged (the caller's 404)."""
    if store.conn.execute("SELECT 1 FROM entities WHERE id = ?", (entity_id,)).fetchone() is not None:
        return entity_id
    if not entity_id.startswith("org:"):
        return entity_id
    from .entities import legacy_ids

    # Only on a miss, and only organisations: a scan of their names, not of mentions.
    for row in store.conn.execute("SELECT id, name FROM entities WHERE label = 'ORG' AND id LIKE 'org:%'"):
        if entity_id in legacy_ids(row["name"], "ORG"):
            return row["id"]
    return entity_id


def entity_detail(store: Store, entity_id: str) -> dict:
    """One entity: its name variants by language and the stories that name it (an older id of
    it works too: :func:`resolve_entity_id`)."""
    entity_id = resolve_entity_id(store, entity_id)
    row = store.conn.execute("SELECT * FROM entities WHERE id = ?", (entity_id,)).fetchone()
    if row is None:
        raise NotFound(f"no entity with id {entity_id!r}")
    variants: dict[str, Counter] = defaultdict(Counter)
    for m in store.conn.execute(
            "SELECT m.text, a.lang FROM mentions m JOIN articles a ON a.id = m.article_id WHERE m.entity_id = ?",
            (entity_id,)):
        variants[m["lang"]][m["text"]] += 1
    stories = store.conn.execute(
        """SELECT s.id, s.title, s.size, s.last_seen, COUNT(DISTINCT a.id) AS articles
           FROM mentions m JOIN articles a ON a.id = m.article_id JOIN stories s ON s.id = a.story_id
           WHERE m.entity_id = ? GROUP BY s.id ORDER BY articles DESC, s.last_seen DESC LIMIT 100""",
        (entity_id,)).fetchall()
    return {**dict(row),
            "variants": {lang: [t for t, _ in c.most_common()] for lang, c in sorted(variants.items())},
            "stories": [dict(s) for s in stories]}


def languages(store: Store) -> list[tuple[str, int]]:
    """Languages in the store with their article counts, most articles first (for language filters)."""
    rows = store.conn.execute("SELECT lang, COUNT(*) AS n FROM articles GROUP BY lang ORDER BY n DESC, lang")
    return [(r["lang"], r["n"]) for r in rows]


def search(store: Store, query: str, limit: int = 20, **options) -> list[dict]:
    """Search across languages and word forms (:func:`tidings.search.search` with the default
    settings): the hits, best first, each with ``snippet`` and ``matched`` (why it matched).
    Long-running callers keep the encoder and vector index: see ``Monitor.search``. On PostgreSQL:
    its own full-text search (diacritics-insensitive, every word required) through the store."""
    if store.dialect != "sqlite":
        return store.search_articles(search_words(query), limit)
    from .search import search as run

    return run(store, query, limit=limit, **options).hits
