"""The REST API and web pages over one store (``tidings serve``).

``create_app(db, settings)`` returns a FastAPI app. Reads use one read-only SQLite connection per
worker thread; writes (``POST /api/articles``) go through one :class:`~tidings.pipeline.Monitor`
under a lock, and exist only when a token is configured (``server.token``) and the app was made
writable. Every error, on every path, is JSON of one shape::

    {"error": {"code": "T200", "message": "...", "detail": {...}}}

The codes are tidings' own (docs/errors.md) plus the HTTP-level ones below (docs/api.md).
"""

from __future__ import annotations

import hmac
import json
import logging
import sqlite3
import sys
import threading
from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Union

from fastapi import Depends, FastAPI, Path as PathParam, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute, APIRouter
from fastapi.security import HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import __version__
from .config import Settings
from .errors import NotFound, StoreError, TidingsError
from .models import Document
from .store import Store
from .web.schema import (ArticleDetail, ArticleIn, EntityDetail, ErrorResponse, IngestResult, PlaceCollection,
                         EntityList, SearchResults, SimilarityRequest, SimilarityResult, SourceList,
                         StoredArticleRef, StoryDetail, StoryPage, TextArticleRef)

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent / "web"


# ---- errors --------------------------------------------------------------------------------------
class ApiError(TidingsError):
    """An HTTP-level error of the API itself (not of the store or a query). ``status`` is its HTTP status."""

    code = "T700"
    status = 400

    def __init__(self, message: str, *, status: int | None = None, detail: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        if status is not None:
            self.status = status
        self.detail = detail or {}
        self.headers = headers or {}


class Unauthorized(ApiError):
    """A write endpoint was called without ``Authorization: Bearer TOKEN``."""

    code = "T701"
    status = 401


class Forbidden(ApiError):
    """The token is wrong, or this server does not accept writes at all."""

    code = "T702"
    status = 403


class BodyTooLarge(ApiError):
    """The request body is larger than ``server.max_body_bytes``."""

    code = "T703"
    status = 413


class InvalidRequest(ApiError):
    """Parameters or body do not match the schema (wrong type, missing field, out of range)."""

    code = "T704"
    status = 422


class RouteNotFound(ApiError):
    """No route at this path."""

    code = "T705"
    status = 404


class MethodNotAllowed(ApiError):
    """The path exists but not with this HTTP method."""

    code = "T706"
    status = 405


class RateLimited(ApiError):
    """This client sent more than ``server.rate_limit_per_minute`` requests (bursts of ``rate_limit_burst``)."""

    code = "T707"
    status = 429


class QueryTooLong(ApiError):
    """The query string, its number of parameters or one value is over the ``[server]`` limits."""

    code = "T708"
    status = 414


class TooSlow(ApiError):
    """The request ran longer than ``server.request_timeout`` seconds and was stopped."""

    code = "T709"
    status = 503


class InternalError(ApiError):
    """A bug: logged with its traceback on the server, never shown to the client."""

    code = "T799"
    status = 500


def _status_of(exc: TidingsError) -> int:
    if isinstance(exc, ApiError):
        return exc.status
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, StoreError):
        return 503
    return 400  # BadQuery, InputError and the rest are the caller's to fix


def error_body(code: str, message: str, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "detail": detail or {}}}


def error_response(exc: TidingsError) -> JSONResponse:
    detail = dict(getattr(exc, "detail", {}) or {})
    for key in ("source", "hint"):
        if getattr(exc, key, None):
            detail.setdefault(key, getattr(exc, key))
    return JSONResponse(error_body(exc.code, exc.reason, detail), status_code=_status_of(exc),
                        headers=getattr(exc, "headers", None) or None)


async def _tidings_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TidingsError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        return error_response(RouteNotFound(f"no such route: {request.method} {request.url.path}",
                                            hint="see /docs for the API"))
    if exc.status_code == 405:
        allowed = [m.strip() for m in headers.get("Allow", "").split(",") if m.strip()]
        return error_response(MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}",
                                               detail={"allowed": allowed}, headers=headers))
    return error_response(ApiError(str(exc.detail), status=exc.status_code, headers=headers))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg", "")),
               "type": str(e.get("type", ""))} for e in exc.errors()]
    where = ", ".join(".".join(e["loc"]) + ": " + e["msg"] for e in errors[:3])
    return error_response(InvalidRequest(f"invalid request ({where})" if where else "invalid request",
                                         detail={"errors": errors}))


