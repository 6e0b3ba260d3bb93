"""Server-rendered pages (no browser): content, filters without JS, escaping of hostile article text."""

from __future__ import annotations

import pytest

from tidings.web import pages

from conftest import XSS_TEXT, XSS_TITLE, parse_html as parse


def test_story_list_shows_titles_sizes_badges_entities_and_span(api_client):
    response = api_client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    doc = parse(response.text)
    items = [a for t, a in doc.elements if t == "li" and "data-filter-item" in a]
    assert [a["data-langs"] for a in items] == ["en hr", "en", "fr"]
    text = " ".join(doc.texts)
    assert "Russia announces humanitarian corridors in Aleppo" in text
    assert "3 articles" in text and "2016-10-20" in text and "2016-10-22" in text
    assert "Vladimir Putin" in text
    assert ("a", {"href": "/stories/s-aleppo", "class": "title"}) in [(t, a) for t, a in doc.elements if t == "a"]
    options = [a.get("value") for t, a in doc.elements if t == "option"]
    assert {"en", "hr", "fr"} <= set(options)


@pytest.mark.parametrize("query,expected", [
    ("lang=hr", ["s-aleppo"]), ("lang=fr", ["s-lyon"]), ("q=bibliotheque", ["s-lyon"]),
    ("sort=size&lang=en", ["s-aleppo", "s-xss"]), ("lang=de", []),
])
def test_story_list_filters_as_a_plain_get_form(api_client, query, expected):
    doc = parse(api_client.get("/?" + query).text)
    hrefs = [a["href"] for t, a in doc.elements if t == "a" and a.get("class") == "title"]
    assert hrefs == [f"/stories/{s}" for s in expected]
    if not expected:
        assert "No stories match." in " ".join(doc.texts)


def test_story_list_bad_filter_shows_the_error(api_client):
    response = api_client.get("/?since=yesterday")
    assert response.status_code == 400 and "T500" in response.text and "not a date" in response.text


def test_story_list_pages_with_a_next_link(api_client, monkeypatch):
    monkeypatch.setattr(pages, "PAGE_SIZE", 1)

    def titles_and_next(url):
        doc = parse(api_client.get(url).text)
        titles = [a["href"] for t, a in doc.elements if t == "a" and a.get("class") == "title"]
        nexts = [a["href"] for t, a in doc.elements if t == "a" and a.get("rel") == "next"]
        return titles, nexts

    titles, (next_url,) = titles_and_next("/?lang=en")
    assert titles == ["/stories/s-aleppo"] and "lang=en" in next_url and "cursor=" in next_url
    titles, nexts = titles_and_next(next_url)
    assert titles == ["/stories/s-xss"] and nexts == []  # two English stories in all


def test_story_page_groups_articles_by_language_with_links(api_client):
    doc = parse(api_client.get("/stories/s-aleppo").text)
    groups = [a["data-lang"] for t, a in doc.elements if t == "section" and "data-lang" in a]
    assert groups == ["en", "hr"]
    articles = [a["data-article-id"] for t, a in doc.elements if t == "li" and "data-article-id" in a]
    assert articles == ["a-en1", "a-en2", "a-hr1"]
    originals = [a["href"] for t, a in doc.elements if t == "a" and a.get("class") == "original"]
    assert originals == ["https://example.org/en/aleppo"]  # the javascript: URL of a-hr1 is not a link
    text = " ".join(doc.texts)
    assert "Kremlj: Putin protiv novih napada na Alep" in text and "Croatian" in text
    assert "Alepu" in text and "22. rujna" in text and "We will not resume strikes" in text


def test_story_page_has_map_markers_and_timelines(api_client):
    html = api_client.get("/stories/s-aleppo").text
    doc = parse(html)
    markers = {a["data-place-id"]: a for t, a in doc.elements if t == "circle" and "data-place-id" in a}
    # framed on the places named by two or more articles: Aleppo; Moscow (named once) is listed instead
    assert set(markers) == {"geo:170063"}
    assert markers["geo:170063"]["data-name"] == "Aleppo"
    assert "Aleppo (geo:170063): 3 articles" in doc.texts
    assert "not on this map: Moscow" in " ".join(doc.texts)
    paths = [a for t, a in doc.elements if t == "path"]
    assert len(paths) > 5  # country outlines around Syria and Russia
    dots = [a for t, a in doc.elements if t == "circle" and "dot" in a.get("class", "")]
    assert len(dots) == 3 + 2  # three articles, two single-day dates (the month is a bar)
    bars = [a for t, a in doc.elements if t == "rect" and "date" in a.get("class", "")]
    assert len(bars) == 1


def test_marker_sits_where_aleppo_is(api_client):
    from tidings.web.charts import place_map

    view = place_map([{"id": "geo:170063", "name": "Aleppo", "lat": 36.2, "lon": 37.16, "articles": 1}])
    x0, y0, width, height = map(float, view.viewbox.split())
    marker = view.markers[0]
    assert x0 < marker.x < x0 + width and y0 < marker.y < y0 + height
    assert marker.y == pytest.approx(-36.2)
    assert 1.3 <= width / height <= 2.2


