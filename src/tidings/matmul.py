"""Matrix products of spaCy's recognisers on numpy's BLAS, one thread.

thinc (spaCy's model library) multiplies matrices with blis, which reaches ~32 GFLOP/s on one
core of this machine's AVX-512 CPU where numpy's OpenBLAS reaches ~97 GFLOP/s on the same
shapes ([1000, 288] x [288, 288], the window encoder of the small models). The products are most
of a recogniser's time on a whole article, so :func:`use_blas` puts every model layer of a loaded
pipeline on :class:`BlasOps` (the pattern of thinc-apple-ops, which does the same with Apple's
Accelerate): the names found are the same (300 es/fr crisis articles: 0 differ) at ~1.5x the
speed (docs/benchmarks.md, "Pipeline throughput").

The parser's own Cython loop (the transitions, token by token) multiplies through the function
pointers of the ``CBlas`` that ``ops.cblas()`` returns: :meth:`BlasOps.cblas` gives it the small
compiled kernels of ``tidings._parser_kernels`` instead of blis, whose build does not know this
CPU and runs its generic reference code (the same sums in the same order, so the same bits; built
by ``pip install``, blis kept with a log line where it could not be compiled).

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

    def cblas(self):
        """The C functions spaCy's parser loop multiplies with: tidings._parser_kernels' sgemm and
        saxpy where that extension is built, thinc's blis ones otherwise."""
        cblas = _parser_cblas()
        return cblas if cblas is not None else super().cblas()


@lru_cache(maxsize=1)
def _parser_cblas():
    """One CBlas on the parser kernels, shared (it only holds two function pointers), or None."""
    from thinc.backends.cblas import CBlas

    try:
        from . import _parser_kernels
    except ImportError:
        log.info("tidings._parser_kernels is not built (pip install tidings compiles it): spaCy's parser "
                 "multiplies with blis")
        return None
    return _parser_kernels.install(CBlas())


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
