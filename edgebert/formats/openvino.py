"""OpenVINO IR: fp32, fp16-compressed weights, and INT8 by NNCF post-training quantisation (weights + activations).

Converted from the ONNX export (names and dynamic axes carry over). Dynamic batch/sequence by default;
`--static-shape --seq-len 128[,256]` fixes the sequence length (one IR per length; faster on CPU) and the
runner pads to the smallest that fits. Runtime-only: the runner imports openvino and numpy, never torch.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgebert.errors import BundleError, ExportError, MissingRuntime, first_line
from edgebert.formats.base import ExportOptions, ExportSession
from edgebert.models import LoadedModel
from edgebert.runner import Runner, cpu_only, pad_feed, pick_length


def _ov() -> Any:
    try:
        import openvino as ov
    except ImportError as err:
        raise MissingRuntime("openvino", "openvino") from err
    return ov


def _quantize(ov_model: Any, model: LoadedModel, opts: ExportOptions) -> tuple[Any, dict[str, Any]]:
    """NNCF post-training INT8 (weights and activations), calibrated on ordinary and hostile text at each text's own
    length; when it misses the gate (the export gate's inputs and rule), the FFN down-projections stay fp32 (they
    read GELU outliers: MiniLM on hostile text went 0.98 -> 0.997), and failing that, int8 weights only."""
    import nncf

    from edgebert.device_info import detect_target
    from edgebert.inputs import calibration_feeds

    if (opts.target or detect_target()) == "arm64":
        # OpenVINO 2026.4's ARM CPU plugin cannot compile NNCF's FakeQuantize graph (ConvertFullyConnectedBias
        # throws "index '0' out of range", seen on aarch64); int8 weight compression compiles and runs there.
        return nncf.compress_weights(ov_model), {
            "method": "nncf.compress_weights (int8 weights only)", "target": "arm64",
            "reason": "the ARM CPU plugin cannot compile post-training INT8 (FakeQuantize) graphs"}
    feeds = calibration_feeds(model.tokenizer, model.input_names, model.vocab_size, opts.calibration_texts,
                              max_length=model.max_length)
    info = {"method": "nncf.quantize (post-training, weights + activations)", "calibration_samples": len(feeds),
            "calibration": "each text at its own length", "model_type": "TRANSFORMER", "fp32_layers": []}
    why = ""
    for fp32 in ([], ["ffn"]) if opts.fp32_layers == "auto" else ([] if opts.fp32_layers == "none" else ["ffn"],):
        scope = nncf.IgnoredScope(patterns=[FFN_MATMULS], validate=False) if fp32 else None
        quantized = nncf.quantize(ov_model, nncf.Dataset(feeds), model_type=nncf.ModelType.TRANSFORMER,
                                  subset_size=len(feeds), **({"ignored_scope": scope} if scope else {}))
        ok, why = _judge(quantized, model, opts)
        if ok:
            return quantized, {**info, "fp32_layers": ["ffn.*"] if fp32 else []}
    return nncf.compress_weights(ov_model), {"method": "nncf.compress_weights (int8 weights only)",
                                             "fallback_reason": f"post-training INT8 missed the gate: {why}"}


# The FFN MatMuls of every layer, as the ONNX trace names them (BERT intermediate/output dense, DistilBERT lin1/2)
FFN_MATMULS = r".*layer\.\d+/(intermediate/dense|output/dense|ffn/lin1|ffn/lin2)/MatMul.*"


def _judge(quantized: Any, model: LoadedModel, opts: ExportOptions) -> tuple[bool, str]:
    """The export gate's own inputs (ordinary batches and the hostile corpus) and rule, on the in-memory model."""
    from edgebert.inputs import hostile_feeds, parity_batches
    from edgebert.parity import compare, torch_reference

    check = parity_batches(model.tokenizer, model.input_names, model.vocab_size, opts.calibration_texts,
                           model.max_length) + hostile_feeds(model.tokenizer, model.input_names, model.max_length)
    runner = OVRunner.from_model(quantized, "cpu", None)
    parity = compare(check, torch_reference(model.module, check, model.input_names),
                     [runner.run(f) for f in check], model.task, opts.min_margin)
    return opts.gate(lossy=True, random_weights=model.source.kind == "random").judge(parity)


def export(model: LoadedModel, work: Path, opts: ExportOptions, session: ExportSession,
           precision: str) -> dict[str, Any]:
    """Write model.xml/.bin (or model-sL.xml/.bin per static length) in fp32, fp16 or int8."""
    ov = _ov()
    from edgebert.formats.onnx.trace import export_onnx

    with tempfile.TemporaryDirectory(prefix="edgebert-ov-") as tmp:
        onnx_path = Path(tmp) / "model.onnx"
        export_onnx(model, onnx_path, opts.opset, session)
        try:
            ov_model = ov.convert_model(str(onnx_path))
        except Exception as err:  # noqa: BLE001
            raise ExportError(f"openvino.convert_model failed: {first_line(err)}") from err
    info: dict[str, Any] = {"precision": precision}
    if precision == "int8":
        ov_model, info["quantization"] = _quantize(ov_model, model, opts)
    lengths = sorted(set(opts.seq_lens)) if opts.static_shape else []
    files: dict[str, str] = {}
    for length in lengths or [0]:
        stem = f"model-s{length}" if length else "model"
        if length:
            ov_model.reshape({inp.get_any_name(): ov.PartialShape([-1, length]) for inp in ov_model.inputs})
        ov.save_model(ov_model, str(work / f"{stem}.xml"), compress_to_fp16=precision == "fp16")
        files[str(length or "dynamic")] = f"{stem}.xml"
    model_files = [f for xml in files.values() for f in (xml, xml.replace(".xml", ".bin"))]
    return {"model_file": next(iter(files.values())), "model_files": model_files,
            "shapes": {"static": bool(lengths), "seq_lens": lengths, "batch": "dynamic", "files": files},
            "opset": opts.opset, "exporter": "openvino.convert_model (from the ONNX export)", **info,
            "versions": {**_versions(), "openvino": ov.get_version()}}


