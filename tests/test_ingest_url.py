"""http(s) URLs against a local server started by the test (never the live web)."""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tidings.errors import FetchError, TooLarge, UnsupportedInput
from tidings.ingest import read_sources
from tidings.models import Document

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
SETTINGS = {"ingest": {"http_timeout": 0.5, "http_max_redirects": 3, "max_bytes": 20_000, "user_agent": "tidings-test/1",
                      "allow_private_addresses": True},
            "watch": {"per_host_delay": 0.0}}
SLOW_SECONDS = 2.0


class Handler(BaseHTTPRequestHandler):
    agents: list[str] = []

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _send(self, status, body=b"", content_type="text/html; charset=utf-8", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for key, value in headers:
            self.send_header(key, value)
        if body is not None:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                pass

    def do_GET(self):
        Handler.agents.append(self.headers.get("User-Agent", ""))
        path = self.path
        if path == "/article.html":
            self._send(200, (FIXTURES / "article.html").read_bytes())
        elif path == "/feed":
            self._send(200, (FIXTURES / "feed.rss").read_bytes(), "application/rss+xml")
        elif path == "/plain":
            self._send(200, "Plain title\n\nA plain text article body.".encode("utf-8"), "text/plain")
        elif path == "/moved":
            self._send(302, b"", headers=[("Location", "/article.html")])
        elif path.startswith("/loop"):
            self._send(302, b"", headers=[("Location", f"/loop{len(path)}")])
        elif path == "/slow":
            time.sleep(SLOW_SECONDS)
            self._send(200, b"<html><body><p>late</p></body></html>")
        elif path == "/big":
            self._send(200, b"<html><body>" + b"<p>word</p>" * 5000 + b"</body></html>")
        elif path == "/big-unsized":  # no Content-Length: the cap must apply while streaming
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                for _ in range(50):
                    self.wfile.write(b"<p>" + b"x" * 1000 + b"</p>")
            except (BrokenPipeError, ConnectionResetError):  # the client stopped at the cap
                pass
            self.close_connection = True
        elif path == "/pdf":
            self._send(200, b"%PDF-1.4 ...", "application/pdf")
        else:
            self._send(404, b"not here")


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _one(url):
    items = list(read_sources([url], SETTINGS))
    assert len(items) == 1, items
    return items[0]


def test_html_page(server):
    doc = _one(f"{server}/article.html")
    assert isinstance(doc, Document) and doc.source == f"{server}/article.html"
    assert doc.title == "Floods on the Sava force evacuations"
    assert doc.published_at == datetime(2024, 5, 14, 6, 30, tzinfo=timezone.utc)
    assert doc.raw == (FIXTURES / "article.html").read_bytes()
    assert Handler.agents[-1] == "tidings-test/1"


def test_feed_url_gives_items(server):
    docs = list(read_sources([f"{server}/feed"], SETTINGS))
    assert [d.source for d in docs] == [f"{server}/feed#{i}" for i in (1, 2, 3)]
    assert docs[1].title == "Port strike in Hamburg enters second day"


def test_plain_text_and_redirect(server):
    plain = _one(f"{server}/plain")
    assert plain.title == "Plain title" and plain.url == f"{server}/plain"
    moved = _one(f"{server}/moved")
    assert isinstance(moved, Document) and moved.source == f"{server}/moved"


@pytest.mark.parametrize("path,error,message", [
    ("/missing", FetchError, "HTTP 404 Not Found"),
    ("/loop", FetchError, "too many redirects (more than 3)"),
    ("/big", TooLarge, "over the 20,000-byte limit"),
    ("/big-unsized", TooLarge, "over the 20,000-byte limit"),
    ("/pdf", UnsupportedInput, "unsupported content type 'application/pdf'"),
])
def test_fetch_errors(server, path, error, message):
    err = _one(f"{server}{path}")
    assert type(err) is error, err
    assert err.source == f"{server}{path}" and message in str(err)


def test_timeout(server):
    started = time.monotonic()
    err = _one(f"{server}/slow")
    assert isinstance(err, FetchError) and "timed out after 0.5 s" in str(err)
    assert time.monotonic() - started < SLOW_SECONDS


def test_unreachable_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/article.html"
    err = _one(url)
    assert isinstance(err, FetchError) and str(err).startswith(f"{url}: unreachable")
    assert "Traceback" not in str(err)


def test_batch_goes_on_after_a_failed_url(server):
    items = list(read_sources([f"{server}/missing", f"{server}/plain"], SETTINGS))
    assert isinstance(items[0], FetchError) and isinstance(items[1], Document)
