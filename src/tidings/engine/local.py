"""The local engine: documents prepared in this process, or in worker processes on this machine.

The monitor embeds the articles (e5 in a background thread, :meth:`Pipeline.embed_ahead`).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from itertools import chain, islice
from typing import TYPE_CHECKING

from ..errors import InputError, TidingsError
from ..models import Article, Document
from . import Prepared, error_from, error_parts, for_worker, worker_count

if TYPE_CHECKING:
    from ..config import Settings
    from ..pipeline import Pipeline

# Documents queued per worker process: enough that a worker never waits for the next one.
_DOCS_IN_FLIGHT_PER_WORKER = 8
# Fewer documents than this are analysed in the calling process even when ingest.workers > 1:
# starting a worker costs ~5 s of CPU (models), what one process analyses 128 documents in.
MIN_DOCS_FOR_WORKERS = 128


class LocalEngine:
    """``ingest.engine = "local"``: ``ingest.workers`` processes on this machine (1: this one)."""

    name = "local"

    def __init__(self, settings: Settings, pipeline: Pipeline, *, workers: int | None = None,
                 min_docs_for_workers: int | None = None):
        self.pipeline = pipeline
        self.workers = worker_count(settings.section("ingest").get("workers", 1)) if workers is None else workers
        self.min_docs_for_workers = min_docs_for_workers

    def close(self) -> None:
        """Nothing held between runs: a run's worker processes stop when the run ends."""

    def prepare(self, items: Iterable[Document | InputError], default_date: datetime | None = None,
                ) -> Iterator[Prepared]:
        """:meth:`Pipeline.prepare` each document, in input order: ``(item, article)``, or
        ``(item, error)`` for an input that could not be read or analysed (a reader's
        ``InputError`` passes through).

        With ``workers`` > 1 the documents are prepared in that many worker processes (spaCy and
        the CRF hold the GIL, so threads would not help) while this process stores and clusters;
        the analysis of a document depends on that document alone, so the articles are the ones
        one process would produce, in the same order. Each worker loads its own models (spaCy,
        CRF, gazetteer: a few seconds and ~1 GB each), so this pays off on long inputs only:
        an input of fewer than ``min_docs_for_workers`` items (default
        ``MIN_DOCS_FOR_WORKERS``; an API request, a feed poll) is prepared here.
        """
        pipeline, workers = self.pipeline, self.workers
        items = iter(items)
        threshold = MIN_DOCS_FOR_WORKERS if self.min_docs_for_workers is None else self.min_docs_for_workers
        head = list(islice(items, threshold)) if workers > 1 else []
        if workers <= 1 or len(head) < threshold:
            for item in chain(head, items):
                yield item, item if isinstance(item, InputError) else pipeline._prepare_or_error(item, default_date)
            return
        items = chain(head, items)
        from .. import entities

        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_init,
                                   initargs=(pipeline.settings, entities.configured(), os.getpid()))
        # a bounded window of documents in flight keeps every worker busy without reading the
        # whole input ahead (a feed or a directory of a million files)
        window: deque[tuple[Document | InputError, Future | None]] = deque()
        limit = workers * _DOCS_IN_FLIGHT_PER_WORKER
        try:
            for item in items:
                # the raw bytes stay here: prepare() does not read them, and they can be large
                window.append((item, None if isinstance(item, InputError)
                               else pool.submit(_worker_prepare, for_worker(item), default_date)))
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


_worker_pipeline: Pipeline | None = None


def _worker_init(settings: Settings, entity_settings: dict | None, parent: int | None = None) -> None:
    """Set up a worker process of :meth:`LocalEngine.prepare` with the parent's settings;
    ``parent``: the pid of the process that started the pool (a parent killed before this runs
    would otherwise leave the worker re-parented, its watch comparing against the new parent)."""
    global _worker_pipeline
    import signal

    from .. import entities
    from ..pipeline import Pipeline

    # Ctrl-C is the parent's to handle: it stops the run and shuts the pool down
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # a parent killed outright (SIGKILL, SIGTERM) runs no shutdown: do not linger holding ~1 GB
    parent = os.getppid() if parent is None else parent
    threading.Thread(target=_exit_with_parent, args=(parent,), name="tidings-parent-watch", daemon=True).start()
    _worker_pipeline = Pipeline(settings)
    if entity_settings is not None:   # after the pipeline, which makes its own section current
        entities.configure(entity_settings)


def _exit_with_parent(parent: int, interval: float = 1.0) -> None:
    while True:
        time.sleep(interval)
        if os.getppid() != parent:
            os._exit(1)


def _worker_prepare(doc: Document, default_date: datetime | None) -> Article | tuple:
    assert _worker_pipeline is not None, "worker not initialised"
    result = _worker_pipeline._prepare_or_error(doc, default_date)
    return error_parts(result) if isinstance(result, InputError) else result


def _collect(item: Document | InputError, future: Future | None) -> Prepared:
    if future is None:
        return item, item  # type: ignore[return-value]
    result = future.result()
    return item, error_from(result) if isinstance(result, tuple) else result