def _versions() -> dict[str, str]:
    from edgebert.formats.onnx import versions

    out = versions()
    try:
        import nncf

        out["nncf"] = nncf.__version__
    except ImportError:
        pass
    return out


class OVRunner(Runner):
    """Compiled once per IR (per static length); threads via INFERENCE_NUM_THREADS, latency hint, f32 math."""

    runtime = "openvino"

    def __init__(self, compiled: dict[int, Any], device: str, version: str, sources: dict[int, Any] | None = None,
                 threads: int | None = None) -> None:
        self.device = device
        self._sources, self._threads = sources or {}, threads  # length -> IR path, to compile a profiling copy
        self.runtime_version = version
        self._compiled = compiled  # length (0 = dynamic) -> compiled model
        self._requests = {k: c.create_infer_request() for k, c in compiled.items()}
        first = next(iter(compiled.values()))
        self.input_names = [i.get_any_name() for i in first.inputs]

    @staticmethod
    def _config(threads: int | None) -> dict[str, Any]:
        # f32 precision: OpenVINO's CPU plugin otherwise picks bf16/f16 on CPUs that have it, breaking parity.
        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        return config

    @classmethod
    def from_model(cls, ov_model: Any, device: str, threads: int | None) -> "OVRunner":
        ov = _ov()
        return cls({0: ov.Core().compile_model(ov_model, "CPU", cls._config(threads))}, device, ov.get_version())

    @classmethod
    def from_bundle(cls, bundle: Any, device: str, threads: int | None) -> "OVRunner":
        cpu_only("OpenVINO", device)
        ov = _ov()
        core = ov.Core()
        shapes = bundle.manifest.get("shapes", {})
        compiled = {}
        for key, xml in (shapes.get("files") or {"dynamic": bundle.manifest["model_file"]}).items():
            try:
                compiled[0 if key == "dynamic" else int(key)] = core.compile_model(str(bundle.path / xml), "CPU",
                                                                                   cls._config(threads))
            except Exception as err:  # noqa: BLE001
                msg = first_line(err)
                raise BundleError(f"OpenVINO could not load '{bundle.path / xml}': {msg}") from err
        sources = {0 if key == "dynamic" else int(key): str(bundle.path / xml) for key, xml in
                   (shapes.get("files") or {"dynamic": bundle.manifest["model_file"]}).items()}
        return cls(compiled, device, ov.get_version(), sources, threads)

    def _pick(self, feed: dict[str, np.ndarray]) -> tuple[int, dict[str, np.ndarray]]:
        seq = next(iter(feed.values())).shape[1]
        if 0 in self._requests:
            return 0, feed
        key = pick_length(list(self._requests), seq)
        return key, pad_feed(feed, key)

    def profile(self, feed: dict[str, np.ndarray], runs: int) -> dict[str, Any] | None:
        """Per-layer time from OpenVINO's PERF_COUNT counters, by layer type, over the typical ones of `runs` runs."""
        import time

        from edgebert.opprofile import summarise_runs

        ov = _ov()
        key, inputs = self._pick(feed)
        if key not in self._sources:
            return None  # built from an in-memory model (export's INT8 check): nothing to recompile
        compiled = ov.Core().compile_model(self._sources[key], "CPU", {**self._config(self._threads),
                                                                      "PERF_COUNT": True})
        request = compiled.create_infer_request()
        feed_in = {n: inputs[n] for n in self.input_names}
        request.infer(feed_in)
        per_run: list[dict[str, float]] = []
        walls: list[float] = []
        for _ in range(runs):
            start = time.perf_counter()
            request.infer(feed_in)
            walls.append((time.perf_counter() - start) * 1e3)
            ops: dict[str, float] = {}
            for info in request.get_profiling_info():
                if info.real_time.total_seconds() > 0:
                    ops[info.node_type] = ops.get(info.node_type, 0.0) + info.real_time.total_seconds() * 1e3
            per_run.append(ops)
        return summarise_runs(per_run, walls, f"OpenVINO {ov.get_version()} PERF_COUNT")

    def run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        seq = next(iter(feed.values())).shape[1]
        key, inputs = self._pick(feed)
        request = self._requests[key]
        request.infer({n: inputs[n] for n in self.input_names})
        out = request.get_output_tensor(0).data.copy()
        return out[:, :seq] if out.ndim == 3 else out  # encoders: drop the padded positions


def load(bundle: Any, device: str = "cpu", threads: int | None = None) -> OVRunner:
    return OVRunner.from_bundle(bundle, device, threads)


def layer_taps(bundle: Any, feed: dict[str, np.ndarray], text: str) -> list[tuple[str, np.ndarray]] | None:
    """Every LayerNorm output of the IR; None for a static-shape IR (compiled at its length, not the text's)."""
    from edgebert.layers import openvino_layernorms

    if (bundle.manifest.get("shapes") or {}).get("static"):
        return None
    return openvino_layernorms(str(bundle.model_file), feed)
