"""The distillation loop: AdamW, linear warm-up/decay, clipping, accumulation, seeded data order, checkpoints
with exact resume, evaluation every K steps, and DDP when launched by torchrun (gloo on CPU, nccl on CUDA).

Objectives: `finetune` (no teacher: cross-entropy on the user's labels, to make a teacher), `task` (teacher
classifier + labelled data: soft targets, hard labels, hidden cosine), `mlm` (general
distillation on raw text: soft targets on masked tokens, masked-LM loss, hidden cosine) and `hidden` (an encoder
teacher without a head, e.g. a sentence-embedding model: hidden cosine on mapped layers).
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgebert.distill.losses import Recipe, ce_loss, cosine_loss, kd_loss, regression_loss

CKPT_DIR = "checkpoints"


@dataclass
class TrainConfig:
    steps: int = 100  # optimizer steps
    batch_size: int = 16  # sequences per optimizer step, over all processes
    grad_accum: int = 1
    lr: float = 5e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    clip: float = 1.0
    max_len: int = 128
    seed: int = 42
    eval_every: int = 0
    checkpoint_every: int = 0
    keep_checkpoints: int = 2
    mlm_probability: float = 0.15
    device: str = "cpu"

    def __post_init__(self) -> None:
        from edgebert.errors import UsageError

        for name in ("steps", "batch_size", "grad_accum", "max_len"):
            if getattr(self, name) <= 0:
                raise UsageError(f"--{name.replace('_', '-')} must be a positive whole number "
                                 f"(got {getattr(self, name)})")
        if not self.lr > 0:
            raise UsageError(f"--lr must be positive (got {self.lr:g})")

    def evaluating(self, has_eval: bool) -> "TrainConfig":
        """With held-out data and no --eval-every, score once at the end."""
        from dataclasses import replace

        return replace(self, eval_every=self.eval_every or (self.steps if has_eval else 0))


def layer_pairs(layer_map: list[int], n_teacher: int) -> list[tuple[int, int]]:
    """(student hidden index, teacher hidden index) for the cosine loss: student layer j stands in for teacher
    layers map[j]..map[j+1]-1, so its output is compared with the last of those (and the final with the final)."""
    pairs = []
    for j, start in enumerate(layer_map):
        end = layer_map[j + 1] - 1 if j + 1 < len(layer_map) else n_teacher - 1
        pairs.append((j + 1, max(start, end) + 1))  # hidden_states[0] is the embedding output
    return pairs


def _dist() -> tuple[int, int]:
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        import torch

        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def mask_tokens(ids: Any, special: Any, mask_id: int, vocab: int, prob: float, gen: Any) -> tuple[Any, Any]:
    """BERT masking: `prob` of non-special tokens chosen; of those 80% [MASK], 10% random, 10% kept."""
    import torch

    labels = ids.clone()
    chosen = (torch.rand(ids.shape, generator=gen) < prob) & ~special
    labels[~chosen] = -100
    ids = ids.clone()
    roll = torch.rand(ids.shape, generator=gen)
    ids[chosen & (roll < 0.8)] = mask_id
    rand = chosen & (roll >= 0.8) & (roll < 0.9)
    ids[rand] = torch.randint(vocab, ids.shape, generator=gen)[rand]
    return ids, labels


class Distiller:
    """Holds teacher, student, data and optimiser state; `train()` runs to cfg.steps, resuming if asked."""

    def __init__(self, teacher: Any, student: Any, tokenizer: Any, objective: str, recipe: Recipe,
                 layer_map: list[int], cfg: TrainConfig, out: Path, texts: tuple[list[str], list[str] | None],
                 labels: np.ndarray | None, eval_fn: Callable[[Any], dict[str, float]] | None = None) -> None:
        import torch

        self.torch = torch
        self.rank, self.world = _dist()
        self.cfg, self.recipe, self.objective, self.out = cfg, recipe, objective, out
        self.device = torch.device(cfg.device)
        self.teacher = teacher.to(self.device).eval() if teacher is not None else None  # None: finetune
        self.student = student.to(self.device)
        self.tokenizer, self.texts_a, self.texts_b, self.labels = tokenizer, texts[0], texts[1], labels
        self.pairs = layer_pairs(layer_map, teacher.config.num_hidden_layers if hasattr(
            teacher.config, "num_hidden_layers") else teacher.config.n_layers) if teacher is not None else []
        self.eval_fn = eval_fn
        self.model = student
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
        n = len(self.texts_a)
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

    def _batch(self, rows: list[int]) -> dict[str, Any]:
        torch = self.torch
        a = [self.texts_a[i] for i in rows]
        b = [self.texts_b[i] for i in rows] if self.texts_b else None
        enc = self.tokenizer(a, b, padding=True, truncation=True, max_length=self.cfg.max_len, return_tensors="pt")
        batch = {k: v.to(self.device) for k, v in enc.items()}
        if self.labels is not None:
            batch["labels"] = torch.as_tensor(self.labels[rows]).to(self.device)
        return batch

    # --- one micro-batch's losses ------------------------------------------------------------------------------
    def losses(self, batch: dict[str, Any], gen: Any) -> dict[str, Any]:
        torch, r = self.torch, self.recipe
        ids, mask = batch["input_ids"], batch["attention_mask"]
        labels = batch.get("labels")
        if self.objective == "finetune":  # no teacher: the task loss on the user's labels
            extra = {"token_type_ids": batch["token_type_ids"]} if "token_type_ids" in batch and \
                self.student.config.model_type == "bert" else {}
            logits = self.model(input_ids=ids, attention_mask=mask, **extra).logits
            loss = ce_loss(logits, labels) if logits.shape[-1] > 1 else regression_loss(logits, labels)
            return {"ce": loss, "loss": loss}
        if self.objective == "mlm":
            special = torch.tensor([[self.tokenizer.convert_ids_to_tokens(int(t)) in self.tokenizer.all_special_tokens
                                     for t in row] for row in ids.cpu()], dtype=torch.bool).to(self.device)
            ids, labels = mask_tokens(ids.cpu(), special.cpu(), self.tokenizer.mask_token_id,
                                      self.tokenizer.vocab_size, self.cfg.mlm_probability, gen)
            ids, labels = ids.to(self.device), labels.to(self.device)
        t_kwargs = {"input_ids": ids, "attention_mask": mask, "output_hidden_states": True}
        if "token_type_ids" in batch and self.teacher.config.model_type == "bert":
            t_kwargs["token_type_ids"] = torch.zeros_like(ids)  # the student has no segments: match the fold
        with torch.no_grad():
            t_out = self.teacher(**t_kwargs)
        s_out = self.model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        terms: dict[str, Any] = {}
        if self.objective in ("task", "mlm"):
            s_logits, t_logits = s_out.logits, t_out.logits
            if self.objective == "mlm":  # soft targets on the masked positions only
                keep = labels != -100
                s_logits, t_logits = s_logits[keep], t_logits[keep]
            if r.alpha_kd and s_logits.shape[-1] > 1:
                terms["kd"] = kd_loss(s_logits, t_logits, r.temperature)
            if self.objective == "task" and r.alpha_ce and labels is not None:
                terms["ce"] = ce_loss(s_out.logits, labels) if s_out.logits.shape[-1] > 1 else \
                    regression_loss(s_out.logits, labels)
            if self.objective == "task" and s_out.logits.shape[-1] == 1:  # regression: soft target is MSE
                terms["kd"] = regression_loss(s_out.logits, t_out.logits.squeeze(-1))
            if self.objective == "mlm" and r.alpha_mlm:
                terms["mlm"] = ce_loss(s_out.logits.view(-1, s_out.logits.shape[-1]), labels.view(-1))
        if r.alpha_cos or self.objective == "hidden":
            s_h = [s_out.hidden_states[i] for i, _ in self.pairs]
            t_h = [t_out.hidden_states[j] for _, j in self.pairs]
            terms["cos"] = cosine_loss(s_h, t_h, mask)
        weights = {"kd": r.alpha_kd, "ce": r.alpha_ce, "mlm": r.alpha_mlm,
                   "cos": r.alpha_cos if self.objective != "hidden" else max(r.alpha_cos, 1.0)}
        terms["loss"] = sum(weights[k] * v for k, v in terms.items())
        return terms

    # --- checkpoints ---------------------------------------------------------------------------------------------
    def save_checkpoint(self) -> Path | None:
        if self.rank != 0:
            return None
        torch = self.torch
        root = self.out / CKPT_DIR
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
        ckpts = sorted((self.out / CKPT_DIR).glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
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
    def train(self, on_step: Callable[[int, dict[str, float]], None] | None = None) -> list[dict[str, float]]:
        torch, cfg = self.torch, self.cfg
        history = []
        log_path = self.out / "train_log.jsonl"
        self.student.train()
        while self.step < cfg.steps:
            start = time.perf_counter()
            # Seeded per step (dropout and masking), so a resumed run repeats exactly what it would have done.
            torch.manual_seed(cfg.seed * 1_000_003 + self.step)
            gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + self.step)
            totals: dict[str, float] = {}
            for accum_i in range(cfg.grad_accum):
                terms = self.losses(self._batch(self._rows(self.step, accum_i)), gen)
                (terms["loss"] / cfg.grad_accum).backward()
                for k, v in terms.items():
                    totals[k] = totals.get(k, 0.0) + float(v.detach()) / cfg.grad_accum
            torch.nn.utils.clip_grad_norm_(self.student.parameters(), cfg.clip)
            self.opt.step()
            self.sched.step()
            self.opt.zero_grad(set_to_none=True)
            self.step += 1
            record = {"step": self.step, **{k: round(v, 6) for k, v in totals.items()},
                      "lr": self.sched.get_last_lr()[0], "step_s": round(time.perf_counter() - start, 4)}
            if cfg.eval_every and self.eval_fn and (self.step % cfg.eval_every == 0 or self.step == cfg.steps):
                self.student.eval()
                record.update({f"eval_{k}": v for k, v in self.eval_fn(self.student).items()})
                self.student.train()
            history.append(record)
            if self.rank == 0:
                with open(log_path, "a") as fh:
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
        mine = digest.hexdigest()
        if self.world == 1:
            return [mine]
        import torch.distributed as dist

        gathered: list[Any] = [None] * self.world
        dist.all_gather_object(gathered, mine)
        return [str(g) for g in gathered]


def config_dict(cfg: TrainConfig, recipe: Recipe) -> dict[str, Any]:
    return {"train": asdict(cfg), "recipe": asdict(recipe)}
