"""POST /api/articles and POST /api/similarity through the real pipeline (clean, language, entities, embed).

The token and size checks that need no pipeline are in test_api_errors.py.
"""

from __future__ import annotations

import pytest
from conftest import parse_html
from fastapi.testclient import TestClient

from tidings.api import create_app
from tidings.config import Settings

TOKEN = "write-token-93c1"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

ALEPPO_EN = {
    "title": "Russia pauses air strikes on Aleppo",
    "text": "Russia announced a humanitarian pause in Aleppo, Syria, on Tuesday. The Kremlin said that "
            "Vladimir Putin saw no need to resume air strikes on the city for now.",
    "url": "https://example.org/en/aleppo-pause", "source": "Example Wire", "lang": "en",
    "published_at": "2016-10-20T08:00:00Z",
}
ALEPPO_HR = {
    "title": "Rusija zaustavila zračne napade na Alep",
    "text": "Rusija je u utorak objavila humanitarnu stanku u Alepu u Siriji. Iz Kremlja su poručili da "
            "Vladimir Putin ne vidi potrebu za nastavkom zračnih napada na grad.",
    "url": "https://example.org/hr/alep-stanka", "source": "Primjer", "published_at": "2016-10-20T10:00:00Z",
}
LYON_FR = {
    "title": "Lyon inaugure une médiathèque",
    "text": "La ville de Lyon a inauguré samedi une nouvelle médiathèque dans le quartier de la Part-Dieu, "
            "ouverte sept jours sur sept.",
    "lang": "fr", "published_at": "2016-10-22T09:00:00+02:00",
}
HOSTILE = {
    "title": "Alarm <script>window.__xss = 1</script> <img src=x onerror=\"window.__xss = 2\">",
    "text": "Officials in Berlin said <script>window.__xss = 3</script> the "
            "<img src=\"x\" onerror=\"window.__xss = 4\"> "
            "alarm was a test. <a href=\"javascript:window.__xss = 5\">details</a> & more.",
    "url": "https://example.org/alarm",
    "published_at": "2016-10-23T12:00:00Z",
}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    db = tmp_path_factory.mktemp("write") / "w.db"
    settings = Settings.load(env={}, overrides={"server": {"token": TOKEN}})
    with TestClient(create_app(str(db), settings, read_only=False)) as c:
        yield c


@pytest.fixture(scope="module")
def ingested(client):
    first = client.post("/api/articles", json=ALEPPO_EN, headers=AUTH)
    batch = client.post("/api/articles", json=[ALEPPO_HR, LYON_FR, HOSTILE], headers=AUTH)
    return first, batch


def test_ingest_one_article(ingested, client):
    first, _ = ingested
    assert first.status_code == 201, first.text
    body = first.json()
    (article_id,) = body["added"]
    assert body["already_stored"] == 0 and body["duplicates"] == []
    story_id = body["stories"][article_id]
    assert story_id in body["stories_touched"]
    article = client.get(f"/api/articles/{article_id}").json()
    assert article["title"] == ALEPPO_EN["title"] and article["lang"] == "en"
    assert article["outlet"] == "Example Wire" and article["url"] == ALEPPO_EN["url"]
    assert article["published_at"] == "2016-10-20T08:00:00Z"
    assert "geo:170063" in {m["entity_id"] for m in article["mentions"]}


def test_ingest_a_batch_and_find_it_everywhere(ingested, client):
    _, batch = ingested
    assert batch.status_code == 201, batch.text
    added = batch.json()["added"]
    assert len(added) == 3
    langs = {client.get(f"/api/articles/{a}").json()["lang"] for a in added}
    assert {"hr", "fr"} <= langs
    lyon = next(a for a in added if client.get(f"/api/articles/{a}").json()["lang"] == "fr")
    # +02:00 is stored as UTC
    assert client.get(f"/api/articles/{lyon}").json()["published_at"] == "2016-10-22T07:00:00Z"
    listed = {s["id"] for s in client.get("/api/stories").json()["stories"]}
    assert set(batch.json()["stories"].values()) <= listed
    hits = client.get("/api/search", params={"q": "médiathèque"}).json()["results"]
    assert [h["id"] for h in hits] == [lyon]


def test_story_of_an_ingested_article_lists_it_under_its_language(ingested, client):
    _, batch = ingested
    for article_id, story_id in batch.json()["stories"].items():
        lang = client.get(f"/api/articles/{article_id}").json()["lang"]
        story = client.get(f"/api/stories/{story_id}").json()
        assert article_id in [a["id"] for a in story["articles"][lang]]


