"""When each source is polled next: its interval, backoff with jitter after errors, pausing.

Pure functions of a source's state, the outcome of a poll and the time, so that the schedule
can be tested with any clock (the watcher takes a ``clock`` callable; tests pass a fake one).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import regex

from ..errors import ConfigError

_DURATION = regex.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*$", regex.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_every(value: str | float | int, *, source: str = "--every") -> float:
    """``15m``, ``90s``, ``1h``, ``1d`` or a number of seconds, to seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ConfigError(f"not a duration: {value!r}", source=source,
                              hint="a number with s, m, h or d, e.g. 15m")
        seconds = float(match.group(1)) * _UNIT_SECONDS[(match.group(2) or "s").lower()]
    if seconds <= 0:
        raise ConfigError(f"the interval must be positive, got {value!r}", source=source)
    return seconds


def format_every(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def utc_clock() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Policy:
    """The [watch] settings the schedule depends on."""

    backoff_base: float = 60.0
    backoff_max: float = 6 * 3600.0
    backoff_jitter: float = 0.25
    max_errors_in_row: int = 10
    max_retry_after: float = 86400.0

    @classmethod
    def from_settings(cls, section: dict[str, Any]) -> "Policy":
        return cls(backoff_base=float(section["backoff_base"]), backoff_max=float(section["backoff_max"]),
                   backoff_jitter=float(section["backoff_jitter"]),
                   max_errors_in_row=int(section["max_errors_in_row"]),
                   max_retry_after=float(section["max_retry_after"]))


@dataclass(frozen=True)
class Outcome:
    """What a poll of one source gave, for the schedule."""

    ok: bool
    retry_after: float | None = None  # seconds the server asked for (429/503 Retry-After)


@dataclass(frozen=True)
class Next:
    """The schedule after a poll: when next, errors in a row, and whether the source is now paused."""

    due: datetime
    errors_in_row: int
    paused: bool


def backoff_seconds(errors_in_row: int, every: float, policy: Policy, rand: Callable[[], float]) -> float:
    """Wait after the ``errors_in_row``-th failure in a row: base x 2^(n-1), at most backoff_max
    (and never less than the normal interval), times a random factor in 1 ± jitter so that many
    sources failing together (a network outage) do not all retry at the same instant."""
    raw = min(policy.backoff_max, policy.backoff_base * 2 ** max(0, errors_in_row - 1))
    raw = max(raw, min(every, policy.backoff_max))
    return raw * (1 + policy.backoff_jitter * (2 * rand() - 1))


def next_poll(*, every: float, errors_in_row: int, outcome: Outcome, now: datetime, policy: Policy,
              rand: Callable[[], float] = random.random) -> Next:
    """The schedule of a source after a poll at ``now`` with ``outcome``."""
    if outcome.ok:
        errors = 0
        wait = every
    else:
        errors = errors_in_row + 1
        wait = backoff_seconds(errors, every, policy, rand)
    if outcome.retry_after is not None:
        wait = max(wait, min(outcome.retry_after, policy.max_retry_after))
    paused = not outcome.ok and policy.max_errors_in_row > 0 and errors >= policy.max_errors_in_row
    return Next(due=now + timedelta(seconds=wait), errors_in_row=errors, paused=paused)


def is_due(source: dict[str, Any], now: datetime) -> bool:
    from ..store import parse_iso

    return not source["paused"] and parse_iso(source["next_due"]) <= now
