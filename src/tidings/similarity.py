"""Pairwise article similarity: one score in [0, 1] with its parts.

Why a weighted mean of a few interpretable parts rather than one learned model: the parts are
what a reader can check ("same people, same places, same days, similar wording"), each is in
[0, 1], and the weights are few enough (see ``[similarity]`` in settings.toml, fitted on
SemEval-2022 Task 8 dev) to be trusted on other data.

* ``text``: cosine of the two embeddings, mapped linearly from [text_low, text_high] to [0, 1]
  (e5 cosines of unrelated news already sit near 0.8, so the raw cosine wastes most of the range;
  everything below text_low is equally "unrelated"). Pairs in two different languages get
  ``cross_lingual_offset`` added first: e5 scores translations ~0.05 lower than paraphrases.
* ``entities`` / ``places``: set cosine (|A∩B| / sqrt(|A||B|)) of canonical entity ids; an
  id is the same in every language, so this part works across languages.
* ``time``: exp(-|Δt| / time_tau_hours) between publication times.

A part whose inputs are missing (an article without entities) takes no part in the mean rather
than counting as "no overlap": absence of extracted names is not evidence of a different story.
``SimilarityResult.components`` still reports it, as 0.0, and ``missing`` lists it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from .config import typed_section
from .errors import ConfigError
from .models import StoryFeatures

__all__ = ["SimilaritySettings", "SimilarityResult", "similarity", "set_cosine"]


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

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> "SimilaritySettings":
        cfg = typed_section(cls, values)
        if cfg.text_high <= cfg.text_low:
            raise ConfigError("similarity.text_high must be greater than similarity.text_low",
                              source="settings")
        return cfg


@dataclass
class SimilarityResult:
    """The combined score and its parts (all in [0, 1])."""

    score: float
    components: dict[str, float]
    missing: list[str] = field(default_factory=list)


def set_cosine(a: frozenset[str] | set[str], b: frozenset[str] | set[str]) -> float:
    """|A∩B| / sqrt(|A||B|): 1 for equal sets, 0 for disjoint or empty ones."""
    if not a or not b:
        return 0.0
    return len(a & b) / math.sqrt(len(a) * len(b))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def similarity(a: StoryFeatures, b: StoryFeatures,
               settings: Mapping[str, Any] | SimilaritySettings | None = None) -> SimilarityResult:
    """How likely two articles report the same story, in [0, 1], with the evidence."""
    cfg = settings if isinstance(settings, SimilaritySettings) else SimilaritySettings.from_dict(settings)
    ea = np.asarray(a.embedding, dtype=np.float32).reshape(-1)
    eb = np.asarray(b.embedding, dtype=np.float32).reshape(-1)
    denom = float(np.linalg.norm(ea) * np.linalg.norm(eb))
    cos = float(ea @ eb) / denom if denom > 0 else 0.0
    if a.lang and b.lang and a.lang != b.lang and "und" not in (a.lang, b.lang):
        cos += cfg.cross_lingual_offset
    parts: dict[str, float] = {
        "text": min(1.0, max(0.0, (cos - cfg.text_low) / (cfg.text_high - cfg.text_low))),
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
    parts["cosine"] = min(1.0, max(0.0, float(ea @ eb) / denom if denom > 0 else 0.0))   # raw, for display
    return SimilarityResult(score=min(1.0, max(0.0, score)), components=parts, missing=missing)
