"""The parity/accuracy gate every format passes through: same inputs into PyTorch and the artifact."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np

from edgebert.errors import ParityError


@dataclass
class Parity:
    """How close an artifact's outputs are to PyTorch's, over all gate batches."""

    max_abs: float
    mean_abs: float
    rel_err: float  # max_abs / max |reference|
    min_cosine: float  # per sample: pooled embedding (encoders) or logit vector (classifiers)
    mean_cosine: float
    agreement: float | None  # argmax agreement, classifiers only
    samples: int
    shapes: list[list[int]]  # (batch, seq) of each gate batch
    passed: bool = False
    gate: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Masked mean over tokens: (B, T, H), (B, T) -> (B, H), the sentence-transformers pooling."""
    weights = mask[..., None].astype(np.float64)
    return (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    num = (a * b).sum(axis=-1)
    den = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return num / np.clip(den, 1e-12, None)


def compare(feeds: list[dict[str, np.ndarray]], reference: list[np.ndarray], actual: list[np.ndarray],
            task: str) -> Parity:
    """Differences over valid (unpadded) positions; cosine per sample; argmax agreement for classifiers."""
    abs_diffs, ref_abs, cosines, agree = [], [], [], []
    for feed, ref, out in zip(feeds, reference, actual):
        ref, out = np.asarray(ref, np.float64), np.asarray(out, np.float64)
        if ref.shape != out.shape:
            raise ParityError(f"Artifact output shape {list(out.shape)} differs from PyTorch's {list(ref.shape)}")
        if task == "encoder":
            mask = feed["attention_mask"].astype(bool)
            abs_diffs.append(np.abs(ref - out)[mask])
            ref_abs.append(np.abs(ref[mask]))
            cosines.append(_cosine(mean_pool(ref, feed["attention_mask"]), mean_pool(out, feed["attention_mask"])))
        else:
            abs_diffs.append(np.abs(ref - out).ravel())
            ref_abs.append(np.abs(ref).ravel())
            cosines.append(_cosine(ref, out))
            agree.append(ref.argmax(-1) == out.argmax(-1))
    diffs, cos = np.concatenate(abs_diffs), np.concatenate(cosines)
    if not np.all(np.isfinite(diffs)):
        return Parity(float("inf"), float("inf"), float("inf"), 0.0, 0.0, 0.0 if agree else None, len(cos),
                      [list(f["input_ids"].shape) for f in feeds])
    return Parity(
        max_abs=float(diffs.max()), mean_abs=float(diffs.mean()),
        rel_err=float(diffs.max() / max(np.concatenate(ref_abs).max(), 1e-12)),
        min_cosine=float(cos.min()), mean_cosine=float(cos.mean()),
        agreement=float(np.concatenate(agree).mean()) if agree else None,
        samples=int(len(cos)), shapes=[list(f["input_ids"].shape) for f in feeds],
    )


def verdict(parity: Parity, *, lossy: bool, atol: float, min_agreement: float, min_cosine: float,
            random_weights: bool) -> tuple[bool, str]:
    """(passed, why-not) without raising; sets parity.gate. fp32 formats: max-abs <= atol. Lossy: mean cosine,
    and argmax agreement on real weights (random-init logits are near-constant: argmax there is noise)."""
    if not lossy:
        parity.gate = f"max_abs <= {atol:g}"
        if not parity.max_abs <= atol:
            return False, f"max-abs difference {parity.max_abs:.3g} exceeds --atol {atol:g}"
        return True, ""
    use_agreement = parity.agreement is not None and not random_weights
    # Mean cosine, like mean argmax agreement; the per-sample minimum is recorded beside it.
    parity.gate = f"mean_cosine >= {min_cosine:g}" + (f", agreement >= {min_agreement:g}" if use_agreement else "")
    if not parity.mean_cosine >= min_cosine:
        return False, f"mean cosine {parity.mean_cosine:.4f} < {min_cosine:g} (min {parity.min_cosine:.4f})"
    if use_agreement and not (parity.agreement or 0.0) >= min_agreement:
        return False, f"argmax agreement {parity.agreement or 0.0:.1%} < {min_agreement:.0%}"
    return True, ""


def apply_gate(parity: Parity, *, lossy: bool, atol: float, min_agreement: float, min_cosine: float,
               random_weights: bool) -> Parity:
    """Pass, or raise ParityError (exit 3)."""
    ok, why = verdict(parity, lossy=lossy, atol=atol, min_agreement=min_agreement, min_cosine=min_cosine,
                      random_weights=random_weights)
    parity.passed = ok
    if not ok:
        raise ParityError(f"Parity gate failed: {why} over {parity.samples} samples; no bundle written")
    return parity


def torch_reference(module: Any, feeds: list[dict[str, np.ndarray]], names: list[str]) -> list[np.ndarray]:
    """PyTorch outputs for each gate batch."""
    import torch

    outs = []
    with torch.inference_mode():
        for feed in feeds:
            outs.append(module(*[torch.from_numpy(feed[n]) for n in names]).float().numpy())
    return outs


def run_artifact(run: Callable[[dict[str, np.ndarray]], np.ndarray], feeds: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
    return [np.asarray(run(feed)) for feed in feeds]
