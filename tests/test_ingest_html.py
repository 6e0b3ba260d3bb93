"""HTML pages: main text and metadata by trafilatura, offline."""

from __future__ import annotations

import socket
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tidings.errors import EmptyInput
from tidings.ingest import read_sources
from tidings.models import Document

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"


@pytest.fixture()
def no_network(monkeypatch):
    """Fail the test if anything tries to open a network connection."""
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_article_text_and_metadata(no_network):
    (doc,) = read_sources([FIXTURES / "article.html"])
    assert isinstance(doc, Document), doc
    assert doc.content_type == "html"
    assert doc.raw == (FIXTURES / "article.html").read_bytes()
    assert doc.title == "Floods on the Sava force evacuations"
    assert doc.url == "https://river-daily.example/2024/05/sava-floods"
    assert doc.outlet == "River Daily"
    assert doc.published_at == datetime(2024, 5, 14, 6, 30, tzinfo=timezone.utc)
    assert doc.text.startswith("The Sava river burst its banks near Zagreb")
    assert "Jasenovac gauge" in doc.text
    for furniture in ("Transfer news", "Home | World", "Most read"):
        assert furniture not in doc.text


def test_html_without_article_text(tmp_path):
    page = tmp_path / "empty.html"
    page.write_text("<html><head><title>Nothing</title></head><body><nav>Home</nav></body></html>", encoding="utf-8")
    (err,) = read_sources([page])
    assert isinstance(err, EmptyInput) and err.source == str(page)


def test_html_sniffed_without_extension(tmp_path):
    page = tmp_path / "page"
    page.write_bytes((FIXTURES / "article.html").read_bytes())
    (doc,) = read_sources([page])
    assert isinstance(doc, Document) and doc.title == "Floods on the Sava force evacuations"
