"""Eager PyTorch fp32: the BERT-base baseline and the student before export. Not a bundle format."""
from __future__ import annotations

from typing import Any

import numpy as np

from edgebert.models import LoadedModel
from edgebert.runner import Runner


class TorchRunner(Runner):
    """A LoadedModel on a device with fixed threads; numpy in, numpy out."""

    runtime = "torch"

    def __init__(self, model: LoadedModel, device: str = "cpu", threads: int | None = None) -> None:
        import torch

        if threads:
            torch.set_num_threads(threads)
        if device not in ("cpu", "cuda"):
            from edgebert.errors import UsageError

            raise UsageError(f"PyTorch runs on cpu or cuda, not '{device}'")
        if device == "cuda" and not torch.cuda.is_available():
            from edgebert.errors import UsageError

            raise UsageError("CUDA is not available to this PyTorch. Fix: use --device cpu or a CUDA build of torch")
        self._torch = torch
        self.runtime_version = torch.__version__
        self.device = device
        self.module = model.module.to(device)
        self.input_names = model.input_names

    def run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            out = self.module(*[torch.from_numpy(feed[n]).to(self.device) for n in self.input_names])
            if self.device == "cuda":
                torch.cuda.synchronize()
            return out.float().cpu().numpy()

    def profile(self, feed: dict[str, np.ndarray], runs: int) -> dict[str, Any] | None:
        """Per-op self CPU time from torch.profiler (self time: nested ops are not counted twice)."""
        import time

        from torch.profiler import ProfilerActivity, profile

        from edgebert.opprofile import summarise

        self.run(feed)
        start = time.perf_counter()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(runs):
                self.run(feed)
        wall = (time.perf_counter() - start) * 1e3 / runs
        by_op = {e.key: e.self_cpu_time_total / 1e3 for e in prof.key_averages() if e.self_cpu_time_total > 0}
        return summarise(by_op, runs, wall, f"torch {self._torch.__version__} profiler")


def weights_mb(module: object) -> float:
    """Bytes of the unique parameter/buffer tensors: the size of its safetensors file, less the header."""
    seen, total = set(), 0
    for tensor in list(module.state_dict().values()):  # type: ignore[attr-defined]
        ptr = tensor.untyped_storage().data_ptr()
        if ptr in seen:
            continue
        seen.add(ptr)
        total += tensor.untyped_storage().nbytes()
    return total / 1e6
