"""Plain-text files: encodings, titles, bad files, directories."""

from __future__ import annotations

import pytest

from conftest import need_shared
from tidings.errors import BinaryInput, DecodeError, EmptyInput, InputError, TooLarge, UnsupportedInput
from tidings.ingest import read_sources
from tidings.models import Document

HR = ("Poplave na Savi\n\nRijeka Sava izlila se iz korita kod Zagreba u utorak ujutro. Spašeno je "
      "četiristo stanovnika, a žurne službe kažu da će vodostaj rasti do četvrtka. Đački domovi su zatvoreni.")
SR_CYR = ("Поплаве на Сави\n\nРека Сава излила се из корита код Београда у уторак ујутру. Спасиоци су "
          "евакуисали четиристо становника, а хитне службе кажу да ће водостај расти до четвртка.")
RU = ("Наводнение на Саве\n\nРека Сава вышла из берегов около Загреба во вторник утром. Спасатели "
      "эвакуировали более четырёхсот жителей, уровень воды будет расти до четверга.")
FR = ("Crue de la Save\n\nLa Save est sortie de son lit près de Zagreb mardi matin. Les secours ont évacué "
      "quatre cents habitants ; les élèves ne vont pas à l'école et la préfète a décrété l'état d'urgence.")
ES = ("Inundaciones en el Sava\n\nEl río Sava se desbordó cerca de Zagreb el martes por la mañana. Los "
      "equipos de rescate evacuaron a cuatrocientos vecinos, señaló la portavoz, y la situación empeoraría.")
DE = ("Hochwasser an der Save\n\nDie Save ist am Dienstagmorgen bei Zagreb über die Ufer getreten. Rettungskräfte "
      "brachten vierhundert Anwohner in Sicherheit; die Straße nach Sisak ist gesperrt, hieß es aus München.")


def _one(path, **settings):
    items = list(read_sources([path], settings or None))
    assert len(items) == 1, items
    return items[0]


@pytest.mark.parametrize("text,encoding", [
    (HR, "utf-8"), (HR, "utf-8-sig"), (HR, "cp1250"), (SR_CYR, "cp1251"), (RU, "cp1251"),
    (FR, "latin-1"), (ES, "latin-1"), (DE, "latin-1"), (FR, "cp1252"), (HR, "utf-16"),
])
def test_encodings_are_detected(tmp_path, text, encoding):
    path = tmp_path / "a.txt"
    data = text.encode(encoding)
    path.write_bytes(data)
    doc = _one(path)
    assert isinstance(doc, Document), doc
    assert doc.raw == data
    title, _, body = text.partition("\n\n")
    assert doc.title == title
    assert doc.text == body
    assert doc.content_type == "text" and doc.source == str(path)


def test_title_is_first_line_when_it_looks_like_one(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("Port strike in Hamburg\nDock workers in Hamburg went on strike on Monday, halting "
                    "container traffic. The union wants higher pay for night shifts.\n", encoding="utf-8")
    doc = _one(path)
    assert doc.title == "Port strike in Hamburg"
    assert doc.text.startswith("Dock workers")


def test_title_is_first_sentence_otherwise(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("Dock workers in Hamburg went on strike on Monday. The union wants higher pay.", encoding="utf-8")
    doc = _one(path)
    assert doc.title == "Dock workers in Hamburg went on strike on Monday."
    assert doc.text.startswith("Dock workers in Hamburg")  # the body keeps its first sentence


def test_long_first_sentence_is_truncated_at_a_word(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("word " * 100 + "end.", encoding="utf-8")
    doc = _one(path, title_max_chars=50)
    assert len(doc.title) <= 51 and doc.title.endswith("…") and " wor…" not in doc.title


def test_seeds_are_read(tmp_path):
    seeds = need_shared("seeds")
    docs = [d for d in read_sources([seeds]) if isinstance(d, Document)]
    assert [d.source.rsplit("/", 1)[-1] for d in docs] == ["000_81ffc60cca3810fd.txt", "004_03a04a2913114bf7.txt"]
    hr, en = docs
    assert hr.title.startswith("Ruski predsjednik Vladimir Putin") and hr.title.endswith("iz zraka.")
    assert en.title == "Syria: What’s behind Russia’s humanitarian operation in Aleppo?"
    assert not en.text.startswith("Syria:")


@pytest.mark.parametrize("name,data,error,needle", [
    ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), BinaryInput, "binary"),
    ("empty.txt", b"", EmptyInput, "empty"),
    ("blank.txt", b"  \n\n\t\n", EmptyInput, "empty"),
    ("cookies.txt", b"This website uses cookies. Click here to find out more.\n\nAccept cookies\n", EmptyInput,
     "boilerplate"),
    ("weird.txt", bytes([0x81, 0x8D, 0x8F, 0x90, 0x9D]) * 50, DecodeError, "decode"),
    ("notes.md", b"# Notes\n\nSome text.", UnsupportedInput, "unsupported file type '.md'"),
    ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01", BinaryInput, "binary"),
])
def test_bad_files_are_yielded_as_errors(tmp_path, name, data, error, needle):
    path = tmp_path / name
    path.write_bytes(data)
    item = _one(path)
    assert type(item) is error, item
    assert item.source == str(path)
    assert needle in str(item) and str(item).startswith(f"{path}: ")
    assert "Traceback" not in str(item)


def test_too_large_and_missing(tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("Title\n\n" + "word " * 500, encoding="utf-8")
    err = _one(big, max_bytes=1000)
    assert isinstance(err, TooLarge) and err.code == "T105" and "1,000-byte limit" in str(err)
    missing = _one(tmp_path / "nope.txt")
    assert isinstance(missing, UnsupportedInput) and str(missing) == f"{tmp_path / 'nope.txt'}: no such file or directory"


def test_directory_is_walked_sorted_skipping_hidden_and_unknown(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "b" / "2.txt").write_text("Second\n\nThe second article has a body.", encoding="utf-8")
    (tmp_path / "a.txt").write_text("First\n\nThe first article has a body.", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("Hidden\n\nNot to be read.", encoding="utf-8")
    (tmp_path / ".git" / "x.txt").write_text("Hidden\n\nNot to be read.", encoding="utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\x00\x00")
    (tmp_path / "data.json").write_text("{}", encoding="utf-8")
    seen: list[str] = []
    items = list(read_sources([tmp_path], on_progress=seen.append))
    assert all(not isinstance(i, InputError) for i in items), items
    assert [i.title for i in items] == ["First", "Second"]
    assert seen == [str(tmp_path / "a.txt"), str(tmp_path / "b" / "2.txt")]


def test_a_bad_file_does_not_stop_the_batch(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("Good\n\nA good article body.", encoding="utf-8")
    items = list(read_sources([tmp_path / "missing.txt", good]))
    assert isinstance(items[0], InputError) and isinstance(items[1], Document)
