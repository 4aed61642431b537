"""Per-layer matching between a PyTorch BERT and an exported graph (ONNX, OpenVINO, TFLite), by LayerNorm order:
what `edgebert diff` reads to say where a bundle's outputs start to drift.

A BERT/DistilBERT encoder has 1 + 2*L LayerNorms, in execution order: embeddings, then per layer the attention
output and the FFN output. Every exporter keeps them as recognisable ops, whatever it fuses around them:
  PyTorch   forward hooks on nn.LayerNorm modules (module registration order == execution order here)
  ONNX      LayerNormalization / SkipLayerNormalization / SkipSimplifiedLayerNormalization / EmbedLayerNormalization
            nodes in graph order (ONNX graphs are topologically sorted); output[0]; raw, ORT-fused and int8 graphs
  OpenVINO  MVN ops (LayerNorm decomposes to MVN + Multiply + Add): the Add after each MVN, in topological order
So "layer k" is the k-th LayerNorm output; names are only for the report."""
from __future__ import annotations

from typing import Any

import numpy as np

LN_OPS = ("LayerNormalization", "SkipLayerNormalization", "SkipSimplifiedLayerNormalization",
          "EmbedLayerNormalization")


def torch_layernorms(module: Any, feed: dict[str, np.ndarray], names: list[str]) -> list[tuple[str, np.ndarray]]:
    import torch

    outs: list[tuple[str, np.ndarray]] = []
    hooks = [m.register_forward_hook(lambda mod, inp, out, n=n: outs.append((n, out.detach().numpy())))
             for n, m in module.named_modules() if isinstance(m, torch.nn.LayerNorm)]
    try:
        with torch.inference_mode():
            module(*[torch.from_numpy(feed[n]) for n in names])
    finally:
        for h in hooks:
            h.remove()
    return outs


def onnx_with_layernorm_outputs(path: str) -> tuple[bytes, list[str]]:
    """The model with every LayerNorm-type node's first output added as a graph output."""
    import onnx
    from onnx import helper

    model = onnx.load(path)
    taps = [n.output[0] for n in model.graph.node if n.op_type in LN_OPS]
    existing = {o.name for o in model.graph.output}
    for name in taps:
        if name not in existing:
            model.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    return model.SerializeToString(), taps


def onnx_layernorms(path: str, feed: dict[str, np.ndarray], custom_ops: str | None = None
                    ) -> list[tuple[str, np.ndarray]]:
    import onnxruntime as ort

    data, taps = onnx_with_layernorm_outputs(path)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep the tapped tensors as written
    if custom_ops:  # text-in graphs: the extensions' tokenizer ops
        so.register_custom_ops_library(custom_ops)
    sess = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    outs = sess.run(taps, {n: feed[n] for n in names})
    return list(zip(taps, outs))


