"""Write the trained network as an ONNX graph, operator by operator.

Building the graph by hand (instead of tracing) keeps the exported model small, readable and
tied to an opset we chose; :func:`export` is checked against the torch forward pass by the
training pipeline. Embedding tables are stored as float16 (halving the file) and widened
to float32 after the lookup.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from cites_guard.training._network import _NEGATIVE, BIGRAM_PRIME, NgramClassifier

__all__ = ["OPSET", "OUTPUTS", "export"]

#: ONNX opset of the shipped model.
OPSET = 17
#: Output names of the graph, in order: offer logit, group logits, Appendix I logit.
OUTPUTS = ("logit", "group_logits", "appendix_logit")


def _const(name: str, value: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(value, name)


def export(network: NgramClassifier, path: Path) -> None:
    """Write ``network`` (in eval mode) to ``path`` as an ONNX model.

    Inputs: ``input_ids`` int64 ``[batch, tokens]``. Outputs: ``logit`` ``[batch]``,
    ``group_logits`` ``[batch, groups]`` and ``appendix_logit`` ``[batch]``.
    """
    state = {k: v.detach().cpu().numpy() for k, v in network.state_dict().items()}
    groups = state["group_head.weight"].shape[0]
    initializers = [
        _const("unigram_table", state["unigram.weight"].astype(np.float16)),
        _const("bigram_table", state["bigram.weight"].astype(np.float16)),
        _const("hidden_w", state["hidden.weight"].astype(np.float32)),
        _const("hidden_b", state["hidden.bias"].astype(np.float32)),
        _const("head_w", state["head.weight"].astype(np.float32)),
        _const("head_b", state["head.bias"].astype(np.float32)),
        _const("group_w", state["group_head.weight"].astype(np.float32)),
        _const("group_b", state["group_head.bias"].astype(np.float32)),
        _const("appendix_w", state["appendix_head.weight"].astype(np.float32)),
        _const("appendix_b", state["appendix_head.bias"].astype(np.float32)),
        _const("pad", np.array(network.pad_id, dtype=np.int64)),
        _const("one", np.array(1.0, dtype=np.float32)),
        _const("negative", np.array(_NEGATIVE, dtype=np.float32)),
        _const("prime", np.array(BIGRAM_PRIME, dtype=np.int64)),
        _const("buckets", np.array(network.buckets, dtype=np.int64)),
        _const("axis1", np.array([1], dtype=np.int64)),
        _const("axis2", np.array([2], dtype=np.int64)),
        _const("zero_1d", np.array([0], dtype=np.int64)),
        _const("one_1d", np.array([1], dtype=np.int64)),
        _const("minus_one_1d", np.array([-1], dtype=np.int64)),
        _const("big_1d", np.array([2**62], dtype=np.int64)),
    ]
    n = helper.make_node
    nodes = [
        # Token mask and unigram lookups.
        n("Equal", ["input_ids", "pad"], ["is_pad"]),
        n("Not", ["is_pad"], ["is_token"]),
        n("Cast", ["is_token"], ["mask"], to=TensorProto.FLOAT),
        n("Gather", ["unigram_table", "input_ids"], ["uni16"]),
        n("Cast", ["uni16"], ["uni"], to=TensorProto.FLOAT),
        n("Unsqueeze", ["mask", "axis2"], ["mask3"]),
        # Mean pooling.
        n("Mul", ["uni", "mask3"], ["uni_masked"]),
        n("ReduceSum", ["uni_masked", "axis1"], ["uni_sum"], keepdims=0),
        n("ReduceSum", ["mask", "axis1"], ["count_raw"], keepdims=1),
        n("Max", ["count_raw", "one"], ["count"]),
        n("Div", ["uni_sum", "count"], ["uni_mean"]),
        # Max pooling (padding pushed far below any real value).
        n("Sub", ["mask3", "one"], ["mask_off"]),
        n("Mul", ["mask_off", "negative"], ["pad_penalty"]),
        n("Add", ["uni", "pad_penalty"], ["uni_penalised"]),
        n("ReduceMax", ["uni_penalised"], ["uni_max"], axes=[1], keepdims=0),
        # Hashed bigrams.
        n("Slice", ["input_ids", "zero_1d", "minus_one_1d", "axis1"], ["left"]),
        n("Slice", ["input_ids", "one_1d", "big_1d", "axis1"], ["right"]),
        n("Mul", ["left", "prime"], ["left_scaled"]),
        n("Add", ["left_scaled", "right"], ["pair"]),
        n("Mod", ["pair", "buckets"], ["bigram_ids"]),
        n("Slice", ["mask", "zero_1d", "minus_one_1d", "axis1"], ["mask_left"]),
        n("Slice", ["mask", "one_1d", "big_1d", "axis1"], ["mask_right"]),
        n("Mul", ["mask_left", "mask_right"], ["bigram_mask"]),
        n("Gather", ["bigram_table", "bigram_ids"], ["bi16"]),
        n("Cast", ["bi16"], ["bi"], to=TensorProto.FLOAT),
        n("Unsqueeze", ["bigram_mask", "axis2"], ["bigram_mask3"]),
        n("Mul", ["bi", "bigram_mask3"], ["bi_masked"]),
        n("ReduceSum", ["bi_masked", "axis1"], ["bi_sum"], keepdims=0),
        n("ReduceSum", ["bigram_mask", "axis1"], ["bi_count_raw"], keepdims=1),
        n("Max", ["bi_count_raw", "one"], ["bi_count"]),
        n("Div", ["bi_sum", "bi_count"], ["bi_mean"]),
        # Hidden layer and heads.
        n("Concat", ["uni_mean", "uni_max", "bi_mean"], ["features"], axis=1),
        n("Gemm", ["features", "hidden_w", "hidden_b"], ["hidden_pre"], transB=1),
        n("Relu", ["hidden_pre"], ["hidden"]),
        n("Gemm", ["hidden", "head_w", "head_b"], ["logit_2d"], transB=1),
        n("Squeeze", ["logit_2d", "axis1"], ["logit"]),
        n("Gemm", ["hidden", "group_w", "group_b"], ["group_logits"], transB=1),
        n("Gemm", ["hidden", "appendix_w", "appendix_b"], ["appendix_2d"], transB=1),
        n("Squeeze", ["appendix_2d", "axis1"], ["appendix_logit"]),
    ]
    graph = helper.make_graph(
        nodes,
        "cites_guard_ngram_classifier",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"])],
        [
            helper.make_tensor_value_info("logit", TensorProto.FLOAT, ["batch"]),
            helper.make_tensor_value_info("group_logits", TensorProto.FLOAT, ["batch", groups]),
            helper.make_tensor_value_info("appendix_logit", TensorProto.FLOAT, ["batch"]),
        ],
        initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="cites-guard",
        ir_version=8,
    )
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
