"""Reading articles from files, directories, feeds and URLs.

:func:`read_sources` turns whatever the user points at into :class:`~tidings.models.Document`
objects, one per article, keeping the raw bytes for provenance. It never raises for a bad input:
it yields an :class:`~tidings.errors.InputError` naming the file, line or URL and the reason, and
goes on, so one broken file does not stop a batch of thousands.

Supported (see docs/ingest.md): ``.txt`` (encoding detected), ``.html``/``.htm`` (main text and
metadata by trafilatura, offline), ``.jsonl`` (one record a line), RSS/Atom/RDF feeds
(``.xml``/``.rss``/``.atom`` or sniffed) and JSON Feed (``.json``), directories (recursive), and
``http(s)://`` URLs (HTML pages or feeds, fetched with httpx under a size cap and timeout).
"""

from __future__ import annotations

import codecs
import io
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import regex

from .config import section_with_defaults
from .errors import (BinaryInput, DecodeError, EmptyInput, FetchError, InputError, MalformedRecord, TooLarge,
                     UnsafeInput, UnsupportedInput)
from .models import Document

log = logging.getLogger(__name__)

TEXT_EXTENSIONS = {".txt"}
HTML_EXTENSIONS = {".html", ".htm"}
JSONL_EXTENSIONS = {".jsonl"}
FEED_EXTENSIONS = {".xml", ".rss", ".atom"}
JSONFEED_EXTENSIONS = {".json"}
# Extensions picked up when walking a directory (.json only when named explicitly: a directory
# of data files is not a directory of feeds).
DIRECTORY_EXTENSIONS = TEXT_EXTENSIONS | HTML_EXTENSIONS | JSONL_EXTENSIONS | FEED_EXTENSIONS
KNOWN_EXTENSIONS = DIRECTORY_EXTENSIONS | JSONFEED_EXTENSIONS

SNIFF_BYTES = 4096  # enough to see an XML declaration, a doctype and the root element
JSONL_FIELDS = ("id", "title", "text", "url", "source", "lang", "published_at")
DATE_ALIASES = ("published_at", "date", "published", "pubDate")

_FEED_ROOT = regex.compile(rb"<(?:rss|feed|rdf:RDF)\b", regex.IGNORECASE)
_HTML_ROOT = regex.compile(rb"<(?:!doctype\s+html|html|head|body)\b", regex.IGNORECASE)
_CONTROL = regex.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_SENTENCE_END = regex.compile(r"(?<=[^\s.]{2}[.!?…])[\"'»”’)]*\s+(?=[\"'«„“‘(]*[\p{Lu}\p{N}])")
_BLOCK_TAGS = ("p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
               "tr", "table", "section", "article", "figure", "figcaption", "pre", "hr")


# ---- settings --------------------------------------------------------------------------------
def _section(settings: Any) -> dict[str, Any]:
    """The [ingest] settings over the shipped defaults."""
    return section_with_defaults("ingest", settings)


