"""The exported folder: model file(s), tokenizer files, and manifest.json describing and checksumming them.

A bundle is usable without edgebert: the manifest names the model file, its inputs (name, dtype, axes),
outputs, the tokenizer file and the maximum sequence length; an app needs only its runtime and tokenizers.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

from edgebert.errors import BundleError, UsageError

MANIFEST = "manifest.json"
MANIFEST_VERSION = 2  # 2: golden set, recorded gate, names confined to the bundle


def safe_name(name: object) -> bool:
    """A relative POSIX path that stays inside the bundle: no absolute path, drive, backslash or '..' part."""
    if not isinstance(name, str) or not name or name.startswith("/") or "\\" in name or ":" in name:
        return False
    parts = PurePosixPath(name).parts
    return all(part not in ("..", "") for part in parts)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_table(folder: Path) -> dict[str, dict[str, Any]]:
    """Every file under `folder` (but the manifest) -> size and sha256."""
    table = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST):
        table[path.relative_to(folder).as_posix()] = {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
    return table


def check_out_dir(out: Path, force: bool) -> None:
    """Refuse to overwrite a non-empty folder unless --force (checked before any slow work)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"Output '{out}' exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UsageError(f"Output folder '{out}' exists and is not empty. Fix: pass --force to replace it")


@contextlib.contextmanager
def staged_dir(out: Path, force: bool) -> Iterator[Path]:
    """Yield a temporary sibling of `out`; move it into place only if the block completes.

    A failed or interrupted export (exception, Ctrl-C) leaves no `out` and no temporary folder.
    """
    check_out_dir(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        # mkdtemp makes it 0700; a bundle is read by others (a container's own user, nginx serving a web bundle):
        # give it the mode a plain mkdir would have
        work.chmod(0o777 & ~_umask())
        yield work
        if out.exists():
            old = out.with_name(f".{out.name}.old-{work.name.rsplit('-', 1)[-1]}")
            out.rename(old)
            work.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_manifest(folder: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Add the file table and write manifest.json (the last file written into a bundle)."""
    manifest = {"manifest_version": MANIFEST_VERSION, **manifest, "files": file_table(folder)}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return manifest


@dataclass
class Bundle:
    """An exported folder and its manifest."""

    path: Path
    manifest: dict[str, Any]

    @classmethod
    def open(cls, path: Path | str, verify: bool = True) -> "Bundle":
        path = Path(path)
        if not path.is_dir():
            raise BundleError(f"Bundle '{path}' does not exist or is not a folder")
        mpath = path / MANIFEST
        if not mpath.is_file():
            raise BundleError(f"'{path}' is not an edgebert bundle (no {MANIFEST}). Fix: run edgebert export")
        try:
            manifest = json.loads(mpath.read_text())
        except json.JSONDecodeError as err:
            raise BundleError(f"'{mpath}' is not valid JSON ({err.msg} at line {err.lineno})") from err
        for key in ("format", "model_file", "inputs", "outputs", "files"):
            if key not in manifest:
                raise BundleError(f"'{mpath}' lacks the key '{key}'. Fix: re-export the bundle")
        version = manifest.get("manifest_version", 1)
        if not isinstance(version, int) or version > MANIFEST_VERSION:
            raise BundleError(f"'{path}' was written by a newer edgebert (manifest version {version}; this one reads "
                              f"up to {MANIFEST_VERSION}). Fix: pip install -U edgebert")
        bundle = cls(path, manifest)
        bundle._check_names(mpath)
        if verify:
            bundle.verify()
        return bundle

    def referenced_files(self) -> dict[str, str]:
        """Every file name the manifest tells a loader to open -> what it is."""
        m = self.manifest
        names = {m["model_file"]: "model_file"}
        names.update({f: "model_files" for f in m.get("model_files") or []})
        names.update({f: "shapes.files" for f in ((m.get("shapes") or {}).get("files") or {}).values()})
        for key in ("tokenizer_file",):
            if m.get(key):
                names[m[key]] = key
        if m.get("golden"):
            names[m["golden"].get("file")] = "golden.file"
        names.update({f: "extra_files" for f in (m.get("extra_files") or {}).values()})
        return names

    def _check_names(self, mpath: Path) -> None:
        """Names stay inside the bundle, and everything a loader opens is one of the checksummed files."""
        files = self.manifest["files"]
        if not isinstance(files, dict):
            raise BundleError(f"'{mpath}': 'files' must map names to sizes and sha256. Fix: re-export the bundle")
        for name in list(files) + list(self.referenced_files()):
            if not safe_name(name):
                raise BundleError(f"'{mpath}' names a file outside the bundle ({name!r}); refused")
        for name, what in self.referenced_files().items():
            if name not in files:
                raise BundleError(f"'{mpath}': {what} '{name}' is not one of the bundle's checksummed files; refused")

    def verify(self) -> None:
        """Every file the manifest lists exists with its recorded size and sha256."""
        root = self.path.resolve()
        for name, meta in self.manifest["files"].items():
            fpath = self.path / name
            if not fpath.resolve().is_relative_to(root):  # a link (or linked folder) leading out
                raise BundleError(f"Bundle file '{fpath}' links outside the bundle; refused")
            if not fpath.is_file():
                raise BundleError(f"Bundle file '{fpath}' is missing. Fix: re-export the bundle")
            if fpath.stat().st_size != meta["bytes"] or sha256_file(fpath) != meta["sha256"]:
                raise BundleError(f"Bundle file '{fpath}' does not match the sha256 in {MANIFEST} "
                                  "(corrupt or modified). Fix: re-export the bundle")

    @property
    def format(self) -> str:
        return self.manifest["format"]

    @property
    def model_file(self) -> Path:
        return self.path / self.manifest["model_file"]

    @property
    def input_names(self) -> list[str]:
        return [i["name"] for i in self.manifest["inputs"]]

    @property
    def model_sha256(self) -> str:
        return self.manifest["files"][self.manifest["model_file"]]["sha256"]

    @property
    def size_mb(self) -> float:
        """Size of the model weights/graph files (tokenizer and manifest excluded)."""
        model_files = self.manifest.get("model_files") or [self.manifest["model_file"]]
        return sum(self.manifest["files"][f]["bytes"] for f in model_files) / 1e6

    @property
    def tokenizer_file(self) -> Path | None:
        name = self.manifest.get("tokenizer_file")
        return self.path / name if name else None


def bundle_names(refs: list[str]) -> dict[str, str]:
    """Each bundle folder's name in rows and reports: its folder name, with as many parent folders as tell it from
    another bundle of that name in the same sweep (runs/a/onnx-int8, runs/b/onnx-int8 -> a/onnx-int8, b/onnx-int8)."""
    parts = {ref: Path(ref).resolve().parts for ref in dict.fromkeys(refs)}
    names = {}
    for ref, own in parts.items():
        others = [p for p in parts.values() if p != own]  # one folder given twice (x, ./x) is one bundle
        depth = 1
        while depth < len(own) and any(p[-depth:] == own[-depth:] for p in others):
            depth += 1
        names[ref] = "/".join(own[-depth:])
    return names
