"""Build a DistilBERT-architecture student from a BERT (or DistilBERT) teacher, initialised from teacher layers.

DistilBERT's layout differs from BERT's by names, by having no token-type embeddings and no pooler:
BERT's segment-0 embedding is folded into the position embeddings (exact for single-segment inputs), and the
pooler's dense layer initialises DistilBERT's pre-classifier.
"""
from __future__ import annotations

from typing import Any

from edgebert.errors import UsageError

LAYER_MAPS = {
    "every-other": lambda n_teacher, n: [round(i * n_teacher / n) for i in range(n)],  # seed: 0,2,4,6,8,10
    "hf": lambda n_teacher, n: [0, 2, 4, 7, 9, 11] if (n_teacher, n) == (12, 6) else None,  # HF research scripts
}

# BERT layer param suffix -> DistilBERT layer param suffix
_BERT_LAYER = {
    "attention.self.query": "attention.q_lin",
    "attention.self.key": "attention.k_lin",
    "attention.self.value": "attention.v_lin",
    "attention.output.dense": "attention.out_lin",
    "attention.output.LayerNorm": "sa_layer_norm",
    "intermediate.dense": "ffn.lin1",
    "output.dense": "ffn.lin2",
    "output.LayerNorm": "output_layer_norm",
}


def resolve_layer_map(layer_map: str, n_teacher: int, n_student: int | None) -> list[int]:
    """'every-other', 'hf' or an explicit '0,2,4' list -> teacher layer index for each student layer."""
    if layer_map in LAYER_MAPS:
        n = n_student or max(1, n_teacher // 2)
        layers = LAYER_MAPS[layer_map](n_teacher, n)
        if layers is None:
            raise UsageError(f"Layer map 'hf' is defined for a 12-layer teacher and 6 student layers "
                             f"(got {n_teacher} -> {n}). Fix: use every-other or an explicit list")
    else:
        try:
            layers = [int(x) for x in layer_map.split(",") if x.strip()]
        except ValueError:
            raise UsageError(f"Unknown layer map '{layer_map}'. Valid: every-other, hf, or a list such as 0,2,4") \
                from None
        if n_student is not None and len(layers) != n_student:
            raise UsageError(f"--layer-map lists {len(layers)} layers but --layers is {n_student}")
    if not layers or any(not 0 <= i < n_teacher for i in layers):
        raise UsageError(f"Layer map {layers} must name layers of the {n_teacher}-layer teacher (0..{n_teacher - 1})")
    return layers


def student_config(teacher_config: Any, n_layers: int, num_labels: int | None) -> Any:
    from transformers import DistilBertConfig

    t = teacher_config
    if t.model_type == "distilbert":
        cfg = DistilBertConfig(**{**t.to_dict(), "n_layers": n_layers})
    elif t.model_type == "bert":
        if getattr(t, "position_embedding_type", "absolute") != "absolute":
            raise UsageError("Only absolute position embeddings map onto DistilBERT")
        cfg = DistilBertConfig(vocab_size=t.vocab_size, max_position_embeddings=t.max_position_embeddings,
                               n_layers=n_layers, n_heads=t.num_attention_heads, dim=t.hidden_size,
                               hidden_dim=t.intermediate_size, activation=t.hidden_act,
                               dropout=t.hidden_dropout_prob, attention_dropout=t.attention_probs_dropout_prob,
                               pad_token_id=t.pad_token_id, initializer_range=t.initializer_range)
    else:
        raise UsageError(f"Teacher type '{t.model_type}' is not supported. Valid: bert, distilbert")
    if num_labels:
        cfg.num_labels = num_labels
        cfg.id2label, cfg.label2id = dict(getattr(t, "id2label", {}) or {}), dict(getattr(t, "label2id", {}) or {})
        if len(cfg.id2label) != num_labels:
            cfg.id2label = {i: f"LABEL_{i}" for i in range(num_labels)}
            cfg.label2id = {v: k for k, v in cfg.id2label.items()}
    return cfg


def _teacher_state(teacher: Any) -> tuple[dict[str, Any], str]:
    """The teacher's encoder weights keyed without the task prefix, and its type."""
    state = teacher.state_dict()
    mt = teacher.config.model_type
    prefix = "bert." if mt == "bert" and any(k.startswith("bert.") for k in state) else (
        "distilbert." if mt == "distilbert" and any(k.startswith("distilbert.") for k in state) else "")
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)} | {
        f"__head__.{k}": v for k, v in state.items() if not k.startswith(prefix)}, mt


