"""`import edgebert` and `edgebert --help` must not load heavy runtimes: a device may have none of them."""
from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "onnxruntime", "tensorflow", "openvino", "transformers", "ai_edge_litert", "jax")

PROBE = """
import sys
{body}
heavy = [m for m in {heavy!r} if m in sys.modules]
print(",".join(heavy) or "none")
"""


def _loaded(body: str) -> str:
    code = PROBE.format(body=body, heavy=HEAVY)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]


def test_import_is_lean():
    assert _loaded("import edgebert") == "none"


def test_help_is_lean():
    body = "from edgebert.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
    assert _loaded(body) == "none"
    for cmd in ("export", "predict"):
        assert _loaded(body.replace("['--help']", f"['{cmd}', '--help']")) == "none"
