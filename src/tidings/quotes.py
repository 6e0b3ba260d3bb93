"""Quotations and who said them.

``find_quotes(text, lang, mentions, entities)`` finds quotations in „…“, “…”, "…", «…», »…«
and ‘…’ (outer quotation wins when they nest; scare quotes shorter than
``entities.quote_min_words`` words are skipped) and attributes each to a speaker:

1. after the quotation, up to the sentence end: a speech verb (``data/names/speech_verbs.toml``:
   said, rekao je, a déclaré, sagte, заявил, dijo...) with a PER mention next to it
   ("…", rekao je glasnogovornik Kremlja Dmitrij Peskov -> Peskov);
2. else before it, from the sentence start: a speech verb with a PER mention that is not inside
   the reported clause (a name after "that"/"da"/"que" is what is talked about, not the speaker);
3. a verb without a name ("he said", "rekao je.", "Dodao je da ...") means the last person
   named before the sentence; a quotation right after another one in the same paragraph, with no verb of its
   own, continues the previous speaker.

Speakers are linked to entity ids through the article's mentions; an ORG (the Kremlin said)
is used when no person is named.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from .models import Entity, Mention, Quote

__all__ = ["find_quotes", "find_quotations"]

# (opening, closing characters) of quotation styles; straight quotes pair in order.
_PAIRS = [
    ("„", "“”\""),
    ("“", "”"),
    ("«", "»"),
    ("»", "«"),
    ("‚", "‘’"),
    ("‘", "’"),
]
_MAX_QUOTE_CHARS = 3000  # a "quotation" longer than this is an unpaired mark running on


@dataclass
class _Verbs:
    verbs: re.Pattern
    pronouns: re.Pattern
    complementisers: re.Pattern


def _words_rx(words) -> re.Pattern:
    items = sorted({w.lower() for w in words if w}, key=len, reverse=True)
    if not items:
        return re.compile(r"(?!x)x")
    body = "|".join(re.escape(w).replace(r"\ ", r"\s+").replace("'", "['’]") for w in items)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)


@lru_cache(maxsize=1)
def _table() -> dict:
    path = Path(str(resources.files("tidings").joinpath("data", "names", "speech_verbs.toml")))
    with path.open("rb") as fh:
        return tomllib.load(fh)


@lru_cache(maxsize=64)
def _verbs(lang: str) -> _Verbs:
    data = _table()
    code = re.split(r"[-_]", (lang or "").lower(), maxsplit=1)[0]
    code = data.get("aliases", {}).get(code, code)
    cfg = data.get(code) or data["en"]
    return _Verbs(_words_rx(cfg.get("verbs", [])), _words_rx(cfg.get("pronouns", [])),
                  _words_rx(cfg.get("complementisers", [])))


def find_quotations(text: str) -> list[tuple[int, int]]:
    """(start, end) of each quotation's content, outermost first-come, without the marks."""
    found: list[tuple[int, int]] = []
    for opening, closing in _PAIRS:
        pos = 0
        while True:
            i = text.find(opening, pos)
            if i < 0:
                break
            j = i + 1
            while j < len(text) and j - i < _MAX_QUOTE_CHARS:
                ch = text[j]
                if ch in closing and not (ch == "’" and j + 1 < len(text) and text[j + 1].isalpha()):
                    break
                if ch == "\n" and text[j:j + 2] == "\n\n":
                    j = len(text)
                    break
                j += 1
            if j < len(text) and j - i < _MAX_QUOTE_CHARS:
                found.append((i + 1, j))
                pos = j + 1
            else:
                pos = i + 1
    # Straight double quotes: paired in order within a paragraph.
    for para in re.finditer(r"[^\n]+(?:\n(?!\n)[^\n]*)*", text):
        marks = [m.start() + para.start() for m in re.finditer('"', para.group(0))]
        for a, b in zip(marks[::2], marks[1::2]):
            found.append((a + 1, b))
    found.sort(key=lambda se: (se[0], -(se[1] - se[0])))
    out: list[tuple[int, int]] = []
    last_end = -1
    for s, e in found:
        if s - 1 < last_end:  # nested inside (or overlapping) an earlier quotation
            continue
        out.append((s, e))
        last_end = e + 1
    return out


