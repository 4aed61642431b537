"""`edgebert web`: gated ONNX bundles as a static site that checks itself in the browser."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from edgebert.cli.app import command
from edgebert.cli.common import AsJson, Bundles, Force, out


@command()
def web(
    bundles: Bundles,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="The site folder to write.")],
    ort_web: Annotated[Optional[Path], typer.Option(help="onnxruntime-web's package folder [default: "
                                                         "$EDGEBERT_ORT_WEB, else the repo's web/node_modules].",
                                                    show_default=False)] = None,
    force: Force = False,
    as_json: AsJson = False,
) -> None:
    """A static web folder from an onnx and/or onnx-int8 bundle of one model: the model(s), tokenizer, golden set,
    onnxruntime-web, edgebert.mjs (load, predict, selfTest; the backend picked by measurement) and a demo
    index.html, with the sha256 of every file. It is also a local model folder for transformers.js."""
    from edgebert.web import build_site

    manifest = build_site(list(bundles), out_dir, force=force, ort_web=ort_web)
    if as_json:
        out.print_json(json.dumps(manifest))
        return
    mb = sum(f["bytes"] for f in manifest["files"].values()) / 1e6
    out.print(f"Wrote {out_dir}/ ({len(manifest['files'])} files, {mb:.1f} MB): {', '.join(manifest['variants'])} "
              f"on onnxruntime-web {manifest['runtime']['version']}. Serve it over http(s) (COOP/COEP headers "
              "for WASM threads) and open index.html.")
