"""Search, titles and summaries on the bundled sample corpus (examples/sample: 9 languages, 12 stories)."""

from __future__ import annotations

import re

import numpy as np

from tidings.pipeline import embedding_key


def _story_with(monitor, min_langs: int) -> dict:
    stories = monitor.stories(limit=50, langs=[])["stories"]
    return max((s for s in stories if len(s["langs"]) >= min_langs), key=lambda s: (len(s["langs"]), s["size"]))


def test_summary_across_articles_without_near_copies(sample_monitor):
    story = _story_with(sample_monitor, 3)
    data = sample_monitor.story(story["id"], langs=[])
    summary = data["summary"]
    assert 2 <= len(summary) <= 3
    assert len({s["article_id"] for s in summary}) >= 2
    articles = {a["id"]: a for arts in data["articles"].values() for a in arts}
    for s in summary:
        assert s["article_id"] in articles and s["lang"] == articles[s["article_id"]]["lang"]
    embedder = sample_monitor.pipeline.embedder
    cached = sample_monitor.store.cached_embeddings([embedding_key(embedder.model_id, s["text"]) for s in summary])
    assert len(cached) == len(summary)            # the sentence vectors were kept in the embedding cache
    vecs = np.stack(list(cached.values()))
    sims = vecs @ vecs.T
    assert (sims[~np.eye(len(vecs), dtype=bool)] < 0.92).all()      # no two near-identical
    words = [set(re.findall(r"\w+", s["text"].lower())) for s in summary]
    for i in range(len(words)):
        for j in range(i + 1, len(words)):
            assert len(words[i] & words[j]) / len(words[i] | words[j]) < 0.6
    # read again: the cached summary, not a new one
    assert sample_monitor.story(story["id"], langs=[])["summary"] == summary


def test_title_in_the_readers_language(sample_monitor):
    story = _story_with(sample_monitor, 3)
    for lang in story["langs"]:
        data = sample_monitor.story(story["id"], langs=[lang], summary=False)
        assert data["title_lang"] == lang
        assert data["title"] in {a["title"] for a in data["articles"][lang]}
    absent = next(code for code in ("ja", "ko", "fi", "sv") if code not in story["langs"])
    data = sample_monitor.story(story["id"], langs=[absent], summary=False)
    assert data["title_lang"] in story["langs"]     # the most central article's, whatever its language
    listed = sample_monitor.stories(limit=50, langs=[lang])["stories"]
    assert next(s for s in listed if s["id"] == story["id"])["title_lang"] == lang


def test_english_description_finds_a_croatian_article(sample_monitor):
    result = sample_monitor.search("aid trucks with food reached a besieged city")
    croatian = [h for h in result["hits"] if h["lang"] == "hr"]
    assert croatian and "Alep" in croatian[0]["title"]
    assert {"meaning", "story"} & set(croatian[0]["matched"])
    meaning = sample_monitor.search("aid trucks with food reached a besieged city", methods=("meaning",))["hits"]
    assert "hr" in {h["lang"] for h in meaning[:5]}     # by meaning alone, among the first five


def test_no_hit_and_filters(sample_monitor):
    assert sample_monitor.search("xylophone quintessence")["hits"] == []
    hits = sample_monitor.search("Alep", lang="fr")["hits"]
    assert hits and {h["lang"] for h in hits} == {"fr"}
    assert sample_monitor.search("Alep", until="2000-01-01")["hits"] == []


def test_entity_ranking_reads_only_what_it_returns_yet_ranks_as_the_full_list(sample_monitor):
    """rank_articles with a limit and a filter (looked up best first, stopping early) gives the
    head of the full ranking filtered afterwards."""
    from tidings.search import entities as entity_search

    store = sample_monitor.store
    langs = entity_search.store_languages(store)
    named = entity_search.query_entities(store, "Aleppo Assad Damascus Syria", langs)
    assert "geo:170063" in {e.id for e in named} and len(named) >= 2
    total = store.count("articles")
    full = entity_search.rank_articles(store, named, total, 5000)
    assert len(full) >= 4
    scores = [s for _, s, _ in full]
    assert scores == sorted(scores, reverse=True)
    lang_of = dict(store.conn.execute("SELECT rowid, lang FROM articles"))
    lang = lang_of[full[0][0]]
    head = entity_search.rank_articles(store, named, total, 5000, limit=2,
                                       where="a.duplicate_of IS NULL AND a.lang != ?", params=[lang])
    assert head == [x for x in full if lang_of[x[0]] != lang][:2]
    assert entity_search.rank_articles(store, named, total, 5000, limit=3) == full[:3]
