"""Limits and repairs applied to every document on its way in (docs/reliability.md).

One document must never stop a batch or poison the store: text no model can take whole is cut
(and the article flagged), characters no stored text should hold are removed (and counted), a
publication date outside the accepted range is replaced (and flagged). The limits are settings
of the ``[ingest]`` section. Every function here is pure: the pipeline applies them and records
the flags on the article and the counts in the ingest report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import regex

from .config import section_with_defaults

# C0 controls other than tab/newline/carriage return, DEL, C1 controls, lone surrogates (a JSON
# "\ud800" decodes to one and SQLite cannot encode it) and the two non-characters of each plane
# that mark byte-order trouble. Nothing a reader should ever see.
_UNWANTED = regex.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Limits:
    """The ``[ingest]`` limits, read once per pipeline."""

    max_title_chars: int = 500
    max_text_chars: int = 1_000_000
    max_analysis_chars: int = 100_000
    min_date: datetime = datetime(1900, 1, 1, tzinfo=timezone.utc)
    max_future_days: float = 2.0

    @classmethod
    def from_settings(cls, settings: Any = None) -> "Limits":
        section = section_with_defaults("ingest", settings)
        from .errors import ConfigError

        try:
            min_date = datetime.fromisoformat(str(section["min_date"]))
        except ValueError:
            raise ConfigError(f"not an ISO 8601 date: {section['min_date']!r}", source="ingest.min_date") from None
        if min_date.tzinfo is None:
            min_date = min_date.replace(tzinfo=timezone.utc)
        return cls(max_title_chars=int(section["max_title_chars"]), max_text_chars=int(section["max_text_chars"]),
                   max_analysis_chars=int(section["max_analysis_chars"]), min_date=min_date,
                   max_future_days=float(section["max_future_days"]))

    def date_in_range(self, value: datetime, now: datetime) -> bool:
        """Whether a publication date is accepted: not before ``min_date``, not more than
        ``max_future_days`` after ``now`` (the ingest clock)."""
        return self.min_date <= value <= now + timedelta(days=self.max_future_days)


def remove_unwanted(text: str | None) -> tuple[str | None, int]:
    """``text`` without control characters, lone surrogates and non-characters, and how many
    were removed. Tabs and line breaks stay."""
    if not text:
        return text, 0
    cleaned, count = _UNWANTED.subn("", text)
    return cleaned, count


def cut(text: str, limit: int, *, mark: str = "") -> str:
    """``text`` cut to at most ``limit`` characters, at the last paragraph break, else the last
    space, in its final fifth (a word is not split when one is near); ``mark`` is appended."""
    if len(text) <= limit:
        return text
    room = max(0, limit - len(mark))
    head = text[:room]
    floor = room - room // 5
    for sep in ("\n\n", "\n", " "):
        at = head.rfind(sep)
        if at >= floor:
            head = head[:at]
            break
    return head.rstrip() + mark