def _over_time_budget(exc: Exception) -> bool:
    """SQLite's interrupted query, or PostgreSQL's statement cancelled by ``statement_timeout``
    (``QueryCanceled``, SQLSTATE 57014): both are the time budget (web.guard.TimeBudget)."""
    if isinstance(exc, sqlite3.OperationalError) and "interrupted" in str(exc):
        return True
    psycopg = sys.modules.get("psycopg")   # imported by the PostgreSQL store when it is in use
    return psycopg is not None and isinstance(exc, psycopg.errors.QueryCanceled)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    if _over_time_budget(exc):
        budget = request.app.state.backend.budget.seconds
        return error_response(TooSlow(f"the request took longer than {budget:g} s and was stopped",
                                      detail={"request_timeout": budget},
                                      hint="narrow the query (fewer words, a filter), or raise server.request_timeout"))
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(InternalError("internal error; the server log has the details"))


# ---- middleware ----------------------------------------------------------------------------------
class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413 before anything parses them.

    A declared ``Content-Length`` over the limit is refused without reading; a chunked body is read
    up to the limit and refused as soon as it passes it. An accepted body is handed on unchanged.
    """

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await error_response(ApiError("Content-Length is not a number"))(scope, receive, send)
                return
            if length > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        exc = BodyTooLarge(f"the request body is larger than {self.max_bytes} bytes",
                           detail={"max_body_bytes": self.max_bytes}, headers={"Connection": "close"},
                           hint="send fewer articles per request, or raise server.max_body_bytes")
        await error_response(exc)(scope, receive, send)


# Pages load nothing from other hosts; the policy makes the browser enforce it, and forbids inline
# script, so that escaped article text could never run even if a template forgot to escape.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
# Swagger UI sets inline styles on its elements; everything else stays as strict.
CSP_DOCS = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


class SecurityHeaders:
    """Add CSP, nosniff, no-referrer and frame denial to every response."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = (CSP_DOCS if scope["path"] == "/docs" else CSP).encode()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                for name, value in ((b"content-security-policy", policy),
                                    (b"x-content-type-options", b"nosniff"),
                                    (b"referrer-policy", b"no-referrer"),
                                    (b"x-frame-options", b"DENY")):
                    if name not in names:
                        headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# ---- the store behind the app --------------------------------------------------------------------
