"""find_dates on a table of date expressions in en, hr (and sr), de, es, fr, ru, it, pt.

Each row: a sentence, the language, the publication date, the date text expected and the
interval it must denote. Year-less dates take the year closest to publication; vague
expressions become intervals (thirds of a month); "since" runs to the publication date.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from tidings.dates import find_dates

EN, HR, DE = datetime(2016, 8, 5), datetime(2016, 10, 28), datetime(2016, 3, 15)
ES = FR = RU = IT = PT = datetime(2016, 9, 10)
D = date

ROWS = [
    # English (published Friday 2016-08-05)
    ("en", "On July 28, Russia opened corridors.", EN, "July 28", D(2016, 7, 28), D(2016, 7, 28), "day"),
    ("en", "The helicopter downed on Aug. 1 was returning.", EN, "Aug. 1", D(2016, 8, 1), D(2016, 8, 1), "day"),
    ("en", "The vote is on September 22, 2016.", EN, "September 22, 2016", D(2016, 9, 22), D(2016, 9, 22), "day"),
    ("en", "He died on 22 September 2015 in Paris.", EN, "22 September 2015", D(2015, 9, 22), D(2015, 9, 22), "day"),
    ("en", "Talks are set for late August.", EN, "late August", D(2016, 8, 21), D(2016, 8, 31), "range"),
    ("en", "A decision is due in early September.", EN, "early September", D(2016, 9, 1), D(2016, 9, 10), "range"),
    ("en", "Fighting resumed in mid-July.", EN, "mid-July", D(2016, 7, 11), D(2016, 7, 20), "range"),
    ("en", "Russia has intervened since September 2015.", EN, "since September 2015", D(2015, 9, 1), D(2016, 8, 5),
     "range"),
    ("en", "The siege began in 2012, officials say.", EN, "in 2012", D(2012, 1, 1), D(2012, 12, 31), "year"),
    ("en", "The minister said yesterday that talks failed.", EN, "yesterday", D(2016, 8, 4), D(2016, 8, 4), "day"),
    ("en", "The report was filed three days ago.", EN, "three days ago", D(2016, 8, 2), D(2016, 8, 2), "day"),
    ("en", "Data as of 2016-07-30 show a rise.", EN, "2016-07-30", D(2016, 7, 30), D(2016, 7, 30), "day"),
    ("en", "Rebels attacked on Monday.", EN, "on Monday", D(2016, 8, 1), D(2016, 8, 1), "day"),
    ("en", "The ceasefire collapsed at the end of March.", EN, "the end of March", D(2016, 3, 21), D(2016, 3, 31),
     "range"),
    ("en", "Elections were held in March 2014.", EN, "March 2014", D(2014, 3, 1), D(2014, 3, 31), "month"),
    # Croatian / Serbian (published Friday 2016-10-28)
    ("hr", "Sirijska vojska 22. rujna povela je ofenzivu.", HR, "22. rujna", D(2016, 9, 22), D(2016, 9, 22), "day"),
    ("hr", "Rusija je 18. listopada prekinula bombardiranje.", HR, "18. listopada", D(2016, 10, 18), D(2016, 10, 18),
     "day"),
    ("hr", "Rusija u Siriji intervenira od rujna 2015. tvrdeći", HR, "od rujna 2015.", D(2015, 9, 1), D(2016, 10, 28),
     "range"),
    ("hr", "Pregovori su zakazani krajem kolovoza.", HR, "krajem kolovoza", D(2016, 8, 21), D(2016, 8, 31), "range"),
    ("hr", "Odluka se očekuje početkom studenoga.", HR, "početkom studenoga", D(2016, 11, 1), D(2016, 11, 10),
     "range"),
    ("hr", "Napadi su počeli sredinom srpnja 2014. godine.", HR, "sredinom srpnja 2014. godine", D(2014, 7, 11),
     D(2014, 7, 20), "range"),
    ("hr", "Pobunjenici se od 2011. bore u ratu.", HR, "od 2011.", D(2011, 1, 1), D(2016, 10, 28), "range"),
    ("hr", "Izbori su održani 2015. godine.", HR, "2015. godine", D(2015, 1, 1), D(2015, 12, 31), "year"),
    ("hr", "Ministar je jučer izjavio da ...", HR, "jučer", D(2016, 10, 27), D(2016, 10, 27), "day"),
    ("hr", "Sastanak je održan 28. 10. 2016. u Zagrebu.", HR, "28. 10. 2016.", D(2016, 10, 28), D(2016, 10, 28), "day"),
    ("hr", "Napad se dogodio u srijedu navečer.", HR, "u srijedu", D(2016, 10, 26), D(2016, 10, 26), "day"),
    ("hr", "Primirje je počelo prije tri dana.", HR, "prije tri dana", D(2016, 10, 25), D(2016, 10, 25), "day"),
    ("sr", "Pregovori su zakazani krajem avgusta.", HR, "krajem avgusta", D(2016, 8, 21), D(2016, 8, 31), "range"),
    # German (published Tuesday 2016-03-15)
    ("de", "Der Gipfel findet am 22. März 2016 statt.", DE, "22. März 2016", D(2016, 3, 22), D(2016, 3, 22), "day"),
    ("de", "Die Frist endet Ende März.", DE, "Ende März", D(2016, 3, 21), D(2016, 3, 31), "range"),
    ("de", "Die Gespräche beginnen Anfang April.", DE, "Anfang April", D(2016, 4, 1), D(2016, 4, 10), "range"),
    ("de", "Die Waffenruhe gilt seit September 2015.", DE, "seit September 2015", D(2015, 9, 1), D(2016, 3, 15),
     "range"),
    ("de", "Der Minister sagte gestern in Berlin", DE, "gestern", D(2016, 3, 14), D(2016, 3, 14), "day"),
    ("de", "Das Gesetz wurde im Jahr 2014 beschlossen.", DE, "im Jahr 2014", D(2014, 1, 1), D(2014, 12, 31), "year"),
    ("de", "Am Montag griffen Rebellen an.", DE, "Am Montag", D(2016, 3, 14), D(2016, 3, 14), "day"),
    # Spanish (published Saturday 2016-09-10)
    ("es", "La cumbre será el 22 de septiembre de 2016.", ES, "22 de septiembre de 2016", D(2016, 9, 22),
     D(2016, 9, 22), "day"),
    ("es", "Las tropas llegaron a finales de agosto.", ES, "a finales de agosto", D(2016, 8, 21), D(2016, 8, 31),
     "range"),
    ("es", "Se reunirán a principios de octubre.", ES, "a principios de octubre", D(2016, 10, 1), D(2016, 10, 10),
     "range"),
    ("es", "Rusia interviene desde septiembre de 2015.", ES, "desde septiembre de 2015", D(2015, 9, 1),
     D(2016, 9, 10), "range"),
    ("es", "El presidente dijo ayer que", ES, "ayer", D(2016, 9, 9), D(2016, 9, 9), "day"),
    ("es", "La guerra empezó en 2011 en Siria.", ES, "en 2011", D(2011, 1, 1), D(2011, 12, 31), "year"),
    ("es", "El ataque ocurrió hace tres días.", ES, "hace tres días", D(2016, 9, 7), D(2016, 9, 7), "day"),
    # French (published 2016-09-10)
    ("fr", "Le sommet aura lieu le 22 septembre 2016.", FR, "22 septembre 2016", D(2016, 9, 22), D(2016, 9, 22),
     "day"),
    ("fr", "Les pourparlers reprendront fin août.", FR, "fin août", D(2016, 8, 21), D(2016, 8, 31), "range"),
    ("fr", "Les combats ont repris début septembre.", FR, "début septembre", D(2016, 9, 1), D(2016, 9, 10), "range"),
    ("fr", "La trêve a échoué mi-août.", FR, "mi-août", D(2016, 8, 11), D(2016, 8, 20), "range"),
    ("fr", "La Russie intervient depuis septembre 2015.", FR, "depuis septembre 2015", D(2015, 9, 1),
     D(2016, 9, 10), "range"),
    ("fr", "Il est arrivé le 1er août à Damas.", FR, "1er août", D(2016, 8, 1), D(2016, 8, 1), "day"),
    ("fr", "Le ministre a déclaré hier que", FR, "hier", D(2016, 9, 9), D(2016, 9, 9), "day"),
    ("fr", "Le conflit a éclaté il y a deux jours.", FR, "il y a deux jours", D(2016, 9, 8), D(2016, 9, 8), "day"),
    # Russian (published Saturday 2016-09-10)
    ("ru", "Встреча пройдет 22 сентября 2016 года в Женеве.", RU, "22 сентября 2016 года", D(2016, 9, 22),
     D(2016, 9, 22), "day"),
    ("ru", "Переговоры намечены на конец августа, в конце августа.", RU, "в конце августа", D(2016, 8, 21),
     D(2016, 8, 31), "range"),
    ("ru", "Решение ожидается в начале октября.", RU, "в начале октября", D(2016, 10, 1), D(2016, 10, 10), "range"),
    ("ru", "Россия действует в Сирии с сентября 2015 года.", RU, "с сентября 2015 года", D(2015, 9, 1),
     D(2016, 9, 10), "range"),
    ("ru", "Министр вчера заявил, что", RU, "вчера", D(2016, 9, 9), D(2016, 9, 9), "day"),
    ("ru", "Закон был принят в 2014 году.", RU, "в 2014 году", D(2014, 1, 1), D(2014, 12, 31), "year"),
    ("ru", "Нападение произошло в среду.", RU, "в среду", D(2016, 9, 7), D(2016, 9, 7), "day"),
    # Italian and Portuguese
    ("it", "Il vertice si terrà il 22 settembre 2016.", IT, "22 settembre 2016", D(2016, 9, 22), D(2016, 9, 22), "day"),
    ("it", "I colloqui riprenderanno a fine agosto.", IT, "a fine agosto", D(2016, 8, 21), D(2016, 8, 31), "range"),
    ("it", "La guerra è iniziata nel 2011.", IT, "nel 2011", D(2011, 1, 1), D(2011, 12, 31), "year"),
    ("pt", "A cimeira será a 22 de setembro de 2016.", PT, "22 de setembro de 2016", D(2016, 9, 22), D(2016, 9, 22),
     "day"),
    ("pt", "As tropas chegaram no final de agosto.", PT, "no final de agosto", D(2016, 8, 21), D(2016, 8, 31),
     "range"),
]


@pytest.mark.parametrize("lang,sentence,published,expected,start,end,granularity", ROWS,
                         ids=[f"{r[0]}:{r[3]}" for r in ROWS])
def test_date_expression(lang, sentence, published, expected, start, end, granularity):
    found = find_dates(sentence, lang, published)
    match = [d for d in found if d.text == expected]
    assert match, f"{expected!r} not found in {[d.text for d in found]}"
    d = match[0]
    assert (d.start, d.end, d.granularity) == (start, end, granularity)
    assert sentence[d.start_char:d.end_char] == d.text


def test_table_has_forty_rows_in_six_languages():
    assert len(ROWS) >= 40
    assert len({r[0] for r in ROWS}) >= 6


@pytest.mark.parametrize("lang,sentence", [
    ("hr", "U ratu je poginulo više od 300.000 ljudi."),
    ("hr", "Prolazi su otvoreni 24 sata u danu."),
    ("hr", "Poginulo je najmanje 15 civila."),
    ("hr", "Na prosvjed je došlo više od 2000 ljudi."),
    ("hr", "Njih 15 pro-ruskih aktivista je uhićeno."),
    ("en", "More than 18 tons of foodstuffs were sent, 2,016 in all."),
    ("en", "Article 5 of the treaty; you may 15 times try."),
    ("ru", "Он повторил это 2015 раз."),
    ("de", "Rund 1000 Menschen und 2015 Soldaten."),
])
def test_bare_numbers_are_not_dates(lang, sentence):
    assert find_dates(sentence, lang, datetime(2016, 10, 28)) == []


def test_year_less_dates_need_a_publication_date():
    assert find_dates("Sirijska vojska 22. rujna povela je ofenzivu.", "hr", None) == []
    (d,) = find_dates("Izbori su bili 22. rujna 2015.", "hr", None)
    assert d.start == date(2015, 9, 22)


def test_closest_year_wins_across_new_year():
    (d,) = find_dates("The attack on December 30 killed ten.", "en", datetime(2017, 1, 3))
    assert d.start == date(2016, 12, 30)
    (d,) = find_dates("Talks resume on January 5.", "en", datetime(2016, 12, 28))
    assert d.start == date(2017, 1, 5)
