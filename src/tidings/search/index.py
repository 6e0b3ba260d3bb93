"""Keeping the search tables in step with the articles.

:func:`sync` reads the articles stored after the last synced rowid (``search_state``
``synced_rowid``) and adds their word stems (``article_stems``) and the number of articles
holding each stem (``stem_counts``), the embedding cache key of each (``article_vectors``),
their entity surface forms and counts (``entity_forms``, ``entity_forms_fts``,
``entity_stats``) and the articles naming each entity (``entity_articles``). The pipeline
calls it after every ingest batch, in the batch's transaction; a store written by an older
tidings catches up on the first sync (``tidings search`` and the API do it when they can
write). Articles are appended, never rewritten, so a rowid watermark is all the state needed.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict

from ..store import Store
from .words import stem_text

log = logging.getLogger(__name__)

SYNC_CHUNK = 2000


def state(store: Store, key: str, default: str | None = None) -> str | None:
    row = store.conn.execute("SELECT value FROM search_state WHERE key = ?", (key,)).fetchone()
    return row[0] if row else default


def set_state(store: Store, key: str, value: object) -> None:
    store.conn.execute("INSERT INTO search_state(key, value) VALUES (?, ?) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, str(value)))


def synced_rowid(store: Store) -> int:
    return int(state(store, "synced_rowid", "0") or 0)


def pending(store: Store) -> int:
    """Articles stored but not yet in the search tables."""
    row = store.conn.execute("SELECT COUNT(*) FROM articles WHERE rowid > ?", (synced_rowid(store),)).fetchone()
    return int(row[0])


def _model_and_settings(settings):
    from ..config import Settings
    from ..embed import Embedder, EmbeddingSettings

    settings = settings or Settings.load()
    section = EmbeddingSettings.from_dict(settings.section("embedding"))
    return Embedder(section).model_id, section


def sync(store: Store, settings=None, *, progress=None) -> int:
    """Bring the search tables up to date with the stored articles; returns how many articles
    were added. Call inside a transaction (the pipeline does), or alone: it then commits each
    chunk of :data:`SYNC_CHUNK` articles."""
    model_id, section = _model_and_settings(settings)
    added = 0
    while True:
        mark = synced_rowid(store)
        rows = store.conn.execute(
            "SELECT rowid, id, title, text, lang, published_at, duplicate_of FROM articles WHERE rowid > ? "
            "ORDER BY rowid LIMIT ?", (mark, SYNC_CHUNK)).fetchall()
        if not rows:
            return added
        if store.conn.in_transaction:
            _sync_rows(store, rows, model_id, section)
        else:
            with store.transaction():
                _sync_rows(store, rows, model_id, section)
        added += len(rows)
        if progress:
            progress(len(rows))


def _sync_rows(store: Store, rows, model_id: str, section) -> None:
    from ..embed import embedding_text
    from ..pipeline import embedding_key

    if state(store, "store_id") is None:
        import uuid

        set_state(store, "store_id", uuid.uuid4().hex)
    live = [r for r in rows if not r["duplicate_of"]]
    if store.dialect == "sqlite":   # FTS5: the word stems are SQLite's only (docs/scaling.md)
        stems = [(r["rowid"], stem_text(r["title"], r["lang"]), stem_text(r["text"], r["lang"])) for r in live]
        store.conn.executemany("INSERT INTO article_stems(rowid, title, text) VALUES (?, ?, ?)", stems)
        _count_stems(store, stems)
    store.conn.executemany(
        "INSERT INTO article_vectors(article_rowid, key) VALUES (?, ?) "
        "ON CONFLICT(article_rowid) DO UPDATE SET key = excluded.key",
        [(r["rowid"], embedding_key(model_id, embedding_text(r["title"], r["text"], section))) for r in live])
    _add_entity_forms(store, live)
    set_state(store, "synced_rowid", rows[-1]["rowid"])


def _add_entity_forms(store: Store, rows) -> None:
    if not rows:
        return
    published = {r["id"]: r["published_at"] for r in rows}
    rowid_of = {r["id"]: r["rowid"] for r in rows}
    forms: Counter[tuple[str, str]] = Counter()
    named: Counter[tuple[str, int]] = Counter()   # (entity, article row id) -> mentions
    mentions: Counter[str] = Counter()
    articles: dict[str, set[str]] = defaultdict(set)
    last: dict[str, str] = {}
    ids = list(published)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for m in store.conn.execute(
                f"SELECT article_id, entity_id, text FROM mentions WHERE article_id IN ({marks})", chunk):
            form = " ".join(m["text"].split())
            forms[(form, m["entity_id"])] += 1
            mentions[m["entity_id"]] += 1
            named[(m["entity_id"], rowid_of[m["article_id"]])] += 1
            articles[m["entity_id"]].add(m["article_id"])
            when = published[m["article_id"]]
            if when > last.get(m["entity_id"], ""):
                last[m["entity_id"]] = when
    if store.dialect != "sqlite":   # no FTS5 table of the forms to keep: one upsert
        store.conn.executemany(
            """INSERT INTO entity_forms(form, entity_id, mentions) VALUES (?, ?, ?) ON CONFLICT(form, entity_id)
               DO UPDATE SET mentions = entity_forms.mentions + excluded.mentions""",
            [(form, entity_id, n) for (form, entity_id), n in sorted(forms.items())])
    new_forms = []
    for (form, entity_id), n in forms.items() if store.dialect == "sqlite" else ():
        cur = store.conn.execute(
            "UPDATE entity_forms SET mentions = mentions + ? WHERE form = ? AND entity_id = ?", (n, form, entity_id))
        if cur.rowcount == 0:
            new_forms.append((form, entity_id, n))
    if new_forms:
        store.conn.executemany("INSERT INTO entity_forms(form, entity_id, mentions) VALUES (?, ?, ?)", new_forms)
        store.conn.executemany("INSERT INTO entity_forms_fts(form, entity_id) VALUES (?, ?)",
                               [(f, e) for f, e, _ in new_forms])
    store.conn.executemany("INSERT INTO entity_articles(entity_id, article_rowid, mentions) VALUES (?, ?, ?)",
                           [(e, rowid, n) for (e, rowid), n in sorted(named.items())])
    store.conn.executemany(
        """INSERT INTO entity_stats(entity_id, mentions, articles, last_seen) VALUES (?, ?, ?, ?)
           ON CONFLICT(entity_id) DO UPDATE SET mentions = entity_stats.mentions + excluded.mentions,
             articles = entity_stats.articles + excluded.articles,
             last_seen = CASE WHEN excluded.last_seen > entity_stats.last_seen THEN excluded.last_seen
                              ELSE entity_stats.last_seen END""",
        [(e, mentions[e], len(articles[e]), last[e]) for e in sorted(mentions)])


def ensure_synced(store: Store, settings=None) -> None:
    """Sync a store whose search tables lag behind its articles (written by an older tidings,
    or straight through :class:`Store`): directly when writable, else through a short writable
    connection (as :meth:`Store._migrate` does); a store that cannot be written is searched as
    it is, with a warning."""
    if (store.path in ("", ":memory:") and store.read_only) or store.dialect != "sqlite":
        return
    if pending(store) == 0:
        return
    if not store.read_only:
        sync(store, settings)
        return
    try:
        with Store.open(store.path) as writable:
            sync(writable, settings)
    except Exception as exc:  # noqa: BLE001 - a read-only file or directory: search what is there
        log.warning("search tables of %s lag behind its articles and cannot be updated (%s)", store.path, exc)


# ---- stem_counts: articles per word stem, beside article_stems (SQLite) ---------------------------
# The chunk's stems go through a scratch FTS5 table with article_stems' own tokenizer, so each
# term is counted exactly as FTS5 indexes it (case and diacritics folded, split where it splits).
_STEM_BATCH = """CREATE VIRTUAL TABLE IF NOT EXISTS temp.stem_batch USING fts5(
    title, text, content='', tokenize='unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE IF NOT EXISTS temp.stem_batch_vocab USING fts5vocab(temp, stem_batch, 'row');"""


def _count_stems(store: Store, stems: list[tuple[int, str, str]]) -> None:
    """Add a chunk's articles, ``(rowid, title stems, text stems)``, to ``stem_counts`` (an
    article counts once for a stem, in its title or its text)."""
    if not stems:
        return
    for statement in _STEM_BATCH.split(";"):
        store.conn.execute(statement)
    store.conn.execute("INSERT INTO temp.stem_batch(stem_batch) VALUES ('delete-all')")
    store.conn.executemany("INSERT INTO temp.stem_batch(rowid, title, text) VALUES (?, ?, ?)", stems)
    store.conn.execute(
        "INSERT INTO stem_counts(term, articles) SELECT term, doc FROM temp.stem_batch_vocab WHERE 1 "
        "ON CONFLICT(term) DO UPDATE SET articles = stem_counts.articles + excluded.articles")
    store.conn.execute("INSERT INTO temp.stem_batch(stem_batch) VALUES ('delete-all')")


def stem_count_problems(store: Store) -> tuple[int, list[str]]:
    """``tidings check``: stems whose count in ``stem_counts`` differs from the FTS5 index's own
    document count (``article_stems_vocab``, read in full: seconds at a million articles)."""
    if store.dialect != "sqlite":
        return 0, []
    rows = store.conn.execute(
        """SELECT term, SUM(fts), SUM(kept) FROM (
             SELECT term, doc AS fts, 0 AS kept FROM article_stems_vocab
             UNION ALL SELECT term, 0, articles FROM stem_counts)
           GROUP BY term HAVING SUM(fts) != SUM(kept) ORDER BY term LIMIT 1000""").fetchall()
    return len(rows), [f"stem {r[0]!r}: {r[2]} articles counted, {r[1]} in the word index" for r in rows[:20]]


def rebuild_stem_counts(store: Store) -> None:
    """Count every stem again from the FTS5 index (``tidings check --repair``)."""
    if store.dialect != "sqlite":
        return
    with store.transaction():
        store.conn.execute("DELETE FROM stem_counts")
        store.conn.execute("INSERT INTO stem_counts(term, articles) SELECT term, doc FROM article_stems_vocab")


# ---- entity_articles: the articles naming each entity, beside entity_stats ------------------------
_ENTITY_ARTICLES = """SELECT m.entity_id, a.rowid AS article_rowid, COUNT(*) AS mentions
    FROM mentions m JOIN articles a ON a.id = m.article_id
    WHERE a.duplicate_of IS NULL AND a.rowid <= ? GROUP BY m.entity_id, a.rowid"""


def entity_article_problems(store: Store) -> tuple[int, list[str]]:
    """``tidings check``: (entity, article) pairs whose row in ``entity_articles`` is missing,
    in excess or counts other mentions than the synced articles' mentions (read in full:
    seconds at a million articles)."""
    rows = store.conn.execute(
        f"""SELECT entity_id, article_rowid, SUM(kept), SUM(named) FROM (
              SELECT entity_id, article_rowid, 0 AS kept, mentions AS named FROM ({_ENTITY_ARTICLES}) x
              UNION ALL SELECT entity_id, article_rowid, mentions, 0 FROM entity_articles) y
            GROUP BY entity_id, article_rowid HAVING SUM(kept) != SUM(named)
            ORDER BY entity_id, article_rowid LIMIT 1000""", (synced_rowid(store),)).fetchall()
    return len(rows), [f"entity {r[0]!r} in article {r[1]}: {r[2]} mentions kept, {r[3]} stored"
                       for r in rows[:20]]


def rebuild_entity_articles(store: Store) -> None:
    """Fill ``entity_articles`` again from the mentions (``tidings check --repair``)."""
    with store.transaction():
        store.conn.execute("DELETE FROM entity_articles")
        store.conn.execute(f"INSERT INTO entity_articles(entity_id, article_rowid, mentions) {_ENTITY_ARTICLES}",
                           (synced_rowid(store),))
