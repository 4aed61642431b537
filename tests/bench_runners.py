"""A bench worker for the sweep tests: `python -m tests.bench_runners ROW_JSON < spec.json`.

It is edgebert's own worker (`edgebert.bench.worker.main`) with a loader of its own: a model target named `noop`,
`alloc_200mb` or `abort` loads one of the runners below instead of a model, and nothing is imported for it. The
tests point the sweep at this module (`sweep.WORKER_MODULE`); production code never names it.
"""
from __future__ import annotations

import os

import numpy as np

from edgebert.bench.spec import Target
from edgebert.bench.worker import Loaded, main
from edgebert.runner import Runner


class NoopRunner(Runner):
    runtime = "python"
    runtime_version = ""
    device = "cpu"
    input_names = ["input_ids", "attention_mask"]

    def run(self, feed):
        return feed["input_ids"]


class AllocRunner(NoopRunner):
    """Holds 200 MB (10^6 bytes) of touched memory from load on."""

    def __init__(self) -> None:
        self.block = np.ones(200_000_000, dtype=np.uint8)


class AbortRunner(NoopRunner):
    def run(self, feed):
        os.abort()


RUNNERS = {"noop": NoopRunner, "alloc_200mb": AllocRunner, "abort": AbortRunner}


class TestLoader:
    """Loads a runner of RUNNERS by the target's name; random ids feed it."""

    __test__ = False  # not a pytest test class

    def prepare(self, target: Target) -> None:
        pass

    def load(self, target: Target, device: str, threads: int) -> Loaded:
        runner = RUNNERS[target.ref]()
        return Loaded(runner, 100, list(runner.input_names), {})


if __name__ == "__main__":
    main(TestLoader())
