"""The JSON shapes of the REST API, as pydantic models: they make /openapi.json a real schema.

Responses are the plain dicts of :mod:`tidings.queries`, validated and serialised through these.
Request models forbid unknown fields, so a typo in a client is a 422, not a silent no-op.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator


def _utf8(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return value


Text = Annotated[str, AfterValidator(_utf8)]


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable error code (docs/errors.md, docs/api.md).", examples=["T200"])
    message: str = Field(description="What went wrong, for a person.")
    detail: dict[str, Any] = Field(default_factory=dict,
                                   description="Structured context: source, hint, errors, allowed, max_body_bytes.")


class ErrorResponse(BaseModel):
    error: ErrorDetail


class EntityRef(BaseModel):
    id: str = Field(examples=["geo:170063"])
    name: str
    label: str = Field(description="PER, ORG or LOC")
    articles: int = Field(description="Articles of the story that name it.")
    mentions: int
    geonames_id: int | None = None
    lat: float | None = None
    lon: float | None = None


class StoryEntity(EntityRef):
    forms: list[str] = Field(description="Every surface form seen, most frequent first (Alep, Alepa, Aleppo...).")


class StorySummary(BaseModel):
    id: str
    title: str = Field(description="Title of the story's most central article in the first reader language it has.")
    title_lang: str | None = Field(default=None, description="Language of the title (null: not yet known).")
    size: int = Field(description="Articles in the story (duplicates not counted).")
    first_seen: datetime | None
    last_seen: datetime | None
    langs: dict[str, int] = Field(description="Articles per language.")
    top_entities: list[EntityRef]
    heat: float | None = Field(None, description="With sort=heat: recent articles against the story's earlier "
                                                 "rate, weighted by languages and outlets (docs/heat.md).")


class StoryPage(BaseModel):
    stories: list[StorySummary]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page.")


class ArticleBrief(BaseModel):
    id: str
    title: str
    url: str | None
    outlet: str | None
    lang: str
    published_at: datetime
    source: str


class MentionedDate(BaseModel):
    start: date
    end: date
    granularity: str
    mentions: int
    texts: list[str] = Field(description="The expressions as written (\"22. rujna\", \"July 28\").")


class StoryQuote(BaseModel):
    text: str
    speaker: str | None
    speaker_entity_id: str | None
    article_id: str
    lang: str


class SummarySentence(BaseModel):
    text: str
    lang: str
    article_id: str
    title: str = Field(description="Title of the source article.")
    outlet: str | None
    url: str | None


class StoryDetail(BaseModel):
    id: str = Field(description="The story's current id.")
    requested_id: str = Field(description="The id asked for: an old id of a merged story resolves to its survivor.")
    aliases: list[str] = Field(description="Old ids merged into this story.")
    title: str = Field(description="Title of the story's most central article in the first reader language it has.")
    title_lang: str | None = Field(default=None, description="Language of the title.")
    summary: list[SummarySentence] = Field(
        default=[], description="Two or three sentences from the leads of its articles, across languages.")
    size: int
    first_seen: datetime | None
    last_seen: datetime | None
    langs: dict[str, int]
    articles: dict[str, list[ArticleBrief]] = Field(description="Articles grouped by language, oldest first.")
    entities: list[StoryEntity] = Field(description="People and organisations.")
    places: list[StoryEntity]
    dates: list[MentionedDate] = Field(description="Dates the articles mention, normalised.")
    quotes: list[StoryQuote]


class ArticleMention(BaseModel):
    entity_id: str
    label: str
    text: str
    start: int = Field(description="Offset of the mention in the text, or in the title if in_title.")
    end: int
    in_title: bool = Field(False, description="Found in the title, which is not part of the text (titles-only inputs).")
    name: str


class ArticleDate(BaseModel):
    text: str
    start_char: int
    end_char: int
    start: date
    end: date
    granularity: str


class ArticleQuote(BaseModel):
    text: str
    speaker: str | None
    speaker_entity_id: str | None


class RawInput(BaseModel):
    source: str
    content_type: str
    bytes: int
    text: str


class ArticleDetail(BaseModel):
    id: str
    source: str
    url: str | None
    outlet: str | None
    external_id: str | None
    title: str
    text: str = Field(description="Cleaned text.")
    lang: str
    lang_confidence: float
    published_at: datetime
    date_source: str | None = Field(
        None, description="Where published_at came from: metadata, feed, url, dateline, given (--default-date) "
                          "or ingest-time (nothing else known); null for articles stored before tidings recorded it.")
    ingested_at: datetime
    content_hash: str
    duplicate_of: str | None = Field(description="Id of the first copy when this is a duplicate.")
    story_id: str | None
    flags: list[str] = Field(default_factory=list, description=(
        "What was cut or repaired on the way in: text_cut, analysis_cut, title_cut, date_out_of_range, "
        "control_chars, invalid_utf8, id_reused (docs/reliability.md)."))
    summary_only: bool = Field(False, description="The text is the feed entry's summary: the page behind "
                                                  "the link could not be fetched (tidings watch).")
    mentions: list[ArticleMention]
    dates: list[ArticleDate]
    quotes: list[ArticleQuote]
    raw: RawInput | None = Field(None, description="The input as stored (only with ?raw=true).")


class EntityStory(BaseModel):
    id: str
    title: str
    size: int
    last_seen: datetime | None
    articles: int = Field(description="Articles of the story naming the entity.")


class EntityDay(BaseModel):
    day: date
    langs: dict[str, int] = Field(description="Articles naming the entity that day, by language.")


class RelatedEntity(BaseModel):
    entity_id: str
    name: str
    label: str
    articles: int = Field(description="Articles naming both.")


class EntityDetail(BaseModel):
    id: str
    label: str
    name: str
    geonames_id: int | None
    country: str | None
    lat: float | None
    lon: float | None
    variants: dict[str, list[str]] = Field(description="Names as written, by language, most frequent first.")
    stories: list[EntityStory]
    timeline: list[EntityDay] = Field(default=[], description="Articles naming it per day and language.")
    related: list[RelatedEntity] = Field(default=[], description="Entities most often named in the same articles.")


class EntitySummary(BaseModel):
    id: str
    name: str
    label: str
    mentions: int
    articles: int
    last_seen: datetime | None
    geonames_id: int | None
    forms: list[str] = Field(description="Surface forms as written, most frequent first.")
    exact: bool = Field(description="The query names this entity (not just a prefix of a form).")


class EntityList(BaseModel):
    entities: list[EntitySummary]


class SearchHit(BaseModel):
    id: str
    title: str
    lang: str
    published_at: datetime
    story_id: str | None
    url: str | None
    outlet: str | None = None
    snippet: str = Field(description="Matching passage: the query's words between [ and ], or for a hit found by an "
                               "entity where its text names it, else the start of the text.")
    score: float = Field(description="Fused score (reciprocal rank fusion): higher is better.")
    matched: dict[str, Any] = Field(
        description="Why it matched: `entities` (ids of the query's names it mentions), `words` (query words "
                    "matched in some form), `meaning` (cosine of the centred e5 vectors), `story` (in the story "
                    "of a better hit).",
        examples=[{"entities": ["geo:170063"], "words": ["alep"], "meaning": 0.41}])


class SearchStory(BaseModel):
    story_id: str | None
    hits: list[str] = Field(description="Ids of the hits in this story, best first.")


class QueryEntityRef(BaseModel):
    id: str
    name: str
    label: str
    form: str = Field(description="The query words that named it.")
    articles: int


class SearchResults(BaseModel):
    query: str
    results: list[SearchHit]
    stories: list[SearchStory] = Field(description="The hits grouped by story, in the order of their best hit.")
    entities: list[QueryEntityRef] = Field(description="The stored entities the query names.")


class SourceHealth(BaseModel):
    """A source followed by tidings watch, with its health."""

    id: int
    url: str
    kind: str = Field(description="feed, sitemap, page, folder, or auto until the first poll.")
    name: str | None
    lang: str | None
    tags: list[str]
    every: str = Field(description="Poll interval (15m, 1h...).")
    added_at: datetime
    paused: bool
    next_due: datetime
    last_fetch: datetime | None
    last_status: int | None = Field(description="HTTP status of the last poll (304: not modified).")
    last_error: str | None
    errors_in_row: int
    feed_url: str | None = Field(description="The feed or sitemap found behind a home page.")
    fetches: int
    not_modified: int = Field(description="Polls answered 304 Not Modified.")
    articles_24h: int = Field(description="Articles the source gave in the last 24 hours.")


class SourceList(BaseModel):
    sources: list[SourceHealth]


class StoredArticleRef(BaseModel):
    """An article already in the store."""

    model_config = ConfigDict(extra="forbid")
    id: Text = Field(min_length=1, max_length=200)


class TextArticleRef(BaseModel):
    """An article given as text (not stored)."""

    model_config = ConfigDict(extra="forbid")
    text: Text = Field(min_length=1, pattern=r"\w", description="Body text; must contain a word.")
    title: Text | None = None
    lang: Text | None = Field(None, max_length=20, description="Language hint (ISO 639-1).")
    published_at: datetime | None = None


class SimilarityRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    a: Union[StoredArticleRef, TextArticleRef]
    b: Union[StoredArticleRef, TextArticleRef]


class SimilaritySide(BaseModel):
    id: str
    title: str
    lang: str


class SimilarityResult(BaseModel):
    score: float = Field(description="0..1: how likely the two report the same story.")
    components: dict[str, float] = Field(description="text, entities, places, time...")
    a: SimilaritySide
    b: SimilaritySide


class ArticleIn(BaseModel):
    """One article to ingest; the same fields as a line of a .jsonl input."""

    model_config = ConfigDict(extra="forbid")
    title: Text | None = None
    text: Text | None = None
    url: Text | None = Field(None, max_length=2000, description="http(s) URL of the original.")
    source: Text | None = Field(None, max_length=200, description="Outlet name, e.g. 'Reuters'.")
    lang: Text | None = Field(None, max_length=20, description="Language hint; detected when absent.")
    published_at: datetime | None = Field(None, description="Default: now.")
    id: Text | None = Field(None, max_length=200, description="Your own id for it (stored as external_id).")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.lower().startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _has_words(self) -> "ArticleIn":
        if not (self.title or "").strip() and not (self.text or "").strip():
            raise ValueError("an article needs a title or a text")
        return self


class IngestDuplicate(BaseModel):
    id: str
    duplicate_of: str


class IngestResult(BaseModel):
    added: list[str] = Field(description="Ids of the new articles.")
    stories: dict[str, str] = Field(description="New article id -> story id.")
    duplicates: list[IngestDuplicate]
    already_stored: int = Field(description="Articles that were stored before (same input, same id).")
    stories_touched: list[str]


class PointGeometry(BaseModel):
    type: Literal["Point"]
    coordinates: list[float] = Field(min_length=2, max_length=2, description="[lon, lat]")


class PlaceProperties(BaseModel):
    story_id: str
    story_title: str
    place_id: str
    name: str
    geonames_id: int | None
    articles: int


class PlaceFeature(BaseModel):
    type: Literal["Feature"]
    geometry: PointGeometry
    properties: PlaceProperties


class PlaceCollection(BaseModel):
    type: Literal["FeatureCollection"]
    features: list[PlaceFeature]
