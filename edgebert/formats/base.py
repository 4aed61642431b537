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
    # Static-shape artifacts: the lengths (buckets) they hold. None: the format's default (buckets.choose);
    # seq_auto: derived from seq_texts (the user's texts) at export, when the tokenizer is known.
    seq_lens: list[int] | None = None
    seq_auto: bool = False
    seq_texts: list[str] | None = None
    seq_choice: Any = field(default=None, compare=False)  # buckets.Choice, set by export: the manifest says how
    calibration_texts: list[str] | None = None
    target: str | None = None  # CPU ISA for quantisation presets (avx2, avx512, avx512-vnni, arm64)
    allow_flex: bool = False
    static_shape: bool = False  # formats with optional static shapes: one fixed-shape file (or IR) per bucket
    min_margin: float = 0.1  # lossy gate: argmax agreement counts samples whose top-1 leads by this probability
    min_sample_cosine: float = 0.98  # lossy gate, embeddings: every sample (hostile texts included), not just the mean
    # INT8: which layer groups stay fp32. "auto": none; when the gate fails, each group alone (ranking the groups by
    # the worst-sample cosine each gives back), then the best-ranked together, until the gate passes or the file
    # grows past max_fp32_growth. "none", or a list like "ffn.0,emb".
    fp32_layers: str = "auto"
    max_fp32_growth: float = 1.6  # auto stops before the file passes this x the all-INT8 file

    def __post_init__(self) -> None:
        from edgebert.errors import UsageError

        if not self.atol > 0:
            raise UsageError(f"--atol must be a positive tolerance (got {self.atol:g})")
        for name in ("min_cosine", "min_agreement", "min_sample_cosine"):
            if not 0 < getattr(self, name) <= 1:
                raise UsageError(f"--{name.replace('_', '-')} must be in (0, 1] (got {getattr(self, name):g})")
        if not 0 <= self.min_margin < 1:
            raise UsageError(f"--min-margin must be in [0, 1) (got {self.min_margin:g})")
        if self.seq_lens is not None:
            from edgebert.buckets import check

            check(self.seq_lens)
        if self.seq_auto and (self.seq_lens or not self.seq_texts):
            raise UsageError("--seq-len auto chooses lengths from your texts: pass --texts FILE (one text a line) "
                             "and no list of lengths")
        if not self.max_fp32_growth >= 1:
            raise UsageError(f"--max-fp32-growth must be at least 1 (got {self.max_fp32_growth:g})")
        if self.fp32_layers not in ("auto", "none") and not all(
                g.strip().startswith(("ffn.", "emb")) for g in self.fp32_layers.split(",")):
            raise UsageError(f"--fp32-layers takes auto, none, or groups like ffn.0,ffn.1,emb (got "
                             f"'{self.fp32_layers}')")
        if self.opset < 7:
            raise UsageError(f"--opset {self.opset} is too old for these models (use 14 or newer)")

    def gate(self, lossy: bool, random_weights: bool) -> Gate:
        return Gate(lossy=lossy, atol=self.atol, min_cosine=self.min_cosine, min_agreement=self.min_agreement,
                    use_agreement=not random_weights, min_margin=self.min_margin,
                    min_sample_cosine=self.min_sample_cosine if lossy else 0.0)


@dataclass(frozen=True)
class Capabilities:
    """What a format can do, declared where it is defined; callers ask this instead of probing runners."""

    takes_text: bool = False  # the graph tokenizes: raw strings in (Runner.run_text), one text per run
    wraps_outputs: bool = False  # the graph adds inputs/softmax/pooling: gated against the family's reference_model
    static_shapes: str = "no"  # "no" | "always" (fixed length per file) | "optional" (--static-shape)
    batch_one: bool = False  # the artifact runs one sequence at a time; the runner loops over a batch
    batch_invariant: bool = True  # False: a text's output may depend on its batchmates (dynamic INT8); measured
    op_profiler: bool = False  # the runtime's Python API gives per-operator times (bench --profile)
    fp32_fallback: bool = False  # INT8 whose layers can stay fp32 one group at a time (--fp32-layers)
    layer_taps: bool = False  # every LayerNorm output can be read from the file (`edgebert diff`): family.layer_taps
    one_length: bool = False  # static, and an app's SDK takes one fixed length per file (MediaPipe Tasks)


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
