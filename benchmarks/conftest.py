"""Benchmark fixtures: tiny random models by default (CI smoke); EDGEBERT_BENCH_FULL=1 for BERT-base/DistilBERT."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

FULL = os.environ.get("EDGEBERT_BENCH_FULL") == "1"
# The smoke run (CI) times one tiny stand-in: every runner and the profiler path still run; exporting 17 formats for
# both cost ~3.5 minutes of CI. EDGEBERT_BENCH_FULL=1 measures both real shapes.
ARCHS = ("bert-base-uncased", "distilbert-base-uncased") if FULL else ("distilbert-base-uncased",)
SEQ = 128 if FULL else 32
THREADS = int(os.environ.get("EDGEBERT_BENCH_THREADS", "0")) or os.cpu_count() or 1


def _model(arch: str):
    from edgebert.models import load_model

    if FULL:
        return load_model(arch, random_weights=True)
    # Tiny stand-ins with the same layer ratio (BERT 4 layers, DistilBERT 2), hidden 64.
    from tests.conftest import TINY

    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from edgebert.models import ModelSource, wrap_hf
    from edgebert.tokenizer import packaged_tokenizer

    if arch.startswith("bert"):
        cfg = AutoConfig.for_model("bert", **{**TINY, "num_hidden_layers": 4, "hidden_size": 64})
    else:
        cfg = AutoConfig.for_model("distilbert", dim=64, n_layers=2, n_heads=2, hidden_dim=64)
    torch.manual_seed(0)
    return wrap_hf(AutoModelForSequenceClassification.from_config(cfg), packaged_tokenizer(), "classification",
                   ModelSource(arch, "random", "random"))


@pytest.fixture(scope="session", params=ARCHS)
def model(request):
    return _model(request.param)


@pytest.fixture(scope="session")
def bundles(tmp_path_factory) -> dict[tuple[str, str], Path]:
    """Every installed format exported for both architectures (session-wide, exported once)."""
    from edgebert.export import export_model
    from edgebert.formats import FORMATS, installed
    from edgebert.formats.base import ExportOptions, ExportSession

    root = tmp_path_factory.mktemp("bench-bundles")
    out = {}
    for arch in ARCHS:
        loaded = _model(arch)
        session = ExportSession()  # as the suite does: one trace and one PyTorch reference shared by the formats
        for name, spec in FORMATS.items():
            if installed(spec) and not name.endswith("-static"):
                export_model(loaded, name, root / f"{arch}-{name}", ExportOptions(), session=session)
                out[(arch, name)] = root / f"{arch}-{name}"
    return out
