"""Run the CLI in-process and capture exit code, stdout and stderr."""
from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(capsys: pytest.CaptureFixture, *args: str) -> CliResult:
    from edgebert.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    captured = capsys.readouterr()
    return CliResult(int(exc.value.code or 0), captured.out, captured.err)
