"""The loaded models out of the garbage collector's sight: :func:`gc.freeze` once they are in memory.

The recognisers, the gazetteer, the name tables and the word dictionaries of each language are
hundreds of thousands of objects (some of them containers of millions of entries) that live as
long as the process. Python's full collections walk every one of them again: on replay10k, 4
full collections over 1,000 articles cost 1.1 s of the ingest's main thread (0.22-0.30 s each),
about 3% of its CPU (docs/benchmarks.md, "Session 10").

A language's models load on its first article (spaCy, the CRF, simplemma's dictionary, the
linker's tables), so the ingest calls :func:`loaded` with the languages of each batch it stores.
A language not seen before in this process *arms* a freeze; the next full collection that Python
runs anyway then ends with :func:`gc.freeze`: everything alive at that moment (just collected, so
no garbage among it) moves to the permanent generation, which no later collection walks. No
collection is added (an explicit ``gc.collect()`` costs as much as the ones saved), and the freeze
happens once per new set of models, never per batch.

The price: an object frozen while alive that later becomes part of a reference cycle is never
collected. Objects freed by their reference count (nearly all: an article's analysis, a batch's
rows) are freed as before, frozen or not; and there are as many freezes as languages. ``[ingest]
gc_freeze = false`` turns it off.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Iterable

log = logging.getLogger(__name__)

__all__ = ["loaded", "freezes", "armed"]

_lock = threading.Lock()
_seen: set[str] = set()
_armed = False
_registered = False
_freezes = 0


def loaded(langs: Iterable[str]) -> bool:
    """Note the languages just analysed in this process; True when one was new (a freeze is then
    armed for the end of the next full collection)."""
    global _armed, _registered
    with _lock:
        new = {lang for lang in langs if lang} - _seen
        if not new:
            return False
        _seen.update(new)
        _armed = True
        if not _registered:   # stays registered (removing it while the collector calls it is unsafe)
            _registered = True
            gc.callbacks.append(_after_collection)
    log.debug("models of %s loaded: freezing what is alive after the next full collection", ", ".join(sorted(new)))
    return True


def _after_collection(phase: str, info: dict) -> None:
    global _armed, _freezes
    if phase != "stop" or info.get("generation") != 2 or not _armed:
        return
    _armed = False
    gc.freeze()
    _freezes += 1
    log.debug("froze %d objects after a full collection", gc.get_freeze_count())


def freezes() -> int:
    """How many times this process froze its objects after new models loaded."""
    return _freezes


def armed() -> bool:
    """Whether a freeze waits for the next full collection."""
    return _armed
