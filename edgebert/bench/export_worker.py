"""Export several formats of one model in one process: `python -m edgebert.bench.export_worker < spec.json`.

The efficiency suite's exports: the model is built once, its PyTorch parity reference computed once and its
ONNX trace shared by the ONNX-derived formats, its fp32 .tflite by the TFLite ones. One process per model keeps peak
memory to one model's (STACK: all models in one process peaked at 13 GB). Writes {"errors": {format: error line or
null}, "seconds": {format: export seconds}} to spec["result_path"].
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from edgebert.errors import first_line


def main() -> None:
    spec = json.loads(sys.stdin.read())
    from edgebert.quiet import quiet_libraries

    quiet_libraries()
    from edgebert.errors import EdgebertError
    from edgebert.export import export_model
    from edgebert.formats.base import ExportOptions, ExportSession
    from edgebert.models import load_model

    results: dict[str, str | None] = {}
    result_path = Path(spec["result_path"])
    model = load_model(spec["model"], random_weights=spec["random_weights"])
    session = ExportSession(keep_files=True)  # formats share the ONNX trace, the fp32 .tflite, the references
    seconds: dict[str, float] = {}
    for fmt, out in spec["outputs"].items():
        start = time.perf_counter()
        try:
            export_model(model, fmt, Path(out), ExportOptions(), force=True, session=session)
            results[fmt] = None
        except EdgebertError as err:
            results[fmt] = str(err)
        except Exception as err:  # noqa: BLE001 - one format's failure must not stop the others
            results[fmt] = f"{type(err).__name__}: {first_line(err)}"
        seconds[fmt] = round(time.perf_counter() - start, 1)
        # after each format: a crash keeps what finished
        result_path.write_text(json.dumps({"errors": results, "seconds": seconds}))


if __name__ == "__main__":
    main()
