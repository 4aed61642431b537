"""The project's own exceptions; the CLI turns each into a one-line message and an exit code."""
from __future__ import annotations


def first_line(err: BaseException, limit: int = 300) -> str:
    """The first non-empty line of an exception's message (its type name when the message is empty)."""
    lines = [ln for ln in str(err).strip().splitlines() if ln.strip()]
    return (lines[0] if lines else type(err).__name__)[:limit]


class EdgebertError(Exception):
    """A failure the user can fix; `str(err)` is the one-line message."""

    exit_code = 1


class UsageError(EdgebertError):
    """Bad arguments: unknown format, architecture, existing output folder..."""

    exit_code = 2


class MissingRuntime(EdgebertError):
    """An optional runtime/exporter package is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(f"{package} is not installed. Fix: pip install 'edgebert[{extra}]'")


class ModelLoadError(EdgebertError):
    """A model path/id that cannot be loaded."""


class BundleError(EdgebertError):
    """A bundle that is missing files, corrupt, or does not match its manifest."""


class ExportError(EdgebertError):
    """The exporter or converter failed."""


class ParityError(EdgebertError):
    """The artifact's outputs differ from PyTorch's beyond the gate."""

    exit_code = 3


class CheckFailed(EdgebertError):
    """A check ran and found problems (verify, golden checks in bench, regression gates); the table says which."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
