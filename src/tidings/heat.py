"""Heat: what is moving now. The story list sorted by it (``--sort heat``, ``?sort=heat``).

A story's heat compares its recent articles with its own earlier rate, and rewards spread::

    heat = recent / (1 + earlier_rate) * (1 + lang_weight * (languages - 1)) * (1 + outlet_weight * (outlets - 1))

* ``recent``: its articles published in the last ``heat.window_hours`` before *now*;
* ``earlier_rate``: its articles per ``window_hours`` before that, over its life but at most
  ``heat.baseline_days`` (a story that has run at 10 a day for a week is not breaking at 10 today;
  a story that appears with 10 today is);
* ``languages`` and ``outlets``: distinct ones among the recent articles.

*Now* is the publication time of the store's newest article (the stream's clock), not the wall
clock, so that an archive or the sample corpus has a "now" too. Articles dated only by their
ingest time do not set it (an archive ingested today would be all cold); they count as recent
when they fall within ``window_hours`` after it (a live monitor's undated pages). Stories without a recent article
have heat 0 and follow, newest first.

Cost: only stories whose last article is within the window can be hot; they are found on the
``stories_live_newest`` index and their articles on ``articles_story_id``, so a page costs
what the recent stories cost, not what the whole store does (bench/heat.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from .config import section_with_defaults
from .store import Store, parse_iso

__all__ = ["heat_page", "heat_of"]

_HEAT_KEY = "h"
_COLD_KEY = "c"


def heat_of(recent: int, earlier: int, langs: int, outlets: int, earlier_hours: float, cfg: dict[str, Any]) -> float:
    """The heat formula (module docstring); ``earlier_hours`` is the span the earlier articles cover."""
    if recent <= 0:
        return 0.0
    windows = max(1.0, earlier_hours / float(cfg["window_hours"]))
    rate = earlier / windows
    return (recent / (1.0 + rate) * (1.0 + float(cfg["lang_weight"]) * max(0, langs - 1))
            * (1.0 + float(cfg["outlet_weight"]) * max(0, outlets - 1)))


def _iso(value) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def heat_page(store: Store, where: list[str], params: list[object], *, limit: int, cursor: tuple[object, str] | None,
              summary: Callable[[Store, Any], dict], settings: Any = None) -> dict:
    """One page of the stories matching ``where`` (SQL over ``stories s``), hottest first.

    ``cursor`` is a decoded ``(key, story_id)``; keys are ``"h|<heat>|<last_seen>"`` on the hot
    part and ``"c|<last_seen>"`` on the rest."""
    from .queries import BadQuery, _encode_cursor

    cfg = section_with_defaults("heat", settings)
    # articles dated only by their ingest time do not set the clock (an archive ingested today
    # would otherwise be all cold); they count when they fall within a window of it (a live monitor)
    now = store.newest_published()
    if now is None:
        return {"stories": [], "next_cursor": None}
    since = now - timedelta(hours=float(cfg["window_hours"]))
    upper = now + timedelta(hours=float(cfg["window_hours"]))
    base = since - timedelta(days=float(cfg["baseline_days"]))
    key = cursor[0] if cursor else None
    if key is not None and not (isinstance(key, str) and key[:2] in (_HEAT_KEY + "|", _COLD_KEY + "|")):
        raise BadQuery("invalid cursor", source="cursor", hint="use next_cursor from the previous page")
    rows: list[tuple[tuple, Any, float]] = []
    if key is None or key.startswith(_HEAT_KEY):
        s_, b_, u_ = _iso(since), _iso(base), _iso(upper)
        hot = store.conn.execute(
            f"""SELECT s.*, agg.recent, agg.earlier, agg.langs_recent, agg.outlets_recent, agg.earliest
                FROM stories s JOIN (
                  SELECT a.story_id,
                         SUM(a.published_at >= ? AND a.published_at <= ?) AS recent,
                         SUM(a.published_at < ? AND a.published_at >= ?) AS earlier,
                         COUNT(DISTINCT CASE WHEN a.published_at >= ? AND a.published_at <= ? THEN a.lang END)
                           AS langs_recent,
                         COUNT(DISTINCT CASE WHEN a.published_at >= ? AND a.published_at <= ? THEN a.outlet END)
                           AS outlets_recent,
                         MIN(a.published_at) AS earliest
                  FROM articles a
                  WHERE a.duplicate_of IS NULL AND a.story_id IN (
                        SELECT id FROM stories WHERE merged_into IS NULL AND last_seen >= ?)
                  GROUP BY a.story_id) agg ON agg.story_id = s.id
                WHERE {' AND '.join(where)}""",
            [s_, u_, s_, b_, s_, u_, s_, u_, s_, *params]).fetchall()
        for r in hot:
            earliest = max(parse_iso(r["earliest"]), base)
            hours = max(0.0, (since - earliest).total_seconds() / 3600)
            h = heat_of(r["recent"] or 0, r["earlier"] or 0, r["langs_recent"], max(1, r["outlets_recent"]), hours, cfg)
            rows.append(((h, r["last_seen"] or "", r["id"]), r, h))
        rows.sort(key=lambda t: t[0], reverse=True)
        if key is not None:
            _, heat_text, last = key.split("|", 2)
            mark = (float(heat_text), last, cursor[1])   # type: ignore[index]
            rows = [t for t in rows if t[0] < mark]
    page = [(r, h, _HEAT_KEY + f"|{h!r}|{r['last_seen'] or ''}") for _, r, h in rows[:limit + 1]]
    if len(page) <= limit:
        cold_where = [*where, "s.last_seen < ?"]
        cold_params = [*params, _iso(since)]
        if key is not None and key.startswith(_COLD_KEY):
            last = key.split("|", 1)[1]
            cold_where.append("(s.last_seen < ? OR (s.last_seen = ? AND s.id < ?))")
            cold_params += [last, last, cursor[1]]   # type: ignore[index]
        cold = store.conn.execute(
            f"SELECT s.* FROM stories s WHERE {' AND '.join(cold_where)} ORDER BY s.last_seen DESC, s.id DESC LIMIT ?",
            [*cold_params, limit + 1 - len(page)]).fetchall()
        page += [(r, 0.0, _COLD_KEY + f"|{r['last_seen']}") for r in cold]
    more = len(page) > limit
    page = page[:limit]
    stories = [{**summary(store, r), "heat": round(h, 4)} for r, h, _ in page]
    next_cursor = _encode_cursor(page[-1][2], page[-1][0]["id"]) if more and page else None
    return {"stories": stories, "next_cursor": next_cursor}
