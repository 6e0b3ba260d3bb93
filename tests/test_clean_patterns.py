"""Boilerplate patterns per language, and the pattern file format."""

from __future__ import annotations

import pytest

from tidings.clean import available_languages, clean, patterns_for
from tidings.errors import ConfigError

REAL = {
    "en": "The minister said on Monday that talks with the unions would resume next week in Geneva.",
    "hr": "Ministar je u ponedjeljak rekao da će se pregovori sa sindikatima nastaviti idući tjedan.",
    "sr": "Министар је у понедељак рекао да ће се преговори са синдикатима наставити следеће недеље.",
    "de": "Der Minister sagte am Montag, die Gespräche mit den Gewerkschaften würden nächste Woche fortgesetzt.",
    "es": "El ministro dijo el lunes que las conversaciones con los sindicatos se reanudarán la próxima semana.",
    "fr": "Le ministre a déclaré lundi que les discussions avec les syndicats reprendraient la semaine prochaine.",
    "pt": "O ministro disse na segunda-feira que as conversas com os sindicatos serão retomadas na próxima semana.",
    "it": "Il ministro ha detto lunedì che i colloqui con i sindacati riprenderanno la prossima settimana.",
    "ru": "Министр заявил в понедельник, что переговоры с профсоюзами возобновятся на следующей неделе.",
}
BOILERPLATE = {
    "en": ["Read more: Talks collapse in Geneva", "Subscribe to our newsletter for daily updates",
           "This website uses cookies to improve your experience.", "Photo: Reuters", "Advertisement",
           "© 2024 Example Media. All rights reserved."],
    "hr": ["Pročitajte i: Pregovori propali", "Foto: Pixsell", "Ova stranica koristi kolačiće za bolje iskustvo.",
           "Sva prava pridržana.", "Komentari"],
    "sr": ["Прочитајте још: Преговори пропали", "Фото: Танјуг", "Сва права задржана.",
           "Pročitajte još: Pregovori propali"],
    "de": ["Lesen Sie auch: Gespräche gescheitert", "Foto: dpa", "Diese Website verwendet Cookies.",
           "Alle Rechte vorbehalten.", "Anzeige"],
    "es": ["Lea también: Fracasan las negociaciones", "Foto: EFE", "Usamos cookies para mejorar el servicio.",
           "Todos los derechos reservados.", "Recibe el boletín de Internacional", "Lo más visto en..."],
    "fr": ["Lire aussi : Échec des négociations", "Photo : AFP", "Ce site utilise des cookies.",
           "Tous droits réservés.", "Ajouter aux favoris", "Plan du site"],
    "pt": ["Leia também: Fracassam as negociações", "Foto: Lusa", "Este site usa cookies.",
           "Todos os direitos reservados."],
    "it": ["Leggi anche: Falliscono i negoziati", "Foto: ANSA", "Questo sito utilizza cookies.",
           "Tutti i diritti riservati.", "Diventa utente sostenitore!"],
    "ru": ["Читайте также: Переговоры сорваны", "Фото: ТАСС", "Сайт использует файлы cookies.",
           "Все права защищены.", "Подпишитесь на нашу рассылку"],
}


def test_at_least_these_languages_have_patterns():
    assert {"en", "hr", "sr", "bs", "de", "es", "fr", "pt", "it", "ru"} <= set(available_languages())


@pytest.mark.parametrize("lang", sorted(BOILERPLATE))
def test_language_patterns(lang):
    text = "\n\n".join([REAL[lang], *BOILERPLATE[lang], REAL[lang] + " (2)"])
    for which in (lang, None):
        cleaned = clean(text, which)
        assert cleaned == f"{REAL[lang]}\n\n{REAL[lang]} (2)", (which, cleaned)


def test_bosnian_uses_croatian_patterns():
    assert clean("Foto: FENA\n\nPročitajte još: Vijesti iz Sarajeva", "bs") == ""


def test_a_sentence_quoting_a_phrase_survives():
    long_line = ("The court ruled on Tuesday that the company's claim that all rights reserved under the 1998 "
                 "contract passed to its subsidiary was unfounded, and that the website that uses cookies to "
                 "track readers had broken the law, which the regulator welcomed in a statement on Wednesday "
                 "evening, saying other publishers should now review their own practices before the deadline.")
    assert len(long_line) > 300
    assert clean(long_line, "en") == long_line


def test_inline_related_links_and_caption():
    text = 'He said it would end soon. >>Rebels attack >>Jets came close'
    assert clean(text, "hr") == "He said it would end soon."
    caption = "Talks resume in Geneva. Photo: Delegates arrive at the UN building."
    assert clean(caption, "en") == "Talks resume in Geneva."
    assert clean("The photo: a mystery.", "en") == "The photo: a mystery."


def test_repeated_lines_keep_the_first_copy():
    line = "Residents were evacuated from three villages near Sisak."
    assert clean(f"{line}\n\nOther news.\n\n{line.upper()}", "en") == f"{line}\n\nOther news."
    assert clean("Yes.\n\nNo.\n\nYes.", "en") == "Yes.\n\nNo.\n\nYes."  # short repeats may be real


def test_unknown_language_uses_common_patterns():
    assert clean("Sergei Bobylev/TASS\nA real sentence about the war.", "xx") == "A real sentence about the war."


def test_extra_pattern_file_and_errors(tmp_path):
    extra = tmp_path / "site.txt"
    extra.write_text("# my site\n[line]\nRiver Daily app: download now\n", encoding="utf-8")
    text = "River Daily app: download now\n\nThe river rose."
    assert clean(text, "en", settings={"extra_patterns": [str(extra)]}) == "The river rose."
    bad = tmp_path / "bad.txt"
    bad.write_text("[lines]\nfoo\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.txt:1.*unknown section \[lines\]"):
        clean("x", "en", settings={"extra_patterns": [str(bad)]})
    broken = tmp_path / "broken.txt"
    broken.write_text("[line]\n(unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken.txt:2"):
        clean("x", "en", settings={"extra_patterns": [str(broken)]})


def test_every_shipped_file_compiles():
    for lang in [None, *available_languages()]:
        patterns = patterns_for(lang, (), 600, 300)
        assert patterns.line is not None


def test_invisible_characters_go_and_a_text_without_any_is_unchanged():
    """normalise_whitespace only translates a text that has one of the invisible characters."""
    from tidings.clean import normalise_whitespace

    assert normalise_whitespace("Za\u200bgreb\u00ad  and\ufeff Split\u2060\u200c\u200d") == "Zagreb and Split"
    assert normalise_whitespace("Zagreb\r\nand\tSplit") == "Zagreb\nand Split"
