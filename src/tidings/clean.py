"""Boilerplate removal: the article's own sentences in, site furniture out.

Scraped and pasted articles carry cookie notices, "Read more" links, subscription prompts,
photo captions and credits, rights lines and repeated captions. Left in, they pollute entity
extraction ("Sergei Bobylev/TASS" is not a person in the story), embeddings and duplicate
detection (two different articles from one site share their footer). The patterns are data,
one file per language under ``tidings/data/boilerplate/`` (see docs/ingest.md for the format),
so a language is added without touching code.

The unit of work is the line: a line that a ``[line]`` pattern matches whole is dropped, so is
a short line containing a ``[contains]`` phrase ("uses cookies", "all rights reserved"), an
``[inline]`` pattern cuts a trailing span (related-link runs glued after the last sentence, a
"Photo:" caption glued after a standfirst), and a line repeated verbatim (captions printed twice)
keeps only its first copy. Paragraphs stay separated by one blank line.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import regex

from .config import section_with_defaults
from .errors import ConfigError

log = logging.getLogger(__name__)

_FLAGS = regex.IGNORECASE | regex.UNICODE | regex.V0
_SECTIONS = ("line", "contains", "inline")
_SECTION_HEADER = regex.compile(r"\[([a-z]+)\]")
# Invisible characters that scrapers keep and that break matching and offsets downstream.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
# Whether a text has one: str.translate with a table reads every character through it (~0.15 ms
# an article), a search for these six is ~10x faster, and few texts have any (14 in 1,000).
_ANY_INVISIBLE = regex.compile("[" + "".join(map(chr, _INVISIBLE)) + "]")
_SPACES = regex.compile(r"[^\S\n]+")  # horizontal whitespace, NBSP included
_PARAGRAPH_BREAK = regex.compile(r"\n[^\S\n]*\n\s*")
_KEY_STRIP = regex.compile(r"[\W_]+")


@dataclass(frozen=True)
class PatternSet:
    """Compiled patterns for one language choice: whole-line, contained-phrase and trailing-span."""

    line: regex.Pattern | None
    contains: regex.Pattern | None
    inline: tuple[regex.Pattern, ...]
    max_chars: int  # lines longer than this are never whole-line boilerplate
    max_contains_chars: int  # ... nor dropped for containing a [contains] phrase

    def is_boilerplate(self, line: str) -> bool:
        if len(line) > self.max_chars:
            return False
        if self.line is not None and self.line.fullmatch(line):
            return True
        return bool(self.contains is not None and len(line) <= self.max_contains_chars
                    and self.contains.search(line))

    def cut_inline(self, line: str) -> str:
        for pattern in self.inline:
            line = pattern.sub("", line)
        return line.strip()


def _data_dir():
    return resources.files("tidings").joinpath("data", "boilerplate")


def available_languages() -> list[str]:
    """Languages that have their own pattern file (``common`` is not a language)."""
    return sorted(p.name[:-4] for p in _data_dir().iterdir()
                  if p.name.endswith(".txt") and p.name != "common.txt")


def _parse_file(text: str, origin: str, seen: set[str]) -> dict[str, list[tuple[str, str]]]:
    """Read one pattern file into {section: [(pattern, "file:line"), ...]}, following %include."""
    out: dict[str, list[tuple[str, str]]] = {s: [] for s in _SECTIONS}
    section = "line"
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("%include "):
            name = line.split(None, 1)[1].strip()
            for sec, items in _read_named(name, seen).items():
                out[sec].extend(items)
            continue
        header = _SECTION_HEADER.fullmatch(line)
        if header:  # a mistyped header must not silently become a character class
            if header.group(1) not in _SECTIONS:
                raise ConfigError(f"unknown section {line} (expected one of: "
                                  + ", ".join(f"[{s}]" for s in _SECTIONS) + ")", source=f"{origin}:{number}")
            section = header.group(1)
            continue
        out[section].append((line, f"{origin}:{number}"))
    return out


def _read_named(name: str, seen: set[str]) -> dict[str, list[tuple[str, str]]]:
    if name in seen:  # include cycles and double includes are harmless: read once
        return {s: [] for s in _SECTIONS}
    seen.add(name)
    path = _data_dir().joinpath(f"{name}.txt")
    if not path.is_file():
        raise ConfigError(f"unknown boilerplate pattern file {name!r}", source="boilerplate")
    return _parse_file(path.read_text(encoding="utf-8"), f"boilerplate/{name}.txt", seen)


def _compile(items: list[tuple[str, str]]) -> list[regex.Pattern]:
    compiled = []
    for pattern, origin in items:
        try:
            compiled.append(regex.compile(pattern, _FLAGS))
        except regex.error as exc:
            raise ConfigError(f"invalid boilerplate pattern {pattern!r}: {exc}", source=origin) from None
    return compiled


def _language_file(lang: str | None) -> str | None:
    if not lang:
        return None
    code = lang.lower().replace("_", "-").split("-")[0]
    return code if code in available_languages() else None


@functools.lru_cache(maxsize=64)
def patterns_for(lang: str | None, extra_files: tuple[str, ...], max_chars: int,
                 max_contains_chars: int) -> PatternSet:
    """The compiled patterns for ``lang`` (None: every language), plus user pattern files."""
    seen: set[str] = set()
    parts = [_read_named("common", seen)]
    if lang is None:
        parts += [_read_named(name, seen) for name in available_languages()]
    elif (name := _language_file(lang)) is not None:
        parts.append(_read_named(name, seen))
    else:
        log.debug("no boilerplate patterns for language %r; using the common ones", lang)
    for extra in extra_files:
        try:
            text = Path(extra).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read boilerplate pattern file: {exc.strerror}", source=extra) from None
        parts.append(_parse_file(text, extra, seen))
    def combined(section: str) -> regex.Pattern | None:
        # Each pattern is compiled alone first, so that an error names its file:line.
        compiled = _compile([item for part in parts for item in part[section]])
        return regex.compile("|".join(f"(?:{p.pattern})" for p in compiled), _FLAGS) if compiled else None

    inline = _compile([item for part in parts for item in part["inline"]])
    return PatternSet(line=combined("line"), contains=combined("contains"), inline=tuple(inline),
                      max_chars=max_chars, max_contains_chars=max_contains_chars)


def _section(settings: Any) -> dict[str, Any]:
    """The [clean] settings over the shipped defaults."""
    return section_with_defaults("clean", settings)


def normalise_whitespace(text: str) -> str:
    """Unix newlines, no invisible characters, NBSP and tab runs as one plain space."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _ANY_INVISIBLE.search(text):
        text = text.translate(_INVISIBLE)
    return _SPACES.sub(" ", text)


