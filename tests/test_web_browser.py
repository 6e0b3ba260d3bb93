"""The web pages in a real headless Chromium (Debian's), driven by Playwright, over a live server.

The store is built by the real pipeline from the two seed articles and the sample corpus (no faked
data), plus one hostile article. The server is uvicorn in a thread on 127.0.0.1 and a free port.
Screenshots go to test-artifacts/ (gitignored); with TIDINGS_DOCS_SCREENSHOTS=1 the story page is
also written to docs/img/story.png for the README.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import EXAMPLES, ROOT, need_shared

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Offline, quiet, CI-safe Chromium: no sandbox (root in CI), no background calls to Google services.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic"]
ARTIFACTS = ROOT / "test-artifacts"
ALEPPO = "geo:170063"
HOSTILE_TITLE = 'Drill <script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
HOSTILE_TEXT = ('Officials in Berlin said the drill <script>window.__xss = 3</script> ended. '
                '<img src="x" onerror="window.__xss = 4"> <a href="javascript:window.__xss = 5">more</a>')

sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need: pip install playwright")
if not Path(CHROMIUM).exists():
    pytest.skip("the browser tests need Debian's chromium (make browser, or apt-get install chromium)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The seeds and the sample corpus ingested by the real pipeline; returns (db, seed story, hostile id)."""
    import tidings
    from tidings.models import Document

    seeds = need_shared("seeds")
    if not EXAMPLES.is_dir():
        pytest.skip(f"{EXAMPLES} not found")
    db = tmp_path_factory.mktemp("browser") / "corpus.db"
    with tidings.open(db, settings=tidings.Settings.load(env={})) as monitor:
        # the seeds arrive first (their own batch), then the sample corpus: stories never split later,
        # so the seeds' story does not hinge on a borderline decision among a dozen same-day articles
        for batch in ([seeds], [EXAMPLES]):
            report = monitor.ingest(batch, default_date=datetime(2016, 10, 28, tzinfo=timezone.utc))
            assert report.errors == [], report.as_dict()
        hostile = monitor.add_documents([Document(
            source="test:hostile", raw=HOSTILE_TEXT.encode(), content_type="text", text=HOSTILE_TEXT,
            title=HOSTILE_TITLE, lang="en", published_at=datetime(2016, 10, 29, tzinfo=timezone.utc))])
        rows = monitor.store.conn.execute(
            "SELECT id, title, lang, story_id FROM articles WHERE source LIKE ? AND duplicate_of IS NULL",
            (f"{seeds}%",)).fetchall()
    seed_articles = {r["lang"]: dict(r) for r in rows}
    assert set(seed_articles) == {"hr", "en"}, seed_articles
    assert seed_articles["hr"]["story_id"] == seed_articles["en"]["story_id"], "the seeds are in two stories"
    return db, seed_articles, hostile.added[0]


@pytest.fixture(scope="module")
def server(corpus):
    import uvicorn

    from tidings.api import create_app
    from tidings.config import Settings

    app = create_app(str(corpus[0]), Settings.load(env={}))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Visit:
    """A browser context that records every request and console error, for the checks after a test."""

    def __init__(self, browser, base: str, **options):
        self.base = base
        self.context = browser.new_context(**options)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def go(self, path: str):
        response = self.page.goto(self.base + path)
        assert response is not None and response.ok, (path, response and response.status)
        return self.page

    def shot(self, name: str, full_page: bool = True) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def close(self):
        self.context.close()
        foreign = [u for u in self.requests if not u.startswith(self.base) and not u.startswith("data:")]
        assert foreign == [], f"requests to other hosts: {foreign}"
        assert self.errors == [], f"console errors (a CSP violation shows here): {self.errors}"
        assert self.dialogs == []


@pytest.fixture
def desktop(browser, server):
    visit = Visit(browser, server, viewport={"width": 1280, "height": 900})
    yield visit
    visit.close()


@pytest.fixture
def phone(browser, server):
    visit = Visit(browser, server, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                  device_scale_factor=2)
    yield visit
    visit.close()


def _visible_items(page) -> list[dict]:
    return page.eval_on_selector_all(
        "li[data-filter-item]",
        "els => els.filter(e => !e.hidden && e.offsetParent !== null)"
        ".map(e => ({langs: e.dataset.langs, href: e.querySelector('a.title').getAttribute('href')}))")


def test_story_list_shows_the_seeds_story(desktop, corpus):
    story_id = corpus[1]["hr"]["story_id"]
    page = desktop.go("/")
    item = page.locator(f"li[data-filter-item]:has(a[href='/stories/{story_id}'])")
    sync_api.expect(item).to_be_visible()
    sync_api.expect(item.locator(".badge", has_text="hr")).to_be_visible()
    sync_api.expect(item.locator(".badge", has_text="en")).to_be_visible()
    sync_api.expect(item.locator("ul.tags a").first).to_be_visible()
    desktop.shot("stories.png")


