"""The shipped sample articles (examples/sample) read without errors, in every encoding."""

from __future__ import annotations

import pytest

from conftest import EXAMPLES
from tidings.clean import clean
from tidings.errors import InputError
from tidings.ingest import read_sources
from tidings.language import detect


@pytest.fixture(scope="module")
def docs():
    if not EXAMPLES.is_dir():
        pytest.skip(f"{EXAMPLES} not found")
    return list(read_sources([EXAMPLES]))


def test_every_sample_reads(docs):
    errors = [str(d) for d in docs if isinstance(d, InputError)]
    assert not errors
    assert all(d.title and (d.text or d.content_type == "feed") for d in docs)


def test_legacy_encodings_decode_to_real_letters(docs):
    by_name = {d.source.rsplit("/", 1)[-1]: d for d in docs}
    for name, letters in [("hr_poplave_cp1250.txt", "čćšžČŠŽ"), ("ru_zemletryasenie_cp1251.txt", "аеиоу"),
                          ("de_ezb_zinsen_utf8bom.txt", "äöüß")]:
        if name not in by_name:
            continue
        doc = by_name[name]
        text = doc.title + doc.text
        assert any(ch in text for ch in letters), name
        assert "\ufffd" not in text and "\ufeff" not in text and "Ã" not in text


def test_samples_get_their_language_and_lose_their_boilerplate(docs):
    for doc in docs:
        lang, _ = detect(f"{doc.title}\n{doc.text}", hint=doc.lang)
        prefix = doc.source.rsplit("/", 1)[-1][:3]
        if prefix[2] == "_" and prefix[:2] in {"en", "de", "fr", "hr", "it", "ru", "es", "pt"}:
            assert lang == prefix[:2], doc.source
        cleaned = clean(doc.text, lang)
        for marker in ("Read more:", "Lesen Sie auch", "Pročitajte još", "Читайте также", "Foto:", "Фото:"):
            assert marker not in cleaned, (doc.source, marker)
