"""Matrix products of spaCy's recognisers on numpy's BLAS, one thread.

thinc (spaCy's model library) multiplies matrices with blis, which reaches ~32 GFLOP/s on one
core of this machine's AVX-512 CPU where numpy's OpenBLAS reaches ~97 GFLOP/s on the same
shapes ([1000, 288] x [288, 288], the window encoder of the small models). The products are most
of a recogniser's time on a whole article, so :func:`use_blas` puts every model layer of a loaded
pipeline on :class:`BlasOps` (the pattern of thinc-apple-ops, which does the same with Apple's
Accelerate): the names found are the same (300 es/fr crisis articles: 0 differ) at ~1.5x the
speed (docs/benchmarks.md, "Pipeline throughput"). The parser's own Cython loop keeps blis.

OpenBLAS would use every core for a product this size; beside the encoder (which has its own
threads) that only adds hand-offs, so :func:`one_thread` holds BLAS to one thread around a
recogniser call (threadpoolctl, ~16 µs a call).
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext
from functools import lru_cache

import numpy as np
from thinc.api import NumpyOps

log = logging.getLogger(__name__)

__all__ = ["BlasOps", "use_blas", "one_thread"]


class BlasOps(NumpyOps):
    """thinc's NumpyOps with ``gemm`` on ``numpy.matmul`` (the installed BLAS)."""

    name = "tidings-blas"

    def gemm(self, x, y, out=None, trans1=False, trans2=False):
        a = x.T if trans1 else x
        b = y.T if trans2 else y
        if out is None:
            return np.matmul(a, b)
        np.matmul(a, b, out=out)
        return out


def use_blas(nlp) -> int:
    """Put every model layer of the spaCy pipeline ``nlp`` on :class:`BlasOps`; returns the
    number of layers changed."""
    ops = BlasOps()
    changed = 0
    for name in nlp.pipe_names:
        model = getattr(nlp.get_pipe(name), "model", None)
        if model is None:
            continue
        for node in model.walk():
            node.ops = ops
            changed += 1
    return changed


@lru_cache(maxsize=1)
def _controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:   # (a dependency; a stripped install runs with the BLAS's own threads)
        log.info("threadpoolctl is not installed: BLAS runs with its own thread count")
        return None
    return ThreadpoolController()


def one_thread() -> AbstractContextManager:
    """A context in which the BLAS libraries of this process use one thread."""
    controller = _controller()
    return controller.limit(limits=1, user_api="blas") if controller is not None else nullcontext()
