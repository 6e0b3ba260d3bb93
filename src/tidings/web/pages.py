"""Server-rendered pages: story list, story, article, entity, search, sources, and the self-hosted /docs.

Pages are Jinja2 templates with autoescaping on for every file: article text, titles and names
are always inserted as text, never as markup. Links to originals are only made for http(s) URLs.
The pages read the same query functions as the API and work without JavaScript; ``tidings.js``
adds a live filter to the story list.
"""

from __future__ import annotations

import logging
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from .. import __version__, queries
from ..errors import NotFound, TidingsError
from ..places import country_entity_ids
from . import charts

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"
# Pages answer HEAD too (link checkers, uptime monitors); FastAPI routes are GET-only unless told.
PAGE_METHODS = ["GET", "HEAD"]
# Stories per page of the list (the API's default page is the same size).
PAGE_SIZE = 50
# Colour classes for languages (c0..c11 in tidings.css). The languages of the bundled data get fixed,
# distinct colours, the same on every page; any other language gets one by a stable hash of its code.
LANG_CLASSES = 12
LANG_COLOURS = ("en", "hr", "fr", "de", "ru", "es", "it", "sl", "pt", "ar", "zh", "sr")


def _safe_url(url: str | None) -> str | None:
    """Only http(s) links become hrefs: a 'javascript:' URL in an input must never be clickable."""
    if not url:
        return None
    try:
        scheme = urlsplit(str(url).strip()).scheme.lower()
    except ValueError:
        return None
    return str(url).strip() if scheme in ("http", "https") else None


def _day(value: str | None) -> str:
    return (value or "")[:10]


def _when(value: str | None) -> str:
    return (value or "")[:16].replace("T", " ")


def _lang_name(code: str) -> str:
    try:
        from babel import Locale
        return Locale("en").languages.get(code, code)
    except Exception:  # babel missing a code or the locale: the code itself is a fine label
        return code


def _segments(snippet: str) -> list[tuple[str, bool]]:
    """Split an FTS snippet into (text, matched) parts; matched words were put between [ and ]."""
    parts: list[tuple[str, bool]] = []
    rest = snippet
    while rest:
        start = rest.find("[")
        end = rest.find("]", start + 1) if start >= 0 else -1
        if start < 0 or end < 0:
            parts.append((rest, False))
            break
        if start:
            parts.append((rest[:start], False))
        parts.append((rest[start + 1:end], True))
        rest = rest[end + 1:]
    return parts


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.replace("\r\n", "\n").split("\n") if p.strip()]


def lang_class(code: str) -> str:
    if code in LANG_COLOURS:
        return f"c{LANG_COLOURS.index(code) % LANG_CLASSES}"
    return f"c{zlib.crc32(code.encode()) % LANG_CLASSES}"


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(lang_class=lang_class, safe_url=_safe_url, day=_day, when=_when, lang_name=_lang_name,
                       segments=_segments, paragraphs=_paragraphs)
    env.globals.update(version=__version__)
    return env


_env = environment()


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _env.get_template(template).render(request_path=request.url.path, **context)
    return HTMLResponse(html, status_code=status)


def error_page(request: Request, exc: TidingsError) -> HTMLResponse:
    status = 404 if isinstance(exc, NotFound) else 400
    return render(request, "error.html", status=status, title="Not found" if status == 404 else "Bad request",
                  code=exc.code, message=exc.reason, hint=exc.hint)


def _check_query_length(request: Request, q: str) -> None:
    """A search query over ``server.max_query_chars`` is refused before it reaches the store."""
    limit = int(request.app.state.settings.section("server")["max_query_chars"])
    if len(q) > limit:
        raise queries.BadQuery(f"the search query is longer than {limit} characters", source="q",
                               hint="use fewer words")


