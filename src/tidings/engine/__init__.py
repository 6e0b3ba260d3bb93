"""Where the per-article stages run: one interface, one module per engine.

An engine turns documents into analysed articles (clean, language, names, places, dates,
quotations; an engine may also attach the embedding). It keeps the input order, so the monitor
that consumes it dedups, assigns stories and stores exactly as it would with any other engine:

    engine = open_engine(settings, pipeline)
    for item, article in engine.prepare(documents, default_date):
        ...   # article is an Article, or the InputError of that input
    engine.close()

Built-in engines, chosen with the ``ingest.engine`` setting (``tidings ingest --engine``):

- ``local`` (:mod:`tidings.engine.local`): this process, or ``ingest.workers`` worker
  processes on this machine; the monitor embeds (e5 in a background thread).
- ``ray`` (:mod:`tidings.engine.ray`): an actor pool on Ray, a local Ray or a cluster by
  ``ingest.ray_address``; the actors embed too, and those vectors are the ones stored.

Engines never touch the store: storage and the ordered story assignment stay with the caller.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from ..errors import ConfigError, InputError

if TYPE_CHECKING:
    from ..config import Settings
    from ..models import Article, Document
    from ..pipeline import Pipeline

__all__ = ["Engine", "ENGINES", "for_worker", "open_engine", "worker_count"]

Prepared = tuple["Document | InputError", "Article | InputError"]


def for_worker(doc: "Document") -> "Document":
    """The document as sent to another process: without its raw bytes (they stay with the caller
    and can be large), except an HTML page's, whose markup the publication-date stage reads
    (tidings.pubdate: htmldate, and the full timestamp of the page's own metadata), or a document
    left undecoded for the engine (``Document.decode``)."""
    from dataclasses import replace

    return doc if doc.content_type == "html" or doc.decode else replace(doc, raw=b"")


class Engine(Protocol):
    """Prepares documents into articles, in input order."""

    name: str

    def prepare(self, items: Iterable[Document | InputError], default_date: datetime | None = None,
                ) -> Iterator[Prepared]:
        """``(item, article)`` per input item, in input order; ``(item, error)`` for an input
        that could not be read or analysed (a reader's ``InputError`` passes through as itself).
        ``article.embedding`` is set when the engine embeds, else None."""
        ...

    def close(self) -> None:
        """Release what the engine holds (worker processes, actors, a Ray it started)."""
        ...


# name -> "module:factory"; a factory takes (settings, pipeline) and returns an Engine. Imported
# on use, so that Ray is imported only by a run that asks for it.
ENGINES: dict[str, str] = {
    "local": "tidings.engine.local:LocalEngine",
    "ray": "tidings.engine.ray:RayEngine",
}


def open_engine(settings: Settings, pipeline: Pipeline) -> Engine:
    """The engine named by the ``ingest.engine`` setting, over ``pipeline``'s settings."""
    name = str(settings.section("ingest").get("engine") or "local").strip().lower()
    if name not in ENGINES:
        raise ConfigError(f"unknown engine {name!r}", source="ingest.engine",
                          hint="one of " + ", ".join(sorted(ENGINES)))
    module, _, factory = ENGINES[name].partition(":")
    return getattr(importlib.import_module(module), factory)(settings, pipeline)


def worker_count(value: object) -> int:
    """``ingest.workers``: a count, or 0 for one per CPU core this process may use."""
    try:
        count = int(value or 0)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ConfigError(f"not a number of processes: {value!r}", source="ingest.workers",
                          hint="a whole number; 0 for one per CPU core") from None
    if count <= 0:
        count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, count)


def error_parts(error: InputError) -> tuple:
    """An input error as plain parts: exceptions with keyword-only arguments do not survive
    pickling, so a worker process or a Ray actor sends these instead."""
    return type(error), error.reason, error.source, error.hint


def error_from(parts: tuple) -> InputError:
    cls, reason, source, hint = parts
    return cls(reason, source=source, hint=hint)
