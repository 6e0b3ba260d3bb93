"""PostgreSQL text search with stemming (issue #16, revision 0006): each article is stemmed by the
Snowball configuration of its language, accents ignored, a query parsed the same way; an inflected
form finds the base form. On Debian's PostgreSQL 15 (``unaccent`` before the stemmers) and on the
PostgreSQL 18 bundled with pgvector (no ``unaccent``: accents removed by decomposition)."""

from __future__ import annotations

from datetime import datetime, timezone

from tidings.models import Analysis, Article, Document
from tidings.store import Store

ARTICLES = [  # id, lang, title, text
    ("t-en", "en", "Elections in Moldova", "The voters elected a new parliament; turnout was rising."),
    ("t-fr", "fr", "Inondations à Valence", "Les pompiers ont évacué les habitants des quartiers inondés."),
    ("t-de", "de", "Überschwemmungen in Bayern", "Die Feuerwehren pumpten die Keller der Häuser aus."),
    ("t-es", "es", "Incendio forestal", "Los bomberos apagaron las llamas cerca de las casas."),
    ("t-ru", "ru", "Землетрясение в Турции", "Спасатели разбирали завалы разрушенных домов."),
    ("t-hr", "hr", "Poplave u Čakovcu", "Vatrogasci su spašavali stanovnike."),
]
CASES = [  # query, the article it finds (another inflection, case or accents than the text)
    ("election", "t-en"), ("elect voter", "t-en"), ("rises", "t-en"),
    ("inondation", "t-fr"), ("evacuer habitant", "t-fr"), ("quartier inonde", "t-fr"),
    ("überschwemmung", "t-de"), ("UBERSCHWEMMUNG bayern", "t-de"), ("Feuerwehr Haus", "t-de"),
    ("bombero", "t-es"), ("llama casa", "t-es"),
    ("землетрясения", "t-ru"), ("разрушенный дом", "t-ru"),
    ("cakovcu", "t-hr"),   # Croatian: no Snowball stemmer in PostgreSQL, simple + accents ignored
]


def _write(url: str) -> None:
    with Store.open(url) as store, store.transaction():
        for aid, lang, title, text in ARTICLES:
            raw_id = store.add_raw(Document(source=aid, raw=text.encode(), content_type="text", text=text))
            store.add_article(Article(id=aid, source=aid, title=title, text=text, lang=lang, lang_confidence=0.99,
                                      published_at=datetime(2026, 1, 5, tzinfo=timezone.utc), content_hash="h" + aid,
                                      analysis=Analysis(), story_id="s-" + aid), raw_id)
            store.set_membership(aid, "s-" + aid, 1.0)
            store.refresh_stories(["s-" + aid])


def _check(url: str) -> None:
    from tidings.queries import list_stories, search

    with Store.open(url, read_only=True) as store:
        for query, expected in CASES:
            assert [h["id"] for h in search(store, query)] == [expected], query
        assert search(store, "election zzzz") == []          # every word required
        assert search(store, "poplava") == []                # no stemming where PostgreSQL has none
        assert search(store, "bombero")[0]["snippet"].count("[") >= 1
        assert [s["id"] for s in list_stories(store, q="inondation")["stories"]] == ["s-t-fr"]
        rowids = store.article_rowids_matching(["llama"], "a.lang = ?", ["es"], 10)
        assert len(rowids) == 1 and store.article_rowids_matching(["llama"], "a.lang = ?", ["fr"], 10) == []
        assert "stemming" in store.full_text_search_mode()


def test_an_inflected_form_finds_the_base_form_on_debian_postgresql(pg_url):
    _write(pg_url)
    _check(pg_url)
    with Store.open(pg_url) as store:   # contrib's unaccent runs inside the configurations
        assert store.conn.execute("SELECT tidings_unaccent('Überschwemmung')").fetchone()[0] == "Überschwemmung"
        assert store.conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'unaccent'").fetchone()[0] == 1


def test_an_inflected_form_finds_the_base_form_without_unaccent(pgvector_server):
    url = pgvector_server.create_database("text_search")
    _write(url)
    _check(url)
    with Store.open(url) as store:   # no unaccent on this server: accents removed before parsing
        assert store.conn.execute("SELECT tidings_unaccent('Überschwemmung Łódź')").fetchone()[0] == \
            "Uberschwemmung Lodz"


def test_the_index_is_used_on_a_larger_table(pg_url):
    _write(pg_url)
    with Store.open(pg_url) as store:
        store.conn.execute("SET enable_seqscan = off")
        where, params = store._fts("election")
        plan = "\n".join(r[0] for r in store.conn.execute(
            "EXPLAIN SELECT a.rowid FROM articles a WHERE " + where, params).fetchall())
        assert "articles_fts_lang" in plan
