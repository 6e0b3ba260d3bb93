"""The parts of tidings.search and tidings.summary on small inputs (no models)."""

from __future__ import annotations

import numpy as np
import pytest

from tidings.search import SearchSettings, StoreVectors, UsearchIndex, sync, vector_index_status
from tidings.search.fuse import rrf, tied_ranks
from tidings.search.words import query_terms, stem_text
from tidings.summary import lead_sentences, mmr, pick_title


def test_rrf_rewards_agreement_and_breaks_ties_by_the_first_list():
    fused = rrf({"a": [1, 2, 3], "b": [3, 2, 9]}, {"a": 1.0, "b": 1.0}, k=60)
    assert {item for item, _ in fused[:2]} == {2, 3}     # in both lists beats first of one
    assert [item for item, _ in fused][2:] == [1, 9]
    weighted = rrf({"a": [1], "b": [9]}, {"a": 1.0, "b": 2.0}, k=60)
    assert weighted[0][0] == 9
    assert tied_ranks([[5, 6], [7, 5]]) == {5: 1, 6: 1, 7: 2}
    assert rrf({"s": {5: 1, 6: 1}}, {}, k=60)[0][1] == rrf({"s": {5: 1, 6: 1}}, {}, k=60)[1][1]


def test_stems_make_inflected_forms_meet():
    assert stem_text("Putina Alepu Alepa", "hr").split() == ["putin", "alep", "alep"]
    assert "putin" in query_terms("Putina", ["en", "hr"])[0]
    assert query_terms("Putina", [])[0] == {"putina"}


def test_mmr_one_sentence_per_article_and_no_near_copies():
    e = np.eye(4)
    vectors = np.stack([e[0], e[0] * 0.99 + e[1] * 0.01, e[1], e[2]])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    centre = np.ones(4) / 2
    picked = mmr(vectors, centre, ["a", "b", "a", "c"], k=3)
    assert 1 not in picked or 0 not in picked                 # near copies: never both
    owners = [["a", "b", "a", "c"][i] for i in picked]
    assert len(owners) == len(set(owners))                    # one sentence per article


def test_lead_sentences_and_titles():
    text = "Short. " + "A long enough first sentence of the lead, about the story at hand. " * 2 + "\nNo end"
    assert lead_sentences(text) == ["A long enough first sentence of the lead, about the story at hand."] * 2
    centres = {"central": {"en": ["a1", "English title"], "hr": ["a2", "Hrvatski naslov"]}, "order": ["en", "hr"]}
    assert pick_title(centres, ["hr", "en"]) == ("Hrvatski naslov", "hr")
    assert pick_title(centres, ["de"]) == ("English title", "en")
    assert pick_title({}, ["en"]) is None


def test_usearch_index_add_search_remove():
    index = UsearchIndex(SearchSettings(index_dtype="f32"))
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((50, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    index.add(np.arange(50), vecs)
    found = index.search(vecs[7], 3)
    assert found[0][0] == 7 and found[0][1] == pytest.approx(1.0, abs=1e-4)
    index.remove(np.array([7]))
    assert len(index) == 49 and 7 not in [k for k, _ in index.search(vecs[7], 5)]


def test_vector_index_follows_the_store(tmp_path, api_store_builder):
    """A store written through Store alone: sync adds its search tables, the index follows new vectors."""
    from conftest import article_embedding_keys
    from tidings.config import Settings
    from tidings.store import Store

    path = tmp_path / "v.db"
    api_store_builder(path)
    settings = Settings.load(env={})
    rng = np.random.default_rng(1)
    with Store.open(path) as store:
        assert not vector_index_status(store, settings)["in_step"]      # articles not yet in the search tables
        with store.transaction():
            sync(store, settings)
        model, keys = article_embedding_keys(store, settings)
        with store.transaction():
            store.cache_embeddings(model, {k: rng.standard_normal(384).astype(np.float32) for k in keys[:3]})
        vectors = StoreVectors(store, SearchSettings()).ready()
        assert len(vectors.index) == 3
        status = vector_index_status(store, settings)
        assert status["in_step"] and status["indexed"] == 3, status
        with store.transaction():
            store.cache_embeddings(model, {k: rng.standard_normal(384).astype(np.float32) for k in keys[3:]})
        assert not vector_index_status(store, settings)["in_step"]      # a vector the saved index lacks
        StoreVectors(store, SearchSettings()).ready()                   # loads the saved index, adds the rest
        assert vector_index_status(store, settings)["in_step"]


def test_a_snippet_around_a_mention():
    from tidings.search.snippets import around

    text = "Un convoi humanitaire de l'ONU est arrivé mercredi à Alep, dans le nord de la Syrie, après des semaines."
    start = text.index("Alep")
    snippet = around(text, start, start + 4)
    assert snippet == "…arrivé mercredi à [Alep], dans le nord de la Syrie, après des…"
    assert len(snippet.replace("…", "").split()) == 12
    # at the start of a text: nothing cut before; a name of two words is one mark
    assert around("Bashar al-Assad spoke.", 0, 15) == "[Bashar al-Assad] spoke."
    # glued to its word: "l'Alep" keeps its article
    glued = "Il part pour l'Alep demain."
    assert around(glued, glued.index("Alep"), glued.index("Alep") + 4) == "Il part pour l'[Alep] demain."
    # offsets that do not fit the text (a text edited since): its start, unmarked
    assert around("Short text.", 5, 99) == "Short text."