class Backend:
    """What the routes use: per-thread read connections, and one writer/similarity monitor under locks.

    SQLite connections are not shared between the worker threads that serve requests: each thread
    opens its own read-only connection once and keeps it (WAL lets them read while a write commits).
    """

    def __init__(self, db: str, settings: Settings, *, writable: bool):
        self.db = str(db)
        self.settings = settings
        self.server = settings.section("server")
        self.writable = writable
        self._local = threading.local()
        self._generation = 0  # bumped by close(): connections of an older generation are reopened
        self._opened: list[Store] = []
        self._lock = threading.Lock()
        # one lock for everything that runs the pipeline: ingest and similarity share its models,
        # which load lazily and are not known to be safe to call from two threads at once
        self._pipeline_lock = threading.Lock()
        self._writer = None
        self._similarity_monitor = None
        from .web.guard import TimeBudget
        self.budget = TimeBudget(float(self.server["request_timeout"]))
        self._search_lock = threading.Lock()
        self._searcher = None  # (Store, Embedder, StoreVectors) of search(), made on first use
        self._summaries: dict = {}  # (story id, size) -> summary
        if writable:
            self.writer()  # creates and migrates the store before any reader opens it
        self.reader()  # fail at start, not on the first request, when the store cannot be read
        # the entity linker's data takes seconds to load: load it now, not on the first search
        threading.Thread(target=self._warm_up, name="tidings-search-warm-up", daemon=True).start()

    def _warm_up(self) -> None:
        """The linker's data, and the word dictionaries of the store's languages (a query is
        linked under each), loaded before the first search; then kept out of the garbage
        collector's full passes (search.entities.warm_up)."""
        from .search.entities import store_languages, warm_up

        with Store.open(self.db, read_only=True) as store:
            langs = store_languages(store)
        warm_up(langs, freeze=True)

    def reader(self) -> Store:
        """This thread's read-only connection (opened on first use, again after :meth:`close`)."""
        store = getattr(self._local, "store", None)
        if store is None or self._local.generation != self._generation:
            store = Store.open(self.db, read_only=True)
            self.budget.attach(store.conn)
            with self._lock:
                self._local.store, self._local.generation = store, self._generation
                self._opened.append(store)
        self.budget.start()  # each request asks for its reader first: its time budget starts here
        return store

    def writer(self):
        from .pipeline import Monitor

        with self._lock:
            if self._writer is None:
                self._writer = Monitor(self.db, self.settings, read_only=False)
            return self._writer

    def close(self) -> None:
        """Close every connection (app shutdown). The backend stays usable: it reopens on demand."""
        with self._lock:
            self._generation += 1
            for store in self._opened:
                store.close()
            self._opened.clear()
            for monitor in (self._writer, self._similarity_monitor):
                if monitor is not None:
                    monitor.close()
            self._writer = self._similarity_monitor = None
        with self._search_lock:
            if self._searcher is not None:
                self._searcher[0].close()
            self._searcher = None

    def authorize(self, authorization: str | None) -> None:
        """Allow a write only with the configured token; compared in constant time."""
        token = str(self.server.get("token") or "")
        if not self.writable or not token:
            raise Forbidden("this server does not accept writes",
                            hint="set server.token and start it with writes enabled (see docs/api.md)")
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise Unauthorized("this endpoint needs 'Authorization: Bearer TOKEN'",
                               headers={"WWW-Authenticate": 'Bearer realm="tidings"'})
        if not hmac.compare_digest(given.strip().encode("utf-8"), token.encode("utf-8")):
            raise Forbidden("wrong token")

    def ingest(self, docs: list[Document]):
        assert self.writable
        with self._pipeline_lock:
            return self.writer().add_documents(docs)

    def similarity(self, a: str | Document, b: str | Document) -> dict:
        # A read-only monitor: similarity never writes (not even the embedding cache), so it cannot
        # hold a write transaction open. It shares the writer's pipeline, so models load once.
        from .pipeline import Monitor

        with self._pipeline_lock:
            if self._similarity_monitor is None:
                self._similarity_monitor = Monitor(self.db, self.settings, read_only=True)
                if self.writable:
                    self._similarity_monitor.pipeline = self.writer().pipeline
            monitor = self._similarity_monitor
            # The cosine is centred on the store's per-language means (the story state): use the
            # live state, so the score follows every article ingested since the server started.
            if self.writable:
                monitor.use_state_of(self.writer())
            else:
                monitor.refresh_if_changed()   # another process (tidings ingest) may write the store
            return monitor.similarity(a, b)


    def story(self, story_id: str, langs: list[str] | None = None) -> dict:
        """One story titled for ``langs`` (default ``ui.languages``) with its summary; summaries and
        sentence vectors are cached in this process (the store is opened read-only here)."""
        from . import queries
        from .summary import summarise

        ui = self.settings.section("ui")
        data = queries.story_detail(self.reader(), story_id, langs=ui.get("languages") or () if langs is None else langs)
        with self._search_lock:
            embedder = self._search_parts()[1]
            data["summary"] = summarise(self.reader(), data["id"], embedder,
                                        sentences=int(ui.get("summary_sentences", 3)), memory=self._summaries)
        return data

    def _search_parts(self):
        """(Store, Embedder, StoreVectors) for search and summaries, made on first use (hold the lock)."""
        from .embed import Embedder
        from .search import SearchSettings, StoreVectors

        if self._searcher is None:
            store = Store.open(self.db, read_only=True)
            cfg = SearchSettings.from_dict(self.settings.section("search"))
            self._searcher = (store, Embedder(self.settings.section("embedding")), StoreVectors(store, cfg))
        return self._searcher

    def search(self, query: str, **options: Any) -> dict:
        """tidings.search over this store, with the query encoder and the vector index kept in
        memory between requests (the index follows articles stored since, by any process)."""
        from .search import search

        with self._search_lock:
            store, embedder, vectors = self._search_parts()
            from .search.index import ensure_synced
            ensure_synced(store, self.settings)   # a store written by an older tidings
            vectors.ready(save=False)
            return search(store, query, settings=self.settings, embedder=embedder, vectors=vectors,
                          **options).as_dict()


