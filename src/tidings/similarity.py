"""Pairwise article similarity: one score in [0, 1] with its parts.

Why a weighted mean of a few interpretable parts rather than one learned model: the parts are
what a reader can check ("same people, same places, same days, similar wording"), each is in
[0, 1], and the weights are few enough (see ``[similarity]`` in settings.toml, fitted on
SemEval-2022 Task 8 dev) to be trusted on other data.

* ``text``: cosine of the two *language-centred* embeddings when per-language centres are known
  (:class:`LanguageCentres`), else of the raw embeddings, mapped linearly from
  [low, high] to [0, 1]; pairs in two different languages get an offset added first.
  Why centre: every e5 vector of one language and one news period shares a large common part
  (unrelated news sits at cosine ~0.8, and translations ~0.05 lower than paraphrases).
  Subtracting the mean vector of the article's language over the corpus it comes from (a
  store's running means, or the evaluated texts) removes both, and lifts Pearson against the
  SemEval-2022 t8 ratings from 0.71 to 0.76 (docs/benchmarks.md, "Similarity score"). The
  centres are means of stored embeddings: no ratings are involved. Without centres (an empty
  store), the raw cosine with its own mapping is used, so a score is always available.
* ``entities`` / ``places``: set cosine (|A∩B| / sqrt(|A||B|)) of canonical entity ids; an
  id is the same in every language, so this part works across languages.
* ``time``: exp(-|Δt| / time_tau_hours) between publication times.

A part whose inputs are missing (an article without entities) takes no part in the mean rather
than counting as "no overlap": absence of extracted names is not evidence of a different story.
``SimilarityResult.components`` still reports it, as 0.0, and ``missing`` lists it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import typed_section
from .errors import ConfigError
from .models import StoryFeatures

if TYPE_CHECKING:
    from .cluster import StoryAssigner

__all__ = ["SimilaritySettings", "SimilarityResult", "LanguageCentres", "similarity", "set_cosine"]


@dataclass(frozen=True)
class SimilaritySettings:
    """Typed view of the ``[similarity]`` settings section (documented in settings.toml)."""

    text_low: float = 0.83
    text_high: float = 1.0
    cross_lingual_offset: float = 0.04
    text_weight: float = 1.0
    entity_weight: float = 0.0
    place_weight: float = 0.0
    time_weight: float = 0.0
    time_tau_hours: float = 72.0
    centre: bool = True
    centre_lang_prior: float = 20.0
    centre_min_articles: int = 200
    centred_low: float = 0.08
    centred_high: float = 1.0
    centred_cross_offset: float = 0.04

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> "SimilaritySettings":
        cfg = typed_section(cls, values)
        if cfg.text_high <= cfg.text_low:
            raise ConfigError("similarity.text_high must be greater than similarity.text_low",
                              source="settings")
        if cfg.centred_high <= cfg.centred_low:
            raise ConfigError("similarity.centred_high must be greater than similarity.centred_low",
                              source="settings")
        if cfg.centre_lang_prior < 0 or cfg.centre_min_articles < 1:
            raise ConfigError("similarity.centre_lang_prior must be >= 0 and centre_min_articles >= 1",
                              source="settings")
        return cfg


@dataclass
class SimilarityResult:
    """The combined score and its parts (all in [0, 1])."""

    score: float
    components: dict[str, float]
    missing: list[str] = field(default_factory=list)


class LanguageCentres:
    """Mean embedding per language, shrunk towards the all-language mean (the text part's centres).

    A language seen ``n`` times gets ``(sum + prior * global_mean) / (n + prior)``, so a language
    with few articles borrows the common "news" direction instead of a noisy mean of its own;
    an unseen language (or ``und``) gets the all-language mean.
    """

    def __init__(self, sums: Mapping[str, np.ndarray], counts: Mapping[str, float],
                 lang_prior: float = 20.0):
        self.lang_prior = float(lang_prior)
        self.counts = {k: float(v) for k, v in counts.items() if v > 0}
        self.sums = {k: np.asarray(sums[k], dtype=np.float64).reshape(-1) for k in self.counts}
        self.total = sum(self.counts.values())
        if self.total <= 0:
            raise ValueError("LanguageCentres needs at least one embedding")
        self.global_mean = sum(self.sums.values()) / self.total
        self._cache: dict[str, np.ndarray] = {}

    @classmethod
    def fit(cls, embeddings: Sequence[np.ndarray] | np.ndarray, langs: Sequence[str],
            lang_prior: float = 20.0) -> "LanguageCentres | None":
        """Centres of a set of embeddings with their languages; None for an empty set."""
        sums: dict[str, np.ndarray] = {}
        counts: dict[str, float] = {}
        for vec, lang in zip(embeddings, langs):
            v = np.asarray(vec, dtype=np.float64).reshape(-1)
            sums[lang] = sums[lang] + v if lang in sums else v.copy()
            counts[lang] = counts.get(lang, 0.0) + 1.0
        return cls(sums, counts, lang_prior) if counts else None

    @classmethod
    def from_assigner(cls, assigner: "StoryAssigner", lang_prior: float = 20.0) -> "LanguageCentres | None":
        """The running (forgetting) per-language sums the story assigner keeps; None when it has
        none (an empty store, or clustering without centring)."""
        sums, counts = assigner.language_sums()
        if not sums or not any(v > 0 for v in counts.values()):
            return None
        return cls(sums, counts, lang_prior)

    def centre(self, lang: str | None) -> np.ndarray:
        """The vector subtracted from an embedding of language ``lang``."""
        key = lang or "und"
        got = self._cache.get(key)
        if got is None:
            n = self.counts.get(key, 0.0)
            if n <= 0:
                got = self.global_mean
            else:
                got = (self.sums[key] + self.lang_prior * self.global_mean) / (n + self.lang_prior)
            self._cache[key] = got
        return got


def _cosine(a: np.ndarray, b: np.ndarray) -> float | None:
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / denom if denom > 1e-9 else None


def set_cosine(a: frozenset[str] | set[str], b: frozenset[str] | set[str]) -> float:
    """|A∩B| / sqrt(|A||B|): 1 for equal sets, 0 for disjoint or empty ones."""
    if not a or not b:
        return 0.0
    return len(a & b) / math.sqrt(len(a) * len(b))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def similarity(a: StoryFeatures, b: StoryFeatures,
               settings: Mapping[str, Any] | SimilaritySettings | None = None, *,
               centres: LanguageCentres | None = None) -> SimilarityResult:
    """How likely two articles report the same story, in [0, 1], with the evidence.

    ``centres``: per-language mean embeddings of the corpus the articles come from (see
    :class:`LanguageCentres`); without them, or when they average fewer than
    ``centre_min_articles`` articles, the raw-cosine mapping is used (the mean of a handful of
    articles is mostly those articles: two articles centred on their own mean point in opposite
    directions).
    """
    cfg = settings if isinstance(settings, SimilaritySettings) else SimilaritySettings.from_dict(settings)
    ea = np.asarray(a.embedding, dtype=np.float64).reshape(-1)
    eb = np.asarray(b.embedding, dtype=np.float64).reshape(-1)
    raw = _cosine(ea, eb)
    raw = 0.0 if raw is None else raw
    cross = bool(a.lang and b.lang and a.lang != b.lang and "und" not in (a.lang, b.lang))
    centred = None
    if centres is not None and cfg.centre and centres.total >= cfg.centre_min_articles:
        centred = _cosine(ea - centres.centre(a.lang), eb - centres.centre(b.lang))
    if centred is not None:
        low, high, value = cfg.centred_low, cfg.centred_high, centred + (cfg.centred_cross_offset if cross else 0.0)
    else:
        low, high, value = cfg.text_low, cfg.text_high, raw + (cfg.cross_lingual_offset if cross else 0.0)
    parts: dict[str, float] = {
        "text": min(1.0, max(0.0, (value - low) / (high - low))),
        "entities": set_cosine(a.entities, b.entities),
        "places": set_cosine(a.places, b.places),
        "time": 0.0,
    }
    missing: list[str] = []
    if not (a.entities and b.entities):
        missing.append("entities")
    if not (a.places and b.places):
        missing.append("places")
    if a.published_at is not None and b.published_at is not None:
        gap_h = abs((_utc(a.published_at) - _utc(b.published_at)).total_seconds()) / 3600.0
        parts["time"] = math.exp(-gap_h / cfg.time_tau_hours)
    else:
        missing.append("time")
    weights = {"text": cfg.text_weight, "entities": cfg.entity_weight, "places": cfg.place_weight,
               "time": cfg.time_weight}
    used = {k: w for k, w in weights.items() if w > 0 and k not in missing}
    total = sum(used.values())
    score = sum(w * parts[k] for k, w in used.items()) / total if total > 0 else parts["text"]
    parts["cosine"] = min(1.0, max(0.0, raw))   # raw, for display
    if centred is not None:
        parts["centred_cosine"] = min(1.0, max(0.0, centred))
    return SimilarityResult(score=min(1.0, max(0.0, score)), components=parts, missing=missing)
