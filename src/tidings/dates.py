"""Date expressions in article text, normalised against the publication date.

``find_dates(text, lang, published_at)`` returns :class:`~tidings.models.DateMention` objects:
a day (``22. rujna`` -> 2016-09-22 when published in 2016), a month (``September 2015``), a year
(``in 2012``), or an interval for vague and open expressions (``late August`` -> 21-31 August,
``krajem kolovoza``, ``Ende März``, ``a finales de agosto``, ``fin août``, ``в конце августа``;
``since September 2015`` / ``od rujna 2015.`` -> from 1 September 2015 to the publication date).

Why not ``dateparser.search_dates`` on the whole article: it is slow (tens of milliseconds per
article) and finds dates in bare numbers ("300.000 ljudi", "24 sata"). Candidates are found here
with per-language regexes built from CLDR month and weekday names (Babel; the format forms are
the genitives "rujna", "сентября") and the phrases in ``data/names/dates.toml``; day/month/year
are read from the match directly. dateparser is kept for what it does well and is rarely
needed: relative phrases such as "three days ago" / "prije tri dana" / "три дня назад".

A date without a year takes the year that puts it closest to the publication date (news reports
the recent past and the near future); without a publication date such dates are skipped, as
are relative expressions, rather than being resolved against today's date.
"""

from __future__ import annotations

import calendar
import logging
import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from threading import Lock

from .models import DateMention

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

__all__ = ["find_dates"]


def _data() -> dict:
    return _load_data()


@lru_cache(maxsize=1)
def _load_data() -> dict:
    path = Path(str(resources.files("tidings").joinpath("data", "names", "dates.toml")))
    with path.open("rb") as fh:
        return tomllib.load(fh)


def _table_lang(lang: str) -> str:
    code = re.split(r"[-_]", (lang or "").lower(), maxsplit=1)[0]
    return _data().get("aliases", {}).get(code, code)


# --------------------------------------------------------------------------- regex building


def _phrase(p: str) -> str:
    """Regex for a phrase: words separated by any whitespace; apostrophes either way."""
    out = re.escape(p.strip())
    out = re.sub("['’]", "['’]", out.replace(r"\ ", r"\s+"))  # one pass: the class holds a ’ itself
    return out


def _alt(phrases, case_insensitive: bool = True) -> str:
    items = sorted({p for p in phrases if p}, key=len, reverse=True)
    if not items:
        return r"(?!x)x"
    body = "|".join(_phrase(p) for p in items)
    return f"(?i:{body})" if case_insensitive else f"(?:{body})"


@dataclass
class _Lang:
    code: str
    months: dict[str, int]
    weekdays: dict[str, int]
    relative: dict[str, int]
    patterns: list[tuple[str, re.Pattern]]
    ago: list[re.Pattern]
    year_needs: str
    ordinal_dot: bool
    since: frozenset[str]
    anchors: frozenset[str]  # month/weekday/relative words (lowercase): where a date can be
    forward: frozenset[str] = frozenset()  # weekday prefixes/suffixes pointing forward ("until", "prochain")
    future: re.Pattern | None = None  # future-tense markers: a weekday after one looks forward
    periods: dict[str, tuple[str, int]] | None = None  # "next week" -> ("week", 1)


def _babel_names(locales: list[str]) -> tuple[dict[str, int], set[str], dict[str, int]]:
    from babel import Locale, UnknownLocaleError

    months: dict[str, int] = {}
    wide: set[str] = set()
    abbreviations: set[str] = set()
    weekdays: dict[str, int] = {}
    for ident in locales:
        try:
            loc = Locale.parse(ident)
        except (UnknownLocaleError, ValueError):
            continue
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                for num, name in loc.months[context][width].items():
                    form = name.strip().rstrip(".").lower()
                    if len(form) < 3 or form.isdigit():
                        continue
                    months.setdefault(form, int(num))
                    (abbreviations if width == "abbreviated" else wide).add(form)
            for num, name in loc.days[context]["wide"].items():
                weekdays.setdefault(name.lower(), int(num) + 1)  # Babel: 0 = Monday
    return months, abbreviations - wide, weekdays


