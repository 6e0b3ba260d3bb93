"""Streaming story assignment: one article at a time, in (roughly) publication order.

Why this design (measured on OG2021 dev, see docs/benchmarks.md):

* **Language-centred embeddings.** e5 puts every title of one language and one news topic in a
  narrow cone (same-story and different-story cosines overlap: 0.90 vs 0.84), and pairs across
  languages sit ~0.05 lower than pairs within one. Subtracting a running per-language mean
  vector (shrunk towards the running all-language mean, which is shrunk towards zero, so a
  cold start does no harm) removes both the "topic of the day" and the language offset and
  puts mono- and cross-lingual similarities on one scale.
* **Scores against active stories only**, vectorised over a slot matrix of story vector sums:
  a story is *active* while its last article is within ``window_hours`` of the stream clock;
  older stories are evicted (their ids still resolve).
* **Evidence beyond text**: IDF-weighted overlap of canonical entity ids (people and
  organisations) and of places, with document frequencies over a sliding time window, so
  names every article of the day carries ("Tokyo", "Olympics") count for nothing. (On OG2021
  titles it has not helped yet, so its shipped weight is 0; the term is there to be switched on.)
* **Time**: a story does not grow past ``max_span_hours`` without entity evidence, the score
  decays with the gap since the story's last article, and a story's centroid forgets old
  articles (``centroid_tau_hours``) so it follows a developing story instead of its first day.
* **Delayed merge**: every ``merge_interval_hours`` of stream time (and at :meth:`flush`) the
  stories changed since the last pass are compared with all active stories; pairs above the
  merge threshold (a separate one for stories of different main languages: the cross-lingual
  linking stage) are merged greedily, best first, the older id surviving. The look-ahead is
  therefore at most ``merge_interval_hours`` of stream time.

Story ids are ``"s" + sha1(first article id)[:12]``: stable across runs and processes.
"""

from __future__ import annotations

import hashlib
import heapq
import io
import json
import logging
import math
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from itertools import islice
from typing import Any

import numpy as np

from .config import typed_section
from .errors import ConfigError
from .models import StoryFeatures

log = logging.getLogger(__name__)

__all__ = ["Assignment", "ClusterSettings", "StoryAssigner", "story_id_for", "replay_clustering"]

_STATE_VERSION = 1        # dump_state: one self-contained blob
_TABLE_STATE_VERSION = 2  # state_changes: a core blob plus per-story, alias and IDF-window rows


@dataclass(frozen=True)
class ClusterSettings:
    """Typed view of the ``[cluster]`` settings section (documented in settings.toml).

    The defaults equal the shipped settings.toml (a test keeps them in step), so
    ``StoryAssigner()`` behaves like the CLI.
    """

    threshold: float = 0.30
    cross_lingual_offset: float = 0.0
    window_hours: float = 72.0
    max_span_hours: float = 60.0
    span_evidence: float = 2.0
    time_weight: float = 0.4
    time_tau_hours: float = 12.0
    time_ref: str = "last"
    link_power: float = 1.0
    entity_weight: float = 0.1
    place_weight: float = 0.0
    entity_saturation: float = 6.0
    entity_story_power: float = 0.5
    idf_window_hours: float = 72.0
    idf_min_docs: int = 50
    center: bool = True
    center_lang_prior: float = 200.0
    center_global_prior: float = 1.0
    center_horizon: float = 3000.0
    merge_interval_hours: float = 6.0
    merge_threshold: float = 0.5
    merge_cross_threshold: float = 0.5
    merge_max_gap_hours: float = 48.0
    merge_time_weight: float = 0.0
    merge_entity_weight: float = 0.0
    centroid_tau_hours: float = 24.0

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> "ClusterSettings":
        """Build from a settings section; unknown keys are ignored so old state files still load."""
        cfg = typed_section(cls, values)
        if cfg.time_ref not in {"last", "mean"}:
            raise ConfigError(f"cluster.time_ref must be 'last' or 'mean', not {cfg.time_ref!r}",
                              source="settings")
        if cfg.window_hours <= 0 or cfg.time_tau_hours <= 0 or cfg.merge_interval_hours <= 0:
            raise ConfigError("cluster.window_hours, time_tau_hours and merge_interval_hours must be positive",
                              source="settings")
        return cfg

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Assignment:
    """Result of assigning one article: its (surviving) story id and merges done at this step."""

    story_id: str
    is_new: bool
    score: float
    merged: list[tuple[str, str]] = field(default_factory=list)


def story_id_for(article_id: str) -> str:
    """Deterministic story id derived from the first article's id."""
    return "s" + hashlib.sha1(article_id.encode("utf-8")).hexdigest()[:12]


def _ts(value: datetime | float | int) -> float:
    """Seconds since the epoch; naive datetimes are taken as UTC."""
    if isinstance(value, (int, float)):
        return float(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


_HOUR = 3600.0


def _as_datetime(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))


