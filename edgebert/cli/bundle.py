"""Commands on bundles: `export` (model -> gated bundle), `formats`, and the device side: `predict`, `verify`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from edgebert.cli.app import command
from edgebert.cli.common import AsJson, Bundles, Device, Force, Threads, err, out, positive
from edgebert.buckets import parse as parse_buckets
from edgebert.errors import CheckFailed
from edgebert.formats.base import ExportOptions

D = ExportOptions()  # the defaults, declared once in the dataclass
Fp32Layers = Annotated[str, typer.Option("--fp32-layers", help="INT8: layer groups kept fp32. auto: none; if the gate "
                                         "fails, the groups (ffn.0 ... ffn.N, emb) that give back most, measured; "
                                         "none; or a list like ffn.0,emb.")]
MinSampleCosine = Annotated[float, typer.Option(help="Lossy gate, encoders: every sample's cosine vs PyTorch "
                                                     "(the hostile texts included), not only the mean.")]
MaxFp32Growth = Annotated[float, typer.Option(help="--fp32-layers auto stops before the file grows past this x the "
                                                   "all-INT8 file.")]


@command()
def export(
    model: Annotated[str, typer.Argument(help="HF model id, local HF model folder, or an architecture with "
                                              "--random-weights.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="Output format (see `edgebert formats`).")] = "onnx",
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help="Bundle folder [default: exported/NAME-FORMAT].",
                                                    show_default=False)] = None,
    random_weights: Annotated[bool, typer.Option("--random-weights", help="Build MODEL's architecture with random "
                                                                         "weights.")] = False,
    task: Annotated[Optional[str], typer.Option(help="classification | encoder [default: from the model's config].",
                                                show_default=False)] = None,
    opset: Annotated[int, typer.Option(help="ONNX opset.")] = D.opset,
    atol: Annotated[float, typer.Option(help="fp32 parity gate: max-abs difference allowed vs PyTorch.")] = D.atol,
    min_agreement: Annotated[float, typer.Option(help="Lossy gate: argmax agreement (classifiers, real weights, "
                                                      "decisive samples).")] = D.min_agreement,
    min_cosine: Annotated[float, typer.Option(help="Lossy gate: mean per-sample output cosine vs PyTorch.")] = D.min_cosine,
    min_margin: Annotated[float, typer.Option(help="Lossy gate: agreement counts samples whose PyTorch top-1 leads "
                                                   "top-2 by this probability (near-ties are left to the cosine).")
                          ] = D.min_margin,
    seq_len: Annotated[Optional[str], typer.Option(
        "--seq-len", help="Static-shape formats: ascending lengths (buckets), e.g. 16,32,64,128; or auto with --texts "
                          "(buckets at your texts' length quantiles; MediaPipe: the length that keeps 95% whole) "
                          "[default: 16,32,64,128; MediaPipe 128].", show_default=False)] = None,
    seq_texts: Annotated[Optional[Path], typer.Option("--texts", help="Your texts (one a line), for --seq-len auto; "
                                                                      "the summary says what the lengths cost on them.",
                                                      show_default=False)] = None,
    target: Annotated[Optional[str], typer.Option(help="CPU for quantisation presets: avx2|avx512|avx512-vnni|arm64.",
                                                  show_default=False)] = None,
    calibration_text: Annotated[Optional[Path], typer.Option(help="Text file (one sentence a line) for "
                                                                  "gates/calibration.")] = None,
    allow_flex: Annotated[bool, typer.Option(help="TFLite: allow Flex/Select-TF ops (+100 MB in apps).")] = False,
    static_shape: Annotated[bool, typer.Option(help="OpenVINO / ONNX: static shapes, one file (IR) per --seq-len "
                                                    "bucket (what NPU compilers take).")] = False,
    pooling: Annotated[Optional[str], typer.Option(help="Encoders: cls | mean | max instead of the model's own "
                                                       "sentence-transformers pooling [default: the model's, else "
                                                       "mean].", show_default=False)] = None,
    fp32_layers: Fp32Layers = D.fp32_layers,
    min_sample_cosine: MinSampleCosine = D.min_sample_cosine,
    max_fp32_growth: MaxFp32Growth = D.max_fp32_growth,
    force: Force = False,
    as_json: AsJson = False,
) -> None:
    """Export MODEL to a parity-gated bundle: model file, tokenizer, golden set, manifest.json."""
    from edgebert.export import export as run_export
    from edgebert.inputs import read_text_file
    from edgebert.render import export_summary

    (lengths, auto), texts = parse_buckets(seq_len), read_text_file(calibration_text) if calibration_text else None
    opts = ExportOptions(opset=opset, atol=atol, min_agreement=min_agreement, min_cosine=min_cosine,
                         min_margin=min_margin, seq_lens=lengths, seq_auto=auto, calibration_texts=texts,
                         seq_texts=read_text_file(seq_texts) if seq_texts else None,
                         target=target, allow_flex=allow_flex, static_shape=static_shape,
                         fp32_layers=fp32_layers, min_sample_cosine=min_sample_cosine, max_fp32_growth=max_fp32_growth)
    dest = out_dir or Path("exported") / f"{Path(model.rstrip('/')).name}-{fmt}"
    with err.status(f"Exporting {model} to {fmt}..."):
        manifest = run_export(model, fmt, dest, random_weights=random_weights, task=task, opts=opts, force=force,
                              texts=texts, pooling=pooling)
    if as_json:
        out.print_json(json.dumps(manifest))
    else:
        out.print(export_summary(dest, manifest))


@command()
def formats() -> None:
    """List export formats, the extras they need and the app SDK that consumes each."""
    from edgebert.render import formats_text

    out.print(formats_text())


@command()
def predict(
    bundle: Annotated[Path, typer.Argument(help="An exported bundle folder.")],
    texts: Annotated[List[str], typer.Argument(help="One or more texts.", metavar="TEXTS...")],
    device: Device = "cpu",
    threads: Threads = None,
) -> None:
    """Run a bundle on TEXTS and print JSON (labels + scores, or pooled embeddings). Needs only the runtime extra."""
    from edgebert.runtime import load, predict_reporting_truncation

    positive(threads, "--threads")
    predictor = load(bundle, device=device, threads=threads)
    results, warnings = predict_reporting_truncation(predictor, list(texts))
    for line in warnings:
        err.print(f"warning: {line}")
    out.print_json(json.dumps({"bundle": str(bundle), "format": predictor.bundle.format, "task": predictor.task,
                               "results": results}))


@command()
def verify(bundles: Bundles, device: Device = "cpu", threads: Threads = None, as_json: AsJson = False) -> None:
    """Check bundles on this device: run each one's golden inputs with the runtime alone and apply the gate it
    passed at export. Exit 0 only when every bundle passes (3: outputs beyond the gate; 1: a bundle could not be
    checked: corrupt, tampered, or its runtime is missing)."""
    from edgebert.render import verify_table
    from edgebert.verify import exit_code, failure_summary
    from edgebert.verify import verify as run_verify

    positive(threads, "--threads")
    results = run_verify(list(bundles), device, threads)
    if as_json:
        out.print_json(json.dumps([r.to_dict() for r in results]))
    else:
        out.print(verify_table(results))
    code = exit_code(results)
    if code:
        raise CheckFailed(failure_summary(results), code)