def init_from_teacher(student: Any, teacher: Any, layers: list[int]) -> list[str]:
    """Copy embeddings, mapped layers and (where both have one) the classification head; returns copied names."""
    import torch

    src, mt = _teacher_state(teacher)
    dst_prefix = "distilbert." if hasattr(student, "distilbert") else ""
    mapping: dict[str, Any] = {}
    if mt == "bert":
        pos = src["embeddings.position_embeddings.weight"]
        # BERT adds token-type embedding 0 to every position for single-segment input: fold it in.
        mapping["embeddings.position_embeddings.weight"] = pos + src["embeddings.token_type_embeddings.weight"][0]
        for name in ("embeddings.word_embeddings.weight", "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"):
            mapping[name] = src[name]
        for j, i in enumerate(layers):
            for bert_name, db_name in _BERT_LAYER.items():
                for p in ("weight", "bias"):
                    mapping[f"transformer.layer.{j}.{db_name}.{p}"] = src[f"encoder.layer.{i}.{bert_name}.{p}"]
        if "pooler.dense.weight" in src:  # the pooler's dense initialises DistilBERT's pre-classifier
            for p in ("weight", "bias"):
                mapping[f"__pre_classifier__.{p}"] = src[f"pooler.dense.{p}"]
        for bert_name, db_name in (("cls.predictions.transform.dense", "vocab_transform"),
                                   ("cls.predictions.transform.LayerNorm", "vocab_layer_norm")):
            for p in ("weight", "bias"):
                if f"__head__.{bert_name}.{p}" in src:
                    mapping[f"__top__.{db_name}.{p}"] = src[f"__head__.{bert_name}.{p}"]
        if "__head__.cls.predictions.bias" in src:
            mapping["__top__.vocab_projector.bias"] = src["__head__.cls.predictions.bias"]
    else:
        for name, value in src.items():
            if name.startswith("transformer.layer."):
                continue
            if not name.startswith("__head__."):
                mapping[name] = value
        for j, i in enumerate(layers):
            for name, value in src.items():
                if name.startswith(f"transformer.layer.{i}."):
                    mapping[name.replace(f"transformer.layer.{i}.", f"transformer.layer.{j}.", 1)] = value
        for name, value in src.items():
            if name.startswith("__head__.") and not name.startswith("__head__.classifier."):
                mapping["__top__." + name[len("__head__."):]] = value  # pre_classifier, vocab_* heads
    for p in ("weight", "bias"):
        if f"__head__.classifier.{p}" in src:
            mapping[f"__classifier__.{p}"] = src[f"__head__.classifier.{p}"]
    target = student.state_dict()
    copied = []
    with torch.no_grad():
        for name, value in mapping.items():
            if name.startswith("__pre_classifier__."):
                key = "pre_classifier." + name.split(".", 1)[1]
            elif name.startswith("__top__."):
                key = name[len("__top__."):]
            elif name.startswith("__classifier__."):
                key = "classifier." + name.split(".", 1)[1]
            else:
                key = dst_prefix + name
            if key in target and target[key].shape == value.shape:
                target[key].copy_(value)
                copied.append(key)
    return copied


def build_student(teacher: Any, layers: list[int], task: str, init: str = "teacher") -> tuple[Any, list[str]]:
    """A DistilBERT student (ForSequenceClassification, ForMaskedLM, or bare) initialised from the teacher's
    layers, or (`init="random"`, the DistilBERT paper's ablation) left at random initialisation."""
    if init not in ("teacher", "random"):
        raise UsageError(f"Unknown --init '{init}'. Valid: teacher, random")
    from transformers import DistilBertForMaskedLM, DistilBertForSequenceClassification, DistilBertModel

    num_labels = teacher.config.num_labels if task == "classification" else None
    cfg = student_config(teacher.config, len(layers), num_labels)
    cls = {"classification": DistilBertForSequenceClassification, "mlm": DistilBertForMaskedLM}.get(task, DistilBertModel)
    cfg.architectures = [cls.__name__]
    student = cls(cfg)
    copied = init_from_teacher(student, teacher, layers) if init == "teacher" else []
    return student.eval(), copied
