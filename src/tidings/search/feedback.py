"""Pseudo-relevance feedback on time and stories: the query's best matches date its event.

A query has no date, but its best meaning matches do, and news about one event is bursty: on
OG2021 half the articles of a gold cluster lie within 2.5 hours of its median date and 90%
within a day, across six weeks of news. So the best ``feedback_hits`` matches (the *heads*)
give the query a **temporal profile** (Jones & Diaz 2007): a density over time,
``sum_i w_i exp(-|t - t_i| / scale)`` with ``w_i = 1 / i`` by rank, normalised to at most 1; every
fused hit's score is multiplied by ``floor + density(its date)``. The heads also choose the
stories of the story expansion (the cluster hypothesis: their stories' articles in other
languages follow them).

The heads come from the meaning ranking; with ``scope = "store"`` they are searched among all
stored articles, whatever the search's filters (``lang``, ``since``, ``exclude_lang``…), which
then apply to the results only, as the words method's IDF and the language means are counted
over the whole store too. A cross-lingual search (``exclude_lang``) thus dates its event by the
query's own language as well, where matches are most often right; with ``scope = "results"``
the heads are the filtered matches. Figures: docs/search.md, "Quality".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone

SCOPES = ("store", "results")


def days(timestamp: str | None) -> float | None:
    """An ISO-8601 timestamp as days since the epoch, UTC when it names no zone (None when
    missing or unreadable)."""
    if not timestamp:
        return None
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp() / 86400.0


def temporal_profile(head_days: Sequence[float | None], scale_days: float):
    """The density over time of the heads (best first, weights 1 / rank; undated heads are
    left out): a function of a date in days, between 0 and 1, or None when no head is dated."""
    dated = [(1.0 / rank, t) for rank, t in enumerate(head_days, 1) if t is not None]
    if not dated or scale_days <= 0:
        return None
    total = sum(w for w, _ in dated)

    def density(t: float) -> float:
        return sum(w * math.exp(-abs(t - th) / scale_days) for w, th in dated) / total

    return density


def time_prior(fused: Sequence[tuple[int, float]], item_days: Mapping[int, float | None],
               head_days: Sequence[float | None], scale_days: float, floor: float) -> list[tuple[int, float]]:
    """Re-rank ``[(item, score), ...]`` (best first): each score times ``floor + density`` of the
    item's date under the heads' :func:`temporal_profile`. An undated item gets the mean factor
    of the dated ones (no evidence either way). Unchanged when no head is dated. Ties keep the
    order of ``fused``."""
    density = temporal_profile(head_days, scale_days)
    if density is None or not fused:
        return list(fused)
    factors = {item: floor + density(item_days[item]) for item, _ in fused if item_days.get(item) is not None}
    neutral = sum(factors.values()) / len(factors) if factors else 1.0
    rescored = [(item, score * factors.get(item, neutral)) for item, score in fused]
    order = sorted(range(len(rescored)), key=lambda i: (-rescored[i][1], i))
    return [rescored[i] for i in order]
