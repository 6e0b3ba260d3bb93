"""Polite, safe HTTP fetching for the watcher and for ``tidings ingest URL``.

One :class:`Fetcher` per process (it is thread-safe) keeps:

* a guard against server-side request forgery: the host of every URL, and of every redirect
  target, is resolved and refused when any of its addresses is not a public one (loopback,
  private, link-local, carrier-grade NAT, cloud metadata...), unless
  ``ingest.allow_private_addresses`` is true; the address actually connected to is checked
  again before the body is read, so a DNS answer that changes in between cannot slip through;
* robots.txt per site (protego: RFC 9309 longest match and wildcards), cached for
  ``watch.robots_ttl`` seconds, its ``Crawl-delay`` honoured up to ``watch.max_crawl_delay``;
* a delay between two requests to one host (``watch.per_host_delay``, counted from the end of
  one response to the start of the next request) and a global limit of requests in flight
  (``watch.concurrency``);
* conditional GET (``If-None-Match`` / ``If-Modified-Since``) and ``Retry-After`` parsing.

HTTP statuses are returned, not raised: the caller decides what a 404 or a 503 means. Transport
failures, refused addresses and robots refusals raise :class:`~tidings.errors.FetchError`
subclasses naming the URL.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from ..config import section_with_defaults
from ..errors import BlockedAddress, FetchError, RobotsDisallowed, TooLarge

log = logging.getLogger(__name__)

# Addresses that are "global" to the ipaddress module yet answer cloud instance metadata.
_METADATA_ADDRESSES = {ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
                       ipaddress.ip_address("fd00:ec2::254")}    # AWS over IPv6 (also private)
_REDIRECT_STATUSES = {301, 302, 303, 307, 308}
# The product token robots.txt rules are matched against.
ROBOTS_AGENT = "tidings"


@dataclass
class Response:
    """What one GET gave: the status after redirects, the body (empty for 304) and the headers."""

    url: str                      # the URL asked for
    final_url: str                # after redirects
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    redirects: list[str] = field(default_factory=list)
    reason: str = ""              # the reason phrase ("Not Found")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def retry_after(self, now: datetime | None = None) -> float | None:
        """Seconds the server asked us to wait (``Retry-After``: seconds or an HTTP date), if any."""
        return parse_retry_after(self.headers.get("retry-after"), now)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def is_public_address(address: str) -> bool:
    """True for an address on the public internet; False for loopback, private, link-local,
    multicast, reserved, carrier-grade NAT and cloud-metadata addresses."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast and ip not in _METADATA_ADDRESSES


def check_host(host: str, port: int) -> None:
    """Raise :class:`BlockedAddress` unless every address ``host`` resolves to is public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"cannot resolve {host} ({getattr(exc, 'strerror', None) or exc})") from None
    for info in infos:
        address = str(info[4][0])
        if not is_public_address(address):
            raise BlockedAddress(f"{host} resolves to {address}, a non-public address",
                                 hint="set ingest.allow_private_addresses = true to fetch from your own network")


class _HostGate:
    """One request at a time per host, ``delay`` seconds apart (end of one to start of the next)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ready_at = 0.0


