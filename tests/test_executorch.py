"""ExecuTorch formats: .pte with XNNPACK, real weights within the gate, and the errors a user can meet."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from edgebert.export import export
from tests.cli_helpers import run_cli
from tests.conftest import read_manifest
from tests.independent import cosines, plain_outputs, torch_outputs

pytest.importorskip("executorch", reason="pip install 'edgebert[executorch]'")


@pytest.fixture(scope="module")
def tiny_pte(tiny_bert, tmp_path_factory):
    out = tmp_path_factory.mktemp("et") / "tiny-executorch"
    export(str(tiny_bert), "executorch", out)
    return out


def test_manifest_records_delegation_and_bounds(tiny_pte):
    m = read_manifest(tiny_pte)
    assert m["model_file"] == "model.pte" and (tiny_pte / "model.pte").read_bytes()[4:8] == b"ET12"
    et = m["executorch"]
    assert et["version"] == "1.4.1" and et["xnnpack_subgraphs"] >= 1
    assert isinstance(et["outside_xnnpack"], dict) and all(v > 0 for v in et["outside_xnnpack"].values())
    assert m["shapes"]["seq_bound"] == 512


def test_plain_executorch_runtime_matches_transformers(tiny_pte, tiny_bert):
    """The .pte run by executorch.runtime directly (no edgebert runner) agrees with transformers."""
    for got, ref in zip(plain_outputs(tiny_pte), torch_outputs(tiny_bert)):
        np.testing.assert_allclose(got, ref, atol=1e-5)


def test_dynamic_batch_and_sequence_match_pytorch(tiny_pte, tiny_bert):
    import edgebert
    from edgebert.models import load_model
    from edgebert.parity import torch_reference

    pred = edgebert.load(tiny_pte)
    model = load_model(str(tiny_bert))
    for batch, seq in ((1, 5), (3, 40)):
        feed = pred.encode(["word " * (seq - 2)] * batch)
        ref = torch_reference(model.module, [feed], model.input_names)[0]
        np.testing.assert_allclose(pred.runner.run(feed), ref, atol=1e-4)


def test_sequence_longer_than_the_bound_is_refused(tiny_pte):
    from edgebert.errors import UsageError
    from edgebert.formats.executorch import load
    from edgebert.bundle import Bundle

    runner = load(Bundle.open(tiny_pte))
    feed = {n: np.ones((1, 513), dtype=np.int64) for n in runner.input_names}
    with pytest.raises(UsageError, match="Input of 513 tokens is longer than this program's bound 512"):
        runner.run(feed)


def test_exporter_runtime_version_mismatch_is_one_line(capsys, tiny_pte, tmp_path):
    dest = tmp_path / "b"
    shutil.copytree(tiny_pte, dest)
    from edgebert.bundle import write_manifest

    m = {k: v for k, v in read_manifest(dest).items() if k not in ("files", "manifest_version")}
    m["executorch"] = {**m["executorch"], "version": "1.5.0"}
    write_manifest(dest, m)
    res = run_cli(capsys, "predict", dest, "hi")
    assert res.code == 1
    assert "was exported with executorch 1.5.0; this runtime is 1.4.1. Fix: pip install executorch==1.5.0" in res.err


def test_missing_extra_is_a_clear_error(capsys, monkeypatch, tiny_bert, tmp_path):
    import importlib.metadata as md

    real = md.version

    def fake(name):
        if name == "executorch":
            raise md.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(md, "version", fake)
    res = run_cli(capsys, "export", tiny_bert, "--format", "executorch", "--out", tmp_path / "o")
    assert res.code == 1 and "executorch is not installed. Fix: pip install 'edgebert[executorch]'" in res.err
    assert not (tmp_path / "o").exists()


def test_torch_pair_mismatch_is_named(monkeypatch):
    import torch

    from edgebert.errors import ExportError
    from edgebert.formats import executorch as et

    monkeypatch.setattr(torch, "__version__", "2.14.1+cpu")
    with pytest.raises(ExportError, match=r"executorch 1.4.1 is built for torch 2.13, this is torch 2.14.1\+cpu"):
        et._check_versions()


def test_minilm_fp32_within_the_gate(minilm, tmp_path):
    m = export(str(minilm), "executorch", tmp_path / "et")
    assert m["parity"]["min_cosine"] >= 0.9999 and m["parity"]["max_abs"] < 1e-4
    assert m["golden"]["at_export"]["min_cosine"] >= 0.9999


@pytest.mark.slow
def test_minilm_int8_within_the_gate(minilm, tmp_path):
    m = export(str(minilm), "executorch-int8", tmp_path / "et8")
    # the .pte run by executorch.runtime directly vs transformers, per text: 0.9984 worst here
    assert min(cosines(plain_outputs(tmp_path / "et8"), torch_outputs(minilm))) >= 0.99
    assert m["quantization"]["quantized"].startswith("Linear layers")
    assert json.loads((tmp_path / "et8" / "manifest.json").read_text())["batching"]["batch_invariant"] is True
