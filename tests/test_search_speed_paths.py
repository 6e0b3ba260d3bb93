"""The cheap paths search takes at a million articles (docs/benchmarks.md, "Search at scale"):
a filter that keeps few articles is searched by meaning exactly, the linker's word
dictionaries stay loaded for every language of the store, and warm-up loads what the first
query would otherwise wait for."""

from __future__ import annotations

import numpy as np
import pytest

from tidings import lemmas
from tidings.search import Filters, SearchSettings, StoreVectors, UsearchIndex, _meaning


def _unit_rows(rng, n: int) -> np.ndarray:
    vecs = rng.standard_normal((n, 384)).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def test_among_compares_the_given_keys_and_skips_keys_without_a_vector():
    index = UsearchIndex(SearchSettings(index_dtype="f16"))
    vecs = _unit_rows(np.random.default_rng(3), 40)
    index.add(np.arange(1, 41), vecs)
    query = vecs[4] + 0.3 * vecs[9]
    found = index.among(query, [5, 10, 11, 12, 999], 3)
    truth = sorted((float(vecs[k - 1] @ query / np.linalg.norm(query)), k) for k in (5, 10, 11, 12))[::-1][:3]
    assert [k for k, _ in found] == [k for _, k in truth]            # 999 has no vector: left out
    assert [c for _, c in found] == pytest.approx([c for c, _ in truth], abs=2e-3)
    assert index.among(query, [], 3) == [] and index.among(query, [999], 3) == []


@pytest.fixture
def store_with_vectors(tmp_path, api_store_builder):
    """The small API store with a random vector for every article, synced for search."""
    from conftest import article_embedding_keys
    from tidings.config import Settings
    from tidings.search import sync
    from tidings.store import Store

    path = tmp_path / "f.db"
    api_store_builder(path)
    settings = Settings.load(env={})
    rng = np.random.default_rng(7)
    store = Store.open(path)
    with store.transaction():
        sync(store, settings)
    model, keys = article_embedding_keys(store, settings)
    with store.transaction():
        store.cache_embeddings(model, {k: v for k, v in zip(keys, _unit_rows(rng, len(keys)))})
    yield store
    store.close()


def _exact_truth(vectors: StoreVectors, qvec: np.ndarray, kept: set[int], count: int) -> list[int]:
    everything = vectors.index.index.search(qvec, len(vectors.index), exact=True)
    return [int(k) for k in everything.keys if int(k) in kept][:count]


def test_a_filter_keeping_few_articles_is_searched_exactly_not_through_the_graph(store_with_vectors, monkeypatch):
    store = store_with_vectors
    cfg = SearchSettings(candidates=3, meaning_min_centred=-1.0, meaning_min_raw=-1.0)
    vectors = StoreVectors(store, cfg).ready(save=False)
    lang = store.conn.execute("SELECT lang FROM articles WHERE duplicate_of IS NULL GROUP BY lang "
                              "ORDER BY COUNT(*) DESC").fetchone()[0]
    filters = Filters(lang=lang)
    kept = set(filters.few(store, 10_000))
    assert kept == {r[0] for r in store.conn.execute(
        "SELECT rowid FROM articles WHERE lang = ? AND duplicate_of IS NULL", (lang,))}
    assert filters.few(store, len(kept) - 1) is None                  # more than that: not "few"
    assert Filters(exclude_lang=lang).few(store, 10_000) is None      # an exclusion never narrows enough
    qvec = vectors.query_vector(_unit_rows(np.random.default_rng(11), 1)[0])

    def no_graph(*_args):
        raise AssertionError("the HNSW graph was searched for a filter that keeps few articles")

    monkeypatch.setattr(vectors, "search", no_graph)
    found = _meaning(vectors, qvec, store, filters, cfg, sorted(kept))
    assert [k for k, _ in found] == _exact_truth(vectors, qvec, kept, 3)
    assert all(a[1] >= b[1] for a, b in zip(found, found[1:]))
    monkeypatch.undo()

    # meaning_exact_ratio = 0: always through the graph, the filter applied to what it finds
    graph_cfg = SearchSettings(candidates=3, meaning_min_centred=-1.0, meaning_min_raw=-1.0, meaning_exact_ratio=0)

    def no_exact(*_args):
        raise AssertionError("compared one by one although meaning_exact_ratio is 0")

    monkeypatch.setattr(vectors, "among", no_exact)
    through_graph = _meaning(vectors, qvec, store, filters, graph_cfg, None)
    assert {k for k, _ in through_graph} <= kept and len(through_graph) == min(3, len(kept))


