"""Kinds of sources and how to read their entries: feeds, sitemaps, home pages, local folders.

A source's *listing* (a feed, a sitemap, a home page, a folder) gives *entries*: the link to an
article, with what the listing says about it (title, summary, date). Each entry is a
:class:`~tidings.models.Document` whose text is the listing's summary (often empty); the watcher
then fetches the page behind the link (:func:`article_document`).

* ``feed``: RSS, Atom, RDF or JSON Feed (read by :mod:`tidings.ingest`, the same parser as
  ``tidings ingest feed.xml``).
* ``sitemap``: a sitemap or a sitemap index (its child sitemaps are read too), including Google
  News sitemaps (``news:`` namespace: title, publication date, language).
* ``page``: a home page; the feeds it links to (``<link rel="alternate">``, trafilatura's feed
  discovery) are followed, else the sitemaps named in its robots.txt.
* ``folder``: a local directory; files that are new (or changed) since the last poll are ingested.
* ``auto``: decided at the first poll from what the URL serves.

OPML (the subscription list format of feed readers) is read and written here too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import EmptyInput, FetchError, InputError, MalformedRecord, UnsupportedInput
from ..models import Document

log = logging.getLogger(__name__)

KINDS = ("auto", "feed", "sitemap", "page", "folder")
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"


@dataclass
class Listing:
    """What one poll of a source's listing gave."""

    entries: list[Document] = field(default_factory=list)
    kind: str | None = None          # the kind found (for an ``auto`` source)
    feed_url: str | None = None      # the feed or sitemap found behind a home page
    errors: list[InputError] = field(default_factory=list)  # entries that could not be read


def kind_of(target: str) -> str:
    """``folder`` for a local directory, ``auto`` for an http(s) URL; raise for anything else."""
    if target.lower().startswith(("http://", "https://")):
        parts = urlsplit(target)
        if not parts.hostname:
            raise UnsupportedInput("not a URL with a host name", source=target)
        return "auto"
    path = Path(target).expanduser()
    if path.is_dir():
        return "folder"
    raise UnsupportedInput("neither an http(s) URL nor a local folder", source=target,
                           hint="give a feed, sitemap or home page URL, or a directory")


def normalise_target(target: str) -> str:
    """The form a source is stored under: the URL as given, or a folder's absolute path."""
    if target.lower().startswith(("http://", "https://")):
        return target.strip()
    return str(Path(target).expanduser().resolve())


# ---- reading a listing ----------------------------------------------------------------------
def sniff(body: bytes, content_type: str) -> str:
    """``feed``, ``sitemap`` or ``page`` for a fetched body."""
    from ..ingest import looks_like_feed, looks_like_jsonfeed

    head = body[:4096].lstrip()
    if looks_like_jsonfeed(body) or looks_like_feed(body):
        return "feed"
    if b"<urlset" in head or b"<sitemapindex" in head:
        return "sitemap"
    if "html" in content_type or b"<html" in head.lower() or b"<!doctype html" in head.lower():
        return "page"
    if any(k in content_type for k in ("rss", "atom", "rdf")):
        return "feed"
    raise UnsupportedInput(f"neither a feed, a sitemap nor an HTML page (content type '{content_type or '?'}')")


def feed_entries(body: bytes, url: str, section: dict[str, Any]) -> Listing:
    """Entries of an RSS/Atom/RDF feed or a JSON Feed (the ingest readers: same fields)."""
    from ..ingest import _read_feed, _read_jsonfeed, looks_like_jsonfeed

    reader = _read_jsonfeed if looks_like_jsonfeed(body) else _read_feed
    listing = Listing(kind="feed")
    for item in reader(body, url, section):
        if isinstance(item, Document):
            item.date_source = "feed" if item.published_at else None
            listing.entries.append(item)
        elif isinstance(item, EmptyInput) and item.source == url:
            continue  # a feed with no items yet is not an error
        else:
            listing.errors.append(item)
    return listing


