"""SVG geometry for the story page, computed on the server: a world map with place markers and timelines.

Drawing on the server keeps the pages free of chart libraries and readable without JavaScript;
the templates only place the shapes computed here. The map uses the Natural Earth 1:110m country
outlines shipped in ``static/vendor/world-atlas`` (TopoJSON) and an equirectangular projection whose
x axis is shrunk by cos(latitude) at the centre of the view, which keeps shapes near the places of a
story close to true for the small regions a story usually covers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

WORLD_FILE = Path(__file__).resolve().parent / "static" / "vendor" / "world-atlas" / "countries-110m.json"

# Smallest map view in degrees (a single city still shows its country and neighbours), the share of
# the places' extent added as margin, and the allowed width/height ratio of the map.
MIN_SPAN_LON = 24.0
MIN_SPAN_LAT = 14.0
MARGIN = 0.25
ASPECT_MIN, ASPECT_MAX = 1.3, 2.2
MAX_LAT = 84.0
# Marker radius and label size as a share of the view's larger side.
MARKER_SHARE = 0.011
LABEL_SHARE = 0.026
MAX_LABELS = 8
# Places named by at least this many articles of a story frame its map (see place_map).
CORE_ARTICLES = 2

# Timeline drawing units (the SVG scales to the page width; these are viewBox units).
TL_WIDTH = 800
TL_PAD_LEFT = 70
TL_PAD_RIGHT = 20
TL_ROW = 22
TL_AXIS = 26
TL_MAX_LANES = 8


@dataclass
class Country:
    name: str
    bbox: tuple[float, float, float, float]  # lon0, lat0, lon1, lat1
    rings: list[list[tuple[float, float]]]  # (lon, lat) points


@lru_cache(maxsize=1)
def _geometries() -> tuple[tuple[int | None, str, tuple[list[tuple[float, float]], ...]], ...]:
    """Decode the TopoJSON once (delta-encoded, quantised arcs shared between neighbouring
    countries): (ISO 3166 numeric code, name, rings cut at the antimeridian) per country."""
    topo = json.loads(WORLD_FILE.read_text(encoding="utf-8"))
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs: list[list[tuple[float, float]]] = []
    for arc in topo["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)

    def ring(indices: list[int]) -> list[tuple[float, float]]:
        points: list[tuple[float, float]] = []
        for i in indices:
            arc = arcs[i] if i >= 0 else arcs[~i][::-1]
            points.extend(arc if not points else arc[1:])
        return points

    out = []
    for geometry in topo["objects"]["countries"]["geometries"]:
        if geometry["type"] == "Polygon":
            polygons = [geometry["arcs"]]
        elif geometry["type"] == "MultiPolygon":
            polygons = geometry["arcs"]
        else:
            continue
        rings = tuple(piece for polygon in polygons for r in polygon for piece in _split_at_antimeridian(ring(r)))
        code = geometry.get("id")
        out.append((int(code) if str(code or "").isdigit() else None, geometry.get("properties", {}).get("name", ""),
                    rings))
    return tuple(out)


def world_geometries() -> list[tuple[int | None, list[list[tuple[float, float]]]]]:
    """Each country's ISO 3166 numeric code (None for disputed areas) and outline rings (lon, lat)."""
    return [(code, list(rings)) for code, _, rings in _geometries()]


@lru_cache(maxsize=1)
def world() -> tuple[Country, ...]:
    """The country outlines with their bounding boxes, for drawing."""
    countries = []
    for _, name, rings in _geometries():
        lons = [p[0] for r in rings for p in r]
        lats = [p[1] for r in rings for p in r]
        countries.append(Country(name, (min(lons), min(lats), max(lons), max(lats)), list(rings)))
    return tuple(countries)


