"""tidings: a self-hosted multilingual news event monitor.

>>> import tidings
>>> monitor = tidings.open("tidings.db")
>>> report = monitor.ingest(["examples/sample"])
>>> for story in monitor.stories(limit=5)["stories"]:
...     print(story["id"], story["title"])
"""

from __future__ import annotations

import logging
from pathlib import Path

from .config import Settings
from .errors import InputError, NotFound, TidingsError
from .models import Article, Document, Entity, Mention, Story
from .pipeline import IngestReport, Monitor

__version__ = "0.1.0"
__all__ = [
    "open", "Monitor", "Settings", "IngestReport",
    "Article", "Document", "Entity", "Mention", "Story",
    "TidingsError", "InputError", "NotFound", "__version__",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())


def open(db: str | Path = "tidings.db", *, settings: Settings | None = None, read_only: bool = False,
         config: str | Path | None = None) -> Monitor:  # noqa: A001 - mirrors the builtin on purpose
    """Open (or create) a monitor over the SQLite store at ``db``.

    The returned :class:`Monitor` has ``ingest``, ``stories``, ``story``, ``article``, ``entity``,
    ``search``, ``similarity`` and ``export``.
    """
    return Monitor(db, settings or Settings.load(config), read_only=read_only)