def is_boilerplate_line(line: str, lang: str | None = None, *, settings: dict[str, Any] | None = None) -> bool:
    """Whether one line (trimmed) is boilerplate by the [line]/[contains] patterns of ``lang``.

    Lets ingest skip a site banner when it takes a title from a text's first line.
    """
    section = _section(settings)
    patterns = patterns_for(lang, tuple(section.get("extra_patterns") or ()),
                            int(section["max_boilerplate_line_chars"]), int(section["max_contains_line_chars"]))
    return patterns.is_boilerplate(normalise_whitespace(line).strip())


def _repeat_key(line: str) -> str:
    return _KEY_STRIP.sub(" ", line.casefold()).strip()


def clean(text: str, lang: str | None = None, *, settings: dict[str, Any] | None = None) -> str:
    """Return ``text`` without boilerplate, paragraphs separated by one blank line.

    ``lang`` picks the language's pattern file on top of ``common.txt``; None applies every
    language's patterns (for text whose language is not known yet). ``settings`` is the
    ``[clean]`` section (or the whole settings dict); defaults come from settings.toml.
    """
    if not text:
        return ""
    section = _section(settings)
    patterns = patterns_for(lang, tuple(section.get("extra_patterns") or ()),
                            int(section["max_boilerplate_line_chars"]), int(section["max_contains_line_chars"]))
    min_repeat = int(section["repeated_line_min_chars"])
    seen: set[str] = set()
    paragraphs: list[str] = []
    for paragraph in _PARAGRAPH_BREAK.split(normalise_whitespace(text)):
        kept: list[str] = []
        for line in paragraph.split("\n"):
            line = line.strip()
            if not line or patterns.is_boilerplate(line):
                continue
            line = patterns.cut_inline(line)
            if not line or patterns.is_boilerplate(line):
                continue
            key = _repeat_key(line)
            if len(key) >= min_repeat:
                if key in seen:
                    continue
                seen.add(key)
            kept.append(line)
        if kept:
            paragraphs.append("\n".join(kept))
    return "\n\n".join(paragraphs)
