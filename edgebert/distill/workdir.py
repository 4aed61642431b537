"""Where a training run lives until it completes (distill and finetune both): `.NAME.training` beside the output
folder holds the checkpoints and the step log; the trained model moves into the output folder only at the end.

Under torchrun only rank 0 touches the file system.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgebert.errors import UsageError

CHECKPOINTS = "checkpoints"
STEP_LOG = "train_log.jsonl"


@dataclass(frozen=True)
class Workdir:
    out: Path  # the trained model's folder, written only when the run completes
    resume: bool
    force: bool
    rank: int

    @property
    def path(self) -> Path:
        return self.out.with_name(f".{self.out.name}.training")

    def open(self) -> Path:
        """Create the folder, first emptying what an earlier run left unless resuming it."""
        if self.rank == 0:
            if self.path.exists() and not self.resume:
                shutil.rmtree(self.path)
            self.path.mkdir(parents=True, exist_ok=True)
        return self.path

    def finish(self, model: Any, tokenizer: Any, meta: dict[str, Any], meta_name: str) -> None:
        """save_pretrained (safetensors) + tokenizer + the run's metadata + its step log into a staged folder, then
        move it into place and drop the checkpoints."""
        from edgebert.bundle import staged_dir

        with staged_dir(self.out, force=self.force or self.resume) as stage:
            model.config.architectures = [type(model).__name__]
            model.save_pretrained(stage, safe_serialization=True)
            tokenizer.save_pretrained(stage)
            (stage / meta_name).write_text(json.dumps(meta, indent=2) + "\n")
            if (self.path / STEP_LOG).is_file():
                shutil.copy(self.path / STEP_LOG, stage / STEP_LOG)
        shutil.rmtree(self.path, ignore_errors=True)


def training_workdir(out: Path, resume: bool, force: bool) -> Workdir:
    """The run's work folder, after the checks that must come before any model loads: `out` is free (or --force),
    and a fresh run does not silently discard an interrupted one's checkpoints."""
    from edgebert.bundle import check_out_dir

    workdir = Workdir(out, resume, force, rank=int(os.environ.get("RANK", "0")))
    if not resume and workdir.rank == 0:
        check_out_dir(out, force)
        if workdir.path.exists() and any((workdir.path / CHECKPOINTS).glob("step-*")) and not force:
            raise UsageError(f"'{workdir.path}' holds checkpoints of an interrupted run. Fix: pass --resume, "
                             "or --force")
    return workdir