# ---- small text helpers ----------------------------------------------------------------------
def _utc(value: datetime) -> datetime:
    """Aware UTC datetime; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def parse_datetime(value: Any) -> datetime | None:
    """ISO 8601 date or date-time (``Z`` and offsets accepted, naive = UTC) to aware UTC.

    Raises ValueError for a value that is present but not a date.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return _utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 string, got {type(value).__name__}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return _utc(datetime.fromisoformat(text))
    except ValueError:
        pass
    except OverflowError:  # 0001-01-01T00:00:00+02:00 is before year 1 in UTC (found by bench/fuzz.py)
        raise ValueError(f"date out of range: {value!r}") from None
    # htmldate/trafilatura style offsets without a colon: 2016-10-20T10:00:00+0200
    try:
        return _utc(datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z"))
    except ValueError:
        raise ValueError(f"not an ISO 8601 date: {value!r}") from None
    except OverflowError:
        raise ValueError(f"date out of range: {value!r}") from None


def first_sentence(text: str, limit: int) -> str:
    """The first sentence of ``text`` (first line at most), cut at a word boundary to ``limit``."""
    head = text.strip().split("\n", 1)[0].strip()
    match = _SENTENCE_END.search(head)
    if match:
        head = head[: match.start()].strip()
    if len(head) <= limit:
        return head
    cut = head[:limit].rsplit(" ", 1)[0].rstrip(" ,;:-–—")
    return (cut or head[:limit]) + "…"


def split_title(text: str, section: dict[str, Any], lang: str | None = None) -> tuple[str, str]:
    """Return ``(title, body)``.

    Leading boilerplate lines (a site banner) are skipped when looking for the title. A first
    line that looks like a headline (short, no final full stop, and followed by a blank line or
    by a body several times longer) becomes the title and leaves the body; otherwise the title
    is the first sentence and the body is the whole text.
    """
    from .clean import is_boilerplate_line

    stripped = text.strip()
    if not stripped:
        return "", ""
    lines = stripped.split("\n")
    start = 0
    limit = min(len(lines), int(section["title_search_lines"]))
    while start < limit and (not lines[start].strip() or is_boilerplate_line(lines[start], lang)):
        start += 1
    if start >= len(lines) or start == limit:
        start = 0
    first = lines[start].strip()
    rest = "\n".join(lines[start + 1:])
    rest_stripped = rest.strip()
    looks_like_title = (
        bool(rest_stripped)
        and len(first) <= int(section["title_line_max_chars"])
        and not first.endswith((".", ",", ";", ":"))
        and (regex.match(r"[^\S\n]*\n", rest) is not None
             or len(rest_stripped) >= float(section["title_body_ratio"]) * len(first))
    )
    if looks_like_title:
        return first, "\n".join(lines[:start] + lines[start + 1:]).strip()
    return first_sentence("\n".join(lines[start:]), int(section["title_max_chars"])), stripped


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment (feed summaries), keeping block breaks as paragraphs."""
    if "<" not in fragment:
        return regex.sub(r"[^\S\n]+", " ", _unescape(fragment)).strip()
    import lxml.html

    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except Exception:  # lxml raises several types on junk; fall back to the escaped text
        return regex.sub(r"<[^>]+>", " ", fragment).strip()
    for bad in root.xpath("//script|//style|//noscript"):
        bad.drop_tree()
    for el in root.iter(*_BLOCK_TAGS):
        el.tail = "\n\n" + (el.tail or "")
    text = root.text_content()
    text = regex.sub(r"[^\S\n]+", " ", text)
    text = regex.sub(r" *\n[\s]*\n\s*", "\n\n", text)
    return text.strip()


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)


# ---- bytes to text ---------------------------------------------------------------------------
def is_binary(data: bytes) -> bool:
    """NUL bytes (outside a UTF-16/32 BOM) in the first block mean this is not a text file."""
    head = data[:SNIFF_BYTES]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    return b"\x00" in head


def decode_utf8_lenient(data: bytes, min_valid_share: float) -> tuple[str, list[int]] | None:
    """``data`` decoded as UTF-8 with each bad byte sequence replaced by U+FFFD, and the byte
    offsets of the bad sequences, when at least ``min_valid_share`` of its non-ASCII characters
    are valid UTF-8 (a UTF-8 file with a few corrupt bytes); None when most are not (a legacy
    encoding: in cp1250 or cp1251 text nearly every non-ASCII byte is invalid UTF-8)."""
    bad: list[int] = []
    _bad_utf8.offsets = bad
    try:
        text = data.decode("utf-8", errors="tidings-mark")
    finally:
        _bad_utf8.offsets = None
    # characters that decoded to something other than ASCII, the replacements aside
    valid = len(text) - len(text.encode("ascii", "ignore")) - len(bad)
    if valid < min_valid_share * (valid + len(bad)):
        return None
    return text, bad


_bad_utf8 = threading.local()


def _mark_bad_utf8(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: U+FFFD for a bad byte sequence, its offset noted (one pass over the bytes)."""
    assert isinstance(exc, UnicodeDecodeError)
    offsets = getattr(_bad_utf8, "offsets", None)
    if offsets is not None:
        offsets.append(exc.start)
    return "\ufffd", exc.end


codecs.register_error("tidings-mark", _mark_bad_utf8)


def decode_text(data: bytes, section: dict[str, Any], bad_offsets: list[int] | None = None) -> tuple[str, str]:
    """Decode ``data`` and name the encoding used.

    BOMs first (UTF-8, UTF-16), then strict UTF-8 (by far the most common and never a false
    positive on real legacy text), then UTF-8 with replacement for a text that is mostly valid
    UTF-8 (the offsets of the bad bytes go to ``bad_offsets``: the caller warns), then
    charset-normalizer among the configured legacy encodings, best coherence first and the
    configured order on a tie. A result with many control characters is rejected: it means
    none of them fits.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise DecodeError(f"not valid UTF-8 despite its byte-order mark ({exc.reason} at byte {exc.start + 3})") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise DecodeError(f"not valid UTF-16 despite its byte-order mark ({exc.reason})") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    lenient = decode_utf8_lenient(data, float(section["utf8_min_valid_share"]))
    if lenient is not None:
        if bad_offsets is not None:
            bad_offsets.extend(lenient[1])
        return lenient[0], "utf-8 (bad bytes replaced)"
    from charset_normalizer import from_bytes

    order = [e.lower() for e in section["encodings"]]
    results = list(from_bytes(data, cp_isolation=order))
    if not results:
        raise DecodeError("cannot decode the text (not UTF-8, and none of "
                          + ", ".join(order) + " fits)")
    rank = {name: i for i, name in enumerate(order)}
    best = min(results, key=lambda r: (-round(r.coherence, 2), round(r.chaos, 2), rank.get(r.encoding, len(rank))))
    text = str(best)
    if text and len(_CONTROL.findall(text)) / len(text) > float(section["max_control_ratio"]):
        raise DecodeError(f"cannot decode the text (best guess {best.encoding} gives control characters)")
    return text, best.encoding


# ---- per-format readers ----------------------------------------------------------------------
def _check_not_boilerplate_only(text: str, source: str) -> None:
    from .clean import clean

    if not text.strip():
        raise EmptyInput("empty (no text)", source=source)
    if not clean(text):
        raise EmptyInput("no article text (only boilerplate)", source=source)


def _text_document(data: bytes, source: str, section: dict[str, Any]) -> Document:
    if not data.strip():
        raise EmptyInput("empty file", source=source)
    if is_binary(data):
        raise BinaryInput("binary file (contains NUL bytes), not text", source=source)
    bad: list[int] = []
    try:
        text, encoding = decode_text(data, section, bad)
    except DecodeError as exc:
        raise DecodeError(exc.reason, source=source) from None
    log.debug("%s: decoded as %s", source, encoding)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    _check_not_boilerplate_only(text, source)
    title, body = split_title(text, section)
    doc = Document(source=source, raw=data, content_type="text", text=body, title=title or None)
    _note_bad_utf8(doc, bad)
    return doc


def _note_bad_utf8(doc: Document, offsets: list[int], column: bool = False) -> None:
    """Flag a document read as UTF-8 with bad bytes replaced, with a warning naming where."""
    if not offsets:
        return
    where = ", ".join(f"{o + int(column):,}" for o in offsets[:5]) + (", ..." if len(offsets) > 5 else "")
    doc.fixes.append("invalid_utf8")
    doc.warnings.append(f"{len(offsets)} invalid UTF-8 byte sequence{'s' if len(offsets) > 1 else ''} replaced "
                        f"by U+FFFD (at {'column' if column else 'byte offset'}{'s' if len(offsets) > 1 else ''} "
                        f"{where})")


def _html_document(data: bytes, source: str, section: dict[str, Any], url: str | None = None) -> Document:
    if not data.strip():
        raise EmptyInput("empty file", source=source)
    if is_binary(data):
        raise BinaryInput("binary file (contains NUL bytes), not HTML", source=source)
    import trafilatura

    try:
        extracted = trafilatura.bare_extraction(
            data, url=url, with_metadata=True, include_comments=False, include_tables=False,
            date_extraction_params={"outputformat": "%Y-%m-%dT%H:%M:%S%z", "original_date": True,
                                    "extensive_search": False})
    except Exception as exc:  # trafilatura/lxml raise many types on broken markup
        raise MalformedRecord(f"cannot parse HTML ({type(exc).__name__}: {exc})", source=source) from None
    if extracted is None or not (extracted.text or "").strip():
        raise EmptyInput("no article text found in the HTML", source=source)
    text = extracted.text.replace("\r\n", "\n").strip()
    title = (extracted.title or "").strip() or None
    if title:
        text = _drop_headline(text, title, int(section["title_search_lines"]))
    _check_not_boilerplate_only(text, source)
    published = None
    if extracted.date:
        try:
            published = parse_datetime(extracted.date)
        except ValueError:
            log.debug("%s: ignoring unparseable date %r", source, extracted.date)
    if title is None:
        title = first_sentence(text, int(section["title_max_chars"])) or None
    return Document(source=source, raw=data, content_type="html", text=text, title=title,
                    url=extracted.url or url, outlet=extracted.sitename or extracted.hostname or None,
                    published_at=published)


def _drop_headline(text: str, title: str, search_lines: int) -> str:
    """Remove the headline trafilatura repeats at the top of the text, with any kicker above it
    ("Politica monetaria", "Syrie": short section labels without a full stop)."""
    lines = text.split("\n")
    for index, line in enumerate(lines[:search_lines]):
        if line.strip() == title:
            above = lines[:index]
            if all(len(a.strip()) <= len(title) and not a.strip().endswith(".") for a in above):
                rest = "\n".join(lines[index + 1:]).strip()
                return rest or text
            break
    return text


def _record_document(record: Any, raw: bytes, source: str, section: dict[str, Any]) -> Document:
    """One JSONL record (a dict) to a Document; raises an InputError for a bad record."""
    if not isinstance(record, dict):
        raise MalformedRecord(f"expected a JSON object, got {type(record).__name__}", source=source)
    for key in ("title", "text", "url", "source", "lang"):
        value = record.get(key)
        if value is not None and not isinstance(value, str):
            raise MalformedRecord(f"field '{key}' must be a string, got {type(value).__name__}", source=source)
    title = (record.get("title") or "").strip()
    text = (record.get("text") or "").strip().replace("\r\n", "\n")
    if not title and not text:
        raise MalformedRecord("record has neither 'title' nor 'text'", source=source)
    date_key = next((k for k in DATE_ALIASES if record.get(k) not in (None, "")), None)
    try:
        published = parse_datetime(record.get(date_key)) if date_key else None
    except ValueError as exc:
        raise MalformedRecord(f"field '{date_key}': {exc}", source=source) from None
    if not title:
        title, text = split_title(text, section, (record.get("lang") or None))
    external_id = record.get("id")
    if external_id is not None and not isinstance(external_id, (str, int)):
        raise MalformedRecord(f"field 'id' must be a string or number, got {type(external_id).__name__}",
                              source=source)
    lang = (record.get("lang") or "").strip() or None
    return Document(source=source, raw=raw, content_type="jsonl", text=text, title=title or None,
                    url=(record.get("url") or None), outlet=(record.get("source") or None), lang=lang,
                    published_at=published, external_id=None if external_id is None else str(external_id))


def _read_jsonl(path: Path, section: dict[str, Any]) -> Iterator[Document | InputError]:
    max_bytes = int(section["max_bytes"])
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            source = f"{path}:{number}"
            if number == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            raw = line.rstrip(b"\r\n")
            if not raw.strip():
                continue
            if len(raw) > max_bytes:
                yield TooLarge(f"line of {len(raw):,} bytes is over the {max_bytes:,}-byte limit",
                               source=source, hint="raise ingest.max_bytes")
                continue
            bad: list[int] = []
            try:
                decoded = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                lenient = decode_utf8_lenient(raw, float(section["utf8_min_valid_share"]))
                if lenient is None:
                    yield DecodeError(f"not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})",
                                      source=source, hint="JSON Lines files must be UTF-8")
                    continue
                decoded, bad = lenient
            try:
                record = json.loads(decoded)
            except json.JSONDecodeError as exc:
                yield MalformedRecord(f"malformed JSON ({exc.msg} at column {exc.colno})", source=source)
                continue
            except RecursionError:
                yield MalformedRecord("JSON nested too deeply", source=source)
                continue
            try:
                doc = _record_document(record, raw, source, section)
            except InputError as exc:
                yield exc
                continue
            except Exception as exc:  # one record's problem: the rest of the file is read
                yield MalformedRecord(f"cannot read the record ({type(exc).__name__}: {str(exc)[:200]})",
                                      source=source)
                continue
            _note_bad_utf8(doc, bad, column=True)
            yield doc


# ---- feeds -----------------------------------------------------------------------------------
def looks_like_feed(data: bytes) -> bool:
    head = data[:SNIFF_BYTES].lstrip()
    return bool(_FEED_ROOT.search(head)) and not _HTML_ROOT.match(head)


def looks_like_jsonfeed(data: bytes) -> bool:
    head = data[:SNIFF_BYTES].lstrip()
    return head.startswith(b"{") and b"jsonfeed.org/version" in head


def _item_xml(data: bytes, count: int) -> list[bytes] | None:
    """Each feed item's own XML, in document order, if the items can be found one to one."""
    from lxml import etree

    try:
        parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=False)
        root = etree.fromstring(data, parser=parser)
    except Exception:
        return None
    if root is None:
        return None
    items = [el for el in root.iter() if isinstance(el.tag, str) and etree.QName(el).localname in ("item", "entry")]
    if len(items) != count:
        return None
    return [etree.tostring(el, encoding="utf-8") for el in items]


