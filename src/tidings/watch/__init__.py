"""Following sources: tidings keeps a list of feeds, sitemaps, sites and folders, and polls them.

Public interface:

* :func:`add_sources`, :func:`list_sources`, :func:`remove_source`, :func:`set_paused`,
  :func:`import_opml`, :func:`export_opml`: the sources kept in the store, with their health;
* :class:`Watcher`: polls the due sources (:meth:`Watcher.run_once`, or :meth:`Watcher.run`
  until stopped), fetches the page behind every new entry and hands the documents to
  :meth:`tidings.pipeline.Monitor.add_documents`, so that dedup, analysis, stories (and alerts)
  apply as to any ingest;
* :class:`Fetcher`: the polite and guarded HTTP client (also used by ``tidings ingest URL``).

The modules: ``sources`` (kinds, listings, OPML, discovery), ``scheduler`` (due times, backoff,
pausing), ``fetcher`` (HTTP). See docs/watch.md.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, FetchError, InputError, TidingsError, UnsupportedInput
from ..models import Article, Document
from .fetcher import Fetcher, Response
from .scheduler import Outcome, Policy, format_every, is_due, next_poll, parse_every, utc_clock
from .sources import (KINDS, Listing, PageResult, article_document, discover, feed_entries, folder_files,
                      kind_of, normalise_target, read_opml, sitemap_entries, sniff, write_opml)

if TYPE_CHECKING:
    from ..pipeline import Monitor
    from ..store import Store

log = logging.getLogger(__name__)

__all__ = ["Fetcher", "PassReport", "WatchThread", "Watcher", "add_sources", "export_opml", "import_opml", "list_sources",
           "parse_every", "remove_source", "set_paused"]


# ---- the sources kept in the store -----------------------------------------------------------
def add_sources(store: "Store", targets: Iterable[str], *, every: str | float | None = None, settings: Any = None,
                name: str | None = None, lang: str | None = None, tags: Sequence[str] = (),
                kind: str | None = None, now: datetime | None = None) -> list[tuple[str, int | None]]:
    """Add feeds, sitemaps, home pages (URLs) or local folders; each is due at once.

    Returns ``(target, id)`` per target, the id None when the target was a source already.
    Raises UnsupportedInput for a target that is neither an http(s) URL nor a folder.
    """
    section = _watch_section(settings)
    seconds = parse_every(every if every is not None else section["every"],
                          source="--every" if every is not None else "watch.every")
    if kind is not None and kind not in KINDS:
        raise ConfigError(f"unknown source kind {kind!r}", source="--kind", hint="one of " + ", ".join(KINDS))
    checked = [(normalise_target(t), kind or kind_of(t)) for t in targets]
    added: list[tuple[str, int | None]] = []
    with store.transaction():
        for target, found in checked:
            added.append((target, store.add_source(target, found, every_seconds=seconds, name=name, lang=lang,
                                                   tags=tags, now=now or utc_clock())))
    return added


def list_sources(store: "Store", *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every source with its health: last fetch, last HTTP status, next due, articles in the last
    24 hours, errors in a row, paused, and the counts of fetches and 304 answers."""
    now = now or utc_clock()
    counts = store.source_article_counts(now - timedelta(hours=24))
    out = []
    for s in store.sources():
        s = dict(s)
        s["every"] = format_every(s.pop("every_seconds"))
        s["articles_24h"] = counts.get(s["id"], 0)
        s.pop("etag", None)
        s.pop("last_modified", None)
        out.append(s)
    return out


def remove_source(store: "Store", source_id: int) -> None:
    """Forget a source (the articles it gave stay). Raises NotFound for an unknown id."""
    store.source(source_id)
    with store.transaction():
        store.remove_source(source_id)


def set_paused(store: "Store", source_id: int, paused: bool, *, now: datetime | None = None) -> None:
    """Pause a source, or resume it (due at once, its error count reset)."""
    store.source(source_id)
    with store.transaction():
        if paused:
            store.update_source(source_id, paused=1)
        else:
            store.update_source(source_id, paused=0, errors_in_row=0, next_due=now or utc_clock())