@lru_cache(maxsize=64)
def _lang(lang: str) -> _Lang:
    code = _table_lang(lang)
    cfg = _data().get(code, {})
    locales = cfg.get("locales", [code])
    months, abbrevs, weekdays = _babel_names(locales)
    for form, num in cfg.get("extra_months", {}).items():
        months[form.lower()] = int(num)
    for form, num in cfg.get("extra_weekdays", {}).items():
        weekdays[form.lower()] = int(num)
    full = [m for m in months if m not in abbrevs or m in cfg.get("extra_months", {})]
    capital = bool(cfg.get("months_capitalised"))

    def month_alt(forms) -> str:
        """Month alternation. Abbreviations need their dot where month names are lowercase
        words ("15 pro-ruskih" is not 15 December); capitalised languages allow "Aug 1"."""
        forms = sorted(set(forms), key=len, reverse=True)
        if not forms:
            return r"(?!x)x"
        if capital:
            variants = []
            for f in forms:
                variants += [(f, f[:1].upper() + f[1:]), (f, f.upper())]
            body = "|".join(re.escape(v) + (r"\.?" if f in abbrevs else "") for f, v in variants)
            return f"(?:{body})"
        body = "|".join(re.escape(f) + (r"\." if f in abbrevs else "") for f in forms)
        return f"(?i:{body})"

    month_any = f"(?P<month>{month_alt(months)})"
    month_full = f"(?P<month>{month_alt(full)})"
    ordinal_dot = bool(cfg.get("ordinal_dot", code not in _data()))
    ordinal = cfg.get("ordinal", "")
    day_suffix = r"\.?" if ordinal_dot else (f"(?:{ordinal})?" if ordinal else "")
    joiner = cfg.get("joiner", [])
    join = rf"(?:\s*{_alt(joiner)})?\s*" if joiner else r"\s*"
    year_after = cfg.get("year_after", [])
    ya = rf"(?:\s+(?P<ya>{_alt(year_after)})(?!\w))?" if year_after else ""
    ydot = r"\.?" if cfg.get("year_dot") else ""
    year = rf"(?P<year>(?:1[89]|20)\d\d)(?![\d/-]){ydot}(?!\d)"
    since = cfg.get("since", [])
    since_grp = rf"(?:(?<!\w)(?P<since>{_alt(since)})\s+)?" if since else ""
    day = rf"(?<![\d.,/])(?P<day>[0-3]?\d){day_suffix}(?![\d])"
    day1 = r"(?:(?<![\d.,/])(?P<day1>[0-3]?\d)\.?\s*(?:-|–|—)\s*)?"
    b, e = r"(?<!\w)", r"(?!\w)"

    patterns: list[tuple[str, re.Pattern]] = []

    def add(kind: str, rx: str) -> None:
        patterns.append((kind, re.compile(rx)))

    # 22. rujna 2016. / 22 September 2016 / 22 de septiembre de 2016 / 22-24 September
    add("dmy", rf"{since_grp}{day1}{day}\s*{join}{month_any}{e}(?:,?\s*{join}{year}{ya})?")
    if code == "en" or cfg.get("month_day"):
        # July 28, 2016 / Aug. 1
        add("mdy", rf"{since_grp}{b}{month_any}\s+{day}(?:,?\s+{year})?")
    # late August / krajem kolovoza 2016. / a finales de agosto / fin août / в конце августа / mi-août
    parts = []
    for part in ("early", "mid", "late"):
        words = cfg.get(part, [])
        spaced = [w for w in words if not w.endswith("-")]
        glued = [w for w in words if w.endswith("-")]  # "mi-août", "mid-August"
        alts = ([rf"{_alt(spaced)}\s+"] if spaced else []) + ([rf"{_alt(glued)}\s*"] if glued else [])
        if alts:
            parts.append(rf"(?P<{part}>{'|'.join(alts)})")
    if parts:
        add("mod", rf"{b}(?:{'|'.join(parts)}){join}{month_full}{e}(?:\s*{join}{year}{ya})?")
    # September 2015 / od rujna 2015. / desde septiembre de 2015 / с сентября 2015 года
    add("my", rf"{since_grp}{b}{month_full}{e}\s*{join}{year}{ya}")
    if since:
        # od rujna / since September (no year)
        add("since_m", rf"(?<!\w)(?P<since>{_alt(since)})\s+{month_full}{e}")
    # years: in 2012 / od 2011. / в 2015 году / 2015. godine
    year_before = list(cfg.get("year_before", [])) + list(since)
    if year_before:
        add("year", rf"(?<!\w)(?P<prep>{_alt(year_before)})\s+{year}{ya}")
    if year_after:
        add("year", rf"{b}{year}\s*(?P<ya>{_alt(year_after)})(?!\w)")
    # numeric dates
    add("iso", r"(?<![\d.])(?P<year>(?:1[89]|20)\d\d)-(?P<mnum>[01]\d)-(?P<day>[0-3]\d)(?![\d])")
    add("dotted", r"(?<![\d.])(?P<day>[0-3]?\d)\.\s?(?P<mnum>[01]?\d)\.\s?(?P<year>(?:1[89]|20)\d\d)(?![\d])\.?")
    add("slash_mdy" if code == "en" else "slash",
        r"(?<![\d/])(?P<a>[0-3]?\d)/(?P<b>[0-3]?\d)/(?P<year>(?:1[89]|20)\d\d)(?![\d])")
    relative = {k.lower(): int(v) for k, v in cfg.get("relative", {}).items()}
    if relative:
        add("relative", rf"{b}(?P<rel>{_alt(relative)}){e}")
    if weekdays:
        prefix = list(cfg.get("weekday_before", [])) + list(cfg.get("weekday_forward", []))
        after = cfg.get("weekday_after", [])
        need = bool(cfg.get("weekday_needs_prefix"))
        wd = f"(?P<wd>{_alt(weekdays)})"
        post = rf"(?:\s+(?P<wpost>{_alt(after)}))?" if after else ""
        if prefix:
            pre = rf"(?:(?P<wpre>{_alt(prefix)})\s+)" + ("" if need else "?")
            add("weekday", rf"{b}{pre}{wd}{post}{e}")
        elif not need:
            add("weekday", rf"{b}{wd}{post}{e}")
    periods = {_norm(k): (unit, int(offset)) for k, v in cfg.get("periods", {}).items()
               for unit, offset in [re.fullmatch(r"(week|month|year)([+-]\d+)", v).groups()]}
    if periods:
        add("period", rf"{b}(?P<period>{_alt(periods)}){e}")
    ago = [re.compile(rx, re.IGNORECASE) for rx in cfg.get("ago", []) + cfg.get("ahead", [])]
    anchors = {w for phrase in list(months) + list(weekdays) + list(relative) + list(periods)
               for w in _ANCHOR_WORD.findall(phrase.lower())}
    forward = frozenset(_norm(w) for w in list(cfg.get("weekday_forward", [])) + list(cfg.get("weekday_after", [])))
    future = re.compile("|".join(f"(?:{rx})" for rx in cfg["future"])) if cfg.get("future") else None
    return _Lang(code, months, {k.lower(): v for k, v in weekdays.items()}, relative, patterns, ago,
                 cfg.get("year_needs", ""), ordinal_dot, frozenset(s.lower() for s in since), frozenset(anchors),
                 forward, future, periods)