def _reader_langs(values: list[str] | None) -> list[str] | None:
    """``?lang=en&lang=hr`` or ``?lang=en,hr`` as a list; None when not given."""
    if not values:
        return None
    return [code.strip().lower() for value in values for code in value.split(",") if code.strip()]


def _backend(request: Request) -> Backend:
    return request.app.state.backend


def _errors(*statuses: int, by_ref: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer (all with the one error shape).

    ``by_ref`` for routes whose success is not application/json: FastAPI would file the error model
    under the route's media type, but errors are always application/json.
    """
    text = {400: "Bad filter, cursor, sort or date", 401: "Missing token", 403: "Wrong token or writes disabled",
            404: "Unknown id", 413: "Body too large", 422: "Validation error", 503: "Store unavailable"}
    if by_ref:
        schema = {"$ref": "#/components/schemas/ErrorResponse"}
        return {s: {"description": text[s], "content": {"application/json": {"schema": schema}}} for s in statuses}
    return {s: {"model": ErrorResponse, "description": text[s]} for s in statuses}


# ---- API routes ----------------------------------------------------------------------------------
class GeoJSONResponse(JSONResponse):
    media_type = "application/geo+json"


class TokenGuardedRoute(APIRoute):
    """A route that checks the bearer token before the body is even parsed (401/403 before 422)."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            _backend(request).authorize(request.headers.get("authorization"))
            return await handler(request)

        return guarded


STORY_FILTERS = """Filters combine (AND): `lang` (an article in that language), `since`/`until` (YYYY-MM-DD
or ISO 8601; active on/after, started on/before), `entity`/`place` (an entity id named in the story),
`q` (full-text over the story's articles)."""


def _story_filters(
    lang: Annotated[str | None, Query(max_length=20, description="Language code, e.g. hr.")] = None,
    since: Annotated[str | None, Query(max_length=40, description="YYYY-MM-DD or ISO 8601.")] = None,
    until: Annotated[str | None, Query(max_length=40, description="YYYY-MM-DD or ISO 8601.")] = None,
    entity: Annotated[str | None, Query(max_length=200, description="Entity id, e.g. per:putin.")] = None,
    place: Annotated[str | None, Query(max_length=200, description="Place id, e.g. geo:170063.")] = None,
    q: Annotated[str | None, Query(max_length=500, description="Words that an article must contain.")] = None,
    sort: Annotated[str, Query(description="newest (by last article), size, or heat (what is moving now: "
                                           "recent articles against the story's earlier rate, see docs/heat.md).",
                               json_schema_extra={"enum": ["newest", "size", "heat"]})] = "newest",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000, description="next_cursor of the previous page.")] = None,
    min_size: Annotated[int, Query(ge=1, le=1_000_000, description="Hide smaller stories.")] = 1,
) -> dict[str, Any]:
    return {"lang": lang, "since": since, "until": until, "entity": entity, "place": place, "q": q,
            "sort": sort, "limit": limit, "cursor": cursor, "min_size": min_size}


StoryFilters = Annotated[dict[str, Any], Depends(_story_filters)]


