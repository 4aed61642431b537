"""A bench TARGET from the command line, and its identity computed cheaply in the parent (no torch/runtime import)."""
from __future__ import annotations

import importlib.metadata
from pathlib import Path

from edgebert.arch import ARCHITECTURES
from edgebert.bench.spec import Identity, Target
from edgebert.bundle import MANIFEST, Bundle
from edgebert.errors import UsageError
from edgebert.formats import get_format
from edgebert.models import WEIGHT_FILES, sha256_files


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
    """The first of `dists` that is installed, by its package metadata (imports nothing)."""
    for dist in dists:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "not installed"


def identity(target: Target) -> Identity:
    """The row fields that name the target: enough to compute the resume key without loading anything."""
    if target.kind == "bundle":
        bundle = Bundle.open(target.ref, verify=False)
        fmt = get_format(bundle.format)
        src = bundle.manifest.get("source", {})
        return Identity(model_name(src.get("spec", target.ref)), bundle.model_sha256,
                        "random" if src.get("kind") == "random" else "real", bundle.format, fmt.runtime,
                        _version(fmt.runtime, f"{fmt.runtime}-gpu"), round(bundle.size_mb, 3),
                        bundle.manifest.get("parameters"), bundle.manifest.get("app_sdk") or fmt.app_sdk,
                        bundle=Path(target.ref).resolve().name)
    path = Path(target.ref)
    if target.random_weights:
        sha = f"random:{target.ref}:{target.task or 'classification'}"
    elif path.is_dir():
        weights = sorted(p for p in path.iterdir() if p.name in WEIGHT_FILES or
                         (p.name.startswith("model-") and p.suffix == ".safetensors"))
        sha = sha256_files(weights) if weights else "unknown"
    else:
        sha = f"hub:{target.ref}"
    return Identity(model_name(target.ref), sha, "random" if target.random_weights else "real", "pytorch", "torch",
                    _version("torch"))


def model_name(spec: str) -> str:
    """A row's model name: the folder's (or id's) last part; a package's .../NAME/model folder is NAME."""
    name = Path(spec.rstrip("/")).name or spec
    if name == "model":
        name = Path(spec.rstrip("/")).parent.name
    return name
