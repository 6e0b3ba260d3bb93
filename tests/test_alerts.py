"""Alerts: events for new, growing and new-language stories, each delivered once to a real webhook
on loopback (across restarts), retries with backoff for a failing one, the Atom feed, the page, the CLI."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import feedparser
import pytest

from tidings.config import Settings
from tidings.models import Article, Document
from tidings.store import Store, parse_iso
from tidings.watch import alerts

T0 = datetime(2026, 3, 3, 6, 0, tzinfo=timezone.utc)


class Receiver:
    """A webhook receiver on 127.0.0.1 that records every POST and answers ``status``."""

    def __init__(self, status: int = 200):
        self.status = status
        self.posts: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.posts.append(json.loads(body or b"{}"))
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def failing():
    r = Receiver(status=500)
    yield r
    r.close()


def put(store: Store, story: str, aid: str, lang: str, hours: float, text: str = "Earthquake in Izmir.") -> None:
    """One article of ``story`` written the way the pipeline writes it, events evaluated in the same transaction."""
    with store.transaction():
        a = Article(id=aid, source=f"{aid}.txt", title=f"Quake {aid}", text=text, lang=lang, lang_confidence=0.9,
                    published_at=T0 + timedelta(hours=hours), content_hash="h" + aid, story_id=story,
                    date_source="metadata")
        store.add_article(a, store.add_raw(Document(source=a.source, raw=b"x", content_type="text", text=text)))
        store.set_membership(aid, story, 0.9)
        store.refresh_stories([story])
        alerts.evaluate(store, [story], SETTINGS, now=T0 + timedelta(hours=hours))


SETTINGS = Settings.load(env={})


def kinds(posts):
    return sorted(p["title"].split(":")[0] for p in posts)


def test_one_post_per_event_and_none_again_after_a_restart(tmp_path, receiver):
    path = tmp_path / "a.db"
    with Store.open(path) as store:
        put(store, "s-old", "a0", "en", 0)   # matches already when the alert is made: no "new" event for it
        alerts.add_alert(store, "izmir", q="Izmir", notify=[receiver.url], growth=2)
        put(store, "s-1", "a1", "en", 1)
        assert alerts.deliver_pending(store, SETTINGS)["sent"] == 1
        put(store, "s-1", "a2", "de", 2)          # a new language
        put(store, "s-old", "a0b", "en", 2)       # grows by one: below the step of 2
        assert alerts.deliver_pending(store, SETTINGS)["sent"] == 1
    with Store.open(path) as store:               # a restart: nothing is sent again
        assert alerts.deliver_pending(store, SETTINGS)["sent"] == 0
        put(store, "s-1", "a3", "de", 3)          # size 3 = 1 + 2: grew
        put(store, "s-1", "a4", "hr", 4)          # hr: a new language (size 4, no second growth yet)
        alerts.evaluate(store, ["s-1", "s-old"], SETTINGS)   # the same state evaluated again: no event
        put(store, "s-2", "a5", "fr", 5, text="Nothing about that city.")   # does not match
        assert alerts.deliver_pending(store, SETTINGS)["sent"] == 2
        assert alerts.deliver_pending(store, SETTINGS)["sent"] == 0
        keys = [r[0] for r in store.conn.execute("SELECT key FROM alert_events ORDER BY id")]
    assert kinds(receiver.posts) == ["New story", "Story grew to 3 articles", "Story reached a new language",
                                     "Story reached a new language"]
    assert len(keys) == len(set(keys)) == 4
    assert keys[0].endswith(":new:s-1") and "s-old" not in " ".join(keys)
    assert all("Quake a1" in p["message"] for p in receiver.posts)


def test_a_failing_target_is_retried_with_backoff_and_shown(tmp_path, failing, receiver):
    with Store.open(tmp_path / "f.db") as store:
        alerts.add_alert(store, "both", min_size=1, notify=[failing.url, receiver.url])
        put(store, "s-1", "a1", "en", 0)
        now = T0
        first = alerts.deliver_pending(store, SETTINGS, now)
        assert first == {"sent": 1, "failed": 1, "gave_up": 0}
        times = []
        for _ in range(3):
            row = store.conn.execute("SELECT * FROM alert_deliveries WHERE status = 'pending'").fetchone()
            due = parse_iso(row["next_attempt_at"])
            times.append((due - now).total_seconds())
            assert alerts.deliver_pending(store, SETTINGS, due - timedelta(seconds=1))["failed"] == 0  # not yet due
            now = due
            assert alerts.deliver_pending(store, SETTINGS, now)["failed"] == 1
        assert times == [60.0, 120.0, 240.0]          # retry_base_seconds, doubling
        assert len(failing.posts) == 4 and len(receiver.posts) == 1
        listed = alerts.list_alerts(store)[0]
        assert listed["deliveries"] == {"sent": 1, "pending": 1, "failed": 0}
        assert "500" in listed["last_error"]["last_error"]
        # after max_attempts it is given up, and shown as failed
        for _ in range(int(SETTINGS.section("alerts")["max_attempts"])):
            now += timedelta(days=1)
            alerts.deliver_pending(store, SETTINGS, now)
        assert alerts.list_alerts(store)[0]["deliveries"] == {"sent": 1, "pending": 0, "failed": 1}
        assert len(failing.posts) == int(SETTINGS.section("alerts")["max_attempts"])


def test_atom_feed_and_page_served_by_the_app(tmp_path, failing):
    from fastapi.testclient import TestClient

    from tidings.api import create_app

    path = tmp_path / "w.db"
    with Store.open(path) as store:
        alert = alerts.add_alert(store, "watch <b>", lang="en", notify=[failing.url])
        put(store, "s-1", "a1", "en", 0)
        put(store, "s-1", "a2", "de", 1)
        alerts.deliver_pending(store, SETTINGS, T0)
    with TestClient(create_app(str(path), SETTINGS)) as client:
        response = client.get(f"/alerts/{alert.id}.atom")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/atom+xml")
        feed = feedparser.parse(response.content)
        assert not feed.bozo, feed.bozo_exception
        assert feed.feed.title == "tidings alert: watch <b>"
        assert [e.title.split(":")[0] for e in feed.entries] == ["Story reached a new language", "New story"]
        assert feed.entries[1].link.endswith("/stories/s-1")
        assert len({e.id for e in feed.entries}) == 2
        page = client.get("/alerts")
        assert page.status_code == 200
        assert "watch &lt;b&gt;" in page.text and "<b>" not in page.text.split("<main>")[1]
        assert "500" in page.text and "pending" in page.text
        assert client.get("/alerts/999.atom").status_code == 404


def test_alert_definitions_are_checked(tmp_path):
    with Store.open(tmp_path / "c.db") as store:
        with pytest.raises(alerts.AlertError, match="at least one filter"):
            alerts.add_alert(store, "empty")
        with pytest.raises(alerts.AlertError, match="Apprise"):
            alerts.add_alert(store, "bad", lang="en", notify=["nosuchscheme://x"])
        alerts.add_alert(store, "ok", lang="en")
        with pytest.raises(alerts.AlertError, match="exists"):
            alerts.add_alert(store, "ok", lang="hr")


def test_cli_add_list_remove(tmp_path, receiver):
    from typer.testing import CliRunner

    from tidings.cli import app

    db = str(tmp_path / "cli.db")
    runner = CliRunner()
    result = runner.invoke(app, ["--db", db, "alerts", "add", "quake", "-q", "Izmir", "--min-languages", "2",
                                 "--notify", receiver.url])
    assert result.exit_code == 0, result.output
    listed = json.loads(runner.invoke(app, ["--db", db, "alerts", "list", "--json"]).output)
    assert listed[0]["filters"] == {"q": "Izmir", "min_languages": 2} and listed[0]["notify"] == [receiver.url]
    result = runner.invoke(app, ["--db", db, "alerts", "test", "quake"])
    assert result.exit_code == 0 and len(receiver.posts) == 1
    result = runner.invoke(app, ["--db", db, "alerts", "add", "nothing"])
    assert result.exit_code != 0
    assert runner.invoke(app, ["--db", db, "alerts", "remove", "quake"]).exit_code == 0
    assert json.loads(runner.invoke(app, ["--db", db, "alerts", "list", "--json"]).output) == []


def test_ingest_through_the_monitor_triggers_alerts_once(tmp_path, receiver):
    """The real pipeline: Monitor ingest evaluates alerts in the batch's transaction and delivers
    after the commit; a reopened monitor ingesting the same and more articles sends no repeat."""
    import tidings
    from conftest import EXAMPLES

    records = {json.loads(line)["id"]: line for line in
               (EXAMPLES / "articles.jsonl").read_text(encoding="utf-8").splitlines()}
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text(records["izmir-en-1"] + "\n", encoding="utf-8")
    second.write_text("\n".join(records[k] for k in ("izmir-en-1", "izmir-de-1")) + "\n", encoding="utf-8")
    db = tmp_path / "m.db"
    with tidings.open(db) as monitor:
        alerts.add_alert(monitor.store, "quake", q="AFAD", notify=[receiver.url])
        monitor.ingest([first])
    assert kinds(receiver.posts) == ["New story"]
    with tidings.open(db) as monitor:
        report = monitor.ingest([second])
        assert report.already_stored == 1 and len(report.added) == 1
        story = monitor.store.conn.execute("SELECT story_id FROM articles WHERE external_id = 'izmir-de-1'").fetchone()[0]
    assert kinds(receiver.posts) == ["New story", "Story reached a new language"], receiver.posts
    assert story in receiver.posts[1]["message"]


def test_a_dead_webhook_never_fails_an_ingest(tmp_path):
    import socket

    import tidings
    from conftest import EXAMPLES

    with socket.socket() as s:   # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    record = next(line for line in (EXAMPLES / "articles.jsonl").read_text(encoding="utf-8").splitlines()
                  if '"sport-hr-1"' in line)
    (tmp_path / "one.jsonl").write_text(record + "\n", encoding="utf-8")
    with tidings.open(tmp_path / "d.db") as monitor:
        alerts.add_alert(monitor.store, "all", min_size=1, notify=[f"json://127.0.0.1:{port}/hook"])
        report = monitor.ingest([tmp_path / "one.jsonl"])
        assert report.ok and len(report.added) == 1
        listed = alerts.list_alerts(monitor.store)[0]
    assert listed["events"] == 1 and listed["deliveries"]["pending"] == 1 and listed["last_error"]


def test_min_languages_and_entity_filters(tmp_path):
    from tidings.models import Analysis, Entity, Mention

    with Store.open(tmp_path / "e.db") as store:
        two = alerts.add_alert(store, "two languages", min_languages=2)
        izmir = alerts.add_alert(store, "izmir place", place="geo:311046")
        put(store, "s-1", "a1", "en", 0)
        assert store.conn.execute("SELECT COUNT(*) FROM alert_events").fetchone()[0] == 0
        put(store, "s-1", "a2", "de", 1)   # reaches two languages: first match, so "new" (not "language")
        with store.transaction():
            place = Entity("geo:311046", "LOC", "İzmir", 311046, "TR", 38.4, 27.1)
            a = Article(id="a3", source="a3.txt", title="Izmir", text="Izmir quake.", lang="tr", lang_confidence=0.9,
                        published_at=T0, content_hash="ha3", story_id="s-2",
                        analysis=Analysis(mentions=[Mention(place.id, "LOC", "Izmir", 0, 5)], entities={place.id: place}))
            store.add_article(a, None)
            store.set_membership("a3", "s-2", 0.9)
            store.refresh_stories(["s-2"])
            alerts.evaluate(store, ["s-2"], SETTINGS)
        events = store.conn.execute("SELECT alert_id, kind, story_id FROM alert_events ORDER BY id").fetchall()
    assert [tuple(e) for e in events] == [(two.id, "new", "s-1"), (izmir.id, "new", "s-2")]


def test_each_watcher_pass_retries_the_deliveries_that_are_due(tmp_path, failing, receiver):
    """A delivery that failed is retried by the next watcher pass whose clock has passed its
    retry time (the watcher calls deliver_pending once per pass, with its own clock)."""
    import tidings
    from tidings.watch import Watcher

    with tidings.open(tmp_path / "w.db", settings=SETTINGS) as monitor:
        alerts.add_alert(monitor.store, "retry", min_size=1, notify=[failing.url])
        put(monitor.store, "s-1", "a1", "en", 0)
        assert alerts.deliver_pending(monitor.store, SETTINGS, T0)["failed"] == 1
        now = [T0 + timedelta(seconds=30)]
        watcher = Watcher(monitor, clock=lambda: now[0])
        try:
            watcher.run_once()                       # before the retry time: nothing sent
            assert len(failing.posts) == 1
            failing.status = 200
            now[0] = T0 + timedelta(seconds=61)
            watcher.run_once()                       # due now: retried, and it goes through
        finally:
            watcher.close()
        assert len(failing.posts) == 2
        assert alerts.list_alerts(monitor.store)[0]["deliveries"] == {"sent": 1, "pending": 0, "failed": 0}