def _norm(phrase: str) -> str:
    """A phrase as looked up: lowercase, single spaces, straight apostrophes."""
    return re.sub(r"\s+", " ", phrase.strip().lower()).replace("’", "'")


#: Characters before a weekday searched for a future-tense marker of the same clause.
_TENSE_WINDOW = 80
_CLAUSE_END = re.compile(r"[.!?;:,\n]")


def _future_clause(m: re.Match, L: _Lang) -> bool:
    """True when the clause before the match has a future-tense marker ("will be held on Sunday")."""
    if L.future is None:
        return False
    before = m.string[max(0, m.start() - _TENSE_WINDOW):m.start()]
    ends = list(_CLAUSE_END.finditer(before))
    if ends:
        before = before[ends[-1].end():]
    return L.future.search(before) is not None


_ANCHOR_WORD = re.compile(r"\w+")


#: Characters around an anchor (digit, month, weekday or relative word) searched for a date: the
#: longest phrase before a month in dates.toml is 19 characters ("à la fin du mois de"), the
#: longest after a day/month ("2016 godine", ", 2016") under 15.
_WINDOW = 40


#: Pattern kinds (``_lang``) with a year of four digits that is not optional, and those with a
#: digit: a window without one is not searched with them (half of the windows have no digit,
#: five in six no year, on replay10k; the same matches, found sooner).
_NEEDS_YEAR = frozenset({"my", "year", "iso", "dotted", "slash", "slash_mdy"})
_NEEDS_DIGIT = _NEEDS_YEAR | {"dmy", "mdy"}
_DIGIT = re.compile(r"\d")
_YEAR_DIGITS = re.compile(r"(?:1[89]|20)\d\d")  # what the patterns' ``year`` group starts with


