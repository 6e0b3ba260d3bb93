"""Keep the encoder's large temporary buffers in the C heap instead of fresh ``mmap`` pages.

CTranslate2 allocates its per-batch activations (a batch of 4,096 tokens: ~25 MB for the
feed-forward layer alone) with the C allocator and frees them after each layer. glibc serves an
allocation above ``M_MMAP_THRESHOLD`` (128 kB at start, raised adaptively up to 32 MB) with a
new ``mmap`` and returns it with ``munmap``, so every batch touches fresh pages that the kernel
must fault in and zero: on replay10k that was a quarter of all CPU time, in the kernel
(docs/benchmarks.md, "Encoder engines"). Raising the threshold and the trim threshold once per
process keeps those buffers in the heap, where they are reused.

glibc only (``mallopt``); elsewhere nothing happens. The memory kept is bounded by the largest
batch the encoder runs (``batch_tokens``), a few hundred MB at most.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

__all__ = ["keep_large_buffers"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_done = False


def keep_large_buffers(mmap_threshold_mb: int = 256, trim_threshold_mb: int = 512, arenas: int = 1) -> bool:
    """Serve allocations up to ``mmap_threshold_mb`` from the heap and keep up to
    ``trim_threshold_mb`` of free heap top before returning it to the system. Once per process;
    True when glibc took the settings."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):   # musl and others without mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold_mb << 20)) and bool(
        mallopt(_M_TRIM_THRESHOLD, trim_threshold_mb << 20))
    if arenas:
        ok = bool(mallopt(_M_ARENA_MAX, arenas)) and ok
    _done = ok
    log.debug("malloc thresholds for the encoder's buffers: %s", "set" if ok else "refused")
    return ok
