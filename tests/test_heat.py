"""Heat sort: breaking stories first, on a constructed store; pages across the hot and cold parts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from tidings.config import Settings
from tidings.heat import heat_of
from tidings.models import Article, Document
from tidings.queries import BadQuery, list_stories
from tidings.store import Store

NOW = datetime(2026, 3, 13, 12, 0, tzinfo=timezone.utc)
SETTINGS = Settings.load(env={})
CFG = SETTINGS.section("heat")


@pytest.fixture(scope="module")
def heat_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("heat") / "h.db"
    # story -> [(hours before NOW, lang, outlet)]
    plan = {
        "s-steady": [(25 + 16 * i, "en", "Wire") for i in range(10)] + [(2, "en", "Wire"), (3, "en", "Wire")],
        "s-breaking": [(1, "en", "Wire"), (2, "de", "Zeitung"), (0, "hr", "Wire")],
        "s-local": [(5, "fr", "Journal"), (6, "fr", "Journal"), (7, "fr", "Journal")],
        "s-old": [(50, "en", "Wire"), (60, "de", "Zeitung")],
        "s-older": [(100, "en", "Wire")],
        # an undated file ingested months later (dated by the ingest time only): it sets no clock
        "s-undated": [(-24 * 200, "fr", None)],
    }
    with Store.open(path) as store, store.transaction():
        for story, items in plan.items():
            for n, (hours, lang, outlet) in enumerate(items):
                aid = f"{story}-{n}"
                a = Article(id=aid, source=f"{aid}.txt", title=f"{story} {n}", text="Text.", lang=lang,
                            lang_confidence=0.9, published_at=NOW - timedelta(hours=hours), outlet=outlet,
                            content_hash="h" + aid, story_id=story,
                            date_source="ingest-time" if story == "s-undated" else "metadata")
                store.add_article(a, store.add_raw(Document(source=a.source, raw=b"x", content_type="text", text="x")))
                store.set_membership(aid, story, 0.9)
            store.refresh_stories([story])
    return path


def test_breaking_stories_come_first(heat_store):
    with Store.open(heat_store, read_only=True) as store:
        page = list_stories(store, sort="heat", limit=10)
    order = [s["id"] for s in page["stories"]]
    assert order == ["s-breaking", "s-local", "s-steady", "s-undated", "s-old", "s-older"]
    heat = {s["id"]: s["heat"] for s in page["stories"]}
    assert heat["s-breaking"] == pytest.approx(3 * (1 + 0.5 * 2) * (1 + 0.25 * 1))
    assert heat["s-local"] == pytest.approx(3.0)
    # steady: 2 recent against 10 in the 6 days before (at most baseline_days): 2 / (1 + 10 / 6.6...)
    assert 0 < heat["s-steady"] < 1
    assert heat["s-old"] == heat["s-older"] == heat["s-undated"] == 0


def test_heat_formula_parts():
    assert heat_of(0, 5, 1, 1, 48, CFG) == 0
    assert heat_of(4, 0, 1, 1, 0, CFG) == 4
    assert heat_of(4, 4, 1, 1, 96, CFG) == pytest.approx(4 / 2)   # one article a day before, four today
    assert heat_of(4, 0, 3, 1, 0, CFG) > heat_of(4, 0, 1, 1, 0, CFG)
    assert heat_of(4, 0, 1, 3, 0, CFG) > heat_of(4, 0, 1, 1, 0, CFG)


def test_pages_follow_one_order_across_hot_and_cold(heat_store):
    seen = []
    cursor = None
    with Store.open(heat_store, read_only=True) as store:
        while True:
            page = list_stories(store, sort="heat", limit=2, cursor=cursor)
            seen += [s["id"] for s in page["stories"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == ["s-breaking", "s-local", "s-steady", "s-undated", "s-old", "s-older"]
        assert [s["id"] for s in list_stories(store, sort="heat", lang="de")["stories"]] == ["s-breaking", "s-old"]
        with pytest.raises(BadQuery):
            from tidings.queries import _encode_cursor
            list_stories(store, sort="heat", cursor=_encode_cursor("2026-01-01", "s-old"))


def test_heat_in_cli_and_api(heat_store):
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from tidings.api import create_app
    from tidings.cli import app

    result = CliRunner().invoke(app, ["--db", str(heat_store), "stories", "--sort", "heat", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["stories"][0]["id"] == "s-breaking"
    table = CliRunner().invoke(app, ["--db", str(heat_store), "stories", "--sort", "heat"], terminal_width=200)
    assert table.exit_code == 0 and "heat" in table.output and "7.50" in table.output
    with TestClient(create_app(str(heat_store), SETTINGS)) as client:
        body = client.get("/api/stories", params={"sort": "heat", "limit": 3}).json()
        assert [s["id"] for s in body["stories"]] == ["s-breaking", "s-local", "s-steady"]
        assert body["stories"][0]["heat"] > body["stories"][2]["heat"]
        page = client.get("/", params={"sort": "heat"}).text
        assert page.index("s-breaking") < page.index("s-local") < page.index("s-steady")
        assert 'value="heat" selected' in page