def import_opml(store: "Store", path: str | Path, *, every: str | float | None = None, settings: Any = None,
                tags: Sequence[str] = (), now: datetime | None = None) -> list[tuple[str, int | None]]:
    """Add every subscription of an OPML file (folders become tags)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnsupportedInput(f"cannot read ({exc.strerror or exc})", source=str(path)) from None
    added: list[tuple[str, int | None]] = []
    for item in read_opml(data, str(path)):
        try:
            added += add_sources(store, [item["url"]], every=every, settings=settings, name=item["name"],
                                 lang=item["lang"], tags=[*tags, *item["tags"]], now=now)
        except UnsupportedInput as exc:
            log.warning("%s", exc)
    return added


def export_opml(store: "Store") -> str:
    """The sources as OPML 2.0 (for a feed reader, or another tidings)."""
    return write_opml(store.sources())


def _watch_section(settings: Any) -> dict[str, Any]:
    from ..config import section_with_defaults
    return section_with_defaults("watch", settings)


# ---- the watcher -----------------------------------------------------------------------------
@dataclass
class PassReport:
    """What one pass over the due sources did."""

    sources: int = 0            # sources polled
    not_modified: int = 0       # 304 answers
    failed: int = 0             # sources whose listing could not be had
    entries: int = 0            # new entries seen
    pages: int = 0              # article pages fetched
    summary_only: int = 0       # entries kept with the feed's summary only
    added: list[str] = field(default_factory=list)
    duplicates: int = 0
    already_stored: int = 0
    errors: list[InputError] = field(default_factory=list)
    stories_touched: set[str] = field(default_factory=set)
    interrupted: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"sources": self.sources, "not_modified": self.not_modified, "failed": self.failed,
                "entries": self.entries, "pages": self.pages, "summary_only": self.summary_only,
                "added": len(self.added), "duplicates": self.duplicates, "already_stored": self.already_stored,
                "stories_touched": len(self.stories_touched), "interrupted": self.interrupted,
                "errors": [{"code": e.code, "source": e.source, "message": e.reason} for e in self.errors]}


@dataclass
class _Poll:
    """One source in the course of a pass."""

    source: dict[str, Any]
    response: Response | None = None
    listing: Listing | None = None
    error: TidingsError | None = None
    pending: int = 0
    results: list[PageResult] = field(default_factory=list)
    folder_docs: list[tuple[str, list[Document | InputError]]] = field(default_factory=list)
    interrupted: bool = False  # pages left unfetched by a stop: due again at once
    truncated: bool = False    # more new entries than watch.max_entries_per_poll


class Watcher:
    """Polls the sources of a monitor's store and ingests what is new.

    ``clock`` gives the current time (aware UTC) for the schedule; tests pass a fake one.
    ``fetcher`` defaults to one built from the monitor's settings. All store access happens in
    the calling thread; listings and pages are fetched by a pool of ``watch.concurrency`` threads.
    """

    def __init__(self, monitor: "Monitor", *, clock: Callable[[], datetime] = utc_clock,
                 fetcher: Fetcher | None = None, rand: Callable[[], float] = random.random,
                 lock: Any = None):
        self.monitor = monitor
        # held around every use of the store: a server shares its writing monitor (and this lock)
        # with the watcher, so that their transactions never interleave on one connection
        self.lock = lock if lock is not None else threading.Lock()
        self.store = monitor.store
        self.settings = monitor.settings
        self.section = self.settings.section("watch")
        self.ingest_section = self.settings.section("ingest")
        self.policy = Policy.from_settings(self.section)
        self.clock = clock
        self.rand = rand
        self._own_fetcher = fetcher is None
        self.fetcher = fetcher or Fetcher(self.settings)
        self.max_entries = int(self.section["max_entries_per_poll"])
        self.max_sitemaps = int(self.section["max_child_sitemaps"])
        self.pool = ThreadPoolExecutor(max_workers=max(1, int(self.section["concurrency"])),
                                       thread_name_prefix="tidings-watch")

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        if self._own_fetcher:
            self.fetcher.close()

    def __enter__(self) -> "Watcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- running ------------------------------------------------------------------------------
    def due_sources(self, now: datetime | None = None) -> list[dict[str, Any]]:
        now = now or self.clock()
        return [s for s in self.store.sources() if is_due(s, now)]

    def seconds_until_due(self) -> float | None:
        """Seconds until the next source is due (0 if one is), None when none can be (all paused)."""
        from ..store import parse_iso

        now = self.clock()
        with self.lock:
            sources = self.store.sources()
        times = [parse_iso(s["next_due"]) for s in sources if not s["paused"]]
        if not times:
            return None
        return max(0.0, (min(times) - now).total_seconds())

    def run(self, stop: threading.Event, *, on_pass: Callable[[PassReport], None] | None = None) -> None:
        """Pass after pass until ``stop`` is set; a pass in hand is finished and committed first.
        Sleeps until the next source is due (at most ``watch.idle_seconds``, so that sources added
        meanwhile are seen)."""
        idle = float(self.section["idle_seconds"])
        while not stop.is_set():
            report = self.run_once(stop=stop)
            if on_pass is not None and report.sources:
                on_pass(report)
            if stop.is_set():
                break
            wait_for = self.seconds_until_due()
            stop.wait(idle if wait_for is None else min(idle, max(wait_for, 0.05)))

    def run_once(self, *, stop: threading.Event | None = None) -> PassReport:
        """One pass: poll every due source, fetch the pages of its new entries, ingest them.

        When ``stop`` is set midway, listings and pages not yet started are dropped (their
        entries stay new for the next run) and what was fetched is committed.
        """
        report = PassReport()
        with self.lock:
            self.monitor.refresh_if_changed()
            due = self.due_sources()
        polls: dict[Future, tuple[str, _Poll, Any]] = {}
        for source in due:
            poll = _Poll(source)
            polls[self.pool.submit(self._fetch_listing, poll)] = ("listing", poll, None)
        report.sources = len(polls)
        while polls:
            if stop is not None and stop.is_set() and not report.interrupted:
                report.interrupted = True
                for future in list(polls):
                    if future.cancel():
                        kind, poll, _ = polls.pop(future)
                        if kind == "page":
                            poll.pending -= 1
                            poll.interrupted = True
                            if poll.pending == 0:
                                with self.lock:
                                    self._finish(poll, report)
                        else:
                            report.sources -= 1
                if not polls:
                    break
            done, _ = wait(list(polls), timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                kind, poll, entry = polls.pop(future)
                if kind == "listing":
                    with self.lock:
                        self._after_listing(future, poll, polls, report)
                else:
                    poll.pending -= 1
                    try:
                        poll.results.append(future.result())
                    except Exception as exc:  # a bug in one page must not stop the pass
                        log.exception("page %s", entry.url)
                        poll.results.append(PageResult(entry.url, None, status="failed",
                                                       error=InputError(f"internal error: {exc}", source=entry.url)))
                    if poll.pending == 0:
                        with self.lock:
                            self._finish(poll, report)
        self._retry_alert_deliveries()
        return report

    def _retry_alert_deliveries(self) -> None:
        """Send the alert notifications whose retry time has come (new ones already went out with
        the batch that raised them): a failing target is its alert's problem, never the pass's."""
        from .alerts import deliver_pending

        try:
            with self.lock:
                deliver_pending(self.store, self.monitor.settings, now=self.clock())
        except Exception:  # noqa: BLE001 - logged; the watcher goes on
            log.exception("alert deliveries")

    # ---- steps (worker threads: _fetch_listing, _fetch_page, _read_folder; the rest here) ----
    def _fetch_listing(self, poll: _Poll) -> None:
        source = poll.source
        if source["kind"] == "folder":
            return
        url = source["feed_url"] if source["kind"] == "page" and source["feed_url"] else source["url"]
        try:
            response = self.fetcher.get(url, etag=source["etag"], last_modified=source["last_modified"])
            poll.response = response
            if response.not_modified or not response.ok:
                return
            poll.listing = self._parse_listing(source, url, response)
        except TidingsError as exc:
            poll.error = exc

    def _parse_listing(self, source: dict[str, Any], url: str, response: Response) -> Listing:
        kind = sniff(response.body, response.content_type)
        if kind == "page":
            if source["kind"] not in ("auto", "page"):
                raise UnsupportedInput(f"expected a {source['kind']}, got an HTML page", source=url)
            return self._discovered(url, response)
        listing = self._read(kind, response.body, response.final_url or url)
        listing.kind = kind
        if source["kind"] == "page":
            listing.kind, listing.feed_url = "page", url
        return listing

    def _read(self, kind: str, body: bytes, url: str) -> Listing:
        if kind == "feed":
            return feed_entries(body, url, self.ingest_section)
        entries, children = sitemap_entries(body, url)
        listing = Listing(entries=entries)
        for child in children[: self.max_sitemaps]:
            try:
                response = self.fetcher.get(child)
                if not response.ok:
                    raise FetchError(f"HTTP {response.status}", source=child)
                more, _ = sitemap_entries(response.body, child)  # an index of indexes is not followed
                listing.entries += more
            except InputError as exc:
                listing.errors.append(exc)
        return listing

    def _discovered(self, url: str, response: Response) -> Listing:
        """A home page: follow the first feed it links to, else a sitemap from its robots.txt."""
        candidates = discover(response.body, response.final_url or url)
        robots = self.fetcher._robots_for(url)
        candidates += list(getattr(robots, "sitemaps", []) or [])
        for candidate in candidates:
            try:
                found = self.fetcher.get(candidate)
                if not found.ok:
                    continue
                kind = sniff(found.body, found.content_type)
            except TidingsError:
                continue
            if kind in ("feed", "sitemap"):
                listing = self._read(kind, found.body, candidate)
                listing.kind, listing.feed_url = "page", candidate
                return listing
        raise UnsupportedInput("no feed or sitemap found on this page", source=url,
                               hint="add the feed's URL instead")

    def _fetch_page(self, entry: Document, lang: str | None, outlet: str | None) -> PageResult:
        return article_document(entry, self.fetcher, self.ingest_section, lang=lang, outlet=outlet)

    def _after_listing(self, future: Future, poll: _Poll, polls: dict, report: PassReport) -> None:
        try:
            future.result()
        except Exception as exc:  # a bug in one listing must not stop the pass
            log.exception("listing of %s", poll.source["url"])
            poll.error = TidingsError(f"internal error: {exc}", source=poll.source["url"])
        source = poll.source
        if source["kind"] == "folder":
            self._folder(poll, report)
            return
        if poll.error is not None or poll.listing is None:
            self._finish(poll, report)
            return
        entries = self._new_entries(poll.listing.entries)
        poll.truncated = len(entries) > self.max_entries
        entries = entries[: self.max_entries]
        report.entries += len(entries)
        report.errors += poll.listing.errors
        poll.pending = len(entries)
        for entry in entries:
            polls[self.pool.submit(self._fetch_page, entry, source["lang"], source["name"])] = ("page", poll, entry)
        if not entries:
            self._finish(poll, report)

    def _new_entries(self, entries: list[Document]) -> list[Document]:
        """Entries whose link was never fetched (nor reached by a redirect or a canonical link),
        newest first (the caller takes watch.max_entries_per_poll; the rest come next time)."""
        with_links = [e for e in entries if e.url and e.url.lower().startswith(("http://", "https://"))]
        seen = self.store.seen_urls(e.url for e in with_links)  # type: ignore[misc]
        fresh: dict[str, Document] = {}
        for entry in with_links:
            if entry.url not in seen and entry.url not in fresh:
                fresh[entry.url] = entry  # type: ignore[index]
        ordered = sorted(fresh.values(), key=lambda e: e.published_at.timestamp() if e.published_at else 0.0,
                         reverse=True)
        return ordered

    def _folder(self, poll: _Poll, report: PassReport) -> None:
        from ..ingest import _read_file

        try:
            files = folder_files(poll.source["url"])
        except InputError as exc:
            poll.error = exc
            self._finish(poll, report)
            return
        seen = self.store.seen_urls(key for key, _ in files)
        for key, path in files[: self.max_entries * 10]:
            if key in seen:
                continue
            items = list(_read_file(path, self.ingest_section))
            for item in items:
                if isinstance(item, Document):
                    item.lang = poll.source["lang"] or item.lang
                    item.outlet = poll.source["name"] or item.outlet
            poll.folder_docs.append((key, items))
        report.entries += len(poll.folder_docs)
        self._finish(poll, report)

    def _finish(self, poll: _Poll, report: PassReport) -> None:
        """Ingest what the source gave, record every fetched URL, and update its health."""
        source = poll.source
        now = self.clock()
        records: dict[int, tuple[str, str | None, str | None, str]] = {}  # id(doc) -> url, final, canonical, status
        docs: list[Document] = []
        unrecorded: list[tuple[str, str | None, str | None, str]] = []
        for result in poll.results:
            report.pages += 1
            if result.document is None:
                if result.error is not None:
                    report.errors.append(result.error)
                unrecorded.append((result.entry_url, result.final_url, None, "failed"))
                continue
            if result.status == "summary-only":
                report.summary_only += 1
            records[id(result.document)] = (result.entry_url, result.final_url, result.canonical_url, result.status)
            docs.append(result.document)
        # a page whose redirect or canonical URL was fetched before is the same article again
        seen = self.store.seen_urls([r[1] for r in records.values() if r[1] and r[1] != r[0]]
                                    + [r[2] for r in records.values() if r[2]])
        kept = []
        for doc in docs:
            url, final, canonical, status = records[id(doc)]
            if (final and final != url and final in seen) or (canonical and canonical in seen):
                unrecorded.append((url, final, canonical, "seen-elsewhere"))
                del records[id(doc)]
            else:
                kept.append(doc)
        for key, items in poll.folder_docs:
            for item in items:
                if isinstance(item, Document):
                    records[id(item)] = (key, None, None, "article")
                    kept.append(item)
                    key = f"{key}+{len(records)}"  # more articles of one file (JSONL): one record each
                else:
                    report.errors.append(item)
            if not any(isinstance(i, Document) for i in items):
                unrecorded.append((key, None, None, "failed"))
        written: set[int] = set()

        def on_write(pairs: list[tuple[Document, Article]]) -> None:
            for doc, article in pairs:
                record = records.get(id(doc))
                if record is not None:
                    written.add(id(doc))
                    url, final, canonical, status = record
                    self.store.record_fetched(url, status=status if not article.duplicate_of else "duplicate",
                                              source_id=source["id"], final_url=final, canonical_url=canonical,
                                              article_id=article.id, now=now)

        if kept:
            ingest = self.monitor.add_documents(kept, on_write=on_write)
            report.added += ingest.added
            report.duplicates += len(ingest.duplicates)
            report.already_stored += ingest.already_stored
            report.errors += ingest.errors
            report.stories_touched |= ingest.stories_touched
        unrecorded += [(r[0], r[1], r[2], "not-stored") for key, r in records.items() if key not in written]
        health = self._health(poll, now)
        with self.store.transaction():
            for url, final, canonical, status in unrecorded:
                self.store.record_fetched(url, status=status, source_id=source["id"], final_url=final,
                                          canonical_url=canonical, now=now)
            self.store.update_source(source["id"], **health)
        if health.get("last_status") == 304:
            report.not_modified += 1
        if poll.error is not None or (poll.response is not None and not poll.response.ok
                                      and not poll.response.not_modified):
            report.failed += 1

    def _health(self, poll: _Poll, now: datetime) -> dict[str, Any]:
        source, response, error = poll.source, poll.response, poll.error
        values: dict[str, Any] = {"last_fetch": now, "fetches": source["fetches"] + 1}
        retry_after = None
        if response is not None:
            values["last_status"] = response.status
            if response.not_modified:
                values["not_modified"] = source["not_modified"] + 1
            elif response.ok and not (poll.interrupted or poll.truncated):
                values["etag"] = response.headers.get("etag")
                values["last_modified"] = response.headers.get("last-modified")
            elif response.ok:
                # entries are left for the next poll: it must get the listing again, not a 304
                values["etag"] = values["last_modified"] = None
            retry_after = response.retry_after()
        ok = error is None and (response is None or response.ok or response.not_modified)
        if error is None and response is not None and not ok:
            error = FetchError(f"HTTP {response.status}", source=response.url)
        values["last_error"] = None if ok else str(error)
        if poll.listing is not None:
            if poll.listing.kind and source["kind"] == "auto":
                values["kind"] = poll.listing.kind
            if poll.listing.feed_url:
                values["feed_url"] = poll.listing.feed_url
        schedule = next_poll(every=source["every_seconds"], errors_in_row=source["errors_in_row"],
                             outcome=Outcome(ok=ok, retry_after=retry_after), now=now, policy=self.policy,
                             rand=self.rand)
        values.update(next_due=now if poll.interrupted else schedule.due, errors_in_row=schedule.errors_in_row)
        if schedule.paused:
            values["paused"] = 1
            log.warning("source %s paused after %d errors in a row: %s", source["url"], schedule.errors_in_row,
                        values["last_error"])
        return values


class WatchThread:
    """The watcher in a background thread of another program (``tidings serve --watch``).

    :meth:`start` begins polling; :meth:`stop` lets the pass in hand finish and commit, then
    closes the watcher (and the monitor, when this object opened it).
    """

    def __init__(self, monitor: "Monitor", *, lock: Any = None, close_monitor: bool = False,
                 clock: Callable[[], datetime] = utc_clock):
        self.monitor = monitor
        self.watcher = Watcher(monitor, lock=lock, clock=clock)
        self.close_monitor = close_monitor
        self.stop_event = threading.Event()
        self.passes = 0
        self.thread = threading.Thread(target=self._run, name="tidings-watcher", daemon=True)

    def _run(self) -> None:
        def count(report: PassReport) -> None:
            self.passes += 1
            log.info("watch pass: %s", report.as_dict())

        while not self.stop_event.is_set():
            try:
                self.watcher.run(self.stop_event, on_pass=count)
            except Exception:  # keep the server's watcher alive through a bad pass; it is logged
                log.exception("watcher pass failed; retrying")
                self.stop_event.wait(float(self.watcher.section["idle_seconds"]))

    def start(self) -> "WatchThread":
        self.thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        self.stop_event.set()
        self.thread.join(timeout)
        self.watcher.close()
        if self.close_monitor:
            self.monitor.close()