def test_map_frames_the_places_most_articles_name():
    from tidings.web.charts import place_map

    places = [{"id": "geo:170063", "name": "Aleppo", "lat": 36.2, "lon": 37.16, "articles": 4},
              {"id": "geo:163345", "name": "Damascus", "lat": 33.51, "lon": 36.29, "articles": 2},
              {"id": "geo:1850147", "name": "Tokyo", "lat": 35.69, "lon": 139.69, "articles": 1},
              {"id": "geo:x", "name": "Nowhere", "lat": None, "lon": None, "articles": 3}]
    view = place_map(places)
    assert [m.id for m in view.markers] == ["geo:170063", "geo:163345"]
    assert view.outside == ["Tokyo", "Nowhere"]
    assert all(m.label for m in view.markers)
    # with no place named twice, all of them frame the map
    once = place_map([dict(p, articles=1) for p in places[:3]])
    assert {m.id for m in once.markers} == {"geo:170063", "geo:163345", "geo:1850147"}


def test_countries_frame_the_map_only_when_no_city_does():
    from tidings.places import country_entity_ids, gazetteer
    from tidings.web.charts import place_map

    point = {p.country: p for p in gazetteer().places.values() if p.kind == "country"}
    syria, russia = (dict(id=f"geo:{point[c].geonames_id}", name=point[c].name, lat=point[c].lat,
                          lon=point[c].lon, articles=2) for c in ("SY", "RU"))
    aleppo = {"id": "geo:170063", "name": "Aleppo", "lat": 36.2, "lon": 37.16, "articles": 2}
    view = place_map([aleppo, syria, russia], country_entity_ids())
    assert {m.id for m in view.markers} == {"geo:170063", syria["id"]}   # Syria's point is in view
    assert view.outside == ["Russia"]
    # a story that names only countries is framed by them
    only = place_map([syria, russia], country_entity_ids())
    assert {m.id for m in only.markers} == {syria["id"], russia["id"]}


def test_map_labels_do_not_overlap():
    from tidings.web.charts import place_map

    crowded = [{"id": f"geo:{i}", "name": f"Village {i}", "lat": 45.0 + i * 0.01, "lon": 15.0, "articles": 2}
               for i in range(6)]
    view = place_map(crowded)
    assert len(view.markers) == 6 and sum(m.label for m in view.markers) == 1


def test_merged_story_id_redirects_to_the_survivor(api_client):
    response = api_client.get("/stories/s-old", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "/stories/s-aleppo"


@pytest.mark.parametrize("url", ["/stories/nope", "/articles/nope", "/entities/per:nobody"])
def test_unknown_ids_give_an_html_404_page(api_client, url):
    response = api_client.get(url)
    assert response.status_code == 404 and response.headers["content-type"].startswith("text/html")
    assert "T200" in response.text


def test_entity_page_shows_variants_by_language_stories_and_map(api_client):
    doc = parse(api_client.get("/entities/geo:170063").text)
    text = " ".join(doc.texts)
    assert "Alepu" in text and "Croatian" in text and "Russia announces humanitarian corridors in Aleppo" in text
    assert [a["data-place-id"] for t, a in doc.elements if t == "circle" and "data-place-id" in a] == ["geo:170063"]


def test_person_page_has_no_map(api_client):
    doc = parse(api_client.get("/entities/per:putin").text)
    assert not [a for t, a in doc.elements if t == "svg"]


def test_search_page_highlights_matches(api_client):
    doc = parse(api_client.get("/search?q=alepu").text)
    assert [a["data-article-id"] for t, a in doc.elements if t == "li" and "data-article-id" in a][0] == "a-hr1"
    assert "Alepu" in [d for d in doc.texts]  # inside <mark>
    assert ("mark", {}) in doc.elements
    assert api_client.get("/search").status_code == 200
    assert api_client.get("/search?q=%21%21").status_code == 400


def test_article_page_shows_text_and_names(api_client):
    doc = parse(api_client.get("/articles/a-en1").text)
    text = " ".join(doc.texts)
    assert "Aleppo corridors were announced in Moscow." in text
    assert any(t == "a" and a.get("href") == "/entities/per%3Aputin" for t, a in doc.elements)


@pytest.mark.parametrize("url", ["/", "/stories/s-xss", "/articles/a-xss", "/search?q=alarm", "/search?q=quotes",
                                 "/entities/geo:524901", "/stories/s-aleppo", "/articles/a-hr1"])
def test_hostile_article_text_is_never_live_markup(api_client, url):
    html = api_client.get(url).text
    doc = parse(html)
    assert doc.live == []
    assert "<script>window" not in html and "<img src" not in html and "onerror=\"" not in html


def test_hostile_text_is_shown_as_text(api_client):
    doc = parse(api_client.get("/articles/a-xss").text)
    text = "".join(doc.texts)
    assert XSS_TITLE in text
    assert "<script>window.__xss = 3</script>" in text and 'onerror="window.__xss = 4"' in text
    assert XSS_TEXT.split(";")[0] in text


def test_pages_request_nothing_from_other_hosts(api_client):
    for url in ["/", "/stories/s-aleppo", "/entities/geo:170063", "/search?q=aleppo", "/docs"]:
        doc = parse(api_client.get(url).text)
        for tag, attributes in doc.elements:
            if tag in ("script", "link", "img", "iframe", "source", "use"):
                target = attributes.get("src") or attributes.get("href") or ""
                assert not target.startswith(("http:", "https:", "//")), (url, tag, target)


@pytest.mark.parametrize("url", ["/", "/stories/s-aleppo", "/search?q=aleppo", "/docs"])
def test_pages_answer_head(api_client, url):
    response = api_client.head(url)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert response.content == b""