def _split_at_antimeridian(ring: list[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    """Cut a ring where it jumps across the ±180° meridian (Russia, Fiji, Antarctica).

    Each piece starts and ends on the meridian, so closing it with a straight segment runs along
    the map's edge and the plane polygon fills correctly.
    """
    pieces = [[ring[0]]]
    for prev, point in zip(ring, ring[1:]):
        if abs(point[0] - prev[0]) > 180:
            pieces.append([])
        pieces[-1].append(point)
    if len(pieces) > 1:  # the ring is closed: its last piece continues into its first
        pieces[0] = pieces.pop() + pieces[0][1:]
    return [p for p in pieces if len(p) > 2]


@dataclass
class Marker:
    id: str
    name: str
    x: float
    y: float
    r: float
    articles: int
    label: bool


@dataclass
class MapView:
    viewbox: str
    country_paths: list[str]
    markers: list[Marker]
    label_size: float
    stroke: float
    outside: list[str] = field(default_factory=list)  # places not drawn: out of view or no coordinates


def place_map(places: list[dict], broad: Collection[str] = ()) -> MapView | None:
    """A map around a story's places (dicts with id, name, lat, lon, articles).

    The view frames the places named by at least CORE_ARTICLES articles when there are any (where
    the story happens), else all of them; a place named once far away (often a wrong link) does not
    zoom the map out to the whole world. ``broad`` ids (countries) frame the view only when no
    narrower place would: a story in Aleppo that names Russia shows Syria, with Russia listed.
    Places outside the view or without coordinates are listed in ``outside``. Labels go to the
    most named places first and are skipped where they would overlap.
    """
    located = [p for p in places if p.get("lat") is not None and p.get("lon") is not None]
    if not located:
        return None
    narrow = [p for p in located if p["id"] not in broad]
    core = ([p for p in narrow if int(p.get("articles") or 0) >= CORE_ARTICLES]
            or [p for p in located if int(p.get("articles") or 0) >= CORE_ARTICLES] or narrow or located)
    lats = [max(-MAX_LAT, min(MAX_LAT, float(p["lat"]))) for p in core]
    lons = [float(p["lon"]) for p in core]
    lon0, lon1 = _padded(min(lons), max(lons), MIN_SPAN_LON, -180.0, 180.0)
    lat0, lat1 = _padded(min(lats), max(lats), MIN_SPAN_LAT, -MAX_LAT, MAX_LAT)
    k = max(0.3, math.cos(math.radians((lat0 + lat1) / 2)))
    width, height = (lon1 - lon0) * k, lat1 - lat0
    if width / height < ASPECT_MIN:
        extra = (height * ASPECT_MIN / k - (lon1 - lon0)) / 2
        lon0, lon1 = lon0 - extra, lon1 + extra
    elif width / height > ASPECT_MAX:
        extra = (width / ASPECT_MAX - height) / 2
        lat0, lat1 = lat0 - extra, lat1 + extra
    width, height = (lon1 - lon0) * k, lat1 - lat0
    size = max(width, height)
    label_size = size * LABEL_SHARE
    paths = []
    for country in world():
        b = country.bbox
        if b[2] < lon0 or b[0] > lon1 or b[3] < lat0 or b[1] > lat1:
            continue
        paths.append(" ".join("M" + "L".join(f"{lon * k:.2f},{-lat:.2f}" for lon, lat in r) + "Z"
                              for r in country.rings))
    visible = [p for p in located if lon0 <= float(p["lon"]) <= lon1 and lat0 <= float(p["lat"]) <= lat1]
    most = max(int(p.get("articles") or 1) for p in visible)
    markers, taken = [], []
    for p in sorted(visible, key=lambda p: (-int(p.get("articles") or 0), p["id"])):
        x, y = float(p["lon"]) * k, -float(p["lat"])
        r = size * MARKER_SHARE * (1 + 0.6 * math.sqrt(int(p.get("articles") or 1) / most))
        box = (x + r * 1.2, y - label_size * 0.7, x + r * 1.4 + len(p["name"]) * label_size * 0.6, y + label_size * 0.5)
        label = len(taken) < MAX_LABELS and not any(_overlap(box, other) for other in taken)
        if label:
            taken.append(box)
        markers.append(Marker(id=p["id"], name=p["name"], x=round(x, 3), y=round(y, 3), r=round(r, 3),
                              articles=int(p.get("articles") or 0), label=label))
    shown = {m.id for m in markers}
    return MapView(viewbox=f"{lon0 * k:.3f} {-lat1:.3f} {width:.3f} {height:.3f}", country_paths=paths,
                   markers=markers, label_size=round(label_size, 3), stroke=round(size * 0.0015, 4),
                   outside=[p["name"] for p in places if p["id"] not in shown])


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _padded(low: float, high: float, min_span: float, floor: float, ceiling: float) -> tuple[float, float]:
    span = max(high - low, 0.0)
    pad = max(span * MARGIN, (min_span - span) / 2)
    low, high = low - pad, high + pad
    if low < floor:
        low, high = floor, min(ceiling, high + floor - low)
    if high > ceiling:
        low, high = max(floor, low - (high - ceiling)), ceiling
    return low, high


# ---- timelines ---------------------------------------------------------------------------------
@dataclass
class TimelineItem:
    x: float
    x2: float  # == x for a point in time
    y: float
    label: str
    css: str
    href: str | None = None


@dataclass
class Timeline:
    height: float
    width: int
    rows: list[tuple[str, float, str]]  # (label, y, css class)
    items: list[TimelineItem]
    ticks: list[tuple[float, str]]
    axis_y: float
    left: float = TL_PAD_LEFT
    right: float = TL_WIDTH - TL_PAD_RIGHT


def _as_datetime(value: datetime | date | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00")) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)


def articles_timeline(groups: dict[str, list[dict]], css_of: dict[str, str]) -> Timeline | None:
    """One row per language, one dot per article at its publication time."""
    events = [(lang, _as_datetime(a["published_at"]), a) for lang, articles in groups.items() for a in articles]
    if not events:
        return None
    t0, t1 = _span([t for _, t, _ in events])
    rows, items = [], []
    for row, lang in enumerate(groups):
        y = TL_ROW * row + TL_ROW / 2
        rows.append((lang, y, css_of.get(lang, "c0")))
        for a in groups[lang]:
            x = _x(_as_datetime(a["published_at"]), t0, t1)
            items.append(TimelineItem(x, x, y, f"{a['published_at'][:16].replace('T', ' ')} {a['title']}",
                                      css_of.get(lang, "c0"), href=f"/articles/{a['id']}"))
    axis_y = TL_ROW * len(rows) + 4
    return Timeline(axis_y + TL_AXIS, TL_WIDTH, rows, items, _ticks(t0, t1), axis_y)


def dates_timeline(dates: list[dict]) -> Timeline | None:
    """Mentioned dates as points (days) or bars (months, years, ranges), stacked so they do not overlap."""
    if not dates:
        return None
    spans = []
    for d in dates:
        start = _as_datetime(d["start"])
        end = _as_datetime(d["end"]) + timedelta(days=1)  # an interval of days includes its last day
        spans.append((start, end, d))
    t0, t1 = _span([s for s, _, _ in spans] + [e for _, e, _ in spans])
    lanes: list[float] = []  # right edge (x) of the last item in each lane
    items = []
    for start, end, d in sorted(spans, key=lambda s: (s[0], s[1])):
        x, x2 = _x(start, t0, t1), _x(end, t0, t1)
        point = d["start"] == d["end"]
        if point:
            x2 = x
        lane = next((i for i, right in enumerate(lanes) if x > right + 6), None)
        if lane is None:
            if len(lanes) >= TL_MAX_LANES:
                lane = min(range(len(lanes)), key=lambda i: lanes[i])
            else:
                lanes.append(0.0)
                lane = len(lanes) - 1
        lanes[lane] = max(x2, x + 6)
        span = d["start"] if point else f"{d['start']} – {d['end']}"
        label = f"{span}: " + ", ".join(d.get("texts") or []) + f" ({d.get('mentions', 1)}×)"
        items.append(TimelineItem(x, x2, TL_ROW * lane + TL_ROW / 2, label, "date"))
    axis_y = TL_ROW * max(1, len(lanes)) + 4
    return Timeline(axis_y + TL_AXIS, TL_WIDTH, [], items, _ticks(t0, t1), axis_y)


def _span(times: list[datetime]) -> tuple[datetime, datetime]:
    t0, t1 = min(times), max(times)
    pad = max((t1 - t0) * 0.04, timedelta(hours=12))
    return t0 - pad, t1 + pad


def _x(t: datetime, t0: datetime, t1: datetime) -> float:
    share = (t - t0) / (t1 - t0)
    return round(TL_PAD_LEFT + share * (TL_WIDTH - TL_PAD_LEFT - TL_PAD_RIGHT), 2)


# (step, label format) from finest to coarsest; months and years step by calendar
_STEPS: list[tuple[str, int, str]] = [
    ("hour", 1, "%H:%M"), ("hour", 3, "%H:%M"), ("hour", 6, "%d %b %H:%M"), ("hour", 12, "%d %b %H:%M"),
    ("day", 1, "%d %b"), ("day", 2, "%d %b"), ("day", 7, "%d %b"), ("day", 14, "%d %b"),
    ("month", 1, "%b %Y"), ("month", 3, "%b %Y"), ("month", 6, "%b %Y"),
    ("year", 1, "%Y"), ("year", 2, "%Y"), ("year", 5, "%Y"), ("year", 10, "%Y"), ("year", 25, "%Y"),
    ("year", 50, "%Y"), ("year", 100, "%Y"),
]
MAX_TICKS = 7


def _ticks(t0: datetime, t1: datetime) -> list[tuple[float, str]]:
    """Calendar-aligned ticks: the finest step that gives at most MAX_TICKS of them."""
    for unit, n, fmt in _STEPS:
        ticks = list(_tick_times(t0, t1, unit, n))
        if len(ticks) <= MAX_TICKS:
            return [(_x(t, t0, t1), t.strftime(fmt)) for t in ticks]
    return []


def _tick_times(t0: datetime, t1: datetime, unit: str, n: int):
    if unit == "hour":
        t = t0.replace(minute=0, second=0, microsecond=0)
        t = t.replace(hour=t.hour - t.hour % n)
        step = timedelta(hours=n)
    elif unit == "day":
        t = t0.replace(hour=0, minute=0, second=0, microsecond=0)
        step = timedelta(days=n)
    else:
        months = n * (12 if unit == "year" else 1)
        index = t0.year * 12 + t0.month - 1
        index -= index % months
        count = 0
        while True:
            year, month = divmod(index, 12)
            if year > 9999:
                return
            t = datetime(year, month + 1, 1, tzinfo=timezone.utc)
            if t > t1:
                return
            if t >= t0:
                count += 1
                if count > MAX_TICKS:
                    yield t  # one too many: the caller moves to a coarser step
                    return
                yield t
            index += months
    count = 0
    while t <= t1:
        if t >= t0:
            count += 1
            yield t
            if count > MAX_TICKS:
                return
        t += step


__all__ = ["place_map", "articles_timeline", "dates_timeline", "world", "MapView", "Timeline"]