class _Centerer:
    """Running mean vectors per language with shrinkage (see module docstring)."""

    def __init__(self, dim: int, cfg: ClusterSettings):
        self.cfg = cfg
        self.dim = dim
        self.g_sum = np.zeros(dim, np.float64)
        self.g_n = 0.0
        self.l_sum: dict[str, np.ndarray] = {}
        self.l_n: dict[str, float] = {}

    def centre(self, x: np.ndarray, lang: str) -> np.ndarray:
        """``x`` centred with the current means (which do not change)."""
        cfg = self.cfg
        g_mean = self.g_sum / (self.g_n + cfg.center_global_prior)
        l_sum = self.l_sum.get(lang)
        if l_sum is None:
            mean = g_mean
        else:
            mean = (l_sum + cfg.center_lang_prior * g_mean) / (self.l_n.get(lang, 0.0) + cfg.center_lang_prior)
        y = x - mean
        norm = float(np.linalg.norm(y))
        return (y / norm if norm > 0 else x).astype(np.float32)

    def transform(self, x: np.ndarray, lang: str) -> np.ndarray:
        """Centre ``x`` with the current means, then add it to them."""
        cfg = self.cfg
        g_mean = self.g_sum / (self.g_n + cfg.center_global_prior)
        l_sum = self.l_sum.get(lang)
        l_n = self.l_n.get(lang, 0.0)
        if l_sum is None:
            mean = g_mean
        else:
            mean = (l_sum + cfg.center_lang_prior * g_mean) / (l_n + cfg.center_lang_prior)
        y = x - mean
        norm = float(np.linalg.norm(y))
        y = (y / norm if norm > 0 else x).astype(np.float32)
        keep = 1.0 - 1.0 / cfg.center_horizon
        self.g_sum = self.g_sum * keep + x
        self.g_n = self.g_n * keep + 1.0
        if l_sum is None:
            l_sum = np.zeros(self.dim, np.float64)
        self.l_sum[lang] = l_sum * keep + x
        self.l_n[lang] = l_n * keep + 1.0
        return y


@dataclass
class _Held:
    """An article of unknown time waiting for :meth:`StoryAssigner.release`, with its best story so far."""

    f: StoryFeatures
    x: np.ndarray                    # the embedding; centred with the means of the moment it is scored
    y: np.ndarray | None = None      # centred as it joins (release)
    best: str | None = None
    score: float = 0.0


class _DocFreq:
    """Document frequencies of ids over a sliding time window, for IDF weights."""

    def __init__(self, window_s: float, min_docs: int):
        self.window_s = window_s
        self.min_docs = min_docs
        self.items: deque[tuple[float, tuple[str, ...]]] = deque()
        self.df: Counter[str] = Counter()

    def expire(self, now: float) -> None:
        while self.items and self.items[0][0] < now - self.window_s:
            _, ids = self.items.popleft()
            for e in ids:
                self.df[e] -= 1
                if self.df[e] <= 0:
                    del self.df[e]

    def add(self, t: float, ids: frozenset[str]) -> None:
        self.items.append((t, tuple(sorted(ids))))
        self.df.update(ids)

    def idf(self, e: str) -> float:
        """log((N+1)/(df+1)), with N at least ``min_docs`` so a cold start is not over-confident."""
        n = max(len(self.items), self.min_docs)
        return max(0.0, math.log((n + 1) / (self.df.get(e, 0) + 1)))


@dataclass
class _Story:
    id: str
    slot: int
    n: int
    first: float
    last: float
    langs: Counter = field(default_factory=Counter)
    entities: Counter = field(default_factory=Counter)
    places: Counter = field(default_factory=Counter)
    title: str = ""


