"""docs/api.md cannot drift: every route, API error code and server setting is in it."""

from __future__ import annotations

import re

import tidings.api as api
from tidings.config import default_settings

from conftest import ROOT

DOC = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")


def _documented(path: str) -> str:
    return re.sub(r"{[^}]+}", "{id}", path.replace(":path", ""))


def test_every_api_route_is_documented(api_client):
    paths = api_client.get("/openapi.json").json()["paths"]
    routes = [(method.upper(), path) for path, ops in paths.items() for method in ops]
    assert len(routes) >= 8
    missing = [f"{m} {p}" for m, p in routes if f"`{m} {_documented(p)}" not in DOC]
    assert not missing, f"undocumented in docs/api.md: {missing}"


def test_every_page_is_documented():
    from tidings.web.pages import docs_router, pages_router

    pages = [r.path for router in (pages_router(), docs_router()) for r in router.routes]
    assert "/" in pages and "/stories/{story_id}" in pages
    missing = [p for p in pages if f"`{_documented(p)}" not in DOC]
    assert not missing, f"undocumented pages in docs/api.md: {missing}"


def test_every_api_error_code_is_documented():
    codes = {obj.code for obj in vars(api).values()
             if isinstance(obj, type) and issubclass(obj, api.ApiError)}
    assert {"T700", "T701", "T702", "T703", "T704", "T705", "T706", "T799"} <= codes
    missing = sorted(c for c in codes if not re.search(rf"\b{c}\b", DOC))
    assert not missing, f"undocumented in docs/api.md: {missing}"


def test_every_server_setting_is_documented():
    missing = [key for key in default_settings().section("server") if f"server.{key}" not in DOC]
    assert not missing, f"undocumented in docs/api.md: {missing}"
