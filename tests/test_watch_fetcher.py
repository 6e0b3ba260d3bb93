"""The watcher's HTTP client against a real server on 127.0.0.1: address guard, robots.txt,
per-host delay, conditional GET, Retry-After, redirect chains, slow answers."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import pytest
from watchsite import Route, Site, make_story, site_settings, START

from tidings.errors import BlockedAddress, FetchError, RobotsDisallowed
from tidings.watch import fetcher as fetcher_module
from tidings.watch.fetcher import Fetcher, is_public_address, parse_retry_after


@pytest.fixture()
def site():
    site = Site().start()
    yield site
    site.stop()


def _fetcher(**watch) -> Fetcher:
    return Fetcher(site_settings(**watch))


def test_private_addresses_are_refused_by_default_and_nothing_is_sent(site):
    site.page("/a/one.html", make_story(1, START))
    with Fetcher({"ingest": {"allow_private_addresses": False}}) as guarded:
        for url in (f"{site.base}/a/one.html", site.base.replace("127.0.0.1", "localhost") + "/a/one.html"):
            with pytest.raises(BlockedAddress) as caught:
                guarded.get(url)
            assert "non-public address" in str(caught.value) and caught.value.code == "T108"
            assert url in str(caught.value)
    assert site.requests == []  # refused before any connection, robots.txt included


@pytest.mark.parametrize("address,public", [
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.9", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.100.100.200", False), ("100.64.0.1", False), ("0.0.0.0", False),
    ("::1", False), ("fe80::1%eth0", False), ("fd00:ec2::254", False), ("::ffff:127.0.0.1", False),
    ("224.0.0.1", False), ("93.184.216.34", True), ("2606:4700::1111", True),
])
def test_public_address_classes(address, public):
    assert is_public_address(address) is public


def test_every_redirect_hop_is_guarded(site, monkeypatch):
    # 127.0.0.1 stands in for a public host; "localhost" for the private target of the redirect
    def check_host(host: str, port: int) -> None:
        if host == "localhost":
            raise BlockedAddress(f"{host} resolves to 127.0.0.1, a non-public address")

    monkeypatch.setattr(fetcher_module, "check_host", check_host)
    monkeypatch.setattr(Fetcher, "_check_peer", staticmethod(lambda response, url: None))
    target = site.base.replace("127.0.0.1", "localhost") + "/secret"
    site.routes["/hop"] = Route(status=302, headers={"Location": target})
    site.routes["/secret"] = Route(body=b"internal")
    with Fetcher({"ingest": {"allow_private_addresses": False}, "watch": {"per_host_delay": 0.0}}) as guarded:
        with pytest.raises(BlockedAddress) as caught:
            guarded.get(f"{site.base}/hop")
    assert "localhost" in str(caught.value)
    assert "/secret" not in site.paths() and "/hop" in site.paths()


def test_robots_disallowed_pages_are_never_requested(site):
    site.routes["/robots.txt"] = Route(body=b"User-agent: *\nDisallow: /private/\nAllow: /private/ok\n",
                                       content_type="text/plain")
    site.page("/private/a.html", make_story(1, START))
    site.page("/private/ok.html", make_story(2, START))
    site.page("/public.html", make_story(3, START))
    with _fetcher() as fetcher:
        with pytest.raises(RobotsDisallowed):
            fetcher.get(f"{site.base}/private/a.html")
        assert fetcher.get(f"{site.base}/private/ok.html").ok  # the longer Allow wins (RFC 9309)
        assert fetcher.get(f"{site.base}/public.html").ok
    assert "/private/a.html" not in site.paths()
    assert site.count("/robots.txt") == 1  # cached


def test_robots_redirect_target_is_checked_too(site):
    site.routes["/robots.txt"] = Route(body=b"User-agent: tidings\nDisallow: /hidden\n", content_type="text/plain")
    site.routes["/go"] = Route(status=301, headers={"Location": "/hidden/page.html"})
    site.page("/hidden/page.html", make_story(1, START))
    with _fetcher() as fetcher, pytest.raises(RobotsDisallowed):
        fetcher.get(f"{site.base}/go")
    assert "/hidden/page.html" not in site.paths()


def test_per_host_delay_holds_under_concurrency(site):
    delay = 0.15
    for n in range(8):
        site.page(f"/p{n}.html", make_story(n, START))
    with _fetcher(per_host_delay=delay, concurrency=8) as fetcher:
        threads = [threading.Thread(target=fetcher.get, args=(f"{site.base}/p{n}.html",)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    times = sorted(t for t, _, _ in site.requests)
    assert len(times) == 9  # robots.txt + 8 pages
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= delay * 0.95, gaps


def test_hosts_do_not_wait_for_each_other(site):
    # 127.0.0.1 and localhost are two hosts to the fetcher: their delays run in parallel
    other = site.base.replace("127.0.0.1", "localhost")
    for n in range(3):
        site.page(f"/p{n}.html", make_story(n, START))
    with _fetcher(per_host_delay=0.3) as fetcher:
        started = time.monotonic()
        threads = [threading.Thread(target=fetcher.get, args=(f"{base}/p{n}.html",))
                   for base in (site.base, other) for n in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
    # one host alone: robots + 3 pages = 3 delays (0.9 s); two hosts one after the other would be 1.8 s
    assert 0.85 <= elapsed < 1.6, elapsed


def test_conditional_get_gives_304(site):
    site.feed("/feed.xml", [make_story(1, START)])
    with _fetcher() as fetcher:
        first = fetcher.get(f"{site.base}/feed.xml")
        assert first.ok and first.headers["etag"]
        again = fetcher.get(f"{site.base}/feed.xml", etag=first.headers["etag"])
    assert again.not_modified and again.body == b""
    assert site.requests[-1][2]["if-none-match"] == first.headers["etag"]


def test_redirect_chain_and_loop(site):
    site.routes["/r1"] = Route(status=301, headers={"Location": "/r2"})
    site.routes["/r2"] = Route(status=302, headers={"Location": f"{site.base}/r3"})
    site.routes["/r3"] = Route(status=308, headers={"Location": "/final.html"})
    site.page("/final.html", make_story(1, START))
    site.routes["/loop"] = Route(status=302, headers={"Location": "/loop"})
    with _fetcher() as fetcher:
        response = fetcher.get(f"{site.base}/r1")
        assert response.ok and response.final_url == f"{site.base}/final.html"
        assert response.redirects == [f"{site.base}/r1", f"{site.base}/r2", f"{site.base}/r3"]
        with pytest.raises(FetchError, match="too many redirects"):
            fetcher.get(f"{site.base}/loop")


def test_statuses_are_returned_with_retry_after(site):
    site.routes["/busy"] = Route(status=503, headers={"Retry-After": "120"})
    site.routes["/broken"] = Route(status=500)
    with _fetcher() as fetcher:
        busy = fetcher.get(f"{site.base}/busy")
        assert busy.status == 503 and busy.retry_after() == 120.0
        assert fetcher.get(f"{site.base}/broken").status == 500


def test_retry_after_as_http_date():
    now = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
    assert parse_retry_after("Mon, 02 Mar 2026 08:05:00 GMT", now) == 300.0
    assert parse_retry_after("soon", now) is None and parse_retry_after(None) is None


def test_slow_answer_times_out(site):
    site.routes["/slow"] = Route(body=b"<p>late</p>", delay=1.5)
    with Fetcher({"ingest": {"allow_private_addresses": True, "http_timeout": 0.3},
                  "watch": {"per_host_delay": 0.0}}) as fetcher:
        started = time.monotonic()
        with pytest.raises(FetchError, match="timed out"):
            fetcher.get(f"{site.base}/slow")
        assert time.monotonic() - started < 1.2


def test_user_agent_names_the_contact_url(site):
    site.page("/a.html", make_story(1, START))
    with _fetcher(contact_url="https://newsroom.example/crawler") as fetcher:
        fetcher.get(f"{site.base}/a.html")
    agents = {headers["user-agent"] for _, _, headers in site.requests}
    assert len(agents) == 1 and agents.pop().endswith("(+https://newsroom.example/crawler)")


def test_the_address_connected_to_is_checked_again(site, monkeypatch):
    # a DNS answer that changes between the check and the connection (rebinding): the check
    # passes, the connection lands on 127.0.0.1, and the answer is refused before it is read
    monkeypatch.setattr(fetcher_module, "check_host", lambda host, port: None)
    site.routes["/robots.txt"] = Route(body=b"User-agent: *\nAllow: /\n", content_type="text/plain")
    site.page("/a.html", make_story(1, START))
    with Fetcher({"ingest": {"allow_private_addresses": False}, "watch": {"per_host_delay": 0.0}}) as guarded:
        with pytest.raises(BlockedAddress, match="connected to 127.0.0.1"):
            guarded.get(f"{site.base}/a.html")


def test_robots_txt_behind_a_redirect_is_followed(site):
    site.routes["/robots.txt"] = Route(status=301, headers={"Location": "/real-robots.txt"})
    site.routes["/real-robots.txt"] = Route(body=b"User-agent: *\nDisallow: /x\n", content_type="text/plain")
    site.page("/x.html", make_story(1, START))
    with _fetcher() as fetcher, pytest.raises(RobotsDisallowed):
        fetcher.get(f"{site.base}/x.html")
    assert "/x.html" not in site.paths()


def test_robots_txt_failing_with_5xx_disallows_everything(site):
    site.routes["/robots.txt"] = Route(status=503)
    site.page("/x.html", make_story(1, START))
    with _fetcher() as fetcher, pytest.raises(RobotsDisallowed):
        fetcher.get(f"{site.base}/x.html")
    assert "/x.html" not in site.paths()