class StoryAssigner:
    """Assign articles to stories as a stream; see the module docstring for the method."""

    def __init__(self, settings: Mapping[str, Any] | ClusterSettings | None = None):
        self.cfg = settings if isinstance(settings, ClusterSettings) else ClusterSettings.from_dict(settings)
        self._dim: int | None = None
        self._cap = 0
        self._sums = np.zeros((0, 0), np.float32)
        self._norms = np.zeros(0, np.float32)
        self._counts = np.zeros(0, np.float32)
        self._last = np.zeros(0, np.float64)
        self._first = np.zeros(0, np.float64)
        self._tsum = np.zeros(0, np.float64)
        self._alive = np.zeros(0, bool)
        self._slot_ids: list[str | None] = []
        self._free: list[int] = []          # min-heap of unused slots: reuse is order-independent
        self._dirty: set[str] = set()       # stories changed since the last merge pass
        self._stories: dict[str, _Story] = {}
        self._alias: dict[str, str] = {}
        self._ent_index: dict[str, set[str]] = {}
        self._place_index: dict[str, set[str]] = {}
        self._centerer: _Centerer | None = None
        self._df_ent = _DocFreq(self.cfg.idf_window_hours * _HOUR, self.cfg.idf_min_docs)
        self._df_place = _DocFreq(self.cfg.idf_window_hours * _HOUR, self.cfg.idf_min_docs)
        self._now = -math.inf
        self._last_merge = -math.inf
        self._held: list[_Held] = []

    # ----------------------------------------------------------------- public API
    def assign(self, f: StoryFeatures) -> Assignment:
        """Put one article into an active story (or a new one); may trigger a delayed merge."""
        cfg = self.cfg
        t = _ts(f.published_at)
        x = np.asarray(f.embedding, dtype=np.float32).reshape(-1)
        self._ensure_dim(x.shape[0])
        assert self._centerer is not None
        merged: list[tuple[str, str]] = []
        if t > self._now:
            self._now = t
            if self._last_merge == -math.inf:
                self._last_merge = t
            elif t - self._last_merge >= cfg.merge_interval_hours * _HOUR:
                merged = self._merge_pass()
                self._last_merge = t
            self._evict()
        self._df_ent.expire(self._now)
        self._df_place.expire(self._now)
        y = self._centerer.transform(x, f.lang) if cfg.center else x / max(float(np.linalg.norm(x)), 1e-12)

        best, best_score = self._best_story(y, t, f)
        if best is None:
            sid = story_id_for(f.article_id)
            if sid in self._stories or sid in self._alias:   # same article id seen twice
                sid = self.resolve(sid)
            if sid not in self._stories:
                self._new_story(sid, y, t, f)
                result = Assignment(sid, True, float(best_score), merged)
            else:
                self._add_to(self._stories[sid], y, t, f)
                result = Assignment(sid, False, float(best_score), merged)
        else:
            self._add_to(self._stories[best], y, t, f)
            result = Assignment(best, False, float(best_score), merged)
        self._df_ent.add(t, f.entities)
        self._df_place.add(t, f.places)
        return result

    # ----------------------------------------------------------------- articles of unknown time
    def hold(self, f: StoryFeatures) -> None:
        """Keep aside an article whose publication time is unknown (dated only by its ingest time).

        It does not move the stream clock. Until :meth:`release` it is scored against every active
        story by text and names alone (no time term, no span limit), each story at its last state
        before it is evicted, so that it can join the story it belongs to whenever in the batch's
        stream that story was active. Call :meth:`release` at the end of the batch."""
        x = np.asarray(f.embedding, dtype=np.float32).reshape(-1)
        self._ensure_dim(x.shape[0])
        held = _Held(f, x)
        self._held.append(held)
        self._score_held(None, [held])

    def release(self) -> list[tuple[str, Assignment]]:
        """Place the held articles: each joins the story it scored best with (above the threshold),
        or starts a story of its own at the stream's current time. Returns ``(article_id,
        Assignment)``; the story may no longer be active (then only the store records the join)."""
        if not self._held:
            return []
        self._score_held(None)
        out: list[tuple[str, Assignment]] = []
        held, self._held = self._held, []
        assert self._centerer is not None
        for h in held:
            # only now does it join the running language means, as a dated article does when assigned
            h.y = self._centerer.transform(h.x, h.f.lang) if self.cfg.center else self._unit(h.x)
            sid = self.resolve(h.best) if h.best is not None else None
            if sid is not None and sid in self._stories:
                st = self._stories[sid]
                self._add_to(st, h.y, st.last, h.f)   # joins without moving the story in time
                out.append((h.f.article_id, Assignment(sid, False, h.score, [])))
            elif sid is not None:
                out.append((h.f.article_id, Assignment(sid, False, h.score, [])))
            else:
                new = story_id_for(h.f.article_id)
                t = self._now if math.isfinite(self._now) else _ts(h.f.published_at)
                if new in self._stories or new in self._alias:
                    self._add_to(self._stories[self.resolve(new)], h.y, t, h.f)
                    new = self.resolve(new)
                else:
                    self._new_story(new, h.y, t, h.f)
                out.append((h.f.article_id, Assignment(new, True, h.score, [])))
            self._df_ent.add(self._now if math.isfinite(self._now) else _ts(h.f.published_at), h.f.entities)
            self._df_place.add(self._now if math.isfinite(self._now) else _ts(h.f.published_at), h.f.places)
        return out

    @staticmethod
    def _unit(x: np.ndarray) -> np.ndarray:
        return x / max(float(np.linalg.norm(x)), 1e-12)

    def _score_held(self, slots: np.ndarray | None, held: "list[_Held] | None" = None) -> None:
        assert self._centerer is not None
        for h in held if held is not None else self._held:
            y = self._centerer.centre(h.x, h.f.lang) if self.cfg.center else self._unit(h.x)
            sid, score = self._best_story(y, 0.0, h.f, timeless=True, among=slots)
            if sid is not None and (h.best is None or score > h.score):
                h.best, h.score = sid, score

    def flush(self) -> list[tuple[str, str]]:
        """Run the delayed merge now (end of a batch); returns the merges done."""
        if self._dim is None:
            return []
        merged = self._merge_pass()
        self._last_merge = self._now
        return merged

    def resolve(self, story_id: str) -> str:
        """Follow merges to the surviving story id (unknown ids resolve to themselves)."""
        seen = []
        sid = story_id
        while sid in self._alias:
            seen.append(sid)
            sid = self._alias[sid]
        for s in seen[:-1]:
            self._alias[s] = sid
        return sid

    @property
    def active_count(self) -> int:
        return len(self._stories)

    def language_sums(self) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """The running (forgetting) per-language embedding sums and counts used for centring
        (copies; empty before the first article or when centring is off). The similarity score
        centres with them, so both see the same per-language means."""
        c = self._centerer
        if c is None or not self.cfg.center:
            return {}, {}
        return {k: v.copy() for k, v in c.l_sum.items()}, dict(c.l_n)

    # ----------------------------------------------------------------- scoring
    def _entity_scores(self, ids: frozenset[str], index: dict[str, set[str]], df: _DocFreq,
                       attr: str) -> dict[str, float]:
        """IDF mass of the article's ids found in each story (weighted by how many of its
        articles carry the id), divided by the saturation constant and capped at 1."""
        cfg = self.cfg
        acc: dict[str, float] = {}
        for e in ids:
            holders = index.get(e)
            if not holders:
                continue
            w = df.idf(e)
            if w <= 0:
                continue
            for sid in holders:
                st = self._stories[sid]
                frac = getattr(st, attr)[e] / st.n
                acc[sid] = acc.get(sid, 0.0) + w * frac ** cfg.entity_story_power
        return {sid: min(1.0, v / cfg.entity_saturation) for sid, v in acc.items()}

    def _best_story(self, y: np.ndarray, t: float, f: StoryFeatures, *, timeless: bool = False,
                    among: np.ndarray | None = None) -> tuple[str | None, float]:
        """The best active story for an article, or None under the threshold. ``timeless``: the
        article's time is unknown, so no time term and no span limit; ``among``: only these slots."""
        cfg = self.cfg
        if not self._stories:
            return None, 0.0
        alive = self._alive
        if among is not None:
            alive = np.zeros_like(alive)
            alive[among] = self._alive[among]
        # einsum, not ``@``: for one vector against a few thousand centroids, a multi-threaded
        # BLAS spends more time waking its threads than computing (p95 27.9 ms vs 8.5 ms per
        # assign with 1,000,000 articles stored on a busy 2-core machine; bench/scale.py), and
        # einsum's loop never threads, so the result does not depend on the BLAS thread count.
        dots = np.einsum("ij,j->i", self._sums, y)
        denom = np.power(np.maximum(self._counts, 1.0), 1.0 - cfg.link_power) * \
            np.power(np.maximum(self._norms, 1e-12), cfg.link_power)
        score = np.where(alive, dots / denom, -np.inf)
        ref = self._last if cfg.time_ref == "last" else self._tsum / np.maximum(self._counts, 1.0)
        gap_h = np.abs(t - ref) / _HOUR
        if cfg.time_weight and not timeless:
            score = score + cfg.time_weight * (np.exp(-gap_h / cfg.time_tau_hours) - 1.0)
        span_h = (np.maximum(t, self._last) - np.minimum(t, self._first)) / _HOUR
        ent = np.zeros_like(score)
        if f.entities and (cfg.entity_weight or cfg.span_evidence < 1):
            for sid, v in self._entity_scores(f.entities, self._ent_index, self._df_ent, "entities").items():
                ent[self._stories[sid].slot] = v
        if f.places and cfg.place_weight:
            for sid, v in self._entity_scores(f.places, self._place_index, self._df_place, "places").items():
                score[self._stories[sid].slot] += cfg.place_weight * v
        score = score + cfg.entity_weight * ent
        # A story may not outgrow the time window without entity evidence.
        if not timeless:
            score = np.where((span_h > cfg.max_span_hours) & (ent < cfg.span_evidence), -np.inf, score)
        need = np.full(score.shape, cfg.threshold, np.float64)
        if cfg.cross_lingual_offset:
            for st in self._stories.values():
                if f.lang not in st.langs:
                    need[st.slot] += cfg.cross_lingual_offset
        margin = score - need
        i = int(np.argmax(margin))
        if not np.isfinite(margin[i]) or margin[i] < 0:
            top = float(score[i]) if np.isfinite(score[i]) else 0.0
            return None, top
        sid = self._slot_ids[i]
        assert sid is not None
        return sid, float(score[i])

    # ----------------------------------------------------------------- bookkeeping
    def _ensure_dim(self, dim: int) -> None:
        if self._dim is None:
            self._dim = dim
            self._centerer = _Centerer(dim, self.cfg)
            self._grow(64)
        elif dim != self._dim:
            raise ValueError(f"embedding has {dim} dimensions, the assigner holds {self._dim}")

    def _grow(self, cap: int) -> None:
        assert self._dim is not None
        old = self._cap
        sums = np.zeros((cap, self._dim), np.float32)
        sums[:old] = self._sums[:old] if old else 0
        self._sums = sums
        for name, dtype in (("_norms", np.float32), ("_counts", np.float32), ("_last", np.float64),
                            ("_first", np.float64), ("_tsum", np.float64), ("_alive", bool)):
            arr = np.zeros(cap, dtype)
            arr[:old] = getattr(self, name)[:old]
            setattr(self, name, arr)
        self._slot_ids.extend([None] * (cap - old))
        for slot in range(old, cap):
            heapq.heappush(self._free, slot)
        self._cap = cap

    def _new_story(self, sid: str, y: np.ndarray, t: float, f: StoryFeatures) -> None:
        if not self._free:
            self._grow(self._cap * 2)
        slot = heapq.heappop(self._free)
        st = _Story(id=sid, slot=slot, n=0, first=t, last=t, title=f.title)
        self._stories[sid] = st
        self._slot_ids[slot] = sid
        self._sums[slot] = 0
        self._alive[slot] = True
        self._first[slot] = t
        self._last[slot] = t
        self._add_to(st, y, t, f)

    def _add_to(self, st: _Story, y: np.ndarray, t: float, f: StoryFeatures) -> None:
        s = st.slot
        self._dirty.add(st.id)
        st.n += 1
        st.first = min(st.first, t)
        st.last = max(st.last, t)
        st.langs[f.lang] += 1
        for e in f.entities:
            st.entities[e] += 1
            self._ent_index.setdefault(e, set()).add(st.id)
        for e in f.places:
            st.places[e] += 1
            self._place_index.setdefault(e, set()).add(st.id)
        if self.cfg.centroid_tau_hours > 0 and st.n > 1:
            self._sums[s] *= np.float32(math.exp(-max(0.0, t - self._last[s]) / _HOUR / self.cfg.centroid_tau_hours))
        self._sums[s] += y
        self._tsum[s] += t
        self._norms[s] = np.linalg.norm(self._sums[s])
        self._counts[s] = st.n
        self._first[s] = st.first
        self._last[s] = st.last

    def _drop(self, st: _Story) -> None:
        s = st.slot
        for e in st.entities:
            holders = self._ent_index.get(e)
            if holders is not None:
                holders.discard(st.id)
                if not holders:
                    del self._ent_index[e]
        for e in st.places:
            holders = self._place_index.get(e)
            if holders is not None:
                holders.discard(st.id)
                if not holders:
                    del self._place_index[e]
        self._alive[s] = False
        self._sums[s] = 0
        self._norms[s] = 0
        self._counts[s] = 0
        self._tsum[s] = 0
        self._slot_ids[s] = None
        heapq.heappush(self._free, s)
        self._dirty.discard(st.id)
        del self._stories[st.id]

    def _evict(self) -> None:
        horizon = self._now - self.cfg.window_hours * _HOUR
        old = np.nonzero(self._alive & (self._last < horizon))[0]
        if len(old) and self._held:
            self._score_held(old)   # the last look the held articles get at these stories
        for s in old:
            sid = self._slot_ids[int(s)]
            if sid is not None:
                self._drop(self._stories[sid])

    def _merge(self, keep: _Story, gone: _Story) -> None:
        k, g = keep.slot, gone.slot
        self._sums[k] += self._sums[g]
        self._tsum[k] += self._tsum[g]
        self._norms[k] = np.linalg.norm(self._sums[k])
        keep.n += gone.n
        keep.first = min(keep.first, gone.first)
        keep.last = max(keep.last, gone.last)
        keep.langs.update(gone.langs)
        keep.entities.update(gone.entities)
        keep.places.update(gone.places)
        for e in gone.entities:
            self._ent_index.setdefault(e, set()).add(keep.id)
        for e in gone.places:
            self._place_index.setdefault(e, set()).add(keep.id)
        self._counts[k] = keep.n
        self._first[k] = keep.first
        self._last[k] = keep.last
        self._alias[gone.id] = keep.id
        self._drop(gone)

    def _merge_candidates(self, rows: np.ndarray, unit: np.ndarray, mean_t: np.ndarray,
                          main: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pairs (row index, slot, margin >= 0) that may merge: similarity minus the applicable
        threshold, where both are alive, distinct, close enough in time, and the merged story
        would not span more than ``max_span_hours``. The cosine is checked first (cheap, and it
        rules out nearly every pair), the rest only for the survivors."""
        cfg = self.cfg
        sim = unit[rows] @ unit.T
        floor = min(cfg.merge_threshold, cfg.merge_cross_threshold) - max(0.0, cfg.merge_entity_weight)
        r, c = np.nonzero(sim >= floor)
        keep = self._alive[c] & (rows[r] != c)
        r, c = r[keep], c[keep]
        a = rows[r]
        score = sim[r, c].astype(np.float64)
        if cfg.merge_entity_weight and len(a):
            score += cfg.merge_entity_weight * np.array(
                [self._story_entity_overlap(int(i), int(j)) for i, j in zip(a, c)], np.float64)
        if cfg.merge_time_weight:
            dmean = np.abs(mean_t[a] - mean_t[c]) / _HOUR
            score += cfg.merge_time_weight * (np.exp(-dmean / cfg.time_tau_hours) - 1.0)
        need = np.where(main[a] != main[c], cfg.merge_cross_threshold, cfg.merge_threshold)
        gap = (np.maximum(self._first[a], self._first[c]) - np.minimum(self._last[a], self._last[c])) / _HOUR
        span = (np.maximum(self._last[a], self._last[c]) - np.minimum(self._first[a], self._first[c])) / _HOUR
        margin = score - need
        ok = (margin >= 0) & (gap <= cfg.merge_max_gap_hours) & (span <= cfg.max_span_hours)
        return r[ok], c[ok], margin[ok]

    def _story_entity_overlap(self, slot_a: int, slot_b: int) -> float:
        """Entity evidence that two stories report one event: the IDF mass of the people,
        organisations and places both carry, each weighted by the geometric mean of the shares
        of the two stories' articles that name it, over the saturation constant, capped at 1.
        Story-level counts are steadier than one title's names (a name one article gets wrong
        weighs little against the names most of its story agrees on)."""
        a, b = self._slot_ids[slot_a], self._slot_ids[slot_b]
        if a is None or b is None:
            return 0.0
        sa, sb = self._stories[a], self._stories[b]
        total = 0.0
        for counts_a, counts_b, df in ((sa.entities, sb.entities, self._df_ent),
                                       (sa.places, sb.places, self._df_place)):
            small, large = (counts_a, counts_b) if len(counts_a) <= len(counts_b) else (counts_b, counts_a)
            for e in sorted(small):
                if e in large:
                    total += df.idf(e) * math.sqrt(counts_a[e] / sa.n * counts_b[e] / sb.n)
        return min(1.0, total / self.cfg.entity_saturation)

    def _merge_pass(self) -> list[tuple[str, str]]:
        """Greedy agglomeration of active stories above the merge thresholds, best pair first.

        Only stories changed since the last pass are compared (against every active story), so
        the cost is (changed stories x active stories), not quadratic in the active set. A lazy
        max-heap of candidate pairs is re-checked when either side changed by an earlier merge.
        """
        cfg = self.cfg
        dirty = sorted(self._dirty)
        self._dirty.clear()
        if min(cfg.merge_threshold, cfg.merge_cross_threshold) >= 1.0 or len(self._stories) < 2 or not dirty:
            return []
        unit = (self._sums / np.maximum(self._norms, 1e-12)[:, None]).astype(np.float32)
        mean_t = self._tsum / np.maximum(self._counts, 1.0)
        codes: dict[str, int] = {}
        main = np.full(self._cap, -1, np.int64)
        for st in self._stories.values():
            main[st.slot] = codes.setdefault(st.langs.most_common(1)[0][0], len(codes))
        version = dict.fromkeys(self._stories, 0)
        heap: list[tuple[float, str, str, int, int]] = []

        def push_row(rows: np.ndarray) -> None:
            for r, c, m in zip(*self._merge_candidates(rows, unit, mean_t, main)):
                a, b = self._slot_ids[int(rows[r])], self._slot_ids[int(c)]
                assert a is not None and b is not None
                a, b = min(a, b), max(a, b)
                heapq.heappush(heap, (-float(m), a, b, version[a], version[b]))

        slots = np.array([self._stories[sid].slot for sid in dirty], np.int64)
        for start in range(0, len(slots), 256):
            push_row(slots[start:start + 256])
        merged: list[tuple[str, str]] = []
        while heap:
            _, a, b, va, vb = heapq.heappop(heap)
            if a not in self._stories or b not in self._stories or version[a] != va or version[b] != vb:
                continue   # stale: a side was merged away or changed; its fresh pairs were pushed
            sa, sb = self._stories[a], self._stories[b]
            keep, gone = (sa, sb) if (sa.first, sa.id) <= (sb.first, sb.id) else (sb, sa)
            self._merge(keep, gone)
            merged.append((gone.id, keep.id))
            k = keep.slot
            version[keep.id] += 1
            unit[k] = self._sums[k] / max(float(self._norms[k]), 1e-12)
            mean_t[k] = self._tsum[k] / keep.n
            main[k] = codes.setdefault(keep.langs.most_common(1)[0][0], len(codes))
            push_row(np.array([k], np.int64))
        self._dirty.clear()   # merges marked survivors dirty; they were just compared
        if merged:
            log.debug("delayed merge: %d merges", len(merged))
        return merged

    # ----------------------------------------------------------------- persistence
    # What the store holds after the last :meth:`state_changes` (or :meth:`load_state` from
    # tables): lets the next call return only what changed. None: the store holds nothing
    # usable yet, so the next call returns everything. A class attribute so that the assigner's
    # constructor need not know about persistence.
    _saved: _SavedMark | None = None

    def _core_meta(self, version: int) -> dict[str, Any]:
        """The scalar part of the state, shared by the blob and the table formats."""
        return {"version": version, "dim": self._dim,
                "now": self._now if math.isfinite(self._now) else None,
                "last_merge": self._last_merge if math.isfinite(self._last_merge) else None,
                "cap": self._cap, "dirty": sorted(self._dirty)}

    def dump_state(self) -> bytes:
        """Serialise the active set, the running means, IDF window and merge aliases (npz, no pickle).

        One self-contained blob (state version 1): fine for tests and small stores, but it grows
        with the active set. A store saves :meth:`state_changes` after each batch instead."""
        order = sorted(self._stories.values(), key=lambda s: s.slot)
        meta: dict[str, Any] = {
            **self._core_meta(_STATE_VERSION),
            "alias": self._alias,
            "stories": [{"id": s.id, "slot": s.slot, **self._story_record(s)} for s in order],
            "df_ent": [[t, list(ids)] for t, ids in self._df_ent.items],
            "df_place": [[t, list(ids)] for t, ids in self._df_place.items],
        }
        arrays: dict[str, np.ndarray] = {}
        if self._dim is not None:
            arrays["sums"] = self._sums[[s.slot for s in order]] if order else np.zeros((0, self._dim), np.float32)
            meta["center"] = self._center_arrays(arrays)
        buf = io.BytesIO()
        np.savez_compressed(buf, meta=np.frombuffer(json.dumps(meta).encode("utf-8"), np.uint8), **arrays)
        return buf.getvalue()

    def _story_record(self, s: _Story) -> dict[str, Any]:
        return {"n": s.n, "tsum": float(self._tsum[s.slot]), "first": s.first, "last": s.last, "title": s.title,
                "langs": dict(s.langs), "entities": dict(s.entities), "places": dict(s.places)}

    def _center_arrays(self, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
        """Put the running means into ``arrays``; return their JSON part."""
        c = self._centerer
        assert c is not None and self._dim is not None
        langs = sorted(c.l_sum)
        arrays["g_sum"] = c.g_sum
        arrays["l_sum"] = np.stack([c.l_sum[k] for k in langs]) if langs else np.zeros((0, self._dim))
        return {"g_n": c.g_n, "langs": langs, "l_n": [c.l_n[k] for k in langs]}

    def state_changes(self) -> StateChanges:
        """What to write so that the store's state tables equal this assigner (state version 2).

        Only what changed since the previous call (or since :meth:`load_state` from tables) is
        returned: the stories added to, created or merged into, the ids that left the active
        set, new merge aliases and the IDF-window entries added and expired, plus a small core
        blob (clock, running means). Saving after every batch thus costs about the batch, not
        the active set (which at 2,700 articles a day holds thousands of stories of ~1.5 kB).
        The first call, when the store holds no tables yet, returns everything with ``full``.
        Writing the result is the caller's job, in the same transaction as the batch; if that
        transaction fails, the caller must reload the assigner from the store.
        """
        saved = self._saved
        key = self._change_key()
        alive = [int(s) for s in np.nonzero(self._alive)[0]]
        if saved is None:
            slots = alive
            dropped: list[str] = []
            aliases = list(self._alias.items())
        else:
            old = saved.key
            if old.shape[1] < key.shape[1]:
                old = np.concatenate([old, np.full((old.shape[0], key.shape[1] - old.shape[1]), np.nan)], axis=1)
            moved = np.any(key != old[:, :key.shape[1]], axis=0)
            n_old = len(saved.slot_ids)
            slots = [s for s in alive if moved[s] or s >= n_old or saved.slot_ids[s] != self._slot_ids[s]]
            dropped = sorted(saved.ids - self._stories.keys())
            aliases = list(islice(self._alias.items(), saved.n_alias, None))
        stories = []
        for s in slots:
            st = self._stories[self._slot_ids[s]]  # type: ignore[index]
            stories.append((st.id, s, self._sums[s].astype(np.float32).tobytes(),
                            json.dumps(self._story_record(st))))
        df_items: list[tuple[str, int, float, str]] = []
        df_keep_from: dict[str, int] = {}
        df_mark: dict[str, tuple[int, Any]] = {}
        for kind, window in (("ent", self._df_ent.items), ("place", self._df_place.items)):
            nxt, last = saved.df[kind] if saved is not None else (0, None)
            appended = 0
            for item in reversed(window):  # entries only join on the right and expire on the left
                if item is last:
                    break
                appended += 1
            df_keep_from[kind] = nxt - (len(window) - appended)
            for k in range(len(window) - appended, len(window)):
                t, ids = window[k]
                df_items.append((kind, nxt, float(t), json.dumps(list(ids))))
                nxt += 1
            df_mark[kind] = (nxt, window[-1] if window else None)
        meta: dict[str, Any] = {
            **self._core_meta(_TABLE_STATE_VERSION),
            "df_next": {kind: mark[0] for kind, mark in df_mark.items()},
        }
        arrays: dict[str, np.ndarray] = {}
        if self._dim is not None:
            meta["center"] = self._center_arrays(arrays)
        buf = io.BytesIO()
        np.savez(buf, meta=np.frombuffer(json.dumps(meta).encode("utf-8"), np.uint8), **arrays)
        self._saved = _SavedMark(ids=set(self._stories), slot_ids=list(self._slot_ids), key=key,
                                 n_alias=len(self._alias), df=df_mark)
        return StateChanges(full=saved is None, core=buf.getvalue(), stories=stories, dropped=dropped,
                            aliases=aliases, df_items=df_items, df_keep_from=df_keep_from)

    def _change_key(self) -> np.ndarray:
        """Per slot, values that change whenever its story changes (every add and merge changes
        the count and the time sum): comparing them finds the changed stories without hooks."""
        return np.stack([self._counts.astype(np.float64), self._tsum, self._first, self._last])

    @classmethod
    def load_state(cls, data: bytes, settings: Mapping[str, Any] | ClusterSettings | None = None,
                   tables: Mapping[str, Sequence[tuple]] | None = None) -> "StoryAssigner":
        """Rebuild an assigner from :meth:`dump_state` output, or from the core blob of
        :meth:`state_changes` plus the rows written from it (``tables``: ``stories`` as
        (id, slot, vector, record), ``aliases`` as (id, target) in insertion order, ``df`` as
        (kind, seq, time, ids) in seq order). Further assignments are identical either way."""
        npz = np.load(io.BytesIO(data), allow_pickle=False)
        meta = json.loads(npz["meta"].tobytes().decode("utf-8"))
        version = meta.get("version")
        if version == _STATE_VERSION:
            return cls._restore(meta, npz, npz["sums"] if meta["dim"] is not None else None, settings)
        if version != _TABLE_STATE_VERSION:
            raise ValueError(f"unsupported assigner state version {version}")
        if tables is None:
            raise ValueError("this assigner state is kept in tables: pass them to load_state")
        rows = sorted(tables.get("stories", ()), key=lambda r: int(r[1]))
        meta["stories"] = [{"id": sid, "slot": int(slot), **json.loads(record)} for sid, slot, _, record in rows]
        meta["alias"] = dict(tables.get("aliases", ()))
        df_rows: dict[str, list[tuple[int, float, list[str]]]] = {"ent": [], "place": []}
        for kind, seq, t, ids in tables.get("df", ()):
            df_rows[kind].append((int(seq), float(t), json.loads(ids)))
        for kind in df_rows:
            df_rows[kind].sort(key=lambda r: r[0])
            meta["df_" + kind] = [[t, ids] for _, t, ids in df_rows[kind]]
        sums = None
        if meta["dim"] is not None:
            dim = int(meta["dim"])
            sums = (np.stack([np.frombuffer(vec, np.float32) for _, _, vec, _ in rows]) if rows
                    else np.zeros((0, dim), np.float32))
        self = cls._restore(meta, npz, sums, settings)
        df_mark: dict[str, tuple[int, Any]] = {}
        for kind, window in (("ent", self._df_ent.items), ("place", self._df_place.items)):
            nxt = int(meta["df_next"][kind])
            if df_rows[kind] and df_rows[kind][-1][0] != nxt - 1:
                raise ValueError(f"assigner state tables are inconsistent (IDF window {kind!r})")
            df_mark[kind] = (nxt, window[-1] if window else None)
        self._saved = _SavedMark(ids=set(self._stories), slot_ids=list(self._slot_ids), key=self._change_key(),
                                 n_alias=len(self._alias), df=df_mark)
        return self

    @classmethod
    def _restore(cls, meta: dict[str, Any], npz: Any, sums: np.ndarray | None,
                 settings: Mapping[str, Any] | ClusterSettings | None) -> "StoryAssigner":
        self = cls(settings)
        self._alias = dict(meta["alias"])
        self._now = meta["now"] if meta["now"] is not None else -math.inf
        self._last_merge = meta["last_merge"] if meta["last_merge"] is not None else -math.inf
        for key, df in (("df_ent", self._df_ent), ("df_place", self._df_place)):
            for t, ids in meta[key]:
                df.items.append((t, tuple(ids)))
                df.df.update(ids)
        if meta["dim"] is None:
            return self
        assert sums is not None
        self._ensure_dim(int(meta["dim"]))
        c = self._centerer
        assert c is not None
        c.g_sum = npz["g_sum"].astype(np.float64)
        c.g_n = float(meta["center"]["g_n"])
        for k, row, n in zip(meta["center"]["langs"], npz["l_sum"], meta["center"]["l_n"]):
            c.l_sum[k] = row.astype(np.float64)
            c.l_n[k] = float(n)
        if int(meta["cap"]) > self._cap:
            self._grow(int(meta["cap"]))
        used = {int(s["slot"]) for s in meta["stories"]}
        self._free = [slot for slot in range(self._cap) if slot not in used]
        heapq.heapify(self._free)
        self._dirty = set(meta["dirty"])
        for row, s in zip(sums, meta["stories"]):
            slot = int(s["slot"])
            st = _Story(id=s["id"], slot=slot, n=int(s["n"]), first=float(s["first"]), last=float(s["last"]),
                        langs=Counter(s["langs"]), entities=Counter(s["entities"]),
                        places=Counter(s["places"]), title=s["title"])
            self._stories[st.id] = st
            self._slot_ids[slot] = st.id
            self._sums[slot] = row
            self._norms[slot] = np.linalg.norm(row)
            self._counts[slot] = st.n
            self._first[slot] = st.first
            self._last[slot] = st.last
            self._tsum[slot] = float(s["tsum"])
            self._alive[slot] = True
            for e in st.entities:
                self._ent_index.setdefault(e, set()).add(st.id)
            for e in st.places:
                self._place_index.setdefault(e, set()).add(st.id)
        return self


@dataclass
class StateChanges:
    """Rows that bring a store's assigner state tables up to date (see :meth:`StoryAssigner.state_changes`)."""

    full: bool                                  # replace every row: the tables held no (or older) state
    core: bytes                                 # clock, running means, capacity, IDF sequence numbers
    stories: list[tuple[str, int, bytes, str]]  # (id, slot, float32 vector sum, JSON record) to upsert
    dropped: list[str]                          # story ids that left the active set (evicted, merged)
    aliases: list[tuple[str, str]]              # new merge aliases (old id, id it was merged into)
    df_items: list[tuple[str, int, float, str]]  # (kind, seq, time, JSON ids) joining an IDF window
    df_keep_from: dict[str, int]                # kind -> lowest seq still in that window


