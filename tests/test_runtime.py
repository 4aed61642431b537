"""The device-side Predictor: a text's answer never depends on what it is batched with, and the format contract
(what a format declares) matches what its runner does."""
from __future__ import annotations

import numpy as np
import pytest

from edgebert.bundle import Bundle
from edgebert.runner import Runner
from edgebert.runtime import Predictor

TEXTS = ["short", "a somewhat longer text with several more words in it", "mid length text here"]


class BatchDependent(Runner):
    """A runtime whose output depends on the whole batch, as dynamic INT8's activation scales do."""

    input_names = ["input_ids", "attention_mask"]

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def run(self, feed):
        self.calls.append(feed["input_ids"].shape)
        ids = feed["input_ids"].astype(np.float32)
        return ids[:, :1] / ids.max() + feed["attention_mask"].sum(axis=1, keepdims=True)  # (B, 1)


def _predictor(tiny_onnx, invariant: bool) -> Predictor:
    bundle = Bundle.open(tiny_onnx)
    bundle.manifest["batching"] = {"batch_invariant": invariant}
    bundle.manifest["outputs"] = [{"name": "x", "kind": "logits"}]
    return Predictor(bundle, BatchDependent())


def test_not_batch_invariant_runs_each_text_alone_at_its_own_length(tiny_onnx):
    pred = _predictor(tiny_onnx, invariant=False)
    together = pred(TEXTS)
    alone = np.concatenate([pred([t]) for t in TEXTS])
    np.testing.assert_array_equal(together, alone)
    lengths = [int(pred.encode([t])["attention_mask"].sum()) for t in TEXTS]
    assert pred.runner.calls[: len(TEXTS)] == [(1, n) for n in lengths]  # batch 1, unpadded


def test_batch_invariant_bundles_run_as_one_batch(tiny_onnx):
    """The check above can fail: run batched, this runtime's answers do depend on the batch."""
    pred = _predictor(tiny_onnx, invariant=True)
    together = pred(TEXTS)
    alone = np.concatenate([pred([t]) for t in TEXTS])
    assert not np.allclose(together, alone)
    assert pred.runner.calls[0][0] == len(TEXTS)


def test_declared_capabilities_match_the_runners(tiny_onnx):
    from edgebert.formats import FORMATS
    from edgebert.formats.onnx_text import TextRunner
    from edgebert.runtimes.ort import OrtRunner

    assert [n for n, s in FORMATS.items() if s.caps.takes_text] == ["onnx-text"]
    assert TextRunner.takes_text and not OrtRunner.takes_text
    runner = FORMATS["onnx"].load(Bundle.open(tiny_onnx))
    feed = {n: np.ones((1, 8), dtype=np.int64) for n in runner.input_names}
    assert runner.profile(feed, runs=2)["runs"] >= 1  # ONNX Runtime declares a profiler and has one
    with pytest.raises(Exception, match="takes token ids, not raw text"):
        runner.run_text(["hello"])
