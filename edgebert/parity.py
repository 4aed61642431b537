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
    agreement: float | None  # argmax agreement over the decisive samples, classifiers only (None: none decisive)
    samples: int
    shapes: list[list[int]]  # (batch, seq) of each gate batch
    passed: bool = False
    gate: str = ""
    decisive: int | None = None  # classifier samples whose reference top-1 leads top-2 by >= the margin
    raw_agreement: float | None = None  # over every sample, near-ties included (recorded, not gated)

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


def top_margin(scores: np.ndarray) -> np.ndarray:
    """Per sample, how far the top class leads the second, in probability (scores are logits or probabilities)."""
    scores = np.asarray(scores, np.float64)
    probs = scores
    if not (np.all(scores >= 0) and np.allclose(scores.sum(-1), 1.0, atol=1e-3)):  # logits -> softmax
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
    top2 = np.sort(probs, axis=-1)[..., -2:]
    return top2[..., 1] - top2[..., 0]


def compare(feeds: list[dict[str, np.ndarray]], reference: list[np.ndarray], actual: list[np.ndarray],
            task: str, min_margin: float = 0.1) -> Parity:
    """Differences over valid (unpadded) positions; cosine per sample (of the pooled embedding for token outputs);
    argmax agreement for classifiers."""
    abs_diffs, ref_abs, cosines, agree, margins = [], [], [], [], []
    for feed, ref, out in zip(feeds, reference, actual):
        ref, out = np.asarray(ref, np.float64), np.asarray(out, np.float64)
        if ref.shape != out.shape:
            raise ParityError(f"Artifact output shape {list(out.shape)} differs from PyTorch's {list(ref.shape)}")
        if ref.ndim == 3:  # token outputs (B, T, H): padded positions are not compared
            mask = feed["attention_mask"].astype(bool)
            abs_diffs.append(np.abs(ref - out)[mask])
            ref_abs.append(np.abs(ref[mask]))
            cosines.append(_cosine(mean_pool(ref, feed["attention_mask"]), mean_pool(out, feed["attention_mask"])))
        else:
            abs_diffs.append(np.abs(ref - out).ravel())  # logits, probabilities or pooled embeddings (B, N)
            ref_abs.append(np.abs(ref).ravel())
            cosines.append(_cosine(ref, out))
            if task == "classification":
                agree.append(ref.argmax(-1) == out.argmax(-1))
                margins.append(top_margin(ref))
    diffs, cos = np.concatenate(abs_diffs), np.concatenate(cosines)
    if not np.all(np.isfinite(diffs)):
        return Parity(float("inf"), float("inf"), float("inf"), 0.0, 0.0, 0.0 if agree else None, len(cos),
                      [list(f["input_ids"].shape) for f in feeds])
    agreement = raw = decisive = None
    if agree:
        same, margin = np.concatenate(agree), np.concatenate(margins)
        keep = margin >= min_margin  # a flipped near-tie is not a wrong answer: the cosine covers those
        raw, decisive = float(same.mean()), int(keep.sum())
        agreement = float(same[keep].mean()) if decisive else None
    return Parity(
        max_abs=float(diffs.max()), mean_abs=float(diffs.mean()),
        rel_err=float(diffs.max() / max(np.concatenate(ref_abs).max(), 1e-12)),
        min_cosine=float(cos.min()), mean_cosine=float(cos.mean()), agreement=agreement,
        samples=int(len(cos)), shapes=[list(f["input_ids"].shape) for f in feeds], decisive=decisive, raw_agreement=raw,
    )


@dataclass(frozen=True)
class Gate:
    """The accuracy gate an artifact passed at export; recorded in the manifest and re-applied on devices.

    fp32 formats: max-abs <= atol. Lossy ones: mean per-sample cosine >= min_cosine, plus argmax agreement on
    real-weight classifiers (random-init logits are near-constant: their argmax is noise)."""

    lossy: bool
    atol: float = 1e-4
    min_cosine: float = 0.99
    min_agreement: float = 0.99
    use_agreement: bool = True
    min_margin: float = 0.1  # agreement counts samples whose reference top-1 leads top-2 by this much probability
    # lossy embeddings: every sample, hostile texts included, at least this cosine (0: unchecked; manifests before 0.3)
    min_sample_cosine: float = 0.0

    def describe(self, classifier: bool = True) -> str:
        if not self.lossy:
            return f"max_abs <= {self.atol:g}"
        agreement = classifier and self.use_agreement
        each = f", every sample >= {self.min_sample_cosine:g}" if self.min_sample_cosine and not classifier else ""
        return f"mean_cosine >= {self.min_cosine:g}{each}" + (
            f", agreement >= {self.min_agreement:g} (samples with top-1 margin >= {self.min_margin:g})"
            if agreement else "")

    def judge(self, parity: Parity) -> tuple[bool, str]:
        """(passed, why-not) without raising; sets parity.gate."""
        parity.gate = self.describe(parity.agreement is not None)
        if not self.lossy:
            if not parity.max_abs <= self.atol:
                return False, f"max-abs difference {parity.max_abs:.3g} exceeds --atol {self.atol:g}"
            return True, ""
        # Mean cosine, like mean argmax agreement; the per-sample minimum is recorded beside it.
        if not parity.mean_cosine >= self.min_cosine:
            return False, f"mean cosine {parity.mean_cosine:.4f} < {self.min_cosine:g} (min {parity.min_cosine:.4f})"
        # embeddings only: a classifier's per-sample logit cosine is noise near a tie (random DistilBERT's 2 logits:
        # mean 0.9975, one sample 0.71); its hostile samples are judged by argmax agreement instead
        if parity.raw_agreement is None and not parity.min_cosine >= self.min_sample_cosine:
            return False, (f"a sample's cosine {parity.min_cosine:.4f} < --min-sample-cosine "
                           f"{self.min_sample_cosine:g} (mean {parity.mean_cosine:.4f})")
        if parity.agreement is not None and self.use_agreement and not parity.agreement >= self.min_agreement:
            return False, (f"argmax agreement {parity.agreement:.1%} < {self.min_agreement:.0%} over the "
                           f"{parity.decisive} samples whose PyTorch top-1 leads by >= {self.min_margin:g}")
        return True, ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Gate":
        return cls(**{k: data[k] for k in ("lossy", "atol", "min_cosine", "min_agreement", "use_agreement",
                                           "min_margin", "min_sample_cosine") if k in data})


def apply_gate(parity: Parity, gate: Gate) -> Parity:
    """Pass, or raise ParityError (exit 3)."""
    ok, why = gate.judge(parity)
    parity.passed = ok
    if not ok:
        miss = ParityError(f"Parity gate failed: {why} over {parity.samples} samples; no bundle written")
        miss.parity = parity  # --fp32-layers auto ranks layer groups by what they give back
        raise miss
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
