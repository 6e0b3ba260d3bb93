"""A small news site on 127.0.0.1 for the watcher tests: feeds that grow with a controllable
clock, sitemaps, article pages, robots.txt, 304s, 500s, slow answers and redirect chains.
Every request is recorded (monotonic time, path, headers) so tests can check what was asked."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

CITIES = ["Zadar", "Ghent", "Tampere", "Porto", "Brno", "Lecce", "Aarhus", "Kaunas", "Split", "Graz",
          "Leiden", "Nantes", "Bergen", "Cluj", "Malaga", "Varna"]
TOPICS = [("council approves a new tram line", "tram"), ("harbour reopens after a storm", "harbour"),
          ("museum returns a stolen painting", "painting"), ("bridge closes for emergency repairs", "bridge"),
          ("university opens a climate institute", "institute"), ("festival draws record crowds", "festival"),
          ("water supply restored after a pipe burst", "pipe"), ("airport adds routes to the north", "airport")]
START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


class Clock:
    """The watcher's and the site's notion of now, moved by the test."""

    def __init__(self, now: datetime = START):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Story:
    slug: str
    title: str
    summary: str
    paragraphs: list[str]
    published: datetime
    marker: str  # a sentence only the full page has (never the feed's summary)


def make_story(n: int, published: datetime) -> Story:
    city = CITIES[n % len(CITIES)]
    topic, word = TOPICS[n % len(TOPICS)]
    marker = f"Resident number {1000 + n} in {city} said the {word} decision surprised the whole street."
    paragraphs = [
        f"The city of {city} announced on Monday that its {topic.split(' ', 1)[1]}, officials said at a press "
        f"conference held in the town hall.",
        f"Mayor Ana Novak of {city} told reporters that the work had been planned for two years and that "
        f"the budget of {3 + n} million euros was approved by a large majority of the council.",
        f"Local businesses in {city} welcomed the news, while opposition councillors asked for more details "
        f"about the timetable and the cost of the {word} project for the coming decade.",
        marker,
        f"The next public meeting about the {word} plans in {city} is scheduled for the first week of April.",
    ]
    return Story(slug=f"{city.lower()}-{word}-{n}", title=f"{city} {topic}", summary=paragraphs[0],
                 paragraphs=paragraphs, published=published, marker=marker)


def article_html(story: Story, canonical: str | None = None) -> bytes:
    link = f'<link rel="canonical" href="{escape(canonical)}">' if canonical else ""
    body = "".join(f"<p>{escape(p)}</p>" for p in story.paragraphs)
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(story.title)}</title>"
            f"{link}<meta property=\"og:title\" content=\"{escape(story.title)}\"></head><body>"
            f"<nav><a href=\"/\">Home</a> | <a href=\"/world\">World</a></nav>"
            f"<article><h1>{escape(story.title)}</h1>{body}</article>"
            f"<footer>Copyright The Test Gazette</footer></body></html>").encode("utf-8")


def rss(title: str, base: str, items: list[tuple[Story, str]]) -> bytes:
    out = [f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{escape(title)}</title>'
           f"<link>{escape(base)}/</link><description>test</description>"]
    for story, link in items:
        out.append(f"<item><title>{escape(story.title)}</title><link>{escape(link)}</link>"
                   f"<guid>{escape(link)}</guid><pubDate>{format_datetime(story.published, usegmt=True)}</pubDate>"
                   f"<description>{escape(story.summary)}</description></item>")
    out.append("</channel></rss>")
    return "".join(out).encode("utf-8")


@dataclass
class Route:
    status: int = 200
    body: bytes | None = None
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    make: object = None  # callable() -> bytes, evaluated per request (growing feeds)
    etag: bool = False   # answer If-None-Match with 304 when the body did not change
    hold: threading.Event | None = None  # the request waits for this event (kill -9 tests)


class Site:
    """Routes by path; ``requests`` lists (monotonic time, path, headers) of every request."""

    def __init__(self, clock: Clock | None = None):
        self.clock = clock or Clock()
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[float, str, dict[str, str]]] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.base = ""
        self.feeds: dict[str, list[tuple[Story, str]]] = {}

    # ---- content --------------------------------------------------------------------------
    def page(self, path: str, story: Story, canonical: str | None = None, **route) -> str:
        self.routes[path] = Route(body=article_html(story, canonical), **route)
        return self.base + path

    def feed(self, path: str, stories: list[Story], *, title: str = "The Test Gazette", pages: bool = True,
             page_prefix: str | None = None, base: str | None = None) -> list[str]:
        """A feed listing each story once the clock has reached its publication time; its links
        point at ``base`` (another host name for this server, e.g. localhost) when given."""
        prefix = page_prefix or path.rsplit("/", 1)[0] + "/a/"
        items = []
        for story in stories:
            link = f"{base or self.base}{prefix}{story.slug}.html"
            if pages:
                self.page(f"{prefix}{story.slug}.html", story)
            items.append((story, link))

        def make() -> bytes:
            visible = [(s, link) for s, link in items if s.published <= self.clock.now]
            return rss(title, self.base, list(reversed(visible)))

        self.routes[path] = Route(make=make, content_type="application/rss+xml", etag=True)
        self.feeds[path] = items
        return [link for _, link in items]

    def paths(self, prefix: str = "") -> list[str]:
        with self.lock:
            return [p for _, p, _ in self.requests if p.startswith(prefix)]

    def count(self, path: str) -> int:
        return self.paths().count(path)

    # ---- server ---------------------------------------------------------------------------
    def start(self) -> "Site":
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                with site.lock:
                    site.requests.append((time.monotonic(), path, {k.lower(): v for k, v in self.headers.items()}))
                route = site.routes.get(path)
                if route is None:
                    return self._send(404, b"not here", "text/plain", {})
                if route.hold is not None:
                    route.hold.wait(300)
                if route.delay:
                    time.sleep(route.delay)
                body = route.make() if route.make else (route.body or b"")
                headers = dict(route.headers)
                if route.etag and route.status == 200:
                    tag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                    headers["ETag"] = tag
                    if self.headers.get("If-None-Match") == tag:
                        return self._send(304, b"", route.content_type, headers)
                return self._send(route.status, body, route.content_type, headers)

            def _send(self, status, body, content_type, headers):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    if body:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def site_settings(**watch) -> dict:
    """Settings overrides for the tests: the local server allowed, small delays."""
    values = {"per_host_delay": 0.02, "concurrency": 4, "robots_ttl": 3600.0, "backoff_base": 60.0,
              "backoff_jitter": 0.0, "idle_seconds": 0.2}
    values.update(watch)
    return {"ingest": {"allow_private_addresses": True, "http_timeout": 2.0}, "watch": values}
