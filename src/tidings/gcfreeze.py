"""The loaded models out of the garbage collector's sight: :func:`gc.freeze` once they are in memory.

The recognisers, the gazetteer, the name tables and the word dictionaries of each language are
some 250,000 objects (a few of them containers of a million entries) that live as long as the
process. Python's full collections walked every one of them again: on replay10k, one every ~250
articles, 0.22-0.30 s of the ingest's main thread each (~3% of its CPU; docs/benchmarks.md,
"Session 10").

A language's models load on its first article (spaCy, the CRF, simplemma's dictionary, the
linker's tables), so the ingest calls :func:`loaded` with the languages of each batch it has
stored. A language not seen before in this process: one full collection (the garbage goes first),
then :func:`gc.freeze` moves everything still alive to the permanent generation, which no later
collection walks. The first freeze costs one full collection (~0.2 s), a later one (another
language) far less, as most objects are frozen already; never one per batch.

The price: an object frozen while alive that later becomes part of a reference cycle is never
collected. Objects freed by their reference count (nearly all: an article's analysis, a batch's
rows) are freed as before, frozen or not; and there are at most as many freezes as languages.
``[ingest] gc_freeze = false`` turns it off.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Iterable

log = logging.getLogger(__name__)

__all__ = ["loaded", "freezes"]

_lock = threading.Lock()
_seen: set[str] = set()
_freezes = 0


def loaded(langs: Iterable[str]) -> bool:
    """Note the languages just analysed in this process; when one is new (its models loaded),
    collect and freeze what is alive. True if it froze."""
    global _freezes
    with _lock:
        new = {lang for lang in langs if lang} - _seen
        if not new:
            return False
        _seen.update(new)
        gc.collect()
        gc.freeze()
        _freezes += 1
    log.debug("models of %s loaded: %d objects frozen", ", ".join(sorted(new)), gc.get_freeze_count())
    return True


def freezes() -> int:
    """How many times this process froze its objects after new models loaded."""
    return _freezes