@dataclass
class _SavedMark:
    """What the store held after the last save: compared with the live state by the next one."""

    ids: set[str]
    slot_ids: list[str | None]
    key: np.ndarray
    n_alias: int
    df: dict[str, tuple[int, Any]]  # kind -> (next seq, newest entry object saved)


def replay_clustering(records: list[Mapping[str, Any]], features_fn, settings: Mapping[str, Any] | None = None,
                      flush_every: int = 0) -> list[str]:
    """Replay records through a fresh :class:`StoryAssigner` in ``published_at`` order.

    ``features_fn(index, record) -> StoryFeatures`` builds the features (the evaluation passes
    cached embeddings). Returns, for each record in the *input* order, its final story id
    (merges resolved). ``flush_every`` > 0 calls :meth:`StoryAssigner.flush` every that many
    articles, as a CLI run over batches would.
    """
    assigner = StoryAssigner(settings)
    times = [_ts(_as_datetime(r["published_at"])) for r in records]
    order = sorted(range(len(records)), key=lambda i: (times[i], i))
    raw: list[str] = [""] * len(records)
    for k, i in enumerate(order):
        raw[i] = assigner.assign(features_fn(i, records[i])).story_id
        if flush_every and (k + 1) % flush_every == 0:
            assigner.flush()
    assigner.flush()
    return [assigner.resolve(s) for s in raw]
