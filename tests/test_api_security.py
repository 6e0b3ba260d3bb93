"""Security defaults of the server: loopback bind, read-only store, CORS off, strict headers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tidings.api import CSP, create_app
from tidings.cli import app as cli_app
from tidings.config import Settings


@pytest.fixture
def captured_serve(monkeypatch):
    """Run `tidings serve` with uvicorn.run replaced by a recorder (nothing listens)."""
    import uvicorn

    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda application, **kw: calls.append({"app": application, **kw}))
    monkeypatch.delenv("TIDINGS_SERVER__TOKEN", raising=False)
    monkeypatch.delenv("TIDINGS_CONFIG", raising=False)
    return calls


def test_serve_binds_to_loopback_read_only_by_default(api_store, captured_serve):
    result = CliRunner().invoke(cli_app, ["--db", str(api_store[0]), "serve"])
    assert result.exit_code == 0, result.output
    (call,) = captured_serve
    assert call["host"] == "127.0.0.1" and call["port"] == 8000
    backend = call["app"].state.backend
    assert backend.writable is False and backend.reader().read_only is True


def test_serve_host_and_port_options(api_store, captured_serve):
    result = CliRunner().invoke(cli_app, ["--db", str(api_store[0]), "serve", "--host", "0.0.0.0", "--port", "9123"])
    assert result.exit_code == 0, result.output
    assert (captured_serve[0]["host"], captured_serve[0]["port"]) == ("0.0.0.0", 9123)
    assert "anyone who can reach it" in result.output


def test_serve_is_writable_only_with_a_token(tmp_path, api_store_builder, captured_serve):
    db = tmp_path / "w.db"
    api_store_builder(db)
    result = CliRunner().invoke(cli_app, ["--db", str(db), "serve"], env={"TIDINGS_SERVER__TOKEN": "tok"})
    assert result.exit_code == 0, result.output
    assert captured_serve[0]["app"].state.backend.writable is True


def test_serve_on_a_missing_store_fails_before_listening(tmp_path, captured_serve):
    from tidings.errors import StoreError

    result = CliRunner().invoke(cli_app, ["--db", str(tmp_path / "none.db"), "serve"])
    assert isinstance(result.exception, StoreError) and "no such store" in str(result.exception)
    assert not captured_serve


def test_read_only_app_ignores_token_in_settings(api_store):
    settings = Settings.load(env={}, overrides={"server": {"token": "tok"}})
    with TestClient(create_app(str(api_store[0]), settings)) as client:  # read_only defaults to True
        response = client.post("/api/articles", json={"title": "x"}, headers={"Authorization": "Bearer tok"})
    assert response.status_code == 403


def test_cors_is_off_by_default(api_client):
    response = api_client.get("/api/stories", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in response.headers
    preflight = api_client.options("/api/stories", headers={"Origin": "https://elsewhere.example",
                                                            "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_allows_only_configured_origins(api_store):
    settings = Settings.load(env={}, overrides={"server": {"cors_origins": ["https://newsroom.example"]}})
    with TestClient(create_app(str(api_store[0]), settings)) as client:
        ok = client.get("/api/stories", headers={"Origin": "https://newsroom.example"})
        other = client.get("/api/stories", headers={"Origin": "https://elsewhere.example"})
        preflight = client.options("/api/articles", headers={"Origin": "https://newsroom.example",
                                                             "Access-Control-Request-Method": "POST",
                                                             "Access-Control-Request-Headers": "authorization"})
    assert ok.headers["access-control-allow-origin"] == "https://newsroom.example"
    assert "access-control-allow-origin" not in other.headers
    assert preflight.status_code == 200 and "POST" in preflight.headers["access-control-allow-methods"]


@pytest.mark.parametrize("url", ["/", "/stories/s-aleppo", "/api/stories", "/nope"])
def test_every_response_has_strict_security_headers(api_client, url):
    headers = api_client.get(url).headers
    assert headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP and "default-src 'none'" in CSP
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"


def test_docs_are_self_hosted(api_client):
    html = api_client.get("/docs").text
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert "http://" not in html and "https://" not in html
    assert api_client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
    # the default FastAPI docs would load Swagger UI and ReDoc from a CDN
    assert api_client.get("/redoc").status_code == 404
