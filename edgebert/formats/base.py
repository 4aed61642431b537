"""The export side of the format contract: what a format declares it can do (Capabilities), the options every
exporter reads (ExportOptions), and what exports of one model share (ExportSession). The device side (Runner) is
edgebert.runner.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from edgebert.parity import Gate


@dataclass
class ExportOptions:
    """Options shared by every exporter; a format reads the ones it understands."""

    opset: int = 17
    atol: float = 1e-4
    min_agreement: float = 0.99
    min_cosine: float = 0.99
    seq_lens: list[int] = field(default_factory=lambda: [128])
    calibration_texts: list[str] | None = None
    target: str | None = None  # CPU ISA for quantisation presets (avx2, avx512, avx512-vnni, arm64)
    allow_flex: bool = False
    static_shape: bool = False  # OpenVINO: fix the sequence length(s) to seq_lens (static shapes run faster)
    min_margin: float = 0.1  # lossy gate: argmax agreement counts samples whose top-1 leads by this probability

    def __post_init__(self) -> None:
        from edgebert.errors import UsageError

        if not self.atol > 0:
            raise UsageError(f"--atol must be a positive tolerance (got {self.atol:g})")
        for name in ("min_cosine", "min_agreement"):
            if not 0 < getattr(self, name) <= 1:
                raise UsageError(f"--{name.replace('_', '-')} must be in (0, 1] (got {getattr(self, name):g})")
        if not 0 <= self.min_margin < 1:
            raise UsageError(f"--min-margin must be in [0, 1) (got {self.min_margin:g})")
        if not self.seq_lens or any(n <= 0 for n in self.seq_lens):
            raise UsageError("--seq-len takes positive whole numbers")
        if self.opset < 7:
            raise UsageError(f"--opset {self.opset} is too old for these models (use 14 or newer)")

    def gate(self, lossy: bool, random_weights: bool) -> Gate:
        return Gate(lossy=lossy, atol=self.atol, min_cosine=self.min_cosine, min_agreement=self.min_agreement,
                    use_agreement=not random_weights, min_margin=self.min_margin)


@dataclass(frozen=True)
class Capabilities:
    """What a format can do, declared where it is defined; callers ask this instead of probing runners."""

    takes_text: bool = False  # the graph tokenizes: raw strings in (Runner.run_text), one text per run
    wraps_outputs: bool = False  # the graph adds inputs/softmax/pooling: gated against the family's reference_model
    static_shapes: str = "no"  # "no" | "always" (fixed length per file) | "optional" (--static-shape)
    batch_one: bool = False  # the artifact runs one sequence at a time; the runner loops over a batch
    batch_invariant: bool = True  # False: a text's output may depend on its batchmates (dynamic INT8); measured
    op_profiler: bool = False  # the runtime's Python API gives per-operator times (bench --profile)


@dataclass
class ExportSession:
    """What exports of one model in one process share: PyTorch references (computed once per model, texts and
    length), intermediate files (one ONNX trace, one fp32 .tflite) when `keep_files`, and derived models (a
    format's reference_model). The efficiency suite's export worker keeps files; a single export does not."""

    keep_files: bool = False
    memo: dict[Any, Any] = field(default_factory=dict, repr=False)
    _files: dict[Any, Path] = field(default_factory=dict, repr=False)
    _keep_dir: Path | None = field(default=None, repr=False)

    def once(self, key: Any, build: Callable[[], Any]) -> Any:
        """build() the first time `key` is asked for in this session, the stored value after."""
        if key not in self.memo:
            self.memo[key] = build()
        return self.memo[key]

    def reuse(self, key: Any, dest: Path, build: Callable[[Path], None]) -> None:
        """Write an intermediate file to `dest`: built once per key, copied after that when files are kept."""
        kept = self._files.get(key)
        if kept is not None and kept.is_file():
            shutil.copyfile(kept, dest)
            return
        build(dest)
        if self.keep_files:
            if self._keep_dir is None:
                import atexit
                import tempfile

                self._keep_dir = Path(tempfile.mkdtemp(prefix="edgebert-keep-"))
                atexit.register(shutil.rmtree, self._keep_dir, True)
            self._files[key] = self._keep_dir / f"{len(self._files)}-{dest.name}"
            shutil.copyfile(dest, self._files[key])