def openvino_layernorms(xml: str, feed: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
    """OpenVINO: LayerNorm = MVN -> Multiply(gamma) -> Add(beta); tap each MVN's consumer chain end."""
    import openvino as ov

    core = ov.Core()
    model = core.read_model(xml)
    taps = []
    for op in model.get_ordered_ops():
        if op.get_type_name() == "MVN":
            node = op
            for _ in range(2):  # MVN -> Multiply -> Add
                consumers = list(node.output(0).get_target_inputs())
                if len(consumers) != 1:
                    break
                nxt = consumers[0].get_node()
                if nxt.get_type_name() not in ("Multiply", "Add"):
                    break
                node = nxt
            taps.append(node)
    # add_outputs returns the ports it added or found (the last LayerNorm is already the model output): look the
    # results up by tensor name, never by position
    ports = model.add_outputs([t.output(0) for t in taps])
    compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    names = [i.get_any_name() for i in compiled.inputs]
    res = compiled({n: feed[n] for n in names})
    return [(t.get_friendly_name(), res[p.get_any_name()]) for t, p in zip(taps, ports)]


def drift(ref: list[tuple[str, np.ndarray]], got: list[tuple[str, np.ndarray]], mask: np.ndarray,
          threshold: float = 0.99) -> list[dict[str, Any]]:
    """Per LayerNorm: min/mean token cosine and max-abs over real tokens; `first` marks the first below threshold."""
    if len(ref) != len(got):
        from edgebert.errors import EdgebertError

        raise EdgebertError(f"{len(ref)} LayerNorms in PyTorch, {len(got)} in the graph: cannot match layers")
    rows, flagged = [], False
    m = mask.astype(bool)
    for i, ((rn, r), (gn, g)) in enumerate(zip(ref, got)):
        r, g = np.asarray(r)[0][m], np.asarray(g)[0][m]  # batch 1: (T, H) real tokens
        num = (r * g).sum(-1)
        cos = num / np.clip(np.linalg.norm(r, axis=-1) * np.linalg.norm(g, axis=-1), 1e-12, None)
        row = {"k": i, "torch": rn, "graph": gn, "min_token_cos": float(cos.min()), "mean_token_cos": float(cos.mean()),
               "max_abs": float(np.abs(r - g).max())}
        if not flagged and row["min_token_cos"] < threshold:
            row["first_below"] = True
            flagged = True
        rows.append(row)
    return rows


def tflite_layernorms(path: str, feed: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
    """TFLite (litert-torch): LayerNorm is decomposed (MEAN, SQUARED_DIFFERENCE, ADD eps, RSQRT, SUB, MUL, MUL gamma,
    ADD beta); tap the end of the chain after each RSQRT. Runs without the XNNPACK delegate (delegated partitions
    keep no intermediate tensors) and with every tensor preserved: a debugging interpreter, slower."""
    import warnings

    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        it = Interpreter(model_path=path, experimental_preserve_all_tensors=True,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    details = {d["index"]: d for d in it.get_tensor_details()}
    taps = _tflite_taps(it._get_ops_details(), details, {int(d["index"]) for d in it.get_input_details()})
    for d in it.get_input_details():
        key = _feed_key(d["name"], feed)
        value = feed[key]
        length = d["shape"][1]
        padded = np.zeros((1, length), value.dtype)
        padded[0, :value.shape[1]] = value[0, :length]
        it.set_tensor(d["index"], padded.astype(d["dtype"]))
    it.invoke()
    return [(details[t]["name"].rsplit("/", 1)[-1][:60], it.get_tensor(t)) for t in taps]


def _tflite_taps(ops: list[dict], details: dict[int, dict], inputs: set[int]) -> list[int]:
    """The LayerNorm output of each RSQRT: the ADD of beta (a constant (H,) vector) on its elementwise descendants.
    Not "the tensor the next FULLY_CONNECTED reads": ai-edge-quantizer folds gamma/beta into that FC's weights, so
    the FC reads the pre-affine x-hat while the residual path reads the real LayerNorm output."""
    elementwise = ("MUL", "ADD", "SUB", "RESHAPE")
    produced = {int(t) for op in ops for t in op["outputs"]}
    taps = []
    for i, op in enumerate(ops):
        if op["op_name"] != "RSQRT":
            continue
        derived, found = {int(op["outputs"][0])}, None
        for nxt in ops[i + 1:]:
            ins = [int(t) for t in nxt["inputs"]]
            if nxt["op_name"] not in elementwise or not set(ins) & derived:
                continue
            out = int(nxt["outputs"][0])
            derived.add(out)
            others = [t for t in ins if t not in derived]
            if nxt["op_name"] == "ADD" and len(details[out]["shape"]) == 3 and others and all(
                    t not in produced and t not in inputs and len(details[t]["shape"]) == 1 for t in others):
                found = out
                break
        if found is None:  # no affine: the last (1, T, H) descendant
            found = max(t for t in derived if len(details[t]["shape"]) == 3)
        taps.append(found)
    return taps


def _feed_key(tensor: str, feed: dict[str, np.ndarray]) -> str:
    """The feed entry a TFLite input tensor takes (names like serving_default_input_ids:0, or MediaPipe's ids,
    mask, segment_ids)."""
    for key in feed:
        if key in tensor:
            return key
    for part, key in (("segment", "token_type_ids"), ("mask", "attention_mask"), ("ids", "input_ids")):
        if part in tensor:
            return key
    raise KeyError(f"no input for the TFLite tensor {tensor}")
