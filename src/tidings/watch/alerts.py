"""Alerts: tell the analyst when a story they care about appears, grows or crosses into a language.

An alert is a named set of story filters (``entity``, ``place``, ``q``, ``lang``, ``min_languages``,
``min_size``) and a list of Apprise URLs to notify (``json://host/path`` webhooks, ``mailto://``,
``matrix://``, ``slack://``, ``tgram://`` ...). Its events:

``new``
    a story matches the alert for the first time;
``grew``
    a matching story has ``growth`` (``alerts.growth_step``) more articles than at its last event;
``language``
    a matching story has its first article in a language it had none in.

How an event is never notified twice, across restarts: :func:`evaluate` runs inside the
transaction of the ingest batch that changed the stories (``Monitor._write_batch``), so the
alert's view of each story (``alert_stories``), the event (``alert_events``, with a UNIQUE key
such as ``3:language:s81ffc60cca38:ru``) and one outbox row per target (``alert_deliveries``) are
committed together with the articles, or not at all. :func:`deliver_pending` sends what is due
*after* the commit and marks each row sent; a failed delivery is retried after
``retry_base_seconds``, doubling up to ``retry_max_seconds``, and given up (status ``failed``)
after ``max_attempts``. Delivery is at least once: a process killed between a successful send
and its row update sends that one notification again on the next run.

Delivery never makes an ingest fail: the monitor calls :func:`deliver_pending` after the commit
and logs what goes wrong; a dead webhook is its alert's problem, shown in ``tidings alerts list``
and on the ``/alerts`` page. A long-running process (``tidings watch``, ``serve --watch``)
calls ``deliver_pending(store, settings)`` once per loop to retry what has come due.

Each alert is also an Atom feed of its events (:func:`atom_feed`, served at ``/alerts/{id}.atom``).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree as ET

from ..config import section_with_defaults
from ..errors import NotFound, TidingsError
from ..store import Store, utcnow

log = logging.getLogger(__name__)

__all__ = ["Alert", "AlertError", "add_alert", "list_alerts", "get_alert", "remove_alert", "evaluate",
           "deliver_pending", "atom_feed", "recent_deliveries", "send_test", "EVENT_KINDS"]

EVENT_KINDS = ("new", "grew", "language")
FILTER_KEYS = ("entity", "place", "q", "lang", "min_languages", "min_size")


class AlertError(TidingsError):
    """An alert that cannot be defined: no filter, a bad Apprise URL, a name in use."""

    code = "T800"


@dataclass
class Alert:
    id: int
    name: str
    filters: dict[str, Any]
    notify: list[str] = field(default_factory=list)
    growth: int | None = None
    created_at: str = ""

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "Alert":
        return cls(id=row["id"], name=row["name"], filters=json.loads(row["filters"]), notify=json.loads(row["notify"]),
                   growth=row["growth"], created_at=row["created_at"])

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "filters": self.filters, "notify": self.notify,
                "growth": self.growth, "created_at": self.created_at, "feed": f"/alerts/{self.id}.atom"}


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _settings(settings: Any) -> dict[str, Any]:
    return section_with_defaults("alerts", settings)


# ---- defining alerts ---------------------------------------------------------------------------
def _check_target(url: str) -> None:
    import apprise

    if not apprise.Apprise().add(url):
        raise AlertError("not an Apprise URL that Apprise can use", source=url,
                         hint="e.g. json://host:port/path, mailto://user:pass@host, slack://..., "
                              "see https://github.com/caronc/apprise/wiki")


def add_alert(store: Store, name: str, *, entity: str | None = None, place: str | None = None, q: str | None = None,
              lang: str | None = None, min_languages: int | None = None, min_size: int | None = None,
              notify: Sequence[str] = (), growth: int | None = None) -> Alert:
    """Define an alert. The stories that already match it are its starting point: they raise no
    ``new`` event, only later growth and new languages do."""
    name = (name or "").strip()
    if not name:
        raise AlertError("an alert needs a name", source="NAME")
    filters = {k: v for k, v in (("entity", entity), ("place", place), ("q", q), ("lang", lang),
                                 ("min_languages", min_languages), ("min_size", min_size)) if v not in (None, "")}
    if not filters:
        raise AlertError("an alert needs at least one filter", source=name,
                         hint="--entity, --place, -q, --lang, --min-languages or --min-size")
    for key in ("min_languages", "min_size"):
        if key in filters and int(filters[key]) < 1:
            raise AlertError(f"{key} must be at least 1", source=name)
    if growth is not None and growth < 1:
        raise AlertError("growth must be at least 1 article", source=name)
    if q is not None:
        from ..queries import fts_query
        try:
            fts_query(q)
        except TidingsError as exc:
            raise AlertError(exc.reason, source="-q") from None
    for url in notify:
        _check_target(url)
    if store.conn.execute("SELECT 1 FROM alerts WHERE name = ?", (name,)).fetchone():
        raise AlertError("an alert of this name exists", source=name, hint="tidings alerts remove NAME first")
    with store.transaction():
        alert_id = store._insert_returning_id(
            "INSERT INTO alerts(name, filters, notify, growth, created_at) VALUES (?,?,?,?,?)",
            (name, json.dumps(filters, ensure_ascii=False), json.dumps(list(notify)), growth, _iso(utcnow())))
        alert = get_alert(store, int(alert_id))
        for row in _matching(store, alert, None):
            store.conn.execute("INSERT INTO alert_stories(alert_id, story_id, size, langs) VALUES (?,?,?,?)",
                               (alert.id, row["id"], row["size"], row["langs"]))
    return alert


def get_alert(store: Store, ref: int | str) -> Alert:
    """An alert by id or by name."""
    row = None
    if isinstance(ref, int) or str(ref).isdigit():
        row = store.conn.execute("SELECT * FROM alerts WHERE id = ?", (int(ref),)).fetchone()
    if row is None:
        row = store.conn.execute("SELECT * FROM alerts WHERE name = ?", (str(ref),)).fetchone()
    if row is None:
        raise NotFound(f"no alert {ref!r}", hint="tidings alerts list")
    return Alert.from_row(row)


def remove_alert(store: Store, ref: int | str) -> Alert:
    """Remove an alert with its events and pending deliveries."""
    alert = get_alert(store, ref)
    with store.transaction():
        events = "SELECT id FROM alert_events WHERE alert_id = ?"
        store.conn.execute(f"DELETE FROM alert_deliveries WHERE event_id IN ({events})", (alert.id,))
        store.conn.execute("DELETE FROM alert_events WHERE alert_id = ?", (alert.id,))
        store.conn.execute("DELETE FROM alert_stories WHERE alert_id = ?", (alert.id,))
        store.conn.execute("DELETE FROM alerts WHERE id = ?", (alert.id,))
    return alert


def list_alerts(store: Store) -> list[dict[str, Any]]:
    """Every alert with its event count and the state of its deliveries (sent, pending, failed, last error)."""
    result = []
    for row in store.conn.execute("SELECT * FROM alerts ORDER BY id").fetchall():
        alert = Alert.from_row(row)
        data = alert.as_dict()
        data["events"] = store.conn.execute("SELECT COUNT(*) FROM alert_events WHERE alert_id = ?",
                                            (alert.id,)).fetchone()[0]
        counts = dict(store.conn.execute(
            """SELECT d.status, COUNT(*) FROM alert_deliveries d JOIN alert_events e ON e.id = d.event_id
               WHERE e.alert_id = ? GROUP BY d.status""", (alert.id,)).fetchall())
        data["deliveries"] = {s: counts.get(s, 0) for s in ("sent", "pending", "failed")}
        last = store.conn.execute(
            """SELECT d.last_error, d.last_attempt_at FROM alert_deliveries d JOIN alert_events e ON e.id = d.event_id
               WHERE e.alert_id = ? AND d.last_error IS NOT NULL ORDER BY d.last_attempt_at DESC LIMIT 1""",
            (alert.id,)).fetchone()
        data["last_error"] = dict(last) if last else None
        result.append(data)
    return result


# ---- matching and events -----------------------------------------------------------------------
def _matching(store: Store, alert: Alert, story_ids: Sequence[str] | None) -> list[sqlite3.Row]:
    """The live stories among ``story_ids`` (all, with None) that match the alert's filters.

    For the stories of one batch each filter is an EXISTS over the story's own articles (the
    articles_story_id index): the cost follows the few stories touched, not the store's size.
    Over all stories (a new alert's starting point) each is an IN set computed once instead."""
    f = alert.filters

    def articles_where(condition: str, joins: str = "") -> str:
        if story_ids is None:
            return f"s.id IN (SELECT a.story_id FROM articles a {joins} WHERE {condition})"
        return f"EXISTS (SELECT 1 FROM articles a {joins} WHERE a.story_id = s.id AND {condition})"

    where = ["s.merged_into IS NULL", "s.size >= ?"]
    params: list[Any] = [int(f.get("min_size") or 1)]
    if story_ids is not None:
        where.append(f"s.id IN ({','.join('?' * len(story_ids))})")
        params.extend(story_ids)
    if f.get("min_languages"):
        where.append(f"{store.json_key_count_sql('s.langs')} >= ?")
        params.append(int(f["min_languages"]))
    if f.get("lang"):
        where.append(articles_where("a.lang = ? AND a.duplicate_of IS NULL"))
        params.append(f["lang"])
    for key in ("entity", "place"):
        if f.get(key):
            where.append(articles_where("m.entity_id = ?", "JOIN mentions m ON m.article_id = a.id"))
            params.append(f[key])
    if f.get("q") and store.dialect != "sqlite":   # the store's own full-text search
        from ..queries import search_words
        matching, match_params = store.story_ids_matching_sql(search_words(f["q"]))
        where.append(f"s.id IN ({matching})")
        params.extend(match_params)
    elif f.get("q"):
        from ..queries import fts_query
        where.append(articles_where("articles_fts MATCH ?", "JOIN articles_fts ON articles_fts.rowid = a.rowid"))
        params.append(fts_query(f["q"]))
    return store.conn.execute(f"SELECT s.id, s.title, s.size, s.langs FROM stories s WHERE {' AND '.join(where)}"
                              " ORDER BY s.id", params).fetchall()


@dataclass
class Event:
    alert_id: int
    kind: str
    story_id: str
    title: str
    detail: dict[str, Any]

    @property
    def key(self) -> str:
        suffix = {"grew": str(self.detail.get("size")), "language": str(self.detail.get("lang"))}.get(self.kind)
        return ":".join(filter(None, [str(self.alert_id), self.kind, self.story_id, suffix]))


def evaluate(store: Store, story_ids: Iterable[str], settings: Any = None, now: datetime | None = None) -> list[Event]:
    """Record the events the changes to ``story_ids`` raise for every alert, with their outbox rows.

    Call it inside the transaction that wrote those changes (the pipeline does): then an event and
    the story state it was computed from commit together. Returns the events recorded (an event
    whose key is already stored is not recorded again)."""
    ids = sorted(set(story_ids))
    if not ids:
        return []
    alerts = [Alert.from_row(r) for r in store.conn.execute("SELECT * FROM alerts ORDER BY id").fetchall()]
    if not alerts:
        return []
    cfg = _settings(settings)
    stamp = _iso(now or utcnow())
    recorded: list[Event] = []
    for alert in alerts:
        step = int(alert.growth or cfg["growth_step"])
        # one alert that cannot be evaluated (a filter SQLite refuses) is skipped, with its
        # writes undone, and never fails the batch: the articles matter more than the alert
        try:
            with store.savepoint():
                found: list[Event] = []
                for start in range(0, len(ids), 500):   # SQLite's limit on bound parameters
                    for row in _matching(store, alert, ids[start:start + 500]):
                        found.extend(e for e in _events_of(store, alert, row, step) if _record(store, alert, e, stamp))
        except (TidingsError, sqlite3.Error, *store.sql_errors()) as exc:
            log.error("alert %s (%s) not evaluated: %s", alert.id, alert.name, exc)
            found = []
        recorded.extend(found)
    return recorded


def _events_of(store: Store, alert: Alert, row: sqlite3.Row, step: int) -> list[Event]:
    langs = json.loads(row["langs"])
    seen = store.conn.execute("SELECT size, langs FROM alert_stories WHERE alert_id = ? AND story_id = ?",
                              (alert.id, row["id"])).fetchone()
    events: list[Event] = []
    base = {"size": row["size"], "langs": langs}
    if seen is None:
        events.append(Event(alert.id, "new", row["id"], row["title"], base))
        store.conn.execute("INSERT INTO alert_stories(alert_id, story_id, size, langs) VALUES (?,?,?,?)",
                           (alert.id, row["id"], row["size"], row["langs"]))
        return events
    known = json.loads(seen["langs"])
    for lang in sorted(set(langs) - set(known)):
        events.append(Event(alert.id, "language", row["id"], row["title"], {**base, "lang": lang}))
    size = seen["size"]
    if row["size"] >= size + step:
        events.append(Event(alert.id, "grew", row["id"], row["title"], {**base, "previous_size": size}))
        size = row["size"]
    store.conn.execute("UPDATE alert_stories SET size = ?, langs = ? WHERE alert_id = ? AND story_id = ?",
                       (size, json.dumps({**known, **langs}), alert.id, row["id"]))
    return events


def _record(store: Store, alert: Alert, event: Event, stamp: str) -> bool:
    event_id = store._insert_returning_id(
        "INSERT INTO alert_events(alert_id, key, kind, story_id, title, detail, created_at) "
        "VALUES (?,?,?,?,?,?,?) ON CONFLICT(key) DO NOTHING",
        (alert.id, event.key, event.kind, event.story_id, event.title, json.dumps(event.detail, ensure_ascii=False),
         stamp), or_none=True)
    if event_id is None:
        return False
    store.conn.executemany(
        "INSERT INTO alert_deliveries(event_id, target, status, attempts, next_attempt_at) "
        "VALUES (?,?,'pending',0,?) ON CONFLICT(event_id, target) DO NOTHING",
        [(event_id, url, stamp) for url in alert.notify])
    return True


def describe(kind: str, title: str, detail: dict[str, Any], story_id: str) -> tuple[str, str]:
    """(title, body) of a notification."""
    langs = ", ".join(f"{k} {v}" for k, v in detail.get("langs", {}).items())
    head = {"new": "New story", "grew": f"Story grew to {detail.get('size')} articles",
            "language": f"Story reached a new language: {detail.get('lang')}"}.get(kind, kind)
    body = f"{title}\n{detail.get('size')} articles ({langs})\nstory {story_id}: /stories/{quote(story_id)}"
    return f"{head}: {title}"[:250], body


# ---- delivery ----------------------------------------------------------------------------------
def _with_timeout(url: str, seconds: float) -> str:
    """Apprise reads connect/read timeouts from the URL (``cto``, ``rto``); add ours unless given."""
    if "cto=" in url or "rto=" in url:
        return url
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}cto={seconds:g}&rto={seconds:g}"


