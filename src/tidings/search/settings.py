"""Typed view of the ``[search]`` settings section (documented in settings.toml)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..config import typed_section
from ..errors import ConfigError
from .feedback import SCOPES

METHODS = ("words", "entities", "meaning")


@dataclass(frozen=True)
class SearchSettings:
    rrf_k: float = 10.0
    words_weight: float = 0.5
    entities_weight: float = 0.5
    meaning_weight: float = 2.0
    story_weight: float = 1.0
    story_hits: int = 3
    candidates: int = 100
    title_weight: float = 2.0
    max_term_share: float = 0.05
    words_max_postings: int = 10000
    entity_max_articles: int = 5000
    entity_max_mentions: int = 5000
    entity_max_ngram: int = 3
    centre: bool = True
    centre_min_articles: int = 200
    centre_lang_prior: float = 20.0
    centre_rebuild_growth: float = 2.0
    index_dtype: str = "f16"
    index_connectivity: int = 16
    index_expansion_add: int = 64
    index_expansion_search: int = 64
    meaning_min_raw: float = 0.80
    meaning_min_centred: float = 0.0
    meaning_max_chars: int = 2000
    meaning_exact_ratio: float = 900.0
    meaning_max_walk: int = 1000
    feedback_hits: int = 3
    feedback_scope: str = "store"
    time_scale_days: float = 2.0
    time_floor: float = 0.1

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> "SearchSettings":
        cfg = typed_section(cls, values)
        if cfg.rrf_k <= 0:
            raise ConfigError("search.rrf_k must be positive", source="settings")
        if cfg.index_dtype not in {"f32", "f16", "i8"}:
            raise ConfigError(f"search.index_dtype must be f32, f16 or i8, not {cfg.index_dtype!r}",
                              source="settings")
        if not 0 < cfg.max_term_share <= 1:
            raise ConfigError("search.max_term_share must be in (0, 1]", source="settings")
        if cfg.feedback_scope not in SCOPES:
            raise ConfigError(f"search.feedback_scope must be store or results, not {cfg.feedback_scope!r}",
                              source="settings")
        if cfg.feedback_hits < 0 or cfg.time_scale_days < 0 or cfg.time_floor < 0:
            raise ConfigError("search.feedback_hits, time_scale_days and time_floor must not be negative",
                              source="settings")
        return cfg

    def weight(self, method: str) -> float:
        return float(getattr(self, f"{method}_weight"))
