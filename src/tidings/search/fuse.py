"""Reciprocal rank fusion: one ranking from several, by rank alone.

Each method's scores live on their own scale (BM25, entity rarity, cosine), so only ranks are
combined: an item gets ``weight / (k + rank)`` from every list it is in (rank 1 = best). A
large ``k`` flattens the head of each list; 60 is the value of Cormack et al. (2009) and was
not tuned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def rrf(rankings: Mapping[str, Sequence[int] | Mapping[int, int]], weights: Mapping[str, float],
        k: float = 60.0) -> list[tuple[int, float]]:
    """Fuse ``{method: [item, ...] best first}`` (or ``{method: {item: rank}}``, where items
    may share a rank) into ``[(item, score), ...]`` best first; ties go to the item ranked
    higher by the earlier method in ``rankings``."""
    scores: dict[int, float] = {}
    first_seen: dict[int, tuple[int, int]] = {}
    for m, (method, items) in enumerate(rankings.items()):
        weight = float(weights.get(method, 1.0))
        ranked = items.items() if isinstance(items, Mapping) else ((item, r) for r, item in enumerate(items, 1))
        for item, rank in ranked:
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
            first_seen.setdefault(item, (rank, m))
    return sorted(scores.items(), key=lambda kv: (-kv[1], first_seen[kv[0]]))


def tied_ranks(groups: Sequence[Sequence[int]]) -> dict[int, int]:
    """Rank of each item when the items of one group share the group's rank (1-based)."""
    ranks: dict[int, int] = {}
    for rank, group in enumerate(groups, 1):
        for item in group:
            ranks.setdefault(item, rank)
    return ranks
