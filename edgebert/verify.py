"""`edgebert verify BUNDLE...`: run each bundle's golden set with the runtime alone, against the gate it passed at export.

Runtime-only (numpy, tokenizers-free, and the format's runtime): this is what a device runs to check itself.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgebert.errors import EdgebertError, first_line
from edgebert.golden import GoldenResult


@dataclass
class Verified:
    bundle: str
    format: str
    runtime: str
    result: GoldenResult

    def to_dict(self) -> dict[str, Any]:
        return {"bundle": self.bundle, "format": self.format, "runtime": self.runtime, **self.result.to_dict()}


def verify_one(path: Path, device: str = "cpu", threads: int | None = None) -> Verified:
    """Open (every sha256 and name checked), load, and run the golden set; failures become a result, not a raise."""
    from edgebert.bundle import Bundle
    from edgebert.formats import get_format
    from edgebert.golden import check
    from edgebert.runtime import load

    fmt_name, runtime = "?", "?"
    try:
        fmt = get_format(Bundle.open(path, verify=False).format)
        fmt_name, runtime = fmt.name, fmt.runtime
        predictor = load(path, device, threads)  # every sha256 and name checked
        result = check(predictor.bundle, predictor.runner)
    except EdgebertError as err:
        result = GoldenResult("error", reason=str(err))
    except Exception as err:  # noqa: BLE001 - a runtime crashing on a bundle is that bundle's failure
        result = GoldenResult("error", reason=f"{type(err).__name__}: {first_line(err)}")
    return Verified(str(path), fmt_name, runtime, result)


def verify(paths: list[Path], device: str = "cpu", threads: int | None = None) -> list[Verified]:
    return [verify_one(p, device, threads) for p in paths]


def failure_summary(results: list[Verified]) -> str:
    bad = [r for r in results if not r.result.passed]
    return f"{len(bad)} of {len(results)} bundles failed verification: " + "; ".join(
        f"{r.bundle}: {r.result.reason or r.result.status}" for r in bad)


def exit_code(results: list[Verified]) -> int:
    """0 all pass; 1 any bundle could not be checked (corrupt, tampered, missing runtime); else 3 (outputs wrong)."""
    if any(r.result.status == "error" for r in results):
        return 1
    return 3 if any(not r.result.passed for r in results) else 0