class Fetcher:
    """HTTP GET with the guard, robots.txt, per-host delay and concurrency limit (module doc).

    ``settings``: a :class:`~tidings.config.Settings`, or a dict with ``ingest`` and ``watch``
    sections (missing keys take the shipped defaults).
    """

    def __init__(self, settings: Any = None, *, robots: bool = True, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        import httpx

        ingest = _section("ingest", settings)
        watch = _section("watch", settings)
        self._httpx = httpx
        self.max_bytes = int(ingest["max_bytes"])
        self.timeout = float(ingest["http_timeout"])
        self.max_redirects = int(ingest["http_max_redirects"])
        self.allow_private = bool(ingest["allow_private_addresses"])
        contact = str(watch["contact_url"]).strip()
        self.user_agent = f"tidings/{_version()} (+{contact})" if contact else str(ingest["user_agent"])
        self.per_host_delay = float(watch["per_host_delay"])
        self.max_crawl_delay = float(watch["max_crawl_delay"])
        self.robots_ttl = float(watch["robots_ttl"])
        self.obey_robots = robots and bool(watch["obey_robots"])
        self._slots = threading.BoundedSemaphore(max(1, int(watch["concurrency"])))
        self._monotonic = monotonic
        self._sleep = sleep
        self._gates: dict[str, _HostGate] = {}
        self._gates_lock = threading.Lock()
        self._robots: dict[str, tuple[float, Any]] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        self.requests = 0  # made so far (robots.txt included)
        self.client = httpx.Client(follow_redirects=False, timeout=self.timeout,
                                   headers={"User-Agent": self.user_agent})

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> "Fetcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- public ---------------------------------------------------------------------------
    def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> Response:
        """GET ``url``, following redirects one hop at a time (each hop guarded, allowed by
        robots.txt and delayed like a first request). Raises FetchError for what is not HTTP."""
        return self._get(url, etag=etag, last_modified=last_modified, check_robots=self.obey_robots)

    def _get(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
             check_robots: bool = True) -> Response:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = url
        redirects: list[str] = []
        for _hop in range(self.max_redirects + 1):
            try:
                if check_robots and not self.allowed(current):
                    raise RobotsDisallowed("disallowed by the site's robots.txt")
                response = self._request(current, headers)
            except FetchError as exc:
                if exc.source is None:
                    raise type(exc)(exc.reason, source=current if current == url else f"{url} -> {current}",
                                    hint=exc.hint) from None
                raise
            location = response.headers.get("location")
            if response.status in _REDIRECT_STATUSES and location:
                redirects.append(current)
                current = urljoin(current, location.strip())
                if urlsplit(current).scheme not in ("http", "https"):
                    raise FetchError(f"redirect to a non-HTTP URL ({current[:200]})", source=url)
                continue
            response.url, response.redirects = url, redirects
            return response
        raise FetchError(f"too many redirects (more than {self.max_redirects})", source=url)

    def allowed(self, url: str) -> bool:
        """Whether robots.txt of ``url``'s site lets tidings fetch it (fetched and cached)."""
        robots = self._robots_for(url)
        return robots is None or bool(robots.can_fetch(url, ROBOTS_AGENT))

    # ---- internals ------------------------------------------------------------------------
    def _origin(self, url: str) -> str:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}".lower()

    def _gate(self, host: str) -> _HostGate:
        with self._gates_lock:
            return self._gates.setdefault(host, _HostGate())

    def _delay_for(self, url: str) -> float:
        delay = self.per_host_delay
        cached = self._robots.get(self._origin(url))
        if cached and cached[1] is not None:
            crawl = cached[1].crawl_delay(ROBOTS_AGENT)
            if crawl:
                delay = max(delay, min(float(crawl), self.max_crawl_delay))
        return delay

    def _robots_for(self, url: str) -> Any:
        """The parsed robots.txt of the site (None: everything allowed)."""
        origin = self._origin(url)
        now = self._monotonic()
        cached = self._robots.get(origin)
        if cached and cached[0] > now:
            return cached[1]
        with self._gates_lock:
            lock = self._robots_locks.setdefault(origin, threading.Lock())
        with lock:
            cached = self._robots.get(origin)
            if cached and cached[0] > self._monotonic():
                return cached[1]
            from protego import Protego

            robots_url = origin + "/robots.txt"
            try:
                response = self._get(robots_url, check_robots=False)  # redirects followed (RFC 9309)
                if response.ok:
                    parsed = Protego.parse(response.body.decode("utf-8", errors="replace"))
                elif response.status >= 500:
                    # RFC 9309: an unreachable robots.txt means "disallow all" for now
                    parsed = Protego.parse("User-agent: *\nDisallow: /")
                else:  # 4xx (or a redirect loop cut short): no rules
                    parsed = None
            except FetchError as exc:
                # unreachable or refused: so is the page; say that (for the page's URL) rather
                # than "disallowed"
                raise type(exc)(exc.reason, hint=exc.hint) from None
            self._robots[origin] = (self._monotonic() + self.robots_ttl, parsed)
            return parsed

    def _request(self, url: str, headers: dict[str, str]) -> Response:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError("not an http(s) URL")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if not self.allow_private:
            check_host(parts.hostname, port)
        gate = self._gate(parts.hostname.lower())
        with gate.lock:
            wait = gate.ready_at - self._monotonic()
            if wait > 0:
                self._sleep(wait)
            try:
                with self._slots:
                    return self._send(url, headers)
            finally:
                gate.ready_at = self._monotonic() + self._delay_for(url)

    def _send(self, url: str, headers: dict[str, str]) -> Response:
        httpx = self._httpx
        deadline = time.monotonic() + self.timeout
        self.requests += 1
        try:
            with self.client.stream("GET", url, headers=headers) as response:
                if not self.allow_private:
                    self._check_peer(response, url)
                status = response.status_code
                head = {k.lower(): v for k, v in response.headers.items()}
                if status in _REDIRECT_STATUSES or status == 304 or status >= 400:
                    return Response(url, url, status, b"", head, reason=response.reason_phrase)
                length = head.get("content-length", "")
                if length.isdigit() and int(length) > self.max_bytes:
                    raise TooLarge(f"response of {int(length):,} bytes is over the {self.max_bytes:,}-byte limit",
                                   source=url, hint="raise ingest.max_bytes")
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise TooLarge(f"response is over the {self.max_bytes:,}-byte limit", source=url,
                                       hint="raise ingest.max_bytes")
                    if time.monotonic() > deadline:
                        raise FetchError(f"timed out after {self.timeout:g} s")
                    chunks.append(chunk)
                return Response(url, url, status, b"".join(chunks), head, reason=response.reason_phrase)
        except httpx.TimeoutException:
            raise FetchError(f"timed out after {self.timeout:g} s") from None
        except httpx.ConnectError as exc:
            raise FetchError(f"unreachable ({_reason(exc)})") from None
        except httpx.InvalidURL as exc:
            raise FetchError(f"invalid URL ({exc})") from None
        except httpx.HTTPError as exc:
            raise FetchError(f"fetch failed ({_reason(exc)})") from None

    @staticmethod
    def _check_peer(response: Any, url: str) -> None:
        """The address actually connected to must be public too (DNS may answer differently twice)."""
        stream = response.extensions.get("network_stream")
        peer = stream.get_extra_info("server_addr") if stream is not None else None
        if peer and not is_public_address(str(peer[0])):
            raise BlockedAddress(f"connected to {peer[0]}, a non-public address",
                                 hint="set ingest.allow_private_addresses = true to fetch from your own network")


def _section(name: str, settings: Any) -> dict[str, Any]:
    if isinstance(settings, dict) and name not in settings and settings:
        # a bare section dict (tests, read_sources' [ingest]): use it for the section it belongs to
        return section_with_defaults(name, settings if name == "ingest" else None)
    return section_with_defaults(name, settings)


def _version() -> str:
    from .. import __version__
    return __version__


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    for known in ("Connection refused", "Name or service not known", "No route to host",
                  "Temporary failure in name resolution", "Network is unreachable"):
        if known.lower() in text.lower():
            return known.lower()
    return text.splitlines()[0][:200]
