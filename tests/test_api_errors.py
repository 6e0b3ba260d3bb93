"""Every error path of the REST API answers JSON of one shape: {"error": {"code", "message", "detail"}}."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient

from tidings.api import create_app
from tidings.config import Settings

TOKEN = "test-token-5b0f"


def assert_error(response, status: int, code: str) -> dict:
    """The one error shape, with the status and the stable code; returns the error object."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "detail"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["detail"], dict)
    return error


def _cursor(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


@pytest.fixture(scope="module")
def writable(tmp_path_factory, api_store_builder):
    """A writable app with a token, over its own copy of the small store."""
    path = tmp_path_factory.mktemp("api-w") / "w.db"
    api_store_builder(path)
    settings = Settings.load(env={}, overrides={"server": {"token": TOKEN, "max_body_bytes": 4096,
                                                           "max_batch_articles": 3}})
    with TestClient(create_app(str(path), settings, read_only=False)) as client:
        yield client


@pytest.mark.parametrize("url", ["/api/stories/nope", "/api/articles/nope", "/api/entities/per:nobody",
                                 "/api/entities/a/b", "/api/stories.geojson?id=nope"])
def test_unknown_id_is_404_T200(api_client, url):
    assert_error(api_client.get(url), 404, "T200")


@pytest.mark.parametrize("params,source", [
    ({"sort": "oldest"}, "sort"),
    ({"cursor": "not-a-cursor"}, "cursor"),
    ({"cursor": _cursor([{"a": 1}, "s-x"])}, "cursor"),
    ({"cursor": _cursor([None, "s-x"])}, "cursor"),
    ({"cursor": _cursor(["2016-10-20T00:00:00Z", 5])}, "cursor"),
    ({"since": "yesterday"}, "since"),
    ({"until": "2016-13-45"}, "until"),
    ({"since": "10000-01-01"}, "since"),
    ({"q": "!!! ???"}, "q"),
])
def test_bad_filter_cursor_sort_or_date_is_400_T500(api_client, params, source):
    error = assert_error(api_client.get("/api/stories", params=params), 400, "T500")
    assert error["detail"]["source"] == source


def test_bad_search_query_is_400(api_client):
    assert_error(api_client.get("/api/search", params={"q": "***"}), 400, "T500")


@pytest.mark.parametrize("url", ["/api/stories?limit=0", "/api/stories?limit=501", "/api/stories?limit=ten",
                                 "/api/stories?min_size=0", "/api/search", "/api/search?q=x&limit=0",
                                 "/api/articles/a-en1?raw=maybe"])
def test_invalid_parameters_are_422_T704(api_client, url):
    error = assert_error(api_client.get(url), 422, "T704")
    assert error["detail"]["errors"] and {"loc", "msg", "type"} <= set(error["detail"]["errors"][0])


@pytest.mark.parametrize("body", [
    {}, {"a": {"id": "a-en1"}}, {"a": {"id": "a-en1"}, "b": {"text": ""}},
    {"a": {"id": "a-en1"}, "b": {"text": "words", "colour": "red"}}, {"a": "a-en1", "b": "a-fr1"},
    [1, 2],
])
def test_invalid_similarity_body_is_422(api_client, body):
    assert_error(api_client.post("/api/similarity", json=body), 422, "T704")


def test_malformed_json_is_422(api_client):
    response = api_client.post("/api/similarity", content=b'{"a": ', headers={"content-type": "application/json"})
    assert_error(response, 422, "T704")


def test_similarity_with_unknown_stored_id_is_404(api_client):
    error = assert_error(api_client.post("/api/similarity", json={"a": {"id": "a-en1"}, "b": {"id": "a-none"}}),
                         404, "T200")
    assert error["detail"]["source"] == "b"


def test_stored_id_is_never_read_as_a_file(api_client):
    # the CLI's similarity reads paths and URLs; the API must not (this file exists on every machine)
    assert_error(api_client.post("/api/similarity", json={"a": {"id": "/etc/hostname"}, "b": {"id": "a-en1"}}),
                 404, "T200")


@pytest.mark.parametrize("method,url", [("DELETE", "/api/stories"), ("PUT", "/api/stories/s-aleppo"),
                                        ("POST", "/api/search"), ("GET", "/api/similarity"),
                                        ("PATCH", "/api/articles")])
def test_wrong_method_is_405_T706_with_allow(api_client, method, url):
    response = api_client.request(method, url)
    error = assert_error(response, 405, "T706")
    assert error["detail"]["allowed"] and response.headers["allow"]


@pytest.mark.parametrize("url", ["/nope", "/api/nope", "/api/stories/s-aleppo/extra", "/static/nope.css"])
def test_unknown_route_is_404_T705(api_client, url):
    assert_error(api_client.get(url), 404, "T705")


def test_writes_disabled_without_token_is_403(api_client):
    error = assert_error(api_client.post("/api/articles", json={"title": "x", "text": "y"}), 403, "T702")
    assert "writes" in error["message"]
    # with a token header too: a read-only server has no token to match
    response = api_client.post("/api/articles", json={"title": "x"}, headers={"Authorization": "Bearer x"})
    assert_error(response, 403, "T702")


def test_missing_token_is_401_with_challenge(writable):
    response = writable.post("/api/articles", json={"title": "x", "text": "y"})
    assert_error(response, 401, "T701")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert_error(writable.post("/api/articles", json={"title": "x"}, headers={"Authorization": "Basic abc"}),
                 401, "T701")


@pytest.mark.parametrize("header", [f"Bearer {TOKEN}x", "Bearer " + TOKEN[:-1], "Bearer wrong"])
def test_wrong_token_is_403(writable, header):
    assert_error(writable.post("/api/articles", json={"title": "x"}, headers={"Authorization": header}),
                 403, "T702")


def test_token_is_checked_before_the_body_is_parsed(writable):
    response = writable.post("/api/articles", content=b"{not json", headers={"content-type": "application/json"})
    assert_error(response, 401, "T701")


def test_body_over_the_limit_is_413_before_parsing(writable):
    big = json.dumps({"title": "x", "text": "y" * 5000})
    auth = {"Authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
    error = assert_error(writable.post("/api/articles", content=big, headers=auth), 413, "T703")
    assert error["detail"]["max_body_bytes"] == 4096
    # even without a token: the limit comes first
    assert_error(writable.post("/api/articles", content=big, headers={"content-type": "application/json"}),
                 413, "T703")
    # a chunked body (no Content-Length) is counted as it arrives
    chunks = (b"x" * 1000 for _ in range(10))
    assert_error(writable.post("/api/articles", content=chunks, headers=auth), 413, "T703")


@pytest.mark.parametrize("body", [
    {"title": "", "text": "  "}, {"title": "x", "url": "javascript:alert(1)"}, {"title": "x", "extra": 1},
    {"title": "x", "published_at": "last week"}, [], [{"title": "a"}] * 4, "just a string",
])
def test_invalid_article_body_is_422(writable, body):
    response = writable.post("/api/articles", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert_error(response, 422, "T704")


def test_unexpected_error_is_500_T799_without_internals(api_store, monkeypatch):
    from tidings import queries

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(queries, "list_stories", broken)
    with TestClient(create_app(str(api_store[0]), Settings.load(env={})), raise_server_exceptions=False) as client:
        error = assert_error(client.get("/api/stories"), 500, "T799")
    assert "secret" not in json.dumps(error)


def test_missing_store_fails_at_start_with_T300(tmp_path):
    from tidings.errors import StoreError

    with pytest.raises(StoreError):
        create_app(str(tmp_path / "none.db"), Settings.load(env={}))
