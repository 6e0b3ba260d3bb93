"""The watcher under load: many local sources, polled every minute, growing while it runs.

    python bench/watch.py                                   # the issue's set-up: 200 sources x 20 entries
    python bench/watch.py --sources 200 --entries 3 --minutes 4 --new-per-minute 30   # scaled down

A child process serves ``--sources`` RSS feeds from ``--hosts`` loopback addresses
(127.0.0.2, 127.0.0.3, ...: each address is one host to the per-host delay), ``--entries``
entries each at the start (the backlog), then, once the backlog is stored, ``--new-per-minute``
new entries a minute for ``--minutes`` (in random feeds); every entry links to its own article
page (~150 words of English). This process loads the models (not timed), then runs the real
watcher (``Watcher.run``, every source due every ``--every``) into a temporary store, and a
reader thread notes when each entry's article reaches the store with its story (every 0.2 s).

Prints: the backlog (all initial entries: fetch + extract + pipeline + store) in articles/s;
freshness of the entries that appeared after it (appearance on the server -> its article stored
in its story), p50 and p95; the watcher's CPU time (user + system, this process only: the
server is the child) and peak RSS; the HTTP requests served, 304 answers included.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from email.utils import format_datetime
from datetime import datetime, timezone
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

PLACES = ["Zadar", "Ghent", "Tampere", "Porto", "Brno", "Lecce", "Aarhus", "Kaunas", "Split", "Graz", "Leiden",
          "Nantes", "Bergen", "Cluj", "Malaga", "Varna", "Tartu", "Kosice", "Ljubljana", "Sibiu", "Lublin", "Bari"]
ACTORS = ["the mayor", "the council", "the regional government", "the port authority", "the university",
          "the health ministry", "the rail operator", "the water company", "local police", "the fire service",
          "a residents' group", "the chamber of commerce", "the teachers' union", "the airport", "the court"]
ACTIONS = ["approved", "postponed", "criticised", "announced", "cancelled", "investigated", "welcomed",
           "rejected", "funded", "suspended", "extended", "reviewed", "opened", "closed", "doubled"]
OBJECTS = ["a new tram line", "the harbour expansion", "repairs to the old bridge", "a climate institute",
           "the summer festival", "emergency water supplies", "routes to the north", "a hospital wing",
           "the budget for schools", "a flood barrier", "night bus services", "the stadium renovation",
           "a housing programme", "the museum's new wing", "cycling lanes in the centre"]
DETAILS = ["after a vote late on Monday", "citing rising costs", "following weeks of protests",
           "despite objections from the opposition", "with support from the European Union",
           "after an inspection found serious faults", "in a statement on its website",
           "at a press conference in the town hall", "as part of a five-year plan", "without giving a date"]


def article(rng: random.Random, event: int) -> tuple[str, list[str]]:
    """A title and ~150 words about one event (entries of one event share place and subject)."""
    place = PLACES[event % len(PLACES)]
    subject = OBJECTS[event % len(OBJECTS)]
    title = f"{place}: {rng.choice(ACTORS)} {rng.choice(ACTIONS)} {subject}"
    paragraphs = []
    for _ in range(5):
        sentences = []
        for _ in range(2):
            sentences.append(f"In {place}, {rng.choice(ACTORS)} {rng.choice(ACTIONS)} {subject} "
                             f"{rng.choice(DETAILS)}, {rng.randint(2, 900)} people were told.")
        paragraphs.append(" ".join(s[0].upper() + s[1:] for s in sentences))
    return title, paragraphs


def plan(args: argparse.Namespace) -> list[list[dict]]:
    """Per feed, its entries: slug, appearance offset (seconds after the backlog was stored;
    None for the backlog, there from the start), title, paragraphs."""
    rng = random.Random(args.seed)
    feeds: list[list[dict]] = [[] for _ in range(args.sources)]
    count = 0
    for f in range(args.sources):
        for _ in range(args.entries):
            title, paragraphs = article(rng, rng.randrange(args.events))
            feeds[f].append({"slug": f"e{count}", "at": None, "title": title, "paragraphs": paragraphs})
            count += 1
    new_total = int(args.new_per_minute * args.minutes)
    for i in range(new_total):
        f = rng.randrange(args.sources)
        title, paragraphs = article(rng, rng.randrange(args.events))
        appear = (i + rng.random()) * 60.0 / max(args.new_per_minute, 1e-9)
        feeds[f].append({"slug": f"e{count}", "at": appear, "title": title, "paragraphs": paragraphs})
        count += 1
    return feeds


def host_of(args: argparse.Namespace, feed: int) -> str:
    return f"127.0.0.{2 + feed % args.hosts}"


def serve(args: argparse.Namespace, fresh_t0, port_queue, requests, not_modified) -> None:
    """The child process: one HTTP server per loopback address, all on the same port number.
    New entries appear once the parent sets ``fresh_t0`` (the backlog is stored)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    feeds = plan(args)

    def at(entry: dict) -> float:
        if entry["at"] is None:
            return 0.0
        start = fresh_t0.value
        return start + entry["at"] if start else float("inf")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            with requests.get_lock():
                requests.value += 1
            parts = self.path.strip("/").split("/")
            now = time.time()
            if parts[0] == "robots.txt":
                return self.send(404, b"", "text/plain")
            try:
                f = int(parts[1])
            except (IndexError, ValueError):
                return self.send(404, b"", "text/plain")
            visible = [e for e in feeds[f] if at(e) <= now]
            base = f"http://{host_of(args, f)}:{self.server.server_address[1]}/f/{f}"
            if len(parts) == 3 and parts[2] == "feed.xml":
                items = "".join(
                    f"<item><title>{escape(e['title'])}</title><link>{base}/{e['slug']}.html</link>"
                    f"<guid>{base}/{e['slug']}.html</guid>"
                    f"<pubDate>{format_datetime(datetime.fromtimestamp(at(e) or 1.7e9, timezone.utc), usegmt=True)}</pubDate>"
                    f"<description>{escape(e['paragraphs'][0])}</description></item>" for e in reversed(visible[-50:]))
                body = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {f}</title><link>{base}</link>'
                        f"<description>bench</description>{items}</channel></rss>").encode()
                etag = f'"{f}-{len(visible)}"'
                if self.headers.get("If-None-Match") == etag:
                    with not_modified.get_lock():
                        not_modified.value += 1
                    return self.send(304, b"", "application/rss+xml", {"ETag": etag})
                return self.send(200, body, "application/rss+xml", {"ETag": etag})
            slug = parts[2].removesuffix(".html") if len(parts) == 3 else ""
            entry = next((e for e in visible if e["slug"] == slug), None)
            if entry is None:
                return self.send(404, b"", "text/plain")
            body = (f"<!DOCTYPE html><html lang=en><head><title>{escape(entry['title'])}</title></head><body>"
                    f"<nav>Home | World | Local</nav><article><h1>{escape(entry['title'])}</h1>"
                    + "".join(f"<p>{escape(p)}</p>" for p in entry["paragraphs"])
                    + "</article><footer>Bench Gazette</footer></body></html>").encode()
            return self.send(200, body, "text/html; charset=utf-8")

        def send(self, status, body, ctype, headers=None):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if body:
                self.wfile.write(body)

    first = ThreadingHTTPServer(("127.0.0.2", 0), Handler)
    port = first.server_address[1]
    servers = [first] + [ThreadingHTTPServer((f"127.0.0.{2 + h}", port), Handler) for h in range(1, args.hosts)]
    for s in servers:
        s.daemon_threads = True
        threading.Thread(target=s.serve_forever, daemon=True).start()
    port_queue.put(port)
    while True:
        time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=200)
    parser.add_argument("--entries", type=int, default=20, help="entries per feed at the start")
    parser.add_argument("--hosts", type=int, default=50, help="loopback addresses serving the feeds")
    parser.add_argument("--events", type=int, default=300, help="distinct events the entries report")
    parser.add_argument("--every", default="1m", help="poll interval of every source")
    parser.add_argument("--minutes", type=float, default=5.0, help="how long new entries keep appearing")
    parser.add_argument("--new-per-minute", type=float, default=20.0)
    parser.add_argument("--per-host-delay", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()

    from tidings.config import Settings
    from tidings.pipeline import Monitor
    from tidings.watch import Watcher, add_sources

    spawn = multiprocessing.get_context("spawn")
    queue = spawn.Queue()
    requests, not_modified = spawn.Value("l", 0), spawn.Value("l", 0)
    fresh_t0 = spawn.Value("d", 0.0)
    server = spawn.Process(target=serve, args=(args, fresh_t0, queue, requests, not_modified), daemon=True)
    server.start()
    port = queue.get(timeout=60)
    feeds = plan(args)
    url_of = {}
    for f, entries in enumerate(feeds):
        for e in entries:
            url_of[f"http://{host_of(args, f)}:{port}/f/{f}/{e['slug']}.html"] = e["at"]
    backlog = {u for u, at in url_of.items() if at is None}
    tmp = tempfile.mkdtemp(prefix="tidings-bench-watch-")
    db = Path(tmp) / "watch.db"
    settings = Settings.load(env={}, overrides={
        "ingest": {"allow_private_addresses": True},
        "watch": {"per_host_delay": args.per_host_delay, "concurrency": args.concurrency, "idle_seconds": 1.0,
                  "max_entries_per_poll": max(100, args.entries)}})
    monitor = Monitor(db, settings)
    # load the models first (not stored): the figures are for a running watcher, not its start-up
    from tidings.models import Document
    title, paragraphs = article(random.Random(0), 0)
    warm = monitor.pipeline.prepare(Document(source="warm-up", raw=b"", content_type="text",
                                             text="\n\n".join(paragraphs), title=title))
    monitor.pipeline.embed([warm])
    add_sources(monitor.store, [f"http://{host_of(args, f)}:{port}/f/{f}/feed.xml" for f in range(args.sources)],
                every=args.every)
    print(f"{args.sources} sources on {args.hosts} hosts, {len(backlog)} entries at the start, "
          f"{len(url_of) - len(backlog)} appearing over {args.minutes:g} min; store {db}", file=sys.stderr)

    stored_at: dict[str, float] = {}
    stop = threading.Event()

    def reader() -> None:
        last = 0
        while not stop.is_set():
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                    rows = conn.execute("SELECT rowid, url, story_id, duplicate_of FROM articles WHERE rowid > ?",
                                        (last,)).fetchall()
                now = time.time()
                for rowid, url, story_id, duplicate_of in rows:
                    last = max(last, rowid)
                    if story_id or duplicate_of:
                        stored_at.setdefault(url, now)
            except sqlite3.Error:
                pass
            stop.wait(0.2)

    threading.Thread(target=reader, daemon=True).start()
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    started = time.time()
    watcher = Watcher(monitor)
    runner = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    runner.start()
    backlog_done = None
    while backlog_done is None:
        time.sleep(0.5)
        if backlog <= stored_at.keys():
            backlog_done = max(stored_at[u] for u in backlog)
            fresh_t0.value = time.time()  # new entries start appearing now
            print(f"backlog stored after {backlog_done - started:.0f} s; new entries appear for "
                  f"{args.minutes:g} min", file=sys.stderr)
    usage_backlog = resource.getrusage(resource.RUSAGE_SELF)
    end = fresh_t0.value + args.minutes * 60 + 90  # the last entries get one more poll interval and then some
    while time.time() < end:
        time.sleep(1.0)
    stop.set()
    runner.join(300)
    watcher.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    elapsed = time.time() - started
    stats = {"requests": requests.value, "304": not_modified.value}
    server.terminate()

    start = fresh_t0.value
    fresh = sorted(stored_at[u] - (start + at) for u, at in url_of.items() if at is not None and u in stored_at)
    missing = sum(1 for u, at in url_of.items() if at is not None and u not in stored_at)
    articles = monitor.store.count("articles")
    stories = monitor.store.count("stories")
    monitor.close()
    cpu = (usage.ru_utime - usage0.ru_utime) + (usage.ru_stime - usage0.ru_stime)
    cpu_backlog = (usage_backlog.ru_utime - usage0.ru_utime) + (usage_backlog.ru_stime - usage0.ru_stime)
    print(f"backlog: {len(backlog)} articles fetched + ingested in {backlog_done - started:.1f} s = "
          f"{len(backlog) / (backlog_done - started):.2f} articles/s ({cpu_backlog:.0f} s CPU, "
          f"{cpu_backlog / len(backlog) * 1000:.0f} ms CPU per article)")
    if fresh:
        p95 = fresh[min(len(fresh) - 1, int(round(0.95 * (len(fresh) - 1))))]
        print(f"freshness (appearance on the server -> article in its story), {len(fresh)} new entries: "
              f"p50 {statistics.median(fresh):.1f} s, p95 {p95:.1f} s, max {fresh[-1]:.1f} s; not stored: {missing}")
    print(f"watcher CPU {cpu:.0f} s over {elapsed:.0f} s wall ({cpu / elapsed:.2f} cores); "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
          f"{articles} articles, {stories} stories" + (f"; server answered {stats['requests']} requests "
                                                       f"({stats['304']} x 304)" if stats else ""))


if __name__ == "__main__":
    main()