def test_more_than_eight_languages_keep_their_dictionaries():
    """simplemma's own functions keep 8 dictionaries: a ninth language evicted one, decoded from
    disk again (up to 2.7 s) whenever it came back. Ten small dictionaries here (~1.5 s)."""
    codes = ["en", "fr", "sl", "ar", "el", "lv", "bg", "id", "is", "ms"]
    assert lemmas.load(codes) == codes
    before = lemmas.loads()
    for _ in range(2):
        for code in codes:
            lemmas.lemmatize("test", code)
            lemmas.is_known("test", code)
    assert lemmas.loads() == before
    assert lemmas.is_known("houses", "en") and not lemmas.is_known("zqxv", "en")
    assert lemmas.lemmatize("houses", "en") == "house"
    assert lemmas.lemmatize("houses", "xx") is None and not lemmas.is_known("houses", "xx")


def test_warm_up_leaves_nothing_for_the_first_query_to_load(api_store_builder, tmp_path):
    from tidings import places
    from tidings.search.entities import query_entities, store_languages, warm_up
    from tidings.store import Store

    path = tmp_path / "w.db"
    api_store_builder(path)
    with Store.open(path, read_only=True) as store:
        langs = store_languages(store)
        warm_up(langs)
        assert places.gazetteer()._skel is not None                  # the skeleton table, built
        loaded = lemmas.loads()
        query_entities(store, "Iran's Basketball Team Held At Airport Over Unauthorized Food", langs)
        assert lemmas.loads() == loaded


def test_queries_leave_no_link_objects_for_the_garbage_collector(api_store_builder, tmp_path):
    """A query's runs of words are linked under every language of the store and label; only
    the ids are kept. Kept as Linked and Entity objects (two a link), a server's cache grew to
    ~250,000 objects that each full collection walked: 60-230 ms pauses at a million articles."""
    import gc

    from tidings.entities import Entity, Linked, link_ids
    from tidings.search.entities import query_entities, store_languages
    from tidings.store import Store

    path = tmp_path / "g.db"
    api_store_builder(path)
    with Store.open(path, read_only=True) as store:
        langs = store_languages(store)

        def link_objects() -> int:
            gc.collect()
            return sum(isinstance(o, (Linked, Entity)) for o in gc.get_objects())

        query_entities(store, "Aleppo warm up", langs)
        before = link_objects()
        for i in range(40):
            query_entities(store, f"Zorvan{i} Kelmont{i} visits Aleppo and Brestova{i} on Monday", langs)
        assert link_objects() - before < 20
    assert "geo:170063" in link_ids("Alepu", ("en", "hr")) and "per:putin" in link_ids("Putina", ("hr",))


def test_an_index_of_another_dtype_than_the_setting_is_rebuilt(store_with_vectors, monkeypatch, caplog):
    store = store_with_vectors
    built = StoreVectors(store, SearchSettings(index_dtype="f32")).ready()
    assert built.index.index.dtype.name == "F32"
    builds = []
    real_build = StoreVectors.build
    monkeypatch.setattr(StoreVectors, "build", lambda self, *a, **k: (builds.append(1), real_build(self, *a, **k))[1])
    same = StoreVectors(store, SearchSettings(index_dtype="f32")).ready()
    assert not builds and len(same.index) == len(built.index)           # loaded as it is
    with caplog.at_level("WARNING", logger="tidings.search.vectors"):
        other = StoreVectors(store, SearchSettings(index_dtype="f16")).ready()
    assert builds == [1] and other.index.index.dtype.name == "F16" and len(other.index) == len(built.index)
    assert "search.index_dtype says f16" in caplog.text
    assert StoreVectors(store, SearchSettings(index_dtype="f16")).ready().index.index.dtype.name == "F16"
    assert builds == [1]                                                 # saved: loaded as f16 next time