def api_router() -> APIRouter:
    from . import queries
    from .export import stories_geojson

    router = APIRouter(prefix="/api")

    @router.get("/stories", response_model=StoryPage, tags=["stories"], responses=_errors(400, 422),
                summary="List stories", description="Newest or largest first, with cursor pagination. "
                + STORY_FILTERS)
    def list_stories(request: Request, filters: StoryFilters) -> Any:
        backend = _backend(request)
        reader = list(backend.settings.section("ui").get("languages") or ())
        return queries.list_stories(backend.reader(), **filters, settings=request.app.state.settings,
                                    langs=[filters["lang"], *reader] if filters.get("lang") else reader)

    @router.get("/stories.geojson", response_model=PlaceCollection, tags=["stories"],
                responses=_errors(400, 404, 422, by_ref=True),
                response_class=GeoJSONResponse, summary="Places of stories as GeoJSON",
                description="One Point per (story, place with coordinates). `id` (repeatable) picks stories; "
                            "otherwise the stories of the same filters and page as GET /api/stories. "
                            + STORY_FILTERS)
    def stories_places(request: Request, filters: StoryFilters,
                       id: Annotated[list[str] | None, Query(max_length=500, description="Story ids.")] = None) -> Any:
        store = _backend(request).reader()
        if id:
            ids = list(dict.fromkeys(store.resolve_story(i) for i in id))
        else:
            ids = [s["id"] for s in queries.list_stories(store, **filters,
                                                         settings=request.app.state.settings)["stories"]]
        return stories_geojson(store, ids)

    @router.get("/stories/{story_id}", response_model=StoryDetail, tags=["stories"], responses=_errors(404, 422),
                summary="One story", description="Articles grouped by language, entities and places with their "
                "surface forms, mentioned dates, quotes. An old id of a merged story resolves to the survivor.")
    def story(request: Request, story_id: Annotated[str, PathParam(max_length=200)],
              lang: Annotated[list[str] | None, Query(
                  max_length=100, description="The reader's languages, most preferred first (repeat, or "
                  "comma-separated): the title is the central article's in the first the story has. "
                  "Default: the ui.languages setting.")] = None) -> Any:
        return _backend(request).story(story_id, _reader_langs(lang))

    @router.get("/articles/{article_id}", response_model=ArticleDetail, tags=["articles"],
                responses=_errors(404, 422), summary="One article")
    def article(request: Request, article_id: Annotated[str, PathParam(max_length=200)],
                raw: Annotated[bool, Query(description="Include the raw input as stored.")] = False) -> Any:
        return queries.article_detail(_backend(request).reader(), article_id, raw=raw)

    @router.get("/entities", response_model=EntityList, tags=["entities"], responses=_errors(400, 422),
                summary="Find entities by name",
                description="Entities whose name, any surface form or transliteration matches `q` (\"Asad\" finds "
                            "per:assad, \"Алеппо\" geo:170063), or whose stored forms start with it (type-ahead); "
                            "without `q`, all. `label` PER, ORG or LOC; `sort` mentions or recent.")
    def list_entities(request: Request,
                      q: Annotated[str | None, Query(max_length=200, description="A name in any form.")] = None,
                      label: Annotated[str | None, Query(max_length=3, description="PER, ORG or LOC.")] = None,
                      sort: Annotated[str, Query(description="mentions or recent.",
                                                 json_schema_extra={"enum": ["mentions", "recent"]})] = "mentions",
                      limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Any:
        from .search.entities import find_entities

        return {"entities": find_entities(_backend(request).reader(), q, label=label, sort=sort, limit=limit)}

    @router.get("/entities/{entity_id:path}", response_model=EntityDetail, tags=["entities"],
                responses=_errors(404, 422), summary="One entity",
                description="Names as written in each language, and the stories naming it.")
    def entity(request: Request, entity_id: Annotated[str, PathParam(max_length=200)]) -> Any:
        from .search.entities import entity_profile

        store = _backend(request).reader()
        detail = queries.entity_detail(store, entity_id)   # an older id answers too (issue #15)
        return {**detail, **entity_profile(store, detail["id"])}

    @router.get("/search", response_model=SearchResults, tags=["articles"], responses=_errors(400, 422),
                summary="Search across languages and word forms",
                description="Words (any inflection), the names the query gives (any form or script) and meaning "
                            "(e5 vectors), fused into one ranking; hits grouped by story, each saying why it "
                            "matched (docs/search.md). Filters: `lang`, `since`, `until` (publication date), "
                            "`entity`, `place`. No hit: 200 with empty `results`.")
    def search(request: Request, q: Annotated[str, Query(min_length=1, max_length=500)],
               limit: Annotated[int, Query(ge=1, le=200)] = 20,
               lang: Annotated[str | None, Query(max_length=20, description="Language code, e.g. hr.")] = None,
               since: Annotated[str | None, Query(max_length=40, description="YYYY-MM-DD or ISO 8601.")] = None,
               until: Annotated[str | None, Query(max_length=40, description="YYYY-MM-DD or ISO 8601.")] = None,
               entity: Annotated[str | None, Query(max_length=200, description="Entity id, e.g. per:putin.")] = None,
               place: Annotated[str | None, Query(max_length=200, description="Place id, e.g. geo:170063.")] = None,
               method: Annotated[list[str] | None, Query(
                   description="Only these methods (words, entities, meaning); default all, fused.")] = None) -> Any:
        from .search import METHODS

        result = _backend(request).search(q, limit=limit, lang=lang, since=since, until=until, entity=entity,
                                          place=place, methods=tuple(method or METHODS))
        return {"query": q, "results": result["hits"], "stories": result["stories"], "entities": result["entities"]}

    @router.get("/sources", response_model=SourceList, tags=["sources"], responses=_errors(422), summary="Followed sources and their health",
                description="Every source tidings watch follows: last fetch, HTTP status, next due time, "
                            "articles in the last 24 hours, errors in a row, paused.")
    def sources(request: Request) -> Any:
        from .watch import list_sources
        return {"sources": list_sources(_backend(request).reader())}

    @router.post("/similarity", response_model=SimilarityResult, tags=["articles"],
                 responses=_errors(400, 404, 413, 422),
                 summary="Similarity of two articles",
                 description="Each side is a stored article (`{\"id\": ...}`) or a text "
                             "(`{\"text\": ..., \"title\": ..., \"lang\": ...}`). "
                             "The score is 0..1, with its components.")
    def similarity(request: Request, body: SimilarityRequest) -> Any:
        backend = _backend(request)
        return backend.similarity(_comparable(backend, body.a, "a"), _comparable(backend, body.b, "b"))

    writes = APIRouter(route_class=TokenGuardedRoute)

    @writes.post("/articles", response_model=IngestResult, status_code=201, tags=["articles"],
                 dependencies=[Security(HTTPBearer(auto_error=False, description="server.token"))],
                 responses=_errors(400, 401, 403, 413, 422), summary="Ingest articles",
                 description="One article or a list of them (at most server.max_batch_articles). "
                             "Needs `Authorization: Bearer TOKEN`; the body is limited to server.max_body_bytes.")
    def add_articles(request: Request, body: Union[ArticleIn, list[ArticleIn]]) -> Any:
        backend = _backend(request)
        items = body if isinstance(body, list) else [body]
        most = int(backend.server["max_batch_articles"])
        if not items or len(items) > most:
            raise InvalidRequest(f"send between 1 and {most} articles per request",
                                 detail={"max_batch_articles": most})
        docs = [_document(item, i) for i, item in enumerate(items)]
        report = backend.ingest(docs)
        reader = backend.reader()
        stories = {}
        for article_id in report.added:
            row = reader.conn.execute("SELECT story_id FROM articles WHERE id = ?", (article_id,)).fetchone()
            if row is not None and row[0]:
                stories[article_id] = reader.resolve_story(row[0])
        return {"added": report.added, "stories": stories,
                "duplicates": [{"id": new, "duplicate_of": old} for new, old in report.duplicates],
                "already_stored": report.already_stored, "stories_touched": sorted(report.stories_touched)}

    router.include_router(writes)
    return router


def _comparable(backend: Backend, ref: StoredArticleRef | TextArticleRef, side: str) -> str | Document:
    """A stored id (checked to exist, so it is never read as a path or URL) or a Document from text."""
    if isinstance(ref, StoredArticleRef):
        if not backend.reader().has_article(ref.id):
            raise NotFound(f"no article with id {ref.id!r}", source=side)
        return ref.id
    raw = json.dumps(ref.model_dump(mode="json"), ensure_ascii=False).encode()
    return Document(source=f"similarity:{side}", raw=raw, content_type="jsonl", text=ref.text, title=ref.title,
                    lang=ref.lang, published_at=_aware(ref.published_at))


def _document(item: ArticleIn, index: int) -> Document:
    raw = json.dumps(item.model_dump(mode="json", exclude_none=True), ensure_ascii=False).encode()
    return Document(source=item.url or f"POST /api/articles[{index}]", raw=raw, content_type="jsonl",
                    text=item.text or "", title=item.title, url=item.url, outlet=item.source, lang=item.lang,
                    published_at=_aware(item.published_at), external_id=item.id)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def _guard_responses() -> dict[int | str, dict[str, Any]]:
    """What any route may answer because of the request guards (tidings.web.guard), in OpenAPI
    (by reference: errors are application/json whatever the route's own media type)."""
    schema = {"$ref": "#/components/schemas/ErrorResponse"}
    text = {401: "Read token missing or wrong (server.read_token set)",
            414: "Query string over the [server] limits",
            429: "Too many requests from this client (Retry-After)",
            503: "Store unavailable, or the request ran over server.request_timeout"}
    return {code: {"description": t, "content": {"application/json": {"schema": schema}}} for code, t in text.items()}


# ---- the app -------------------------------------------------------------------------------------
def _start_watcher(backend: Backend):
    """``tidings serve --watch``: the watcher shares the writing monitor (and its lock) when the
    server takes writes, so that one process never runs two story assigners; else it has its own."""
    from .pipeline import Monitor
    from .watch import WatchThread

    if backend.writable:
        return WatchThread(backend.writer(), lock=backend._pipeline_lock).start()
    return WatchThread(Monitor(backend.db, backend.settings), close_monitor=True).start()


def create_app(db: str, settings: Settings, *, read_only: bool = True, watch: bool = False) -> FastAPI:
    """The API and web pages over the store at ``db``.

    Writes (POST /api/articles) are possible only when ``read_only`` is False *and* ``server.token``
    is set; otherwise the store is opened read-only and the write route answers 403.
    ``watch``: also run the watcher (tidings watch) in a background thread while the app runs.
    """
    from .web.pages import docs_router, pages_router

    server = settings.section("server")
    backend = Backend(db, settings, writable=not read_only and bool(server["token"]))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        watcher = _start_watcher(backend) if watch else None
        app.state.watcher = watcher
        try:
            yield
        finally:
            if watcher is not None:
                watcher.stop()
            backend.close()

    app = FastAPI(
        title="tidings", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
        description="Multilingual news stories: list and filter stories, read one story's articles by language, "
                    "entities, places and dates; search; score similarity; ingest articles (with a token). "
                    "Every error is `{\"error\": {\"code\", \"message\", \"detail\"}}`.",
        openapi_tags=[{"name": "stories"}, {"name": "articles"}, {"name": "entities"}, {"name": "sources"}],
        responses=_guard_responses(),
    )
    app.state.backend = backend
    app.state.settings = settings
    app.add_exception_handler(TidingsError, _tidings_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
    app.include_router(api_router())
    app.include_router(docs_router())
    app.include_router(pages_router())
    from .web.alerts import alerts_router
    app.include_router(alerts_router())
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    # added innermost first: SecurityHeaders wraps CORS wraps BodyLimit wraps the routes
    app.add_middleware(BodyLimit, max_bytes=int(server["max_body_bytes"]))
    if server["cors_origins"]:
        from fastapi.middleware.cors import CORSMiddleware
        app.add_middleware(CORSMiddleware, allow_origins=list(server["cors_origins"]),
                           allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type"])
    from .web.guard import install as install_guards
    install_guards(app, server)  # query limits, read token, rate limit (docs/reliability.md)
    app.add_middleware(SecurityHeaders)
    return app


__all__ = ["create_app", "ApiError", "Unauthorized", "Forbidden", "BodyTooLarge", "InvalidRequest",
           "RouteNotFound", "MethodNotAllowed", "InternalError", "RateLimited", "QueryTooLong", "TooSlow"]
