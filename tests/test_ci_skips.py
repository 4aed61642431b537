"""tests/ci_skips.py: with CI=1 a skip not on the allow-list fails the session; without CI it is only reported."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SUITE = '''
import pytest

def test_runs():
    pass

def test_skips():
    pytest.skip("no widget here")

@pytest.mark.xfail(reason="known")
def test_expected_failure():
    assert False
'''


def _pytest(tmp_path: Path, ci: str | None, *extra: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_sample.py").write_text(SUITE)
    (tmp_path / "test_needs.py").write_text("import pytest\npytest.importorskip('no_such_module')\n")  # skips whole
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tests.ci_skips", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), str(tmp_path), *extra], capture_output=True, text=True,
                          env=env, cwd=tmp_path)


@pytest.mark.parametrize("ci,code", [(None, 0), ("0", 0), ("1", 1)])
def test_a_skip_fails_the_session_only_in_ci(tmp_path, ci, code):
    res = _pytest(tmp_path, ci)
    assert res.returncode == code, res.stdout[-2000:]
    named = ["test_sample.py::test_skips: no widget here", "test_needs.py: could not import 'no_such_module'"]
    assert [n in res.stdout for n in named] == [code == 1] * 2  # each named, with its reason


def test_an_allowed_skip_passes_in_ci(tmp_path):
    (tmp_path / "conftest.py").write_text("import tests.ci_skips as c\nc.ALLOWED.update({'test_sample.py::test_skips': "
                                          "'no widget', 'test_needs.py': 'no module'})\n")
    assert _pytest(tmp_path, "1").returncode == 0
