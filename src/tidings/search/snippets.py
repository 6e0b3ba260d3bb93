"""Snippets: the passage of each hit that shows why it matched.

A hit found by its words gets FTS5's ``snippet()`` of its text: about a dozen words around the
query words it holds, each between ``[`` and ``]``, ``…`` where the text is cut. A hit found
by the entities the query names, in words the query does not use (a search for "Aleppo"
finding "arrive à Alep" or "stigao u Alepu"), gets the same around the first place its text
names one of those entities: the stored mention's offsets say where. Otherwise the snippet is
the start of the text.
"""

from __future__ import annotations

import re

from ..store import Store

SNIPPET_WORDS = 12
HEAD_CHARS = 240
# private marks for FTS5's highlights: a text may hold "[" itself, these it cannot
_OPEN, _CLOSE = "\x02", "\x03"
_CONTEXT_CHARS = 400   # read this far either side of a mention for its words


def snippets(store: Store, rows: dict, surface: str | None, matched: dict) -> dict[int, str]:
    """A snippet for each of ``rows`` (row id -> the article's row: ``text`` and ``id``):
    ``surface`` is the FTS5 expression of the words to highlight (None: none); ``matched`` says
    which entities each hit was found by."""
    found: dict[int, str] = {}
    if surface and store.dialect == "sqlite":   # all the hits' snippets in one query
        marks = ",".join("?" * len(rows))
        for rowid, text in store.conn.execute(
                f"SELECT rowid, snippet(articles_fts, 1, '{_OPEN}', '{_CLOSE}', '…', {SNIPPET_WORDS}) "
                f"FROM articles_fts WHERE articles_fts MATCH ? AND rowid IN ({marks})", [surface, *rows]):
            if text and _OPEN in text:   # a match in the title only leaves the text unmarked
                found[rowid] = text.replace(_OPEN, "[").replace(_CLOSE, "]")
    by_entity = {rowid: matched[rowid]["entities"] for rowid in rows
                 if rowid not in found and matched.get(rowid, {}).get("entities")}
    for rowid, (start, end) in _first_mentions(store, rows, by_entity).items():
        found[rowid] = around(rows[rowid]["text"] or "", start, end)
    for rowid, row in rows.items():
        found.setdefault(rowid, head(row["text"] or ""))
    return found


def _first_mentions(store: Store, rows: dict, by_entity: dict[int, list[str]]) -> dict[int, tuple[int, int]]:
    """Row id -> (start, end) of the first mention in its text of any of its entities."""
    if not by_entity:
        return {}
    article_ids = {rows[rowid]["id"]: rowid for rowid in by_entity}
    entity_ids = sorted({e for ids in by_entity.values() for e in ids})
    first: dict[int, tuple[int, int]] = {}
    for article_id, entity_id, start, end in store.conn.execute(
            f"""SELECT article_id, entity_id, start, "end" FROM mentions
                WHERE article_id IN ({",".join("?" * len(article_ids))})
                  AND entity_id IN ({",".join("?" * len(entity_ids))}) AND in_title = 0
                ORDER BY start""", [*article_ids, *entity_ids]):
        rowid = article_ids[article_id]
        if rowid not in first and entity_id in by_entity[rowid]:
            first[rowid] = (int(start), int(end))
    return first


_WORDS = re.compile(r"\S+")


def head(text: str) -> str:
    """The start of ``text``, its spaces and line breaks made single spaces: a hit's snippet when
    nothing in it is highlighted."""
    return " ".join(text[:HEAD_CHARS].split())


def around(text: str, start: int, end: int, words: int = SNIPPET_WORDS) -> str:
    """About ``words`` words of ``text`` around ``text[start:end]``, which is put between ``[``
    and ``]``; ``…`` where the text goes on (the format of FTS5's ``snippet()``)."""
    if not 0 <= start < end <= len(text):
        return head(text)
    left_from = max(0, start - _CONTEXT_CHARS)
    before = _WORDS.findall(text[left_from:start])
    after = _WORDS.findall(text[end:end + _CONTEXT_CHARS])
    # the mention may sit inside a word ("l'Alep"): its word's other parts stay glued to it
    glued_left = before.pop() if before and start > 0 and not text[start - 1].isspace() else ""
    glued_right = after.pop(0) if after and end < len(text) and not text[end].isspace() else ""
    name_words = len(text[start:end].split())
    room = max(0, words - name_words)
    take_before = min(len(before), room // 3)
    take_after = min(len(after), room - take_before)
    take_before = min(len(before), room - take_after)
    parts = before[len(before) - take_before:] + [f"{glued_left}[{' '.join(text[start:end].split())}]{glued_right}"]
    parts += after[:take_after]
    cut_left = take_before < len(before) or left_from > 0
    cut_right = take_after < len(after) or end + _CONTEXT_CHARS < len(text)
    return ("…" if cut_left else "") + " ".join(parts) + ("…" if cut_right else "")
