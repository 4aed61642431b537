"""What a training run is asked to do: steps, batch, optimiser and schedule, seed, evaluation and checkpoint cadence,
device (TrainConfig, validated on construction; the CLI reads its flag defaults from here), and the run's record."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from edgebert.distill.losses import Recipe


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
    # Stop after this step (0: at `steps`) with the schedule still that of `steps`: a run resumed from its checkpoint
    # continues as if it had never stopped (successive halving trains survivors further, rung by rung).
    stop_at: int = 0

    def __post_init__(self) -> None:
        from edgebert.errors import UsageError

        for name in ("steps", "batch_size", "grad_accum", "max_len"):
            if getattr(self, name) <= 0:
                raise UsageError(f"--{name.replace('_', '-')} must be a positive whole number "
                                 f"(got {getattr(self, name)})")
        if not self.lr > 0:
            raise UsageError(f"--lr must be positive (got {self.lr:g})")
        if not 0 <= self.stop_at <= self.steps:
            raise UsageError(f"stop_at must be between 0 and --steps {self.steps} (got {self.stop_at})")

    @property
    def last_step(self) -> int:
        """Where this run stops: `stop_at`, or the schedule's end."""
        return self.stop_at or self.steps

    def evaluating(self, has_eval: bool) -> "TrainConfig":
        """With held-out data and no --eval-every, score once at the end."""
        from dataclasses import replace

        return replace(self, eval_every=self.eval_every or (self.steps if has_eval else 0))


def config_dict(cfg: TrainConfig, recipe: Recipe) -> dict[str, Any]:
    """The training settings and loss weights as distillation.json and finetune.json record them."""
    return {"train": asdict(cfg), "recipe": asdict(recipe)}
