"""Language identification: seeds, short titles, the South Slavic refinement, hints."""

from __future__ import annotations

import pytest

from conftest import need_shared
from tidings.language import detect, marker_counts


def test_seeds():
    hr = need_shared("seeds", "000_81ffc60cca3810fd.txt").read_text(encoding="utf-8")
    en = need_shared("seeds", "004_03a04a2913114bf7.txt").read_text(encoding="utf-8")
    lang, confidence = detect(hr)
    assert lang == "hr" and confidence > 0.9
    lang, confidence = detect(en)
    assert lang == "en" and confidence > 0.9


@pytest.mark.parametrize("title,lang", [
    ("Floods force thousands to leave their homes in Bosnia", "en"),
    ("Hochwasser zwingt Tausende, ihre Häuser zu verlassen", "de"),
    ("Las inundaciones obligan a miles de personas a abandonar sus casas", "es"),
    ("Les inondations forcent des milliers de personnes à quitter leur maison", "fr"),
    ("Le inondazioni costringono migliaia di persone a lasciare le case", "it"),
    ("Inundações obrigam milhares de pessoas a deixar as suas casas", "pt"),
    ("Наводнения вынудили тысячи людей покинуть свои дома", "ru"),
    ("Poplave prisilile tisuće ljudi da napuste svoje domove", "hr"),
    ("Поплаве натерале хиљаде људи да напусте своје домове", "sr"),
    ("Poplave so tisoče ljudi prisilile, da zapustijo svoje domove", "sl"),
    ("Поплавите принудија илјадници луѓе да ги напуштат своите домови", "mk"),
])
def test_short_titles(title, lang):
    assert detect(title)[0] == lang


def test_serbian_latin_against_croatian():
    serbian = "Uvek sam kupovao hleb u ovoj prodavnici, a mleko je uvek bilo sveže i jeftino."
    croatian = "Uvijek sam kupovao kruh u ovoj trgovini, a mlijeko je uvijek bilo svježe i jeftino."
    assert detect(serbian)[0] == "sr"
    assert detect(croatian)[0] == "hr"
    assert marker_counts(serbian)["ekavian"] >= 3 and marker_counts(croatian)["ijekavian"] >= 3


def test_bosnian_ijekavian_with_serbian_vocabulary():
    assert detect("Hiljade ljudi okupilo se prije podne u Sarajevu, a porodice su dobile pomoć.")[0] == "bs"


def test_hint_wins():
    assert detect("Floods force thousands to leave their homes", hint="de") == ("de", 1.0)
    assert detect("whatever", hint="pt-BR") == ("pt", 1.0)
    assert detect("Floods force thousands to leave", hint="und")[0] == "en"


def test_no_text():
    assert detect("") == ("und", 0.0)
    assert detect("1234 5678 !!!") == ("und", 0.0)


def test_min_confidence_gives_und():
    lang, confidence = detect("ok", settings={"min_confidence": 0.99})
    assert lang == "und" and confidence < 0.99