def sitemap_entries(body: bytes, url: str) -> tuple[list[Document], list[str]]:
    """Entries of a sitemap (``<urlset>``) and child sitemaps of an index (``<sitemapindex>``).

    A Google News sitemap's ``news:title``, ``news:publication_date`` and ``news:language`` are
    kept; otherwise ``lastmod`` stands in for the date (it is when the page last changed).
    """
    from lxml import etree

    from ..ingest import parse_datetime

    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise MalformedRecord(f"malformed sitemap ({exc})", source=url) from None
    if root is None:
        raise MalformedRecord("malformed sitemap (no XML root)", source=url)

    def text(el: Any, path: str) -> str | None:
        found = el.find(path, {"s": SITEMAP_NS, "n": NEWS_NS})
        return found.text.strip() if found is not None and found.text and found.text.strip() else None

    local = etree.QName(root).localname
    if local == "sitemapindex":
        children = [text(el, "s:loc") or text(el, "loc") for el in root.iter(f"{{{SITEMAP_NS}}}sitemap", "sitemap")]
        return [], [c for c in children if c]
    if local != "urlset":
        raise UnsupportedInput(f"not a sitemap (root element <{local}>)", source=url)
    entries: list[Document] = []
    for index, el in enumerate(root.iter(f"{{{SITEMAP_NS}}}url", "url"), 1):
        loc = text(el, "s:loc") or text(el, "loc")
        if not loc or not loc.lower().startswith(("http://", "https://")):
            continue
        news = el.find("n:news", {"n": NEWS_NS})
        title = lang = None
        date_text = None
        date_source = None
        if news is not None:
            title = text(news, "n:title")
            lang = text(news, "n:publication/n:language")
            date_text = text(news, "n:publication_date")
            date_source = "feed" if date_text else None
        if date_text is None:
            date_text = text(el, "s:lastmod") or text(el, "lastmod")
            date_source = "feed" if date_text else None
        try:
            published = parse_datetime(date_text) if date_text else None
        except ValueError:
            published, date_source = None, None
        raw = etree.tostring(el, encoding="utf-8")
        entries.append(Document(source=f"{url}#{index}", raw=raw, content_type="feed", text="", title=title,
                                url=loc, lang=lang, published_at=published, date_source=date_source))
    return entries, []


def discover(body: bytes, url: str) -> list[str]:
    """Feed URLs a home page links to (trafilatura's discovery, run on the page we fetched)."""
    from trafilatura.feeds import FeedParameters, determine_feed

    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    html = body.decode("utf-8", errors="replace")
    return determine_feed(html, FeedParameters(base, parts.hostname or "", url))


# ---- folders ---------------------------------------------------------------------------------
def folder_files(folder: str) -> list[tuple[str, Path]]:
    """``(key, path)`` of each readable file of a folder source; the key changes when the file
    does (path, modification time and size), so a rewritten file is read again."""
    from ..ingest import _walk

    out: list[tuple[str, Path]] = []
    root = Path(folder)
    if not root.is_dir():
        raise UnsupportedInput("folder not found", source=folder)
    for path in _walk(root):
        try:
            stat = path.stat()
        except OSError:
            continue
        out.append((f"{path.resolve().as_uri()}#{stat.st_mtime_ns}-{stat.st_size}", path))
    return out


# ---- the page behind an entry's link --------------------------------------------------------
@dataclass
class PageResult:
    """An entry after its page was fetched (or not): the document to ingest, and what to record."""

    entry_url: str
    document: Document | None
    final_url: str | None = None
    canonical_url: str | None = None
    status: str = "article"     # article, summary-only, failed
    error: InputError | None = None