def pages_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def store(request: Request):
        return request.app.state.backend.reader()

    @router.api_route("/", methods=PAGE_METHODS, response_class=HTMLResponse)
    def story_list(request: Request, lang: str = "", q: str = "", sort: str = "newest", cursor: str = "",
                   since: str = "", until: str = "", entity: str = "", place: str = "") -> Response:
        filters = {"lang": lang or None, "q": q.strip() or None, "sort": sort or "newest", "cursor": cursor or None,
                   "since": since or None, "until": until or None, "entity": entity or None, "place": place or None}
        db = store(request)
        languages = queries.languages(db)
        error = None
        try:
            _check_query_length(request, q)
            reader = list(request.app.state.backend.settings.section("ui").get("languages") or ())
            page = queries.list_stories(db, limit=PAGE_SIZE, **filters, settings=request.app.state.settings,
                                        langs=[lang, *reader] if lang else reader)
        except TidingsError as exc:
            page, error = {"stories": [], "next_cursor": None}, exc
        kept = {k: v for k, v in filters.items() if v and k != "cursor"}
        next_url = "/?" + urlencode({**kept, "cursor": page["next_cursor"]}) if page["next_cursor"] else None
        return render(request, "stories.html", status=400 if error else 200, title="Stories",
                      stories=page["stories"], languages=languages, filters=filters,
                      error=error, next_url=next_url, first_url="/?" + urlencode(kept) if cursor else None)

    @router.api_route("/stories/{story_id}", methods=PAGE_METHODS, response_class=HTMLResponse)
    def story_page(request: Request, story_id: str) -> Response:
        try:
            data = request.app.state.backend.story(story_id)
        except TidingsError as exc:
            return error_page(request, exc)
        if data["id"] != story_id:  # an old id of a merged story: send the reader to the survivor
            return RedirectResponse(f"/stories/{data['id']}", status_code=307)
        return render(request, "story.html", title=data["title"], story=data,
                      articles_timeline=charts.articles_timeline(data["articles"],
                                                                 {lang: lang_class(lang) for lang in data["articles"]}),
                      dates_timeline=charts.dates_timeline(data["dates"]),
                      map=charts.place_map(data["places"], country_entity_ids()))

    @router.api_route("/articles/{article_id}", methods=PAGE_METHODS, response_class=HTMLResponse)
    def article_page(request: Request, article_id: str) -> Response:
        try:
            data = queries.article_detail(store(request), article_id)
        except TidingsError as exc:
            return error_page(request, exc)
        return render(request, "article.html", title=data["title"], article=data)

    @router.api_route("/entities", methods=PAGE_METHODS, response_class=HTMLResponse)
    def entity_index(request: Request, q: str = "", label: str = "", sort: str = "mentions") -> Response:
        from ..search.entities import find_entities

        try:
            found = find_entities(store(request), q or None, label=label or None, sort=sort, limit=PAGE_SIZE * 2)
        except TidingsError as exc:
            return error_page(request, exc)
        return render(request, "entities.html", title="Entities", q=q, label=label, sort=sort, entities=found)

    @router.api_route("/entities/{entity_id:path}", methods=PAGE_METHODS, response_class=HTMLResponse)
    def entity_page(request: Request, entity_id: str) -> Response:
        from ..search.entities import entity_profile

        try:
            data = queries.entity_detail(store(request), entity_id)
        except TidingsError as exc:
            return error_page(request, exc)
        data.update(entity_profile(store(request), entity_id))
        place = [{"id": data["id"], "name": data["name"], "lat": data["lat"], "lon": data["lon"], "articles": 1}]
        return render(request, "entity.html", title=data["name"], entity=data,
                      map=charts.place_map(place) if data["label"] == "LOC" else None)

    @router.api_route("/sources", methods=PAGE_METHODS, response_class=HTMLResponse)
    def sources_page(request: Request) -> Response:
        from ..watch import list_sources

        watcher = getattr(request.app.state, "watcher", None)
        return render(request, "sources.html", title="Sources", sources=list_sources(store(request)),
                      watching=watcher is not None)

    @router.api_route("/search", methods=PAGE_METHODS, response_class=HTMLResponse)
    def search_page(request: Request, q: str = "", lang: str = "", since: str = "", until: str = "") -> Response:
        result: dict = {"hits": [], "stories": [], "entities": []}
        error = None
        if q.strip():
            try:
                _check_query_length(request, q)
                result = request.app.state.backend.search(q, limit=PAGE_SIZE, lang=lang or None,
                                                          since=since or None, until=until or None)
            except TidingsError as exc:
                error = exc
        by_id = {h["id"]: h for h in result["hits"]}
        groups = [[by_id[i] for i in g["hits"]] for g in result["stories"]]
        return render(request, "search.html", status=400 if error else 200, title="Search", q=q,
                      hits=result["hits"], groups=groups, names=result["entities"], error=error,
                      lang=lang, since=since, until=until, languages=queries.languages(store(request)))

    return router


def docs_router() -> APIRouter:
    """Swagger UI at /docs, served from the vendored copy (FastAPI's default would load it from a CDN)."""
    router = APIRouter(include_in_schema=False)

    @router.api_route("/docs", methods=PAGE_METHODS, response_class=HTMLResponse)
    def docs(request: Request) -> Response:
        return render(request, "docs.html", title="API")

    return router