def _entry_datetime(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            return datetime(*value[:6], tzinfo=timezone.utc)
    return None


def _entry_text(entry: Any) -> str:
    parts = [c.get("value", "") for c in entry.get("content") or []]
    summary = entry.get("summary") or ""
    best = max(parts + [summary], key=len) if parts else summary
    return html_to_text(best)


# An XML document type declaration with entity declarations: the "billion laughs" expansion
# attack (and external entities) start there; no real news feed declares its own entities.
_XML_ENTITY_DECL = regex.compile(rb"<!DOCTYPE[^>\[]*\[[^\]]*<!ENTITY", regex.IGNORECASE)


def _read_feed(data: bytes, source: str, section: dict[str, Any]) -> Iterator[Document | InputError]:
    import feedparser

    if _XML_ENTITY_DECL.search(data[:max(SNIFF_BYTES, data.find(b"]>") + 2)]):
        yield UnsafeInput("the feed declares its own XML entities (<!ENTITY>); refused: entity expansion "
                          "can exhaust memory and no real feed needs it", source=source)
        return

    parsed = feedparser.parse(io.BytesIO(data), resolve_relative_uris=False, sanitize_html=False)
    entries = parsed.entries
    if not entries:
        if parsed.get("bozo"):
            exc = parsed.get("bozo_exception")
            yield MalformedRecord(f"malformed feed ({exc})", source=source)
        else:
            yield EmptyInput("feed has no items", source=source)
        return
    raws = _item_xml(data, len(entries))
    outlet = (parsed.feed.get("title") or "").strip() or None
    for index, entry in enumerate(entries, 1):
        item_source = f"{source}#{index}"
        raw = raws[index - 1] if raws else json.dumps(entry, default=str, ensure_ascii=False).encode("utf-8")
        title = html_to_text(entry.get("title") or "")
        text = _entry_text(entry)
        if not title and not text:
            yield EmptyInput("feed item has neither title nor text", source=item_source)
            continue
        if not title:
            title, text = split_title(text, section)
        yield Document(source=item_source, raw=raw, content_type="feed", text=text, title=title or None,
                       url=entry.get("link") or None, outlet=outlet,
                       lang=(entry.get("language") or None), published_at=_entry_datetime(entry),
                       external_id=entry.get("id") or None)


def _read_jsonfeed(data: bytes, source: str, section: dict[str, Any]) -> Iterator[Document | InputError]:
    try:
        feed = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        yield MalformedRecord(f"malformed JSON Feed ({exc})", source=source)
        return
    items = feed.get("items") if isinstance(feed, dict) else None
    if not isinstance(items, list):
        yield MalformedRecord("malformed JSON Feed (no 'items' list)", source=source)
        return
    if not items:
        yield EmptyInput("feed has no items", source=source)
        return
    outlet = feed.get("title") if isinstance(feed.get("title"), str) else None
    for index, item in enumerate(items, 1):
        item_source = f"{source}#{index}"
        if not isinstance(item, dict):
            yield MalformedRecord(f"expected a JSON object, got {type(item).__name__}", source=item_source)
            continue
        raw = json.dumps(item, ensure_ascii=False).encode("utf-8")
        text = item.get("content_text") or html_to_text(item.get("content_html") or item.get("summary") or "")
        title = (item.get("title") or "").strip()
        if not title and not text.strip():
            yield EmptyInput("feed item has neither title nor text", source=item_source)
            continue
        if not title:
            title, text = split_title(text, section)
        try:
            published = parse_datetime(item.get("date_published") or item.get("date_modified"))
        except ValueError as exc:
            yield MalformedRecord(f"field 'date_published': {exc}", source=item_source)
            continue
        yield Document(source=item_source, raw=raw, content_type="feed", text=text.strip(), title=title or None,
                       url=item.get("url") or None, outlet=outlet, lang=item.get("language") or None,
                       published_at=published, external_id=str(item["id"]) if item.get("id") is not None else None)


# ---- files, directories, URLs ----------------------------------------------------------------
def _read_bytes(path: Path, section: dict[str, Any]) -> bytes:
    max_bytes = int(section["max_bytes"])
    size = path.stat().st_size
    if size > max_bytes:
        raise TooLarge(f"file of {size:,} bytes is over the {max_bytes:,}-byte limit", source=str(path),
                       hint="raise ingest.max_bytes")
    return path.read_bytes()


def decode_document(doc: Document, section: dict[str, Any]) -> Document:
    """The document a reader would have made of ``doc``'s raw bytes (``doc.decode``: ``"text"`` or
    ``"html"``): decoded, HTML extracted (trafilatura), title split; an ``InputError`` for a bad
    one. Run by an engine that decodes where it analyses (``read_sources(..., defer_decoding=True)``)."""
    section = _section(section)
    decoded = _html_document(doc.raw, doc.source, section) if doc.decode == "html" else \
        _text_document(doc.raw, doc.source, section)
    decoded.decode = doc.decode
    return decoded


def _read_file(path: Path, section: dict[str, Any], defer: bool = False) -> Iterator[Document | InputError]:
    source = str(path)
    suffix = path.suffix.lower()
    try:
        if suffix in JSONL_EXTENSIONS and path.is_file():
            yield from _read_jsonl(path, section)
            return
        if not path.is_file():  # a FIFO or a device would block or never end
            raise UnsupportedInput("not a regular file", source=source)
        data = _read_bytes(path, section)
        kind = "text" if suffix in TEXT_EXTENSIONS else "html" if suffix in HTML_EXTENSIONS else None
        if defer and kind:   # decoded by the engine, where it analyses (decode_document)
            yield Document(source=source, raw=data, content_type=kind, text="", decode=kind)
        elif suffix in TEXT_EXTENSIONS:
            yield _text_document(data, source, section)
        elif suffix in HTML_EXTENSIONS:
            yield _html_document(data, source, section)
        elif suffix in FEED_EXTENSIONS or looks_like_feed(data):
            if not data.strip():
                raise EmptyInput("empty file", source=source)
            if is_binary(data):
                raise BinaryInput("binary file (contains NUL bytes), not a feed", source=source)
            yield from _read_feed(data, source, section)
        elif suffix in JSONFEED_EXTENSIONS:
            if not looks_like_jsonfeed(data):
                raise UnsupportedInput("JSON file that is not a JSON Feed", source=source,
                                       hint="use .jsonl for one article per line")
            yield from _read_jsonfeed(data, source, section)
        elif is_binary(data):
            raise BinaryInput("binary file, not text", source=source)
        elif _HTML_ROOT.match(data[:SNIFF_BYTES].lstrip()):
            yield _html_document(data, source, section)
        else:
            raise UnsupportedInput(f"unsupported file type '{suffix or path.name}'", source=source,
                                   hint="expected " + ", ".join(sorted(KNOWN_EXTENSIONS)))
    except InputError as exc:
        yield exc
    except OSError as exc:
        yield UnsupportedInput(f"cannot read ({exc.strerror or exc})", source=source)
    except (Exception, RecursionError) as exc:  # a reader library choking on one file: that file's error
        log.debug("%s: reading failed", source, exc_info=True)
        yield MalformedRecord(f"cannot read ({type(exc).__name__}: {str(exc).strip()[:200]})", source=source)


def _walk(directory: Path) -> Iterator[Path]:
    """Files under ``directory`` with a known extension, sorted, hidden ones skipped."""
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and Path(name).suffix.lower() in DIRECTORY_EXTENSIONS:
                yield Path(root) / name


class _Fetcher:
    """The watcher's fetcher (:class:`tidings.watch.Fetcher`: address guard, robots.txt, per-host
    delay, size cap, timeout, redirect limit, user agent) for one read_sources call."""

    def __init__(self, settings: Any):
        from .watch.fetcher import Fetcher

        self.fetcher = Fetcher(settings)

    def close(self) -> None:
        self.fetcher.close()

    def get(self, url: str) -> tuple[bytes, str, str]:
        """Return (body, content type, final URL); raise FetchError/TooLarge naming ``url``."""
        response = self.fetcher.get(url)
        if response.status >= 400 or not response.ok:
            raise FetchError(f"HTTP {response.status} {response.reason}".strip(), source=url)
        return response.body, response.content_type, response.final_url


def _read_url(url: str, fetcher: _Fetcher, section: dict[str, Any]) -> Iterator[Document | InputError]:
    try:
        data, content_type, final_url = fetcher.get(url)
        if not data.strip():
            raise EmptyInput("empty response", source=url)
        if "json" in content_type or looks_like_jsonfeed(data):
            if looks_like_jsonfeed(data):
                yield from _feed_pages(_read_jsonfeed(data, url, section), fetcher, section)
                return
            raise UnsupportedInput(f"unsupported content type '{content_type}'", source=url)
        if any(k in content_type for k in ("rss", "atom", "rdf")) or looks_like_feed(data):
            yield from _feed_pages(_read_feed(data, url, section), fetcher, section)
        elif "html" in content_type or _HTML_ROOT.match(data[:SNIFF_BYTES].lstrip()):
            doc = _html_document(data, url, section, url=final_url)
            doc.url = doc.url or final_url
            yield doc
        elif content_type.startswith("text/") or not content_type:
            doc = _text_document(data, url, section)
            doc.url = final_url
            yield doc
        else:
            raise UnsupportedInput(f"unsupported content type '{content_type}'", source=url)
    except InputError as exc:
        yield exc


def _feed_pages(items: Iterable[Document | InputError], fetcher: _Fetcher,
                section: dict[str, Any]) -> Iterator[Document | InputError]:
    """A fetched feed's entries with the article page behind each link, as tidings watch reads
    them (the summary kept, marked summary-only, when the page cannot be had); as they are when
    ``ingest.fetch_feed_pages`` is false."""
    from .watch.sources import article_document

    for item in items:
        if not isinstance(item, Document) or not section.get("fetch_feed_pages") or not item.url:
            yield item
            continue
        if item.published_at is not None:
            item.date_source = "feed"
        result = article_document(item, fetcher.fetcher, section)
        if result.document is not None:
            result.document.source = item.source
            yield result.document
        else:
            yield result.error or EmptyInput("feed item has neither title nor text", source=item.source)


def read_sources(sources: Iterable[str | Path], settings: dict | None = None, *,
                 on_progress: Callable[[str], None] | None = None,
                 defer_decoding: bool = False) -> Iterator[Document | InputError]:
    """Yield a Document per article found in ``sources``, or an InputError per bad input.

    ``sources`` are file paths, directories (walked recursively in sorted order, hidden files
    and unknown extensions skipped) and ``http(s)://`` URLs. ``settings`` is the ``[ingest]``
    section, the whole settings dict or a Settings (URLs are fetched by the watcher's fetcher,
    which also reads the ``[watch]`` section: robots.txt, per-host delay, concurrency). ``on_progress`` is called with each file or URL name
    as it is started. ``defer_decoding``: text and HTML files come as their raw bytes
    (``Document.decode`` set, no text), for an engine that decodes them where it analyses them
    (:func:`decode_document`; the Ray engine).
    """
    section = _section(settings)
    fetcher: _Fetcher | None = None
    try:
        for item in sources:
            name = str(item)
            if isinstance(item, str) and regex.match(r"(?i)https?://", name):
                if on_progress:
                    on_progress(name)
                if fetcher is None:
                    fetcher = _Fetcher(settings)
                yield from _read_url(name, fetcher, section)
                continue
            path = Path(item)
            if not path.exists():
                yield UnsupportedInput("no such file or directory", source=name)
                continue
            paths = _walk(path) if path.is_dir() else [path]
            for file in paths:
                if on_progress:
                    on_progress(str(file))
                yield from _read_file(file, section, defer_decoding)
    finally:
        if fetcher is not None:
            fetcher.close()


# ---- counting inputs ahead (the CLI's progress bar) ------------------------------------------------
_FEED_ITEM = regex.compile(rb"<(?:item|entry)[\s>]")


def count_documents(sources: Iterable[str | Path], limit_files: int = 100_000) -> int | None:
    """How many documents (articles or bad inputs) :func:`read_sources` will yield for ``sources``,
    counted cheaply: a .txt/.html file is one, a JSONL file one per non-blank line, a feed file one
    per ``<item>``/``<entry>``. None when it cannot be known ahead (a URL, a JSON Feed, an unknown
    file type) or when there are over ``limit_files`` files (counting would cost too much)."""
    total, files = 0, 0
    for item in sources:
        name = str(item)
        if regex.match(r"(?i)https?://", name):
            return None
        path = Path(item)
        if not path.exists():
            total += 1
            continue
        for file in (_walk(path) if path.is_dir() else [path]):
            files += 1
            if files > limit_files:
                return None
            count = _count_file(file)
            if count is None:
                return None
            total += count
    return total


def _count_file(path: Path) -> int | None:
    suffix = path.suffix.lower()
    try:
        if suffix in TEXT_EXTENSIONS | HTML_EXTENSIONS:
            return 1
        if suffix in JSONL_EXTENSIONS:
            with path.open("rb") as handle:
                return sum(1 for line in handle if line.strip())
        if suffix in FEED_EXTENSIONS:
            return max(1, len(_FEED_ITEM.findall(path.read_bytes())))
    except OSError:
        return 1
    return None