_SENT_END = re.compile(r"[.!?…]+[\"'”’»“]?\s+(?=[\"'„“«‘(]?[A-ZА-ЯЁЂЉЊЋЏČĆŠŽĐÀ-Þ])|\n")


def _sentence_bounds(text: str, start: int, end: int, window: int) -> tuple[int, int]:
    """(from, to): the start of the sentence holding ``start`` and the end of the one holding
    ``end``, each at most ``window`` characters away."""
    lo = max(0, start - window)
    before = text[lo:start]
    cut = lo
    for m in _SENT_END.finditer(before):
        cut = lo + m.end()
    hi = min(len(text), end + window)
    after = text[end:hi]
    # the closing mark and a comma/colon right after it never end the sentence
    m = _SENT_END.search(after, 1) if after[:1] in ".!?" else _SENT_END.search(after)
    stop = end + m.start() if m else hi
    return cut, stop


def _speaker_in(window: tuple[int, int], verb: re.Match, base: int, people: list[Mention],
                comp: re.Pattern, text: str) -> Mention | None:
    """The PER (or else ORG) mention in ``window`` nearest to the verb and not separated from
    it by a complementiser."""
    vs, ve = base + verb.start(), base + verb.end()
    best: tuple[int, Mention] | None = None
    for label in ("PER", "ORG"):
        for m in people:
            if m.label != label or m.start < window[0] or m.end > window[1]:
                continue
            between = text[m.end:vs] if m.end <= vs else text[ve:m.start]
            if comp.search(between):
                continue
            dist = vs - m.end if m.end <= vs else m.start - ve
            if best is None or dist < best[0]:
                best = (dist, m)
        if best is not None:
            return best[1]
    return None


def find_quotes(text: str, lang: str, mentions: list[Mention], entities: dict[str, Entity]) -> list[Quote]:
    """Quotations of ``text`` with their speakers (see the module docstring)."""
    from .entities import settings

    cfg = settings()
    min_words = int(cfg["quote_min_words"])
    window = int(cfg["speaker_window_chars"])
    verbs = _verbs(lang)
    people = sorted((m for m in mentions if m.label in ("PER", "ORG")), key=lambda m: m.start)
    quotes: list[Quote] = []
    prev: tuple[int, Mention | None] | None = None  # (end of previous quote, its speaker)
    for qs, qe in find_quotations(text):
        body = text[qs:qe].strip()
        if len(body.split()) < min_words:
            continue
        s_from, s_to = _sentence_bounds(text, qs - 1, qe + 1, window)
        speaker: Mention | None = None
        found_verb = False
        after = text[qe + 1:s_to]
        v = verbs.verbs.search(after)
        if v:
            found_verb = True
            speaker = _speaker_in((qe + 1, s_to), v, qe + 1, people, verbs.complementisers, text)
        if speaker is None:
            before = text[s_from:qs - 1]
            v = verbs.verbs.search(before)
            if v:
                found_verb = True
                speaker = _speaker_in((s_from, qs - 1), v, s_from, people, verbs.complementisers, text)
            elif before.rstrip().endswith(":"):
                cands = [m for m in people if m.label == "PER" and s_from <= m.start and m.end <= qs - 1]
                speaker = cands[-1] if cands else None
        if speaker is None and found_verb:
            # "he said" / "rekao je." / "Dodao je da ...": the last person named before this
            # sentence (names inside it were rejected above).
            earlier = [m for m in people if m.label == "PER" and m.end <= s_from and qs - m.end <= 3 * window]
            speaker = earlier[-1] if earlier else (prev[1] if prev else None)
        if speaker is None and not found_verb and prev is not None and prev[1] is not None:
            gap = text[prev[0]:qs - 1]
            if "\n" not in gap.strip() and len(gap) <= window:
                speaker = prev[1]  # continuation of the previous speaker's quotation
        ent = entities.get(speaker.entity_id) if speaker else None
        quotes.append(Quote(text=body, start_char=qs + (len(text[qs:qe]) - len(text[qs:qe].lstrip())),
                            end_char=qs + len(text[qs:qe].rstrip()),
                            speaker_entity_id=speaker.entity_id if speaker else None,
                            speaker=(ent.name if ent else speaker.text) if speaker else None))
        prev = (qe + 1, speaker)
    return quotes
