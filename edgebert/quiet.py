"""Keep third-party chatter out of edgebert's output: import-time warnings, advice logged to the root logger.

Below the CLI on purpose: the CLI, the export worker and the bench worker all call it, and none of them should
reach into another for it. `--verbose` (the "edgebert" logger at DEBUG) leaves everything as the libraries set it.
"""
from __future__ import annotations

import contextlib
import logging
import os
import warnings
from typing import Iterator

NOISY_LOGGERS = ("torchao", "torch", "transformers", "nncf", "absl", "jax", "onnxruntime", "huggingface_hub",
                 "executorch", "mediapipe")


def verbose() -> bool:
    return logging.getLogger("edgebert").isEnabledFor(logging.DEBUG)


def quiet_libraries() -> None:
    """torchao/torch/TF print import-time warnings that say nothing to an edgebert user."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ logging
    os.environ.setdefault("TQDM_DISABLE", "1")  # ai-edge-quantizer draws tqdm bars even with its report off
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger().setLevel(logging.ERROR)  # ORT's quantiser logs advice to the root logger
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)


def quiet_after_import(*names: str) -> None:
    """Libraries that configure their loggers on import (torch does) need lowering again afterwards."""
    if not verbose():
        for name in names:
            logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def quiet_root_logger() -> Iterator[None]:
    """ONNX Runtime's quantiser logs advice through the root logger; keep it out of edgebert's output."""
    root = logging.getLogger()
    level = root.level
    if not verbose():
        root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


@contextlib.contextmanager
def native_quiet() -> Iterator[None]:
    """Native libraries write straight to file descriptor 2, where Python's logging cannot reach them: LiteRT's
    "Created TensorFlow Lite XNNPACK delegate", TensorFlow/absl start-up lines, ExecuTorch's cpuinfo probes. Around
    their calls, fd 2 goes to /dev/null and Python logging below ERROR is off; errors still surface as the
    exceptions edgebert turns into one line. `--verbose` leaves everything as it is."""
    if verbose():
        yield
        return
    import sys

    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    previous = logging.root.manager.disable
    os.dup2(devnull, 2)
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
        logging.disable(previous)