def _windows(text: str, L: _Lang) -> list[tuple[int, int]]:
    """Merged character windows around anchors (words with digits, month, weekday and relative
    words); each ends at whitespace or the text's end, so look-aheads at the window's end see
    what they would see in the whole text. Scanning words and looking them up in a set is much
    cheaper than running the month alternations over every position of the text."""
    out: list[tuple[int, int]] = []
    n = len(text)
    anchors = L.anchors
    for m in _ANCHOR_WORD.finditer(text):
        word = m.group(0)
        if not (word[0].isdigit() or word[-1].isdigit() or word.lower() in anchors):
            continue
        ws = max(0, m.start() - _WINDOW)
        we = min(n, m.end() + _WINDOW)
        while we < n and not text[we].isspace():
            we += 1
        if out and ws <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], we))
        else:
            out.append((ws, we))
    return out


# --------------------------------------------------------------------------- resolution


def _month_end(y: int, m: int) -> date:
    return date(y, m, calendar.monthrange(y, m)[1])


def _closest_year(month: int, day: int, ref: date) -> int | None:
    """The year (ref's, previous or next) that puts month/day closest to ``ref``; on a tie the
    past wins."""
    best = None
    for y in (ref.year - 1, ref.year, ref.year + 1):
        try:
            d = date(y, month, min(day, calendar.monthrange(y, month)[1]))
        except ValueError:
            continue
        dist = abs((d - ref).days) + (0.5 if d > ref else 0)
        if best is None or dist < best[0]:
            best = (dist, y)
    return best[1] if best else None


def _parts() -> dict[str, tuple[int, int]]:
    return {k: (int(v[0]), int(v[1])) for k, v in _data()["parts"].items()}


def _since_range(start: date, fallback_end: date, ref: date | None) -> tuple[date, date, str]:
    end = ref if ref is not None and ref >= start else fallback_end
    return start, end, "range"


def _resolve(kind: str, m: re.Match, L: _Lang, ref: date | None) -> tuple[date, date, str] | None:
    g = m.groupdict()
    if kind in ("dmy", "mdy", "mod", "my", "since_m"):
        month = L.months.get(g["month"].lower().rstrip("."))
        if month is None:
            return None
        y = int(g["year"][:4]) if g.get("year") else None
        since = bool(g.get("since"))
        if kind in ("dmy", "mdy"):
            dd = int(g["day"])
            if not 1 <= dd <= 31:
                return None
            if y is None:
                if ref is None:
                    return None
                y = _closest_year(month, dd, ref)
            try:
                d = date(y, month, dd)
            except (ValueError, TypeError):
                return None
            if g.get("day1"):
                try:
                    d1 = date(y, month, int(g["day1"]))
                except ValueError:
                    return None
                if d1 < d:
                    return d1, d, "range"
            if since:
                return _since_range(d, d, ref)
            return d, d, "day"
        if y is None:
            if ref is None:
                return None
            y = _closest_year(month, 15, ref)
            if kind == "since_m" and y is not None and ref is not None and date(y, month, 1) > ref:
                y -= 1  # "since September" is always in the past
        first, last = date(y, month, 1), _month_end(y, month)
        if kind == "mod":
            for part, (lo, hi) in _parts().items():
                if g.get(part):
                    return first.replace(day=lo), min(last, first.replace(day=min(hi, last.day))), "range"
            return None
        if since or kind == "since_m":
            return _since_range(first, last, ref)
        return first, last, "month"
    if kind == "year":
        y = int(g["year"][:4])
        raw = m.group(0)
        if L.year_needs == "after" and not g.get("ya"):
            return None
        if L.year_needs == "dot" and not g.get("ya") and not raw.rstrip().endswith("."):
            return None
        prep = (g.get("prep") or "").lower()
        first, last = date(y, 1, 1), date(y, 12, 31)
        if prep and re.sub(r"\s+", " ", prep) in L.since:
            return _since_range(first, last, ref)
        return first, last, "year"
    if kind in ("iso", "dotted"):
        try:
            d = date(int(g["year"]), int(g["mnum"]), int(g["day"]))
        except ValueError:
            return None
        return d, d, "day"
    if kind in ("slash", "slash_mdy"):
        a, b_ = int(g["a"]), int(g["b"])
        mm, dd = (a, b_) if kind == "slash_mdy" else (b_, a)
        if mm > 12 and dd <= 12:
            mm, dd = dd, mm
        try:
            d = date(int(g["year"]), mm, dd)
        except ValueError:
            return None
        return d, d, "day"
    if kind == "relative":
        if ref is None:
            return None
        offset = L.relative.get(re.sub(r"\s+", " ", g["rel"].lower()).replace("’", "'"))
        if offset is None:
            offset = L.relative.get(g["rel"].lower())
        if offset is None:
            return None
        d = ref + timedelta(days=offset)
        return d, d, "day"
    if kind == "weekday":
        if ref is None:
            return None
        wd = L.weekdays.get(g["wd"].lower())
        if wd is None:
            return None
        pre, post = _norm(g.get("wpre") or ""), _norm(g.get("wpost") or "")
        if pre in L.forward or post in L.forward:  # until Sunday, next Sunday, dimanche prochain
            delta = (wd - ref.isoweekday()) % 7 or 7
        elif _future_clause(m, L):  # the vote will be held on Sunday
            delta = (wd - ref.isoweekday()) % 7
        else:  # on Monday: the last one (the publication day itself included)
            delta = -((ref.isoweekday() - wd) % 7)
        d = ref + timedelta(days=delta)
        return d, d, "day"
    if kind == "period":
        if ref is None or not L.periods:
            return None
        unit, offset = L.periods.get(_norm(g["period"]), (None, 0))
        if unit == "week":
            monday = ref - timedelta(days=ref.weekday()) + timedelta(weeks=offset)
            return monday, monday + timedelta(days=6), "range"
        if unit == "month":
            y, mo = divmod(ref.year * 12 + ref.month - 1 + offset, 12)
            return date(y, mo + 1, 1), _month_end(y, mo + 1), "month"
        if unit == "year":
            return date(ref.year + offset, 1, 1), date(ref.year + offset, 12, 31), "year"
        return None
    return None


