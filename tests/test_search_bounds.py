"""The bounds that keep a search fast at a million articles: words read at most
search.words_max_postings postings (rarest words first), entities at most
search.entity_max_mentions mentions (rarest entities first)."""

from __future__ import annotations

from tidings.config import Settings
from tidings.search import sync, words
from tidings.search.entities import QueryEntity, mention_limits, rank_articles
from tidings.store import Store


def _entity(eid: str, articles: int) -> QueryEntity:
    return QueryEntity(eid, eid, "LOC", eid, articles)


def test_mention_limits_read_rare_entities_in_full_and_share_the_rest():
    ents = [_entity("common", 90_000), _entity("rare", 40), _entity("middle", 3_000)]
    assert mention_limits(ents, 5000, None) == [5000, 5000, 5000]          # no budget: as before
    limits = mention_limits(ents, 5000, 5000, floor=100)
    assert limits[1] >= 40                                                 # the rarest in full
    assert limits[2] == limits[0] == (5000 - 40) // 2                     # the others share the rest
    roomy = mention_limits(ents, 5000, 10_000, floor=100)
    assert roomy[2] >= 3000 and roomy[0] == 5000        # the middle one in full too; never past per_entity
    crowd = [_entity(f"e{i}", 50_000) for i in range(12)]
    shares = mention_limits(crowd, 5000, 5000, floor=100)
    assert set(shares) <= {416, 417} and sum(shares) <= 5000                # shared evenly
    assert min(mention_limits(crowd * 10, 5000, 5000, floor=100)) == 100   # never below the floor
    small = [_entity("a", 10), _entity("b", 20)]                           # a small store: never binds
    assert all(lim >= 2500 for lim in mention_limits(small, 5000, 5000))


def test_words_keep_the_rarest_words_within_the_postings_budget(tmp_path, api_store_builder):
    path = tmp_path / "w.db"
    api_store_builder(path)
    with Store.open(path) as store:
        sync(store, Settings.load(env={}))
        langs = ["en", "hr", "fr"]
        counts = words.term_counts(store.conn, {"aleppo", "convoy", "lyon"})
        assert counts == {"aleppo": 2, "convoy": 1, "lyon": 1}
        query = "Aleppo convoy Lyon"
        _, everything, informative = words.match_expression(store.conn, query, langs, 100, 1.0)
        assert everything == ["aleppo", "convoy", "lyon"]
        assert words.match_expression(store.conn, query, langs, 100, 1.0, 100)[1] == everything
        assert informative == everything
        # two postings allowed: the two rarest words (one article each), in query order; all
        # three are still worth highlighting
        bounded = words.match_expression(store.conn, query, langs, 100, 1.0, 2)
        assert bounded.kept == ["convoy", "lyon"] and bounded.informative == everything
        # a budget smaller than any word still keeps the rarest one
        assert words.match_expression(store.conn, "Aleppo", langs, 100, 1.0, 1)[1] == ["aleppo"]


def test_entity_ranking_with_a_budget_keeps_the_rare_entitys_articles(tmp_path, api_store_builder):
    path = tmp_path / "e.db"
    api_store_builder(path)
    with Store.open(path) as store:
        sync(store, Settings.load(env={}))
        named = [_entity("geo:170063", 3), _entity("per:putin", 2)]
        total = store.count("articles")
        full = rank_articles(store, named, total, 5000)
        assert rank_articles(store, named, total, 5000, budget=5000) == full     # a small store: the same
        ids = {r[0]: r[2] for r in full}
        assert any(set(v) == {"geo:170063", "per:putin"} for v in ids.values())
        # one mention in all: the rarest entity (Putin) is still read, whose articles rank first
        tight = rank_articles(store, named, total, 5000, budget=1)
        assert tight and all("per:putin" in r[2] for r in tight[:1])


def test_snippets_highlight_the_informative_words_only(tmp_path, api_store_builder, monkeypatch):
    """A word in more than max_term_share of the articles is no reason to show a passage: it is
    not highlighted (and the snippets' query does not read its long posting list)."""
    from tidings.search import search

    path = tmp_path / "h.db"
    api_store_builder(path)
    monkeypatch.setattr(words, "MIN_COMMON_ARTICLES", 1)
    with Store.open(path) as store:
        settings = Settings.load(env={}, overrides={"search": {"max_term_share": 0.3}})
        sync(store, settings)
        assert words.term_counts(store.conn, {"putin", "moscow"}) == {"putin": 2, "moscow": 1}
        hits = search(store, "Putin Moscow", settings=settings, methods=("words",)).hits
        assert [h["id"] for h in hits] == ["a-en1"]
        assert "[Moscow]" in hits[0]["snippet"] and "Putin" in hits[0]["snippet"]
        assert "[Putin]" not in hits[0]["snippet"]
        everything = Settings.load(env={}, overrides={"search": {"max_term_share": 1.0}})
        hits = search(store, "Putin Moscow", settings=everything, methods=("words",)).hits
        assert any("[Putin]" in h["snippet"] for h in hits)