def test_same_article_twice_is_stored_once(ingested, client):
    again = client.post("/api/articles", json=ALEPPO_EN, headers=AUTH)
    assert again.status_code == 201
    assert again.json()["added"] == [] and again.json()["already_stored"] == 1


def test_ingested_hostile_article_is_inert_on_every_page(ingested, client):
    _, batch = ingested
    hostile = next(a for a in batch.json()["added"] if "Alarm" in client.get(f"/api/articles/{a}").json()["title"])
    stored = client.get(f"/api/articles/{hostile}").json()
    assert "<script>" in stored["title"]  # kept as text in the store and the API...
    story = stored["story_id"]
    for url in ["/", f"/stories/{story}", f"/articles/{hostile}", "/search?q=alarm", "/search?q=officials"]:
        page = parse_html(client.get(url).text)
        assert page.live == [], url  # ...and never markup on a page
    texts = parse_html(client.get(f"/articles/{hostile}").text).texts
    assert any("<script>window.__xss = 1</script>" in t for t in texts)


def test_similarity_of_two_stored_articles(ingested, client):
    first, batch = ingested
    en = first.json()["added"][0]
    hr, fr = (a for a in batch.json()["added"] if client.get(f"/api/articles/{a}").json()["lang"] in ("hr", "fr"))
    same = client.post("/api/similarity", json={"a": {"id": en}, "b": {"id": hr}})
    assert same.status_code == 200, same.text
    result = same.json()
    assert 0.0 <= result["score"] <= 1.0 and result["components"]
    assert result["a"]["id"] == en and result["b"]["lang"] in ("hr", "fr")
    pair = {client.get(f"/api/articles/{a}").json()["lang"]: a for a in (hr, fr)}
    other = client.post("/api/similarity", json={"a": {"id": en}, "b": {"id": pair["fr"]}}).json()
    same_story = client.post("/api/similarity", json={"a": {"id": en}, "b": {"id": pair["hr"]}}).json()
    assert same_story["score"] > other["score"]  # Aleppo (en) is closer to Alep (hr) than to Lyon (fr)


def test_similarity_of_two_texts(client):
    response = client.post("/api/similarity", json={
        "a": {"text": ALEPPO_EN["text"], "title": ALEPPO_EN["title"], "lang": "en"},
        "b": {"text": ALEPPO_HR["text"], "title": ALEPPO_HR["title"]}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert 0.0 <= body["score"] <= 1.0
    assert body["b"]["lang"] == "hr"
    assert set(body["components"]) >= {"text"}


def test_similarity_centres_follow_articles_ingested_after_the_first_call(ingested, client):
    """The score is centred on the store's per-language means; a server that ingests must not keep
    the means it loaded with its first similarity request."""
    first, _ = ingested
    en = first.json()["added"][0]
    assert client.post("/api/similarity", json={"a": {"id": en}, "b": {"id": en}}).status_code == 200
    backend = client.app.state.backend
    before = backend._similarity_monitor.assigner.language_sums()[1].get("en", 0.0)
    more = dict(ALEPPO_EN, url="https://example.org/en/aleppo-later", title="Aleppo convoy reaches the city",
                text="A United Nations aid convoy reached eastern Aleppo on Friday after days of waiting at the "
                     "Turkish border, officials in Geneva said.", published_at="2016-10-21T08:00:00Z")
    assert client.post("/api/articles", json=more, headers=AUTH).status_code == 201
    assert client.post("/api/similarity", json={"a": {"id": en}, "b": {"id": en}}).status_code == 200
    assert backend._similarity_monitor.assigner is backend.writer().assigner
    assert backend._similarity_monitor.assigner.language_sums()[1]["en"] > before


def test_read_only_monitor_reloads_its_state_after_another_writer(ingested, client):
    from tidings.pipeline import Monitor

    db = client.app.state.backend.db
    with Monitor(db, Settings.load(env={}), read_only=True) as reader:
        assert reader.refresh_if_changed() is False          # first call: remembers the store's state
        old = reader.assigner
        assert reader.refresh_if_changed() is False and reader.assigner is old
        later = dict(ALEPPO_HR, url="https://example.org/hr/alep-poslije", published_at="2016-10-21T10:00:00Z",
                     title="Konvoj stigao u Alep", text="Konvoj Ujedinjenih naroda s pomoći stigao je u petak u "
                                                        "istočni Alep nakon višednevnog čekanja na turskoj granici.")
        assert client.post("/api/articles", json=later, headers=AUTH).status_code == 201
        assert reader.refresh_if_changed() is True
        assert reader.assigner is not old