_dateparser_lock = Lock()


@lru_cache(maxsize=4096)
def _parse_ago(phrase: str, lang: str, published_at: datetime) -> date | None:
    import dateparser

    numbers = _data().get(_table_lang(lang), {}).get("numbers", {})
    if numbers:
        phrase = re.sub(r"\w+", lambda m: str(numbers.get(m.group(0).lower(), m.group(0))), phrase)
    base = published_at.replace(tzinfo=None)
    with _dateparser_lock:
        parsed = dateparser.parse(phrase, languages=[lang], settings={"RELATIVE_BASE": base,
                                                                      "PREFER_DATES_FROM": "past"})
    return parsed.date() if parsed else None


def find_dates(text: str, lang: str, published_at: datetime | None = None) -> list[DateMention]:
    """Date expressions in ``text`` (see the module docstring), sorted by position, without
    overlaps (the longest expression wins)."""
    if not text:
        return []
    L = _lang(lang)
    ref = published_at.date() if published_at is not None else None
    candidates: list[tuple[int, int, str, re.Match | None]] = []
    windows = _windows(text, L)
    with_digit = [_DIGIT.search(text, ws, we) is not None for ws, we in windows]
    with_year = [d and _YEAR_DIGITS.search(text, ws, we) is not None for d, (ws, we) in zip(with_digit, windows)]
    for kind, rx in L.patterns:
        needed = with_year if kind in _NEEDS_YEAR else with_digit if kind in _NEEDS_DIGIT else None
        for i, (ws, we) in enumerate(windows):
            if needed is not None and not needed[i]:
                continue  # no match can be in this window: the pattern's digits or year are not
            for m in rx.finditer(text, ws, we):
                if m.end() > m.start():
                    candidates.append((m.start(), m.end(), kind, m))
    for rx in L.ago:
        for m in rx.finditer(text):
            candidates.append((m.start(), m.end(), "ago", m))
    # Longest expressions first ("2016-07-30" over "of 2016", "22. rujna 2016." over "rujna 2016.");
    # a candidate that does not resolve leaves its characters free for the others.
    candidates.sort(key=lambda c: (-(c[1] - c[0]), c[0]))
    out: list[DateMention] = []
    taken: list[tuple[int, int]] = []
    for start, end, kind, m in candidates:
        if any(start < te and ts < end for ts, te in taken):
            continue
        if kind == "ago":
            if published_at is None:
                continue
            d = _parse_ago(m.group(0), L.code if L.code in _data() else lang, published_at)
            resolved = (d, d, "day") if d else None
        else:
            resolved = _resolve(kind, m, L, ref)
        if resolved is None:
            continue
        s, e, gran = resolved
        text_match = text[start:end]
        stripped = text_match.rstrip()
        end = start + len(stripped)
        out.append(DateMention(text=stripped, start_char=start, end_char=end, start=s, end=e, granularity=gran))
        taken.append((start, end))
    out.sort(key=lambda d: d.start_char)
    return out