def _send(url: str, title: str, body: str, timeout: float) -> str | None:
    """Send one notification through Apprise; None when sent, else the reason it was not."""
    import apprise

    notifier = apprise.Apprise()
    if not notifier.add(_with_timeout(url, timeout)) and not notifier.add(url):
        return "not an Apprise URL that Apprise can use"
    with apprise.LogCapture(level=logging.WARNING) as captured:
        try:
            ok = notifier.notify(title=title, body=body)
        except Exception as exc:  # a plugin that raises instead of returning False
            return f"{type(exc).__name__}: {exc}"
        messages = captured.getvalue().strip()
    if ok:
        return None
    return (messages.splitlines()[-1] if messages else "the service did not accept the notification")[:500]


def deliver_pending(store: Store, settings: Any = None, now: datetime | None = None, *, limit: int = 100) -> dict[str, int]:
    """Send the notifications that are due (new ones and retries whose time has come).

    Safe to call often (after each ingest batch; once per loop of a watcher): a row is sent, or
    rescheduled with exponential backoff, or given up after ``alerts.max_attempts``. Network
    calls happen outside any transaction. Returns counts: sent, failed (this time), gave_up."""
    if store.read_only:
        return {"sent": 0, "failed": 0, "gave_up": 0}
    cfg = _settings(settings)
    now = now or utcnow()
    rows = store.conn.execute(
        """SELECT d.id, d.target, d.attempts, e.kind, e.title, e.detail, e.story_id FROM alert_deliveries d
           JOIN alert_events e ON e.id = d.event_id
           WHERE d.status = 'pending' AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.id LIMIT ?""",
        (_iso(now), limit)).fetchall()
    counts = {"sent": 0, "failed": 0, "gave_up": 0}
    for row in rows:
        title, body = describe(row["kind"], row["title"], json.loads(row["detail"]), row["story_id"])
        error = _send(row["target"], title, body, float(cfg["timeout_seconds"]))
        attempts = row["attempts"] + 1
        with store.transaction():
            if error is None:
                store.conn.execute("UPDATE alert_deliveries SET status = 'sent', attempts = ?, last_attempt_at = ?, "
                                   "next_attempt_at = NULL WHERE id = ?", (attempts, _iso(now), row["id"]))
                counts["sent"] += 1
                continue
            log.warning("alert delivery %s to %s failed (attempt %d): %s", row["id"], _redact(row["target"]),
                        attempts, error)
            if attempts >= int(cfg["max_attempts"]):
                store.conn.execute("UPDATE alert_deliveries SET status = 'failed', attempts = ?, last_attempt_at = ?, "
                                   "last_error = ?, next_attempt_at = NULL WHERE id = ?",
                                   (attempts, _iso(now), error, row["id"]))
                counts["gave_up"] += 1
            else:
                delay = min(float(cfg["retry_max_seconds"]), float(cfg["retry_base_seconds"]) * 2 ** (attempts - 1))
                store.conn.execute("UPDATE alert_deliveries SET attempts = ?, last_attempt_at = ?, last_error = ?, "
                                   "next_attempt_at = ? WHERE id = ?",
                                   (attempts, _iso(now), error, _iso(now + timedelta(seconds=delay)), row["id"]))
            counts["failed"] += 1
    return counts


