"""Dates that look forward (issue #15 point 6): in an article from Friday 4 December 2026,
"until Sunday" / "bis Sonntag" / "jusqu'à dimanche" is Sunday 6 December, not 29 November;
"next ...", "sljedeći tjedan", "на следующей неделе", a weekday after a future tense and
"in three days" resolve forward, while a weekday in a report of the past still looks back.

Each row: language, sentence, the date text expected, and the interval it must denote."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from tidings.dates import find_dates

FRIDAY = datetime(2026, 12, 4, 10, 30)  # Friday 4 December 2026
D = date
SUN, MON, SAT = D(2026, 12, 6), D(2026, 12, 7), D(2026, 12, 5)
NEXT_WEEK = (D(2026, 12, 7), D(2026, 12, 13), "range")
NEXT_MONTH = (D(2027, 1, 1), D(2027, 1, 31), "month")
NEXT_YEAR = (D(2027, 1, 1), D(2027, 12, 31), "year")


def day(d):
    return d, d, "day"


ROWS = [
    # English
    ("en", "The talks go on until Sunday.", "until Sunday", day(SUN)),
    ("en", "The embassy stays closed till Monday.", "till Monday", day(MON)),
    ("en", "A decision is expected by Saturday.", "by Saturday", day(SAT)),
    ("en", "The summit opens next Friday in Vienna.", "next Friday", day(D(2026, 12, 11))),
    ("en", "The vote will be held on Sunday.", "on Sunday", day(SUN)),
    ("en", "Ministers meet again next week.", "next week", NEXT_WEEK),
    ("en", "The law takes effect next month.", "next month", NEXT_MONTH),
    ("en", "Elections are due next year.", "next year", NEXT_YEAR),
    ("en", "The ferry resumes in three days.", "in three days", day(D(2026, 12, 7))),
    # German
    ("de", "Die Gespräche dauern bis Sonntag.", "bis Sonntag", day(SUN)),
    ("de", "Der Gipfel beginnt am kommenden Montag.", "kommenden Montag", day(MON)),
    ("de", "Die Abstimmung wird am Sonntag stattfinden.", "am Sonntag", day(SUN)),
    ("de", "Die Minister treffen sich nächste Woche.", "nächste Woche", NEXT_WEEK),
    ("de", "Das Gesetz gilt ab nächstem Jahr, im nächsten Jahr.", "im nächsten Jahr", NEXT_YEAR),
    ("de", "Die Fähre fährt in drei Tagen wieder.", "in drei Tagen", day(D(2026, 12, 7))),
    # French
    ("fr", "Les négociations durent jusqu'à dimanche.", "jusqu'à dimanche", day(SUN)),
    ("fr", "Les négociations durent jusqu’à lundi.", "jusqu’à lundi", day(MON)),
    ("fr", "Le vote aura lieu dimanche prochain.", "dimanche prochain", day(SUN)),
    ("fr", "Le scrutin se tiendra samedi.", "samedi", day(SAT)),
    ("fr", "Les ministres se réunissent la semaine prochaine.", "la semaine prochaine", NEXT_WEEK),
    ("fr", "La loi entre en vigueur le mois prochain.", "le mois prochain", NEXT_MONTH),
    ("fr", "Le chantier reprend dans trois jours.", "dans trois jours", day(D(2026, 12, 7))),
    # Croatian / Serbian
    ("hr", "Rok za prijave je do nedjelje.", "do nedjelje", day(SUN)),
    ("hr", "Izbori će se održati u nedjelju.", "u nedjelju", day(SUN)),
    ("hr", "Ministri se sastaju sljedeći tjedan.", "sljedeći tjedan", NEXT_WEEK),
    ("hr", "Zakon stupa na snagu idućeg mjeseca.", "idućeg mjeseca", NEXT_MONTH),
    ("hr", "Most se otvara iduće godine.", "iduće godine", NEXT_YEAR),
    ("hr", "Summit počinje idući ponedjeljak.", "idući ponedjeljak", day(MON)),
    ("sr", "Rok je do nedelje.", "do nedelje", day(SUN)),
    # Russian
    ("ru", "Переговоры продлятся до воскресенья.", "до воскресенья", day(SUN)),
    ("ru", "Встреча пройдет на следующей неделе.", "на следующей неделе", NEXT_WEEK),
    ("ru", "Саммит откроется в следующий понедельник.", "в следующий понедельник", day(MON)),
    ("ru", "Голосование будет в воскресенье.", "в воскресенье", day(SUN)),
    ("ru", "Закон вступит в силу в следующем году.", "в следующем году", NEXT_YEAR),
    ("ru", "Паром вернется через три дня.", "через три дня", day(D(2026, 12, 7))),
    # Spanish
    ("es", "Las negociaciones siguen hasta el domingo.", "hasta el domingo", day(SUN)),
    ("es", "La cumbre se celebrará el domingo.", "el domingo", day(SUN)),
    ("es", "Los ministros se reúnen la próxima semana.", "la próxima semana", NEXT_WEEK),
    ("es", "La votación es el domingo que viene.", "el domingo que viene", day(SUN)),
    # Italian and Portuguese
    ("it", "Il voto è previsto domenica prossima.", "domenica prossima", day(SUN)),
    ("it", "I ministri si incontrano la prossima settimana.", "la prossima settimana", NEXT_WEEK),
    ("pt", "A reunião será na próxima semana.", "na próxima semana", NEXT_WEEK),
    ("pt", "As negociações continuam até domingo.", "até domingo", day(SUN)),
]

# Reports of the past keep looking back, including a future verb in another clause.
PAST = [
    ("en", "Rebels attacked on Monday.", "on Monday", day(D(2026, 11, 30))),
    ("en", "Elections will be held, the minister said on Monday.", "on Monday", day(D(2026, 11, 30))),
    ("en", "Ministers met last week in Brussels.", "last week", (D(2026, 11, 23), D(2026, 11, 29), "range")),
    ("de", "Am Montag griffen Rebellen an.", "Am Montag", day(D(2026, 11, 30))),
    ("hr", "Napad se dogodio u srijedu navečer.", "u srijedu", day(D(2026, 12, 2))),
    ("hr", "Sastali su se prošli tjedan.", "prošli tjedan", (D(2026, 11, 23), D(2026, 11, 29), "range")),
    ("ru", "Нападение произошло в среду.", "в среду", day(D(2026, 12, 2))),
    ("fr", "Le ministre a parlé lundi.", "lundi", day(D(2026, 11, 30))),
    ("fr", "Une caméra a filmé l'attaque samedi.", "samedi", day(D(2026, 11, 28))),
]


def _check(lang, sentence, expected, interval):
    found = find_dates(sentence, lang, FRIDAY)
    match = [d for d in found if d.text == expected]
    assert match, f"{expected!r} not found in {[d.text for d in found]}"
    assert (match[0].start, match[0].end, match[0].granularity) == interval
    assert sentence[match[0].start_char:match[0].end_char] == expected


@pytest.mark.parametrize("lang,sentence,expected,interval", ROWS, ids=[f"{r[0]}:{r[2]}" for r in ROWS])
def test_forward_expression(lang, sentence, expected, interval):
    _check(lang, sentence, expected, interval)


@pytest.mark.parametrize("lang,sentence,expected,interval", PAST, ids=[f"{r[0]}:{r[1][:30]}" for r in PAST])
def test_past_report_still_looks_back(lang, sentence, expected, interval):
    _check(lang, sentence, expected, interval)


def test_table_has_thirty_rows_in_six_languages():
    assert len(ROWS) >= 30
    assert len({r[0] for r in ROWS} - {"sr"}) >= 6


def test_forward_words_need_a_publication_date():
    assert find_dates("The talks go on until Sunday and resume next week.", "en", None) == []


def test_a_language_without_weekday_words_is_no_crash():
    """Found by schemathesis through POST /api/similarity with lang "0": the forward-word set was
    built from a name bound only for languages with weekday words."""
    from datetime import datetime, timezone

    from tidings.dates import find_dates

    when = datetime(2026, 12, 4, 12, tzinfo=timezone.utc)
    for lang in ("0", "xx", "und"):
        assert isinstance(find_dates("On 3 December 2026 and 2026-12-01.", lang, when), list)
