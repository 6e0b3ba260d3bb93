"""Typed data objects that flow through the pipeline.

Source -> :class:`Document` (raw kept) -> cleaned text + language -> :class:`Analysis`
(mentions, entities, places, dates) -> embedding -> story assignment -> store.
Every stage takes what the previous one produced and returns its own result;
none of them touches the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

import numpy as np

EntityLabel = Literal["PER", "ORG", "LOC"]


@dataclass
class Document:
    """One article as read from a source, before any processing.

    ``raw`` is the exact bytes (or the JSON line) it came from; ``source`` names where
    (``path``, ``path:line`` for JSONL, or a URL) so that errors and provenance can point at it.
    """

    source: str
    raw: bytes
    content_type: str  # "text", "html", "jsonl", "feed"
    text: str
    title: str | None = None
    url: str | None = None
    outlet: str | None = None
    lang: str | None = None
    published_at: datetime | None = None
    external_id: str | None = None
    # silent repairs a reader made to this input ("invalid_utf8"...), counted in the ingest report
    fixes: list[str] = field(default_factory=list)
    # what a reader has to say about this input (bad bytes and where), reported by the ingest
    warnings: list[str] = field(default_factory=list)
    date_source: str | None = None  # where published_at came from: metadata, url, dateline, feed, given, ingest-time
    summary_only: bool = False  # the text is the feed's summary: the page behind the link could not be had
    # "text" / "html": read but not decoded yet (``text`` empty): an engine that decodes where it
    # analyses (Ray) calls tidings.ingest.decode_document there; the decoded document keeps the mark
    decode: str | None = None


@dataclass(frozen=True)
class Span:
    """A recognised name in a text: character offsets into the cleaned text."""

    start: int
    end: int
    label: EntityLabel
    text: str


@dataclass
class Entity:
    """A canonical entity, the same id in every language, script and inflection.

    Places carry a GeoNames id (``geonames_id``) and coordinates where known.
    """

    id: str
    label: EntityLabel
    name: str
    geonames_id: int | None = None
    country: str | None = None
    lat: float | None = None
    lon: float | None = None


@dataclass
class Mention:
    """One occurrence of an entity in an article's text.

    ``in_title`` mentions come from the title (offsets into the title), found when the title is
    not part of the text: title-only inputs (og2021) still get their entities.
    """

    entity_id: str
    label: EntityLabel
    text: str
    start: int
    end: int
    in_title: bool = False


@dataclass
class DateMention:
    """A date expression normalised against the publication date.

    ``start``/``end`` is the interval it denotes (equal for a single day).
    """

    text: str
    start_char: int
    end_char: int
    start: date
    end: date
    granularity: str = "day"  # "day", "month", "year", "range"


@dataclass
class Quote:
    """A quotation with its speaker (an entity id where the speaker was linked)."""

    text: str
    start_char: int
    end_char: int
    speaker_entity_id: str | None = None
    speaker: str | None = None


@dataclass
class Analysis:
    """What the analysis stage found in one article."""

    mentions: list[Mention] = field(default_factory=list)
    entities: dict[str, Entity] = field(default_factory=dict)
    dates: list[DateMention] = field(default_factory=list)
    quotes: list[Quote] = field(default_factory=list)

    def entity_ids(self, label: str | None = None) -> set[str]:
        return {m.entity_id for m in self.mentions if label is None or m.label == label}


@dataclass
class Article:
    """A processed article, ready to be clustered and stored."""

    id: str
    source: str
    title: str
    text: str
    lang: str
    lang_confidence: float
    published_at: datetime
    url: str | None = None
    outlet: str | None = None
    external_id: str | None = None
    date_source: str | None = None  # where published_at came from: metadata, url, dateline, feed, given, ingest-time
    content_hash: str = ""
    summary_only: bool = False  # the text is a feed summary, not the page behind the link
    analysis: Analysis = field(default_factory=Analysis)
    embedding: np.ndarray | None = None
    story_id: str | None = None
    duplicate_of: str | None = None
    # what was repaired or cut on the way in (docs/reliability.md): "text_cut", "analysis_cut",
    # "title_cut", "date_out_of_range", "control_chars", "invalid_utf8", "id_reused"
    flags: list[str] = field(default_factory=list)


@dataclass
class StoryFeatures:
    """What story assignment needs to know about one article (and nothing more)."""

    article_id: str
    lang: str
    published_at: datetime
    embedding: np.ndarray
    entities: frozenset[str] = frozenset()
    places: frozenset[str] = frozenset()
    title: str = ""


@dataclass
class Story:
    """A cluster of articles about one real-world event."""

    id: str
    title: str
    size: int
    first_seen: datetime
    last_seen: datetime
    langs: dict[str, int] = field(default_factory=dict)
    merged_into: str | None = None
