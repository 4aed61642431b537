"""What a fit settles before any cost is measured: the request (validated: nothing is written for a bad one), the
teacher's config and fingerprint, the data, the texts' token lengths, the shrunk vocabulary (with its measured
out-of-vocabulary rate), and, once the output folder exists, the teacher's importance scores and held-out score."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgebert.errors import UsageError
from edgebert.fit import data as fit_data
from edgebert.fit.budget import Budget
from edgebert.fit.shape import Candidate, content_key
from edgebert.fit.space import SpaceOptions, Teacher

WORK = "work"
MARKER = "fit.json"  # an output folder holding this is a fit's (resumed, never refused)


@dataclass
class FitRequest:
    teacher: str
    data: Path
    out: Path
    texts: list[str]
    texts_name: str
    budget: Budget = field(default_factory=Budget)
    space: SpaceOptions = field(default_factory=SpaceOptions)
    eval_data: Path | None = None
    steps: int = 900  # the last rung's steps
    batch_size: int = 16
    lr: float = 1e-4
    max_len: int = 128
    seed: int = 42
    eta: int = 3
    max_trained: int = 9  # shapes trained (spread over the cost range); the rest are recorded as not trained
    workers: int = 1
    ray: str | None = None
    threads: int = 0
    min_seconds: float = 2.0
    candidates_only: bool = False
    costs: Path | None = None
    force: bool = False

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "max_len", "workers", "max_trained"):
            if getattr(self, name) <= 0:
                raise UsageError(f"--{name.replace('_', '-')} must be a positive whole number")
        if self.eta < 2:
            raise UsageError(f"--eta must be at least 2 (got {self.eta})")
        if self.candidates_only and self.costs is not None:
            raise UsageError("--candidates-only writes candidates to measure; --costs reads measured ones: pick one")

    @property
    def work(self) -> Path:
        return self.out / WORK

    def train_settings(self) -> dict[str, Any]:
        return {"steps": self.steps, "batch_size": self.batch_size, "lr": self.lr, "max_len": self.max_len,
                "seed": self.seed}


@dataclass
class Prepared:
    teacher_dir: Path
    teacher_config: Any  # transformers config
    teacher: Teacher
    teacher_key: str  # fingerprint of the teacher's config and weights
    data: fit_data.FitData
    data_key: str
    tokenizer: Any
    lengths: list[int]  # the static lengths a fixed-shape format is tried at
    shrunk: tuple[Any, list[int], Any] | None = None  # tokenizer, kept ids, VocabChange

    def tokenizers(self) -> dict[int, Any]:
        out = {self.teacher.vocab: self.tokenizer}
        if self.shrunk:
            out[len(self.shrunk[1])] = self.shrunk[0]
        return out


def check_teacher(req: FitRequest) -> tuple[Path, dict[str, Any], str]:
    """The teacher folder and config; a labelled --data needs a classifier teacher, plain text an encoder."""
    folder = Path(req.teacher).expanduser()
    if not (folder / "config.json").is_file():
        raise UsageError(f"Teacher '{req.teacher}' is not a local model folder with a config.json. Fix: pass the "
                         "folder `edgebert finetune` (or save_pretrained) wrote")
    config = json.loads((folder / "config.json").read_text())
    task = fit_data.teacher_task(config)
    if fit_data.labelled(req.data) and task != "classification":
        raise UsageError(f"Teacher '{req.teacher}' has no classification head, but --data '{req.data}' is labelled. "
                         "Fix: `edgebert finetune` it on your labels first, or pass plain text (one a line)")
    if not fit_data.labelled(req.data) and task == "classification":
        raise UsageError(f"Teacher '{req.teacher}' is a classifier; --data '{req.data}' is plain text. Fix: pass "
                         "labelled rows (CSV, TSV or JSONL)")
    if config.get("model_type") not in ("bert", "distilbert"):
        raise UsageError(f"fit supports bert and distilbert teachers, not '{config.get('model_type')}'")
    return folder, config, task


def prepare(req: FitRequest) -> Prepared:
    """Everything before the output folder: cheap, and all the checks that can refuse the request."""
    from edgebert.distill.evaluate import label_names_of
    from edgebert.fit.space import static_lengths
    from edgebert.models import WEIGHT_FILES, require_torch, sha256_files

    folder, config, task = check_teacher(req)
    require_torch()
    from transformers import AutoConfig

    from edgebert.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(str(folder))
    if tokenizer is None:
        raise UsageError(f"Teacher '{req.teacher}' has no tokenizer files; fit needs one")
    data = fit_data.read(req.data, req.eval_data, label_names_of(str(folder)) if task == "classification" else None)
    weights = sorted(p for p in folder.iterdir() if p.name in WEIGHT_FILES)
    teacher_key = content_key(config, sha256_files(weights) if weights else "no weights")
    counts = [len(ids) for ids in tokenizer(req.texts, truncation=True, max_length=req.max_len)["input_ids"]]
    prep = Prepared(folder, AutoConfig.from_pretrained(folder), Teacher.from_config(config, task), teacher_key,
                    data, fit_data.fingerprint(req.data, req.eval_data), tokenizer,
                    static_lengths(counts, req.max_len))
    if "shrink" in req.space.vocabs:
        from edgebert.fit.vocab import measure, shrink

        new, kept = shrink(tokenizer, data.train_texts + req.texts)  # every piece, also past --max-len
        held = data.dev_texts
        prep.shrunk = (new, kept, measure(tokenizer, new, held, f"{len(held)} held-out texts ({data.held_out})"))
    return prep


def candidate_list(req: FitRequest, prep: Prepared) -> list[Candidate]:
    from edgebert.fit.space import candidates, shapes

    shrunk = len(prep.shrunk[1]) if prep.shrunk else None
    return candidates(shapes(prep.teacher, req.space, shrunk), req.space, prep.lengths, prep.teacher_key)


def check_out(req: FitRequest) -> None:
    """A fit resumes in its own folder; any other non-empty folder needs --force."""
    from edgebert.bundle import check_out_dir

    if req.out.is_dir() and (req.out / MARKER).is_file():
        return
    check_out_dir(req.out, req.force)