def _redact(url: str) -> str:
    """A target URL without its credentials, for logs and pages."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    host = rest.split("/", 1)[0]
    if "@" in host:
        rest = "***@" + rest.split("@", 1)[1]
    return f"{scheme}://{rest.split('?', 1)[0]}"


def send_test(store: Store, ref: int | str, settings: Any = None) -> dict[str, str | None]:
    """Send a test notification to each target of an alert now; target -> None (sent) or the error."""
    alert = get_alert(store, ref)
    cfg = _settings(settings)
    return {url: _send(url, f"tidings: test of alert {alert.name!r}",
                       f"Filters: {json.dumps(alert.filters, ensure_ascii=False)}", float(cfg["timeout_seconds"]))
            for url in alert.notify}


def recent_deliveries(store: Store, limit: int = 50) -> list[dict[str, Any]]:
    """The latest deliveries of every alert (newest event first), targets without credentials."""
    rows = store.conn.execute(
        """SELECT d.id, d.target, d.status, d.attempts, d.next_attempt_at, d.last_attempt_at, d.last_error,
                  e.kind, e.story_id, e.title, e.created_at, a.id AS alert_id, a.name AS alert
           FROM alert_deliveries d JOIN alert_events e ON e.id = d.event_id JOIN alerts a ON a.id = e.alert_id
           ORDER BY e.id DESC, d.id DESC LIMIT ?""", (limit,)).fetchall()
    return [{**dict(r), "target": _redact(r["target"])} for r in rows]


# ---- Atom --------------------------------------------------------------------------------------
ATOM = "http://www.w3.org/2005/Atom"


def atom_feed(store: Store, ref: int | str, base_url: str = "", settings: Any = None) -> str:
    """The alert's events as an Atom 1.0 feed, newest first; entry ids are the event keys."""
    alert = get_alert(store, ref)
    cfg = _settings(settings)
    base = base_url.rstrip("/")
    events = store.conn.execute(
        "SELECT * FROM alert_events WHERE alert_id = ? ORDER BY id DESC LIMIT ?",
        (alert.id, int(cfg["feed_entries"]))).fetchall()
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        node = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            node.text = text
        return node

    sub(feed, "id", f"tag:tidings,2026:alert:{alert.id}:{alert.created_at}")
    sub(feed, "title", f"tidings alert: {alert.name}")
    sub(feed, "updated", events[0]["created_at"] if events else alert.created_at)
    sub(feed, "link", rel="self", href=f"{base}/alerts/{alert.id}.atom")
    sub(feed, "link", rel="alternate", href=f"{base}/alerts")
    sub(feed, "generator", "tidings")
    for ev in events:
        title, body = describe(ev["kind"], ev["title"], json.loads(ev["detail"]), ev["story_id"])
        entry = sub(feed, "entry")
        sub(entry, "id", f"tag:tidings,2026:event:{ev['key']}")
        sub(entry, "title", title)
        sub(entry, "updated", ev["created_at"])
        sub(entry, "published", ev["created_at"])
        sub(entry, "link", rel="alternate", href=f"{base}/stories/{quote(ev['story_id'])}")
        sub(entry, "category", term=ev["kind"])
        sub(sub(entry, "author"), "name", "tidings")
        sub(entry, "content", body, type="text")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode")

