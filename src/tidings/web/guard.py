"""Bounds on what one request may ask of the server (docs/reliability.md, docs/deploy.md).

Three ASGI middlewares and one helper, all configured in ``[server]``:

* :class:`QueryLimits`: a query string over ``max_query_string_bytes``, more than ``max_params``
  parameters, or one value over ``max_param_chars`` gets 414 before any route runs (the routes
  have tighter limits of their own, e.g. ``q`` of the search);
* :class:`ReadToken`: with ``read_token`` set, every page and read endpoint wants it, as
  ``Authorization: Bearer TOKEN`` or as the password of HTTP Basic (a browser asks for it);
* :class:`RateLimit`: a token bucket per client address, ``rate_limit_per_minute`` requests a
  minute on average with bursts of ``rate_limit_burst``; over it, 429 with ``Retry-After``;
* :func:`time_budget`: a SQLite progress handler that interrupts a query once the request has
  run ``request_timeout`` seconds, answered 503.

The error classes live in :mod:`tidings.api` with the others; they are imported lazily here.
"""

from __future__ import annotations

import base64
import hmac
import math
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

# Paths that carry no data and need no read token: the stylesheet and script of the pages.
OPEN_PREFIXES = ("/static/",)
# Clients remembered by the rate limiter before idle ones are forgotten (memory bound).
MAX_TRACKED_CLIENTS = 10_000


async def _refuse(exc: Exception, scope: Scope, receive: Receive, send: Send) -> None:
    from ..api import error_response

    await error_response(exc)(scope, receive, send)  # type: ignore[arg-type]


class QueryLimits:
    """414 for a query string too long, with too many parameters, or with a value too long."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_params: int, max_value_chars: int):
        self.app = app
        self.max_bytes = max_bytes
        self.max_params = max_params
        self.max_value_chars = max_value_chars

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = self.problem(scope.get("query_string", b""))
            if problem:
                from ..api import QueryTooLong

                await _refuse(QueryTooLong(problem, detail={"max_query_string_bytes": self.max_bytes,
                                                            "max_params": self.max_params,
                                                            "max_param_chars": self.max_value_chars}),
                              scope, receive, send)
                return
        await self.app(scope, receive, send)

    def problem(self, query: bytes) -> str | None:
        if len(query) > self.max_bytes:
            return f"the query string is longer than {self.max_bytes} bytes"
        # percent-escapes decoded (as UTF-8, bad bytes replaced): values are counted in characters
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, errors="replace")
        if len(pairs) > self.max_params:
            return f"more than {self.max_params} query parameters"
        for name, value in pairs:
            if len(value) > self.max_value_chars:
                return f"parameter '{name[:40]}' is longer than {self.max_value_chars} characters"
        return None


def token_matches(authorization: str | None, tokens: list[str]) -> bool:
    """Whether ``Authorization`` carries one of ``tokens``: as a bearer token, or as the password
    of HTTP Basic (any user name). Compared in constant time."""
    scheme, _, value = (authorization or "").partition(" ")
    value = value.strip()
    if scheme.lower() == "basic":
        try:
            value = base64.b64decode(value, validate=True).decode("utf-8").partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            return False
    elif scheme.lower() != "bearer":
        return False
    given = value.encode("utf-8")
    found = False
    for token in tokens:
        found |= bool(token) and hmac.compare_digest(given, token.encode("utf-8"))
    return found


class ReadToken:
    """With a read token set, every request but the static files must carry it (or the write token)."""

    def __init__(self, app: ASGIApp, *, tokens: list[str]):
        self.app = app
        self.tokens = [t for t in tokens if t]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(OPEN_PREFIXES):
            headers = dict(scope["headers"])
            auth = headers.get(b"authorization", b"").decode("latin-1")
            if not token_matches(auth, self.tokens):
                from ..api import Unauthorized

                await _refuse(Unauthorized("this server needs its read token: 'Authorization: Bearer TOKEN', or the "
                                           "token as the password when the browser asks",
                                           headers={"WWW-Authenticate": 'Basic realm="tidings", charset="UTF-8"'}),
                              scope, receive, send)
                return
        await self.app(scope, receive, send)


class RateLimit:
    """A token bucket per client address (the proxy's ``X-Forwarded-For`` when uvicorn trusts it)."""

    def __init__(self, app: ASGIApp, *, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.app = app
        self.rate = per_minute / 60.0
        self.burst = float(max(1, burst))
        self.clock = clock
        self.buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, time)
        self.lock = threading.Lock()

    def take(self, client: str) -> float:
        """0 if the request may go on, else the seconds until it could."""
        now = self.clock()
        with self.lock:
            tokens, last = self.buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self.buckets[client] = (tokens - 1.0, now)
                wait = 0.0
            else:
                self.buckets[client] = (tokens, now)
                wait = (1.0 - tokens) / self.rate if self.rate > 0 else 60.0
            if len(self.buckets) > MAX_TRACKED_CLIENTS:
                # forget the clients whose bucket has refilled: they are as good as new
                full = [c for c, (t, at) in self.buckets.items() if t + (now - at) * self.rate >= self.burst]
                for c in full:
                    del self.buckets[c]
        return wait

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            client = (scope.get("client") or ("unknown", 0))[0]
            wait = self.take(str(client))
            if wait > 0:
                from ..api import RateLimited

                retry = max(1, math.ceil(wait))
                await _refuse(RateLimited(f"too many requests from {client}; retry in {retry} s",
                                          headers={"Retry-After": str(retry)},
                                          detail={"rate_limit_per_minute": round(self.rate * 60, 3),
                                                  "rate_limit_burst": int(self.burst)}),
                              scope, receive, send)
                return
        await self.app(scope, receive, send)


def install(app: Any, server: dict[str, Any]) -> None:
    """Add the guards configured in ``server`` (the ``[server]`` section) to a FastAPI app."""
    app.add_middleware(QueryLimits, max_bytes=int(server["max_query_string_bytes"]),
                       max_params=int(server["max_params"]), max_value_chars=int(server["max_param_chars"]))
    if server.get("read_token"):
        app.add_middleware(ReadToken, tokens=[str(server["read_token"]), str(server.get("token") or "")])
    if float(server["rate_limit_per_minute"]) > 0:
        app.add_middleware(RateLimit, per_minute=float(server["rate_limit_per_minute"]),
                           burst=int(server["rate_limit_burst"]))


class TimeBudget:
    """Interrupts the SQLite work of a request that has run longer than ``seconds``.

    :meth:`attach` installs a progress handler on a connection (once); :meth:`start` (at the start
    of each request, in the thread that serves it) sets that thread's deadline. An interrupted
    query raises ``sqlite3.OperationalError('interrupted')``, which the app answers 503.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._local = threading.local()

    def attach(self, conn: sqlite3.Connection) -> None:
        if self.seconds > 0 and hasattr(conn, "set_progress_handler"):
            conn.set_progress_handler(self._over, 1_000)
        elif self.seconds > 0:   # PostgreSQL: the server cancels a statement over the budget
            conn.execute(f"SET statement_timeout = {int(self.seconds * 1000)}")

    def start(self) -> None:
        self._local.deadline = time.monotonic() + self.seconds

    def _over(self) -> int:
        deadline = getattr(self._local, "deadline", None)
        return int(deadline is not None and time.monotonic() > deadline)
