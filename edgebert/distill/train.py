"""The training loop shared by distill and finetune: AdamW, linear warm-up/decay, clipping, accumulation, seeded
data order, checkpoints with exact resume, evaluation every K steps, and DDP when launched by torchrun (gloo on CPU,
nccl on CUDA). What a step optimises is an `Objective` (objectives.py); the loop knows none of their losses.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgebert.distill.config import TrainConfig
from edgebert.distill.objectives import Objective
from edgebert.distill.workdir import CHECKPOINTS, STEP_LOG

# Step t of a run seeded s draws dropout and masking from seed s * STEP_SEED_STRIDE + t: a resumed run repeats
# exactly what it would have done, and (a prime larger than any run's steps) no two (seed, step) share a stream.
STEP_SEED_STRIDE = 1_000_003


@dataclass
class Examples:
    """The training rows and the tokenizer that turns them into batches."""

    tokenizer: Any
    text_a: list[str]
    text_b: list[str] | None = None
    labels: np.ndarray | None = None  # class ids or scores; None for raw text (mlm, hidden)


def _dist() -> tuple[int, int]:
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        import torch

        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


class Trainer:
    """Holds student, teacher, data and optimiser state; `train()` runs `objective` to cfg.steps (or cfg.stop_at)."""

    def __init__(self, student: Any, objective: Objective, examples: Examples, cfg: TrainConfig, workdir: Path, *,
                 teacher: Any = None, evaluate: Callable[[Any], dict[str, float]] | None = None) -> None:
        import torch

        self.torch = torch
        self.rank, self.world = _dist()
        self.cfg, self.objective, self.examples, self.workdir = cfg, objective, examples, workdir
        self.evaluate = evaluate  # held-out scores of the student, every cfg.eval_every steps
        self.device = torch.device(cfg.device)
        self.teacher = teacher.to(self.device).eval() if teacher is not None else None
        self.student = student.to(self.device)
        self.model = student  # what the objective calls: the student, or its DDP wrapper
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            self.model = DistributedDataParallel(student)
        decay = [p for n, p in student.named_parameters() if p.ndim > 1]
        no_decay = [p for n, p in student.named_parameters() if p.ndim <= 1]
        self.opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                      {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
        from transformers import get_linear_schedule_with_warmup

        self.sched = get_linear_schedule_with_warmup(self.opt, int(cfg.warmup_ratio * cfg.steps), cfg.steps)
        self.step = 0
        self.micro = cfg.batch_size // (cfg.grad_accum * self.world)
        if self.micro < 1 or cfg.batch_size % (cfg.grad_accum * self.world):
            from edgebert.errors import UsageError

            raise UsageError(f"--batch-size {cfg.batch_size} must be a multiple of grad-accum x processes "
                             f"({cfg.grad_accum} x {self.world})")

    # --- data order: a seeded permutation per epoch; step s always sees the same rows --------------------------
    def _rows(self, step: int, accum_i: int) -> list[int]:
        n = len(self.examples.text_a)
        per_step = self.cfg.batch_size
        start = step * per_step
        rows = []
        for k in range(start, start + per_step):
            epoch, pos = divmod(k, n)
            perm = np.random.default_rng(self.cfg.seed + epoch).permutation(n)
            rows.append(int(perm[pos]))
        # this process's share of this micro-batch
        chunk = rows[accum_i * self.micro * self.world:(accum_i + 1) * self.micro * self.world]
        return chunk[self.rank::self.world]

    def batch(self, rows: list[int]) -> dict[str, Any]:
        """Those training rows tokenized, on the device, with their labels (if any)."""
        ex = self.examples
        a = [ex.text_a[i] for i in rows]
        b = [ex.text_b[i] for i in rows] if ex.text_b else None
        enc = ex.tokenizer(a, b, padding=True, truncation=True, max_length=self.cfg.max_len, return_tensors="pt")
        batch = {k: v.to(self.device) for k, v in enc.items()}
        if ex.labels is not None:
            batch["labels"] = self.torch.as_tensor(ex.labels[rows]).to(self.device)
        return batch

    def losses(self, batch: dict[str, Any], gen: Any) -> dict[str, Any]:
        """One micro-batch's named loss terms and their weighted sum, "loss"."""
        batch = self.objective.prepare(batch, gen)
        teacher_out = self.objective.teacher_outputs(self.teacher, batch) if self.objective.needs_teacher else None
        terms = self.objective.losses(batch, self.model, teacher_out)
        terms["loss"] = self.objective.total(terms)
        return terms

    # --- checkpoints ---------------------------------------------------------------------------------------------
    def save_checkpoint(self) -> Path | None:
        """Weights, optimiser, schedule, step and RNG as `checkpoints/step-N` (written aside, then renamed); keeps
        the newest cfg.keep_checkpoints."""
        if self.rank != 0:
            return None
        torch = self.torch
        root = self.workdir / CHECKPOINTS
        tmp = root / f".step-{self.step}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self.student.save_pretrained(tmp)  # safetensors
        torch.save({"optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict(), "step": self.step,
                    "torch_rng": torch.get_rng_state()}, tmp / "trainer_state.pt")
        final = root / f"step-{self.step}"
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        for old in sorted(root.glob("step-*"), key=lambda p: int(p.name.split("-")[1]))[:-self.cfg.keep_checkpoints]:
            shutil.rmtree(old, ignore_errors=True)
        return final

    def resume(self) -> int:
        """Load the newest checkpoint (weights, optimiser, schedule, RNG); returns its step (0 if none)."""
        torch = self.torch
        ckpts = sorted((self.workdir / CHECKPOINTS).glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
        if not ckpts:
            return 0
        from safetensors.torch import load_file

        last = ckpts[-1]
        self.student.load_state_dict(load_file(str(last / "model.safetensors")), strict=False)
        state = torch.load(last / "trainer_state.pt", weights_only=True)  # never unpickle arbitrary objects
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        self.step = int(state["step"])
        return self.step

    # --- the loop ------------------------------------------------------------------------------------------------
    def _optimizer_step(self) -> dict[str, float]:
        """Accumulate cfg.grad_accum micro-batches, clip, step; returns the step's mean loss terms."""
        torch, cfg = self.torch, self.cfg
        torch.manual_seed(cfg.seed * STEP_SEED_STRIDE + self.step)  # dropout
        gen = torch.Generator().manual_seed(cfg.seed * STEP_SEED_STRIDE + self.step)  # masking
        totals: dict[str, float] = {}
        for accum_i in range(cfg.grad_accum):
            terms = self.losses(self.batch(self._rows(self.step, accum_i)), gen)
            (terms["loss"] / cfg.grad_accum).backward()
            for k, v in terms.items():
                totals[k] = totals.get(k, 0.0) + float(v.detach()) / cfg.grad_accum
        torch.nn.utils.clip_grad_norm_(self.student.parameters(), cfg.clip)
        self.opt.step()
        self.sched.step()
        self.opt.zero_grad(set_to_none=True)
        self.step += 1
        return totals

    def train(self, on_step: Callable[[int, dict[str, float]], None] | None = None) -> list[dict[str, float]]:
        cfg = self.cfg
        history = []
        self.student.train()
        while self.step < cfg.last_step:
            start = time.perf_counter()
            totals = self._optimizer_step()
            record = {"step": self.step, **{k: round(v, 6) for k, v in totals.items()},
                      "lr": self.sched.get_last_lr()[0], "step_s": round(time.perf_counter() - start, 4)}
            if cfg.eval_every and self.evaluate and (self.step % cfg.eval_every == 0 or self.step == cfg.last_step):
                self.student.eval()
                record.update({f"eval_{k}": v for k, v in self.evaluate(self.student).items()})
                self.student.train()
            history.append(record)
            if self.rank == 0:
                with open(self.workdir / STEP_LOG, "a") as fh:
                    fh.write(json.dumps(record) + "\n")
            if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                self.save_checkpoint()
            if on_step:
                on_step(self.step, record)
        self.student.eval()
        self.rank_digests = self._rank_digests()
        return history

    def _rank_digests(self) -> list[str]:
        """sha256 of the student's weights on every process (DDP must leave them identical)."""
        import hashlib

        digest = hashlib.sha256()
        for _, tensor in sorted(self.student.state_dict().items()):
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        own = digest.hexdigest()
        if self.world == 1:
            return [own]
        import torch.distributed as dist

        gathered: list[Any] = [None] * self.world
        dist.all_gather_object(gathered, own)
        return [str(g) for g in gathered]