def test_seeds_story_shows_both_languages_and_a_marker_at_aleppo(desktop, corpus):
    seeds = corpus[1]
    story_id = seeds["hr"]["story_id"]
    page = desktop.go("/")
    page.click(f"a.title[href='/stories/{story_id}']")
    page.wait_for_url(f"**/stories/{story_id}")
    for lang in ("hr", "en"):
        group = page.locator(f"section.lang-group[data-lang='{lang}']")
        sync_api.expect(group).to_be_visible()
        sync_api.expect(group.locator(f"li[data-article-id='{seeds[lang]['id']}'] a.title")).to_have_text(
            seeds[lang]["title"])
    marker = page.locator(f"svg.map-svg circle[data-place-id='{ALEPPO}']")
    sync_api.expect(marker).to_be_visible()
    assert "Alep" in marker.locator("title").text_content()
    box = marker.bounding_box()
    map_box = page.locator("svg.map-svg").bounding_box()
    assert box and map_box and map_box["x"] <= box["x"] <= map_box["x"] + map_box["width"]
    sync_api.expect(page.locator("figure.timeline.articles circle.dot").first).to_be_visible()
    sync_api.expect(page.locator("#places a", has_text="Alep").first).to_be_visible()
    desktop.shot("story.png")
    if os.environ.get("TIDINGS_DOCS_SCREENSHOTS") == "1":
        page.set_viewport_size({"width": 1200, "height": 1000})
        page.screenshot(path=str(ROOT / "docs" / "img" / "story.png"))  # the first screenful


def test_live_filter_by_language(desktop):
    page = desktop.go("/")
    sync_api.expect(page.locator("form[data-live-filter][data-live='on']")).to_have_count(1)
    everything = _visible_items(page)
    page.select_option("select[name=lang]", "hr")
    croatian = _visible_items(page)
    assert croatian and len(croatian) < len(everything)
    assert all("hr" in item["langs"].split() for item in croatian)
    sync_api.expect(page.locator("[data-filter-count]")).to_contain_text(f"{len(croatian)} of {len(everything)}")
    assert page.url.endswith("/")  # filtered on the page, no reload
    desktop.shot("stories-hr.png")
    page.select_option("select[name=lang]", "")
    assert len(_visible_items(page)) == len(everything)


def test_live_filter_by_text(desktop, corpus):
    page = desktop.go("/")
    everything = _visible_items(page)
    page.fill("input[name=q]", "Aleppo")
    matching = _visible_items(page)
    assert 0 < len(matching) < len(everything)
    page.fill("input[name=q]", "zzzz-no-such-word")
    assert _visible_items(page) == []
    sync_api.expect(page.locator("[data-filter-empty]")).to_be_visible()


def test_list_filters_without_javascript(browser, server):
    visit = Visit(browser, server, viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    try:
        page = visit.go("/")
        page.select_option("select[name=lang]", "hr")
        page.click("form.filters button[type=submit]")
        page.wait_for_url("**/?*lang=hr*")
        hrefs = page.eval_on_selector_all("li[data-filter-item]", "els => els.map(e => e.dataset.langs)")
        assert hrefs and all("hr" in langs.split() for langs in hrefs)
    finally:
        visit.close()


def test_pages_fit_a_phone_screen(phone, corpus):
    story_id = corpus[1]["hr"]["story_id"]
    for path, name in [("/", "stories-phone.png"), (f"/stories/{story_id}", "story-phone.png"),
                       (f"/entities/{ALEPPO}", "entity-phone.png"), ("/search?q=Aleppo", "search-phone.png")]:
        page = phone.go(path)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{path} scrolls sideways by {overflow}px on a phone"
        phone.shot(name)
    sync_api.expect(page.locator("ol.hits li").first).to_be_visible()


def test_hostile_article_never_runs(desktop, corpus):
    hostile = corpus[2]
    for path in ["/", f"/articles/{hostile}", "/search?q=drill"]:
        page = desktop.go(path)
        assert page.evaluate("typeof window.__xss") == "undefined", path
        assert page.locator("main img").count() == 0
        assert page.locator("main script").count() == 0
    page = desktop.go(f"/articles/{hostile}")
    sync_api.expect(page.locator("h1")).to_contain_text("<script>window.__xss = 1</script>")
    desktop.shot("hostile-article.png")


def test_entity_and_search_pages(desktop):
    page = desktop.go(f"/entities/{ALEPPO}")
    sync_api.expect(page.locator(f"circle[data-place-id='{ALEPPO}']")).to_be_visible()
    sync_api.expect(page.locator("#variants td[lang='hr']")).to_contain_text("Alep")
    page = desktop.go("/search?q=Alepu")
    sync_api.expect(page.locator("ol.hits li mark").first).to_be_visible()


def test_swagger_ui_renders_from_vendored_files(desktop):
    page = desktop.go("/docs")
    page.wait_for_selector(".opblock", timeout=15000)
    assert page.locator(".opblock").count() >= 8
    desktop.shot("docs.png", full_page=False)


def test_entity_index_type_ahead_reaches_the_entity(desktop):
    page = desktop.go("/entities")
    box = page.locator("form[data-entity-typeahead] input[name=q]")
    sync_api.expect(page.locator("form[data-entity-typeahead]")).to_have_attribute("data-live", "on")
    box.type("Алеппо", delay=30)   # a Cyrillic form: the suggestion is the entity, whatever its name
    sync_api.expect(page.locator(f"#entity-suggestions option[data-entity-id='{ALEPPO}']")).to_have_count(1)
    desktop.shot("entities-typeahead.png")
    page.locator("form[data-entity-typeahead]").evaluate("f => f.submit()")   # the plain form works too
    sync_api.expect(page.locator(f"table.entities tr[data-entity-id='{ALEPPO}']")).to_be_visible()
    page = desktop.go(f"/entities/{ALEPPO}")
    sync_api.expect(page.locator("#timeline tr[data-day] progress").first).to_be_visible()
    sync_api.expect(page.locator("#related li").first).to_be_visible()


def test_story_page_shows_a_summary_across_languages(desktop, corpus):
    story = corpus[1]["hr"]["story_id"]
    page = desktop.go(f"/stories/{story}")
    items = page.locator("#summary li")
    sync_api.expect(items.first).to_be_visible()
    assert len({items.nth(i).get_attribute("lang") for i in range(items.count())}) == 2   # the seeds: hr and en
