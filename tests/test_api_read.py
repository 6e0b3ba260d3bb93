"""REST API reads: every GET endpoint and filter over a small store written through Store."""

from __future__ import annotations

import pytest


def _ids(page: dict) -> list[str]:
    return [s["id"] for s in page["stories"]]


def test_stories_lists_live_stories_newest_first(api_client):
    page = api_client.get("/api/stories").json()
    assert _ids(page) == ["s-aleppo", "s-xss", "s-lyon"]  # s-old was merged into s-aleppo
    assert page["next_cursor"] is None
    aleppo = page["stories"][0]
    assert aleppo["size"] == 3 and aleppo["langs"] == {"en": 2, "hr": 1}
    assert aleppo["first_seen"] == "2016-10-20T09:30:00Z" and aleppo["last_seen"] == "2016-10-22T09:30:00Z"
    assert aleppo["top_entities"][0]["id"] == "geo:170063"
    assert aleppo["top_entities"][0]["articles"] == 3


def test_sort_by_size(api_client):
    page = api_client.get("/api/stories", params={"sort": "size"}).json()
    assert _ids(page)[0] == "s-aleppo"
    assert [s["size"] for s in page["stories"]] == sorted((s["size"] for s in page["stories"]), reverse=True)


@pytest.mark.parametrize("sort", ["newest", "size", "heat"])
def test_cursor_pagination_visits_every_story_once(api_client, sort):
    seen, cursor = [], None
    for _ in range(10):
        params = {"limit": 1, "sort": sort, **({"cursor": cursor} if cursor else {})}
        page = api_client.get("/api/stories", params=params).json()
        seen += _ids(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == ["s-aleppo", "s-lyon", "s-xss"]
    assert len(seen) == 3


@pytest.mark.parametrize("params,expected", [
    ({"lang": "hr"}, ["s-aleppo"]),
    ({"lang": "fr"}, ["s-lyon"]),
    ({"lang": "de"}, []),
    ({"since": "2016-10-13"}, ["s-aleppo"]),
    ({"until": "2016-10-12"}, ["s-xss", "s-lyon"]),
    ({"since": "2016-10-06", "until": "2016-10-12"}, ["s-xss"]),
    ({"since": "2016-10-21T00:00:00Z"}, ["s-aleppo"]),
    ({"entity": "per:putin"}, ["s-aleppo"]),
    ({"place": "geo:2996944"}, ["s-lyon"]),
    ({"place": "geo:524901"}, ["s-aleppo", "s-xss"]),
    ({"q": "bibliotheque"}, ["s-lyon"]),  # accents ignored
    ({"q": "corridor convoy"}, ["s-aleppo"]),
    ({"q": "aleppo", "lang": "fr"}, []),
    ({"min_size": 2}, ["s-aleppo"]),
])
def test_story_filters(api_client, params, expected):
    response = api_client.get("/api/stories", params=params)
    assert response.status_code == 200, response.text
    assert _ids(response.json()) == expected


def test_story_detail_groups_articles_by_language(api_client):
    story = api_client.get("/api/stories/s-aleppo").json()
    assert story["id"] == story["requested_id"] == "s-aleppo"
    assert story["aliases"] == ["s-old"]
    assert {lang: [a["id"] for a in arts] for lang, arts in story["articles"].items()} == {
        "en": ["a-en1", "a-en2"], "hr": ["a-hr1"]}
    aleppo = next(p for p in story["places"] if p["id"] == "geo:170063")
    assert set(aleppo["forms"]) == {"Aleppo", "Alepu"} and aleppo["articles"] == 3
    assert aleppo["lat"] == pytest.approx(36.20124)
    assert [e["id"] for e in story["entities"]] == ["per:putin", "org:kremlin"]
    assert {"start": "2016-09-22", "end": "2016-09-22", "granularity": "day", "mentions": 1,
            "texts": ["22. rujna"]} in story["dates"]
    assert any(d["granularity"] == "month" and d["end"] == "2016-10-31" for d in story["dates"])
    assert story["quotes"][0]["speaker_entity_id"] == "per:putin"
    assert story["first_seen"] == "2016-10-20T09:30:00Z"


def test_old_merged_story_id_resolves(api_client):
    story = api_client.get("/api/stories/s-old").json()
    assert story["id"] == "s-aleppo" and story["requested_id"] == "s-old"
    assert "a-en2" in [a["id"] for a in story["articles"]["en"]]


def test_article_detail_and_raw(api_client):
    article = api_client.get("/api/articles/a-hr1").json()
    assert article["lang"] == "hr" and article["story_id"] == "s-aleppo"
    assert [m["entity_id"] for m in article["mentions"]] == ["per:putin", "geo:170063", "org:kremlin"]
    assert article["raw"] is None
    with_raw = api_client.get("/api/articles/a-hr1", params={"raw": "true"}).json()
    assert with_raw["raw"]["text"] == article["text"]
    assert with_raw["raw"]["bytes"] == len(article["text"].encode())


def test_article_of_a_merged_story_points_at_the_survivor(api_client):
    assert api_client.get("/api/articles/a-en2").json()["story_id"] == "s-aleppo"


def test_entity_detail_has_variants_by_language_and_stories(api_client):
    entity = api_client.get("/api/entities/geo:170063").json()
    assert entity["name"] == "Aleppo" and entity["geonames_id"] == 170063
    assert entity["variants"] == {"en": ["Aleppo"], "hr": ["Alepu"]}
    assert [s["id"] for s in entity["stories"]] == ["s-aleppo"]
    assert entity["stories"][0]["articles"] == 3


def test_search_finds_articles_best_first(api_client):
    body = api_client.get("/api/search", params={"q": "Alepu"}).json()
    assert body["query"] == "Alepu"
    # the Croatian form first (its words match too), then the articles naming Aleppo in English
    assert [h["id"] for h in body["results"]] == ["a-hr1", "a-en2", "a-en1"]
    assert "[Alepu]" in body["results"][0]["snippet"]
    assert body["results"][0]["matched"] == {"entities": ["geo:170063"], "words": ["alepu"]}
    assert body["results"][1]["matched"]["entities"] == ["geo:170063"]
    assert body["entities"][0]["id"] == "geo:170063"
    assert body["stories"] == [{"story_id": "s-aleppo", "hits": ["a-hr1", "a-en2", "a-en1"]}]
    limited = api_client.get("/api/search", params={"q": "aleppo", "limit": 1}).json()
    assert len(limited["results"]) == 1


def test_geojson_has_one_point_per_story_place(api_client):
    response = api_client.get("/api/stories.geojson")
    assert response.headers["content-type"].startswith("application/geo+json")
    data = response.json()
    assert data["type"] == "FeatureCollection"
    pairs = {(f["properties"]["story_id"], f["properties"]["place_id"]) for f in data["features"]}
    assert pairs == {("s-aleppo", "geo:170063"), ("s-aleppo", "geo:524901"), ("s-xss", "geo:524901"),
                     ("s-lyon", "geo:2996944")}
    aleppo = next(f for f in data["features"] if f["properties"]["place_id"] == "geo:170063")
    assert aleppo["geometry"] == {"type": "Point", "coordinates": [37.16117, 36.20124]}


def test_geojson_by_story_ids_and_by_filters(api_client):
    by_id = api_client.get("/api/stories.geojson", params={"id": ["s-old", "s-lyon"]}).json()
    assert {f["properties"]["story_id"] for f in by_id["features"]} == {"s-aleppo", "s-lyon"}
    by_lang = api_client.get("/api/stories.geojson", params={"lang": "fr"}).json()
    assert [f["properties"]["place_id"] for f in by_lang["features"]] == ["geo:2996944"]


def test_openapi_describes_every_endpoint_with_real_models(api_client):
    schema = api_client.get("/openapi.json").json()
    paths = schema["paths"]
    for path, method in [("/api/stories", "get"), ("/api/stories/{story_id}", "get"),
                         ("/api/articles/{article_id}", "get"), ("/api/entities/{entity_id}", "get"),
                         ("/api/search", "get"), ("/api/similarity", "post"), ("/api/articles", "post"),
                         ("/api/stories.geojson", "get")]:
        ok = next(code for code in paths[path][method]["responses"] if code.startswith("2"))
        content = paths[path][method]["responses"][ok]["content"]
        ref = next(iter(content.values()))["schema"]["$ref"]
        assert ref.split("/")[-1] in schema["components"]["schemas"]
    sort = next(p for p in paths["/api/stories"]["get"]["parameters"] if p["name"] == "sort")
    assert sort["schema"]["enum"] == ["newest", "size", "heat"]
    assert paths["/api/articles"]["post"]["security"] == [{"HTTPBearer": []}]
    # every documented error response is the one error shape
    for path in paths.values():
        for operation in path.values():
            for code, response in operation["responses"].items():
                if code[0] in "45":
                    assert response["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
