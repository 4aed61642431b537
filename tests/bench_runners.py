"""Runner factories the bench tests load in worker processes (Target kind 'python')."""
from __future__ import annotations

import os

import numpy as np

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


def noop() -> NoopRunner:
    return NoopRunner()


def alloc_200mb() -> AllocRunner:
    return AllocRunner()


def abort() -> AbortRunner:
    return AbortRunner()