def article_document(entry: Document, fetcher: Any, section: dict[str, Any], *, lang: str | None = None,
                     outlet: str | None = None) -> PageResult:
    """Fetch the page behind ``entry.url`` and extract its text and metadata with trafilatura.

    When the page cannot be had (HTTP error, refused, disallowed by robots.txt, not HTML, no text
    found), the entry's own summary is kept and the document is marked ``summary_only``; an
    entry with neither gives a failed result. The date from the feed entry, where it has one,
    wins over the page's (``date_source = "feed"``).
    """
    from ..ingest import _html_document

    assert entry.url
    problem: InputError | None = None
    try:
        response = fetcher.get(entry.url)
        if not response.ok:
            raise FetchError(f"HTTP {response.status}", source=entry.url)
        if "html" not in response.content_type and not response.body[:1024].lstrip().startswith(b"<"):
            raise UnsupportedInput(f"the page is not HTML ('{response.content_type}')", source=entry.url)
        page = _html_document(response.body, entry.url, section, url=response.final_url)
        canonical = page.url if page.url and page.url != response.final_url else None
        page.url = canonical or response.final_url
        page.source = entry.url
        page.title = page.title or entry.title
        if entry.published_at is not None:
            page.published_at, page.date_source = entry.published_at, "feed"
        elif page.published_at is not None and page.date_source is None:
            page.date_source = "metadata"
        page.lang = lang or entry.lang or page.lang
        page.outlet = outlet or entry.outlet or page.outlet
        page.external_id = entry.external_id
        return PageResult(entry.url, page, response.final_url, canonical)
    except InputError as exc:
        problem = exc
    log.info("%s: page not had (%s); keeping the feed's summary", entry.url, problem.reason)
    if not (entry.text or "").strip() and not (entry.title or "").strip():
        return PageResult(entry.url, None, status="failed", error=problem)
    summary = replace(entry, summary_only=True, lang=lang or entry.lang, outlet=outlet or entry.outlet,
                      source=entry.url)
    if not summary.text.strip():
        summary.text = summary.title or ""
    return PageResult(entry.url, summary, status="summary-only", error=problem)


# ---- OPML ------------------------------------------------------------------------------------
def read_opml(data: bytes, source: str) -> list[dict[str, Any]]:
    """The subscriptions of an OPML file: ``{"url", "name", "tags"}`` per outline with an
    ``xmlUrl`` (or ``url``); enclosing outlines' titles become tags (feed readers' folders)."""
    from lxml import etree

    parser = etree.XMLParser(recover=False, resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise MalformedRecord(f"not an OPML file ({exc})", source=source) from None
    if root is None or etree.QName(root).localname.lower() != "opml":
        raise MalformedRecord("not an OPML file (the root element is not <opml>)", source=source)
    found: list[dict[str, Any]] = []

    def walk(el: Any, folders: list[str]) -> None:
        for child in el:
            if not isinstance(child.tag, str) or etree.QName(child).localname.lower() != "outline":
                continue
            url = child.get("xmlUrl") or child.get("xmlurl") or child.get("url")
            name = child.get("title") or child.get("text")
            if url:
                tags = [t.strip() for t in (child.get("category") or "").replace("/", ",").split(",") if t.strip()]
                found.append({"url": url.strip(), "name": name, "tags": folders + tags,
                              "lang": child.get("language") or None})
            walk(child, folders + ([name] if name and not url else []))

    body = root.find("body")
    walk(body if body is not None else root, [])
    return found


def write_opml(sources: list[dict[str, Any]], title: str = "tidings sources") -> str:
    """OPML 2.0 of the sources (folder sources are left out: they mean nothing elsewhere)."""
    from lxml import etree

    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    body = etree.SubElement(root, "body")
    for s in sources:
        if s["kind"] == "folder":
            continue
        attrs = {"text": s["name"] or s["url"], "title": s["name"] or s["url"],
                 "type": "rss" if s["kind"] in ("feed", "auto", "page") else s["kind"], "xmlUrl": s["url"]}
        if s["tags"]:
            attrs["category"] = ",".join(s["tags"])
        if s["lang"]:
            attrs["language"] = s["lang"]
        etree.SubElement(body, "outline", attrs)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(root, encoding="unicode", pretty_print=True)

